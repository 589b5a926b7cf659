"""Tests for golden_record.synthetic.people: pure Python, except one test of write_table against a
real PostgreSQL server (its own database, created and dropped by the test)."""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
import unicodedata
from math import comb
from pathlib import Path

_SRC = Path(__file__).resolve().parents[1] / "use-cases" / "golden_record" / "src"
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from golden_record.synthetic import people as ps  # noqa: E402
from golden_record.synthetic.differences import pair_differences  # noqa: E402
from golden_record.synthetic.people import CORRUPTION_COLUMNS, CORRUPTION_KINDS, PEOPLE_COLUMNS, generate  # noqa: E402

TEXT_COLUMNS = [c for c in PEOPLE_COLUMNS if c != "updated_at"]
PER_RECORD = {"rec_id", "source", "sex", "updated_at"}       # may differ between any two records
NAMES = ["given_name", "surname"]
ADDRESS = ["street_number", "address_1", "suburb", "postcode"]
REC_ID = re.compile(r"rec-(\d+)-(org|dup-(\d))")
UK_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}")
CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def _dob(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, format="%Y%m%d", errors="coerce")


@pytest.fixture(scope="module")
def data():
    return generate(rows=20_000, duplicate_rate=0.3, seed=123)


@pytest.fixture(scope="module")
def merged(data):
    return data.records.merge(data.truth, on="rec_id", validate="one_to_one")


@pytest.fixture(scope="module")
def copies(data, merged):
    """Every duplicate next to its person's original, with the kinds of corruption it got."""
    org = merged[merged["rec_id"].str.endswith("-org")].set_index("person_id")
    dup = merged[~merged["rec_id"].str.endswith("-org")].reset_index(drop=True)
    orig = org.loc[dup["person_id"]].reset_index()
    kinds = data.corruptions.groupby("rec_id")["kind"].agg(list)
    dup["kinds"] = kinds.reindex(dup["rec_id"]).to_numpy()
    return dup, orig


def _isolated(copies, kind):
    """The duplicates corrupted by ``kind`` and by no other kind that touches the same columns,
    next to their originals (the extra column ``others`` lists the columns other kinds touched)."""
    dup, orig = copies
    mine = set(CORRUPTION_COLUMNS[kind])

    def others(ks):
        return set().union(*(CORRUPTION_COLUMNS[k] for k in ks if k != kind))

    m = dup["kinds"].map(lambda ks: kind in ks and not (others(ks) & mine)).to_numpy()
    assert m.sum() > 0, f"no duplicate with {kind} alone on its columns"
    dup = dup[m].reset_index(drop=True)
    dup["others"] = dup["kinds"].map(others)
    return dup, orig[m].reset_index(drop=True)


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality with None == None."""
    return ((a.to_numpy() == b.to_numpy()) | (a.isna().to_numpy() & b.isna().to_numpy()))


# ----------------------------------------------------------------------------- determinism
def test_deterministic_for_a_seed():
    a, b = generate(3_000, seed=11), generate(3_000, seed=11)
    pd.testing.assert_frame_equal(a.records, b.records)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.corruptions, b.corruptions)
    assert a.stats == b.stats
    c = generate(3_000, seed=12)
    assert not a.records["given_name"].equals(c.records["given_name"])


def test_bad_arguments():
    for rows in (0, -5, 2.5, True, "10"):
        with pytest.raises(ValueError):
            generate(rows)
    for rate in (-0.1, 1.0, "x"):
        with pytest.raises(ValueError):
            generate(100, duplicate_rate=rate)


def test_no_duplicates_at_rate_zero_and_tiny_tables():
    d = generate(500, duplicate_rate=0.0, seed=1)
    assert d.stats["people"] == 500 and d.stats["duplicate_records"] == 0 and d.corruptions.empty
    assert d.records["rec_id"].str.endswith("-org").all()
    for rows in (1, 2, 7):
        d = generate(rows, duplicate_rate=0.5, seed=rows)
        assert len(d.records) == rows == len(d.truth)


# ----------------------------------------------------------------------------- shape and dtypes
def test_columns_and_dtypes(data):
    r = data.records
    assert list(r.columns) == PEOPLE_COLUMNS
    assert len(r) == 20_000
    assert str(r["updated_at"].dtype) == "datetime64[ns, UTC]"
    assert r["updated_at"].notna().all()
    for c in TEXT_COLUMNS:
        assert r[c].dtype == object, c
        assert r[c].map(lambda v: v is None or isinstance(v, str)).all(), c
    for c in ("rec_id", "given_name", "surname", "street_number", "address_1", "suburb", "postcode", "state",
              "date_of_birth", "sex", "source"):
        assert r[c].notna().all(), c          # never NULL ("" where unknown)
    assert list(data.truth.columns) == ["rec_id", "person_id"]
    assert data.truth["rec_id"].dtype == object and data.truth["person_id"].dtype == np.int64
    assert r["rec_id"].is_unique


def test_rec_ids_name_the_person_and_the_copy(data, merged):
    parts = merged["rec_id"].str.extract(REC_ID.pattern)
    assert parts[0].notna().all()
    assert (parts[0].astype(np.int64) == merged["person_id"]).all()
    per = merged.assign(org=parts[1] == "org", dup=parts[2]).groupby("person_id")
    assert (per["org"].sum() == 1).all()                      # one original per person ...
    n = per.size()
    assert n.between(1, 4).all()                              # ... and 0-3 duplicates
    dups = merged.assign(k=parts[2]).dropna(subset=["k"]).groupby("person_id")["k"].agg(
        lambda s: sorted(int(x) for x in s))
    assert all(v == list(range(len(v))) for v in dups)        # dup-0, dup-1, ...


def test_field_formats(data):
    r = data.records
    pc = r["postcode"]
    four, five, uk = pc.str.fullmatch(r"\d{4}"), pc.str.fullmatch(r"\d{5}"), pc.str.fullmatch(UK_POSTCODE.pattern)
    assert (four | five | uk).all()
    for m in (four, five, uk):
        assert m.mean() > 0.1
    assert pc.str.startswith("0").any()                        # leading zeros kept (Darwin, Boston, Leipzig)
    ssn = r["soc_sec_id"].dropna()
    assert ssn.str.fullmatch(r"[1-9]\d{6}").all()
    assert 0.05 < r["soc_sec_id"].isna().mean() < 0.3
    assert 0.25 < r["phone"].isna().mean() < 0.6 and 0.25 < r["email"].isna().mean() < 0.6
    assert r["email"].dropna().str.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+").all()
    phone = r["phone"].dropna()
    for pattern in (r"\+61 4\d\d \d{3} \d{3}", r"04\d\d \d{3} \d{3}", r"\(0[2378]\) \d{4} \d{4}",
                    r"\(\d{3}\) \d{3}-\d{4}", r"\+49 \d+ \d+", r"0\d{4} \d{6}", r"\+44 .*"):
        assert phone.str.fullmatch(pattern).any(), pattern
    assert set(r["sex"]) == {"male", "female", "M", "F", ""}
    assert set(r["source"]) == set(ps.SOURCES)
    assert 0.6 < (r["address_2"] == "").mean() < 0.9
    assert r["address_2"].isna().any()                          # missing_address_2 corruptions
    assert r["state"].str.len().gt(0).all()


# ----------------------------------------------------------------------------- dates of birth
def test_invalid_dates_present(data):
    dob = data.records["date_of_birth"]
    parsed = _dob(dob)
    invalid = dob[parsed.isna()]
    assert 0.005 < len(invalid) / len(dob) < 0.05
    assert len(invalid) == data.stats["invalid_date_of_birth"]
    assert (invalid == "").any() and (invalid == "00000000").any()
    impossible = invalid[invalid.str.fullmatch(r"\d{8}") & (invalid != "00000000")]
    assert len(impossible) > 0
    assert ((impossible.str[4:6].astype(int) > 12) | (impossible.str[4:6] == "00")
            | (impossible.str[6:].astype(int) > 31)).all()
    valid = parsed.dropna()
    assert valid.min() >= pd.Timestamp("1900-01-01") and valid.max() < pd.Timestamp("2025-07-01")
    assert dob[parsed.notna()].str.fullmatch(r"\d{8}").all()


# ----------------------------------------------------------------------------- truth and stats
def test_truth_consistent_with_stats(data, merged):
    s = data.stats
    assert set(data.truth["rec_id"]) == set(data.records["rec_id"])
    sizes = merged.groupby("person_id").size()
    assert s["records"] == len(data.records)
    assert s["people"] == len(sizes) == data.truth["person_id"].nunique()
    assert s["duplicate_records"] == s["records"] - s["people"] == (~merged["rec_id"].str.endswith("-org")).sum()
    assert s["true_duplicate_pairs"] == sum(comb(int(k), 2) for k in sizes)
    assert s["people_with_duplicates"] == int((sizes > 1).sum())
    assert 0.25 < s["people_with_duplicates"] / s["people"] < 0.35
    assert s["corruptions"] == {k: int((data.corruptions["kind"] == k).sum()) for k in CORRUPTION_KINDS}


def test_every_duplicate_has_one_to_four_corruptions(data):
    dups = set(data.records.loc[~data.records["rec_id"].str.endswith("-org"), "rec_id"])
    per = data.corruptions.groupby("rec_id")["kind"].agg(list)
    assert set(per.index) == dups
    assert per.map(len).between(1, 4).all()
    assert per.map(lambda ks: len(set(ks)) == len(ks)).all()    # no kind twice on one duplicate
    assert set(per.map(len)) == {1, 2, 3, 4}


# ----------------------------------------------------------------------------- corruptions
@pytest.mark.parametrize("kind", CORRUPTION_KINDS)
def test_each_corruption_kind_occurs_and_is_visible(data, copies, kind):
    assert data.stats["corruptions"][kind] > 0
    dup, orig = _isolated(copies, kind)
    touched = list(CORRUPTION_COLUMNS[kind])
    changed = np.zeros(len(dup), dtype=bool)
    for c in touched:
        changed |= ~_same(dup[c], orig[c])
    assert changed.all(), f"{kind}: {(~changed).sum()} duplicates look like their original"
    both_valid = (_dob(dup["date_of_birth"]).notna() & _dob(orig["date_of_birth"]).notna()).to_numpy()
    for c in PEOPLE_COLUMNS:
        if c in touched or c in PER_RECORD:
            continue
        same = _same(dup[c], orig[c]) | dup["others"].map(lambda cols: c in cols).to_numpy()
        if c == "date_of_birth":       # an invalid date is a record's own, not the corruption's
            same |= ~both_valid
        assert same.all(), f"{kind} changed {c}"


def _fold(s: str) -> str:
    s = s.translate(str.maketrans({"ä": "a", "ö": "o", "ü": "u", "Ä": "A", "Ö": "O", "Ü": "U", "ß": "ss"}))
    s = "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))
    return s.replace("ae", "a").replace("oe", "o").replace("ue", "u").replace("Ae", "A").replace(
        "Oe", "O").replace("Ue", "U")


def test_corruptions_do_what_they_say(copies):
    dup, orig = _isolated(copies, "nickname")
    for o, d in zip(orig["given_name"], dup["given_name"]):
        assert d in ps.NICKNAMES.get(o, ()) or o in ps.NICKNAMES.get(d, ()), (o, d)

    dup, orig = _isolated(copies, "name_swap")
    assert (dup["given_name"].to_numpy() == orig["surname"].to_numpy()).all()
    assert (dup["surname"].to_numpy() == orig["given_name"].to_numpy()).all()

    dup, orig = _isolated(copies, "initial")
    assert dup["given_name"].str.fullmatch(r"[^\W\d_]\.?").all()
    assert (dup["given_name"].str[0] == orig["given_name"].str[0].str.upper()).all()

    dup, orig = _isolated(copies, "upper_case")
    for c in NAMES:
        changed = dup[c] != orig[c]
        assert (dup.loc[changed, c] == orig.loc[changed, c].str.upper()).all()

    dup, orig = _isolated(copies, "extra_spaces")
    stripped = {c: dup[c].str.replace(r"\s+", " ", regex=True).str.replace(" - ", "-").str.strip() for c in NAMES}
    for c in NAMES:
        assert (stripped[c] == orig[c]).all()

    dup, orig = _isolated(copies, "diacritics")
    for o, d in zip(orig["given_name"] + " " + orig["surname"], dup["given_name"] + " " + dup["surname"]):
        assert o != d and _fold(o) == _fold(d) and (not o.isascii() or not d.isascii()), (o, d)

    dup, orig = _isolated(copies, "cyrillic")
    assert (dup["given_name"] + dup["surname"]).str.contains(CYRILLIC.pattern).all()
    for c in NAMES:
        changed = dup[c] != orig[c]
        assert all(ps.CYRILLIC[o] == d for o, d in zip(orig.loc[changed, c], dup.loc[changed, c]))

    for kind, col in (("missing_phone", "phone"), ("missing_email", "email"),
                      ("missing_soc_sec_id", "soc_sec_id"), ("missing_address_2", "address_2")):
        dup, orig = _isolated(copies, kind)
        assert dup[col].isna().all() and orig[col].notna().all() and (orig[col] != "").all()

    dup, orig = _isolated(copies, "soc_sec_id_digit")
    for o, d in zip(orig["soc_sec_id"], dup["soc_sec_id"]):
        assert len(d) == 7 and sum(a != b for a, b in zip(o, d)) == 1

    valid = lambda dup, orig: (_dob(dup["date_of_birth"]).notna() & _dob(orig["date_of_birth"]).notna()).to_numpy()
    dup, orig = _isolated(copies, "dob_day_month_swap")
    o, d = orig["date_of_birth"], dup["date_of_birth"]
    assert ((o.str[:4] == d.str[:4]) & (o.str[4:6] == d.str[6:]) & (o.str[6:] == d.str[4:6]))[valid(dup, orig)].all()
    dup, orig = _isolated(copies, "dob_digit")
    pairs = zip(orig["date_of_birth"][valid(dup, orig)], dup["date_of_birth"][valid(dup, orig)])
    assert all(sum(a != b for a, b in zip(x, y)) == 1 for x, y in pairs)
    dup, orig = _isolated(copies, "dob_year_off")
    o, d = orig["date_of_birth"][valid(dup, orig)], dup["date_of_birth"][valid(dup, orig)]
    assert ((o.str[:4].astype(int) - d.str[:4].astype(int)).abs() == 1).all()

    dup, orig = _isolated(copies, "moved")
    assert ((dup["address_1"] != orig["address_1"]) | (dup["suburb"] != orig["suburb"])).all()
    assert (dup["suburb"] != orig["suburb"]).mean() > 0.4          # most moves leave the suburb

    for kind, col in (("new_phone", "phone"), ("new_email", "email")):
        dup, orig = _isolated(copies, kind)
        assert dup[col].notna().all() and orig[col].notna().all() and (dup[col] != orig[col]).all()

    dup, orig = _isolated(copies, "address_abbreviation")
    short = r"\b(?:St|Rd|Ave|Dr|Ct|Pl|Cres|Ln|Pde|Tce|Cl|Blvd|Hwy|Cct|Pkwy|Cir|Gdns|Sq|Apt)\b|[sS]tr\."
    changed = (dup["address_1"] != orig["address_1"]) | ~_same(dup["address_2"], orig["address_2"])
    assert changed.all()
    assert (dup["address_1"] + " " + dup["address_2"].fillna("")).str.contains(short).all()


def test_corruptions_that_only_apply_to_few_are_still_there():
    d = generate(100_000 // 4, duplicate_rate=0.3, seed=9)
    c = d.stats["corruptions"]
    assert c["cyrillic"] >= 1 and c["diacritics"] >= 20 and c["nickname"] >= 50


# ----------------------------------------------------------------------------- hardness
def test_true_pairs_differ_on_address_phone_and_email(data, merged):
    """At least 10 % of true duplicate pairs differ on address, and on phone and e-mail where both
    records have one (computed here independently of the shared differences.pair_differences)."""
    m = merged[["rec_id", "person_id", *ADDRESS, "phone", "email"]]
    pairs = m.merge(m, on="person_id", suffixes=("_l", "_r"))
    pairs = pairs[pairs["rec_id_l"] < pairs["rec_id_r"]]
    assert len(pairs) == data.stats["true_duplicate_pairs"]
    address = np.zeros(len(pairs), dtype=bool)
    for c in ADDRESS:
        address |= (pairs[f"{c}_l"] != pairs[f"{c}_r"]).to_numpy()
    shares = {"address": address.mean()}
    for c in ("phone", "email"):
        both = pairs[f"{c}_l"].notna() & pairs[f"{c}_r"].notna()
        shares[c] = (pairs.loc[both, f"{c}_l"] != pairs.loc[both, f"{c}_r"]).mean()
    for k, v in shares.items():
        assert v >= 0.10, (k, v)
    shared = pair_differences(merged, merged["person_id"], {"address": ADDRESS, "phone": ["phone"], "email": ["email"]})
    assert shared == {"pairs": len(pairs), **{k: pytest.approx(v) for k, v in shares.items()}}


def test_no_households(merged):
    """No identifier is shared by two people: every national id, phone, e-mail and address
    (street number, street, suburb, postcode) belongs to one person only."""
    for cols in (["soc_sec_id"], ["phone"], ["email"], ADDRESS):
        g = merged.dropna(subset=cols).groupby(cols)["person_id"].nunique()
        assert (g == 1).all(), f"{cols} shared by several people: {g[g > 1].head().to_dict()}"


def test_hard_non_matches(data, merged):
    org = merged[merged["rec_id"].str.endswith("-org")].copy()
    org["year"] = org["date_of_birth"].str[:4]
    valid = _dob(org["date_of_birth"]).notna()
    namesakes = org[valid].groupby(["given_name", "surname", "year"])["person_id"].nunique()
    assert (namesakes > 1).sum() >= 0.005 * len(org)               # same name and birth year, other people
    neighbours = org.groupby(["surname", "suburb", "postcode"])["person_id"].nunique()
    assert (neighbours[neighbours > 1]).sum() >= 0.03 * len(org)    # same surname in the same suburb
    assert data.stats["namesake_people"] > 0 and data.stats["surname_place_sharers"] > 0


def test_news_is_newer(data, copies):
    """A duplicate that moved or has a new phone or e-mail was updated after its original."""
    dup, orig = copies
    news = dup["kinds"].map(lambda ks: bool({"moved", "new_phone", "new_email"} & set(ks))).to_numpy()
    assert news.any()
    assert (dup["updated_at"].to_numpy()[news] >= orig["updated_at"].to_numpy()[news]).all()


# ----------------------------------------------------------------------------- speed
@pytest.mark.bench
def test_20k_rows_in_under_10_seconds():
    ps._vocab()                         # Faker's name lists, read once per process
    started = time.perf_counter()
    d = generate(20_000, seed=5)
    assert len(d.records) == 20_000
    assert time.perf_counter() - started < 10


# ----------------------------------------------------------------------------- PostgreSQL
def test_write_table_against_postgres(test_databases):
    """The tables land as declared, in a database of this test run's own (dropped at its end)."""
    import psycopg

    url = test_databases.url("people_synth")
    d = generate(2_000, seed=3)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE SCHEMA other")
        conn.commit()
        ps.write_table(conn, "people", d, "people_truth")
        ps.write_table(conn, "people", d, "people_truth")          # drop if exists: re-runnable
        ps.write_table(conn, "other.people", d, "other.people_truth")
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'people' ORDER BY ordinal_position").fetchall())
        assert list(types) == PEOPLE_COLUMNS
        assert types.pop("updated_at") == "timestamp with time zone"
        assert set(types.values()) == {"text"}
        truth_types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'people_truth'").fetchall())
        assert truth_types == {"rec_id": "text", "person_id": "bigint"}
        pk = conn.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                          "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'people'::regclass "
                          "AND i.indisprimary").fetchall()
        assert pk == [("rec_id",)]
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 2_000
        assert conn.execute("SELECT count(*) FROM other.people_truth").fetchone()[0] == 2_000

        # the table holds exactly the frame: NULL stays NULL, '' stays '', postcodes keep their zeros
        cols = ", ".join(PEOPLE_COLUMNS[:-1])
        rows = conn.execute(f"SELECT {cols}, updated_at FROM people ORDER BY rec_id").fetchall()
        back = pd.DataFrame(rows, columns=PEOPLE_COLUMNS)
        want = d.records.sort_values("rec_id").reset_index(drop=True)
        for c in TEXT_COLUMNS:
            assert _same(back[c], want[c]).all(), c
        assert (pd.to_datetime(back["updated_at"], utc=True) == want["updated_at"]).all()
        truth = pd.DataFrame(conn.execute("SELECT rec_id, person_id FROM people_truth").fetchall(),
                             columns=["rec_id", "person_id"])
        assert truth.sort_values("rec_id").reset_index(drop=True).equals(
            d.truth.sort_values("rec_id").reset_index(drop=True))

        # one transaction: a load that fails leaves the previous tables as they were
        bad = ps.PeopleData(records=pd.concat([d.records, d.records.head(1)]), truth=d.truth,
                            corruptions=d.corruptions, stats=d.stats)
        with pytest.raises(psycopg.errors.UniqueViolation):
            ps.write_table(conn, "people", bad, "people_truth")
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 2_000
        assert conn.execute("SELECT count(*) FROM people_truth").fetchone()[0] == 2_000
