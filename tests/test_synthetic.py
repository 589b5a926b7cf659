"""Tests for golden_record.synthetic.citizens: pure Python, no database."""

from __future__ import annotations

import re
import sys
from math import comb
from pathlib import Path

_SRC = Path(__file__).resolve().parents[1] / "use-cases" / "golden_record" / "src"
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from golden_record.config import load_model_config  # noqa: E402
from golden_record.synthetic import indian_data
from golden_record.synthetic import citizens as synthetic  # noqa: E402
from golden_record.synthetic.citizens import CITIZEN_COLUMNS, CORRUPTION_KINDS, generate  # noqa: E402
from golden_record.synthetic.differences import config_differences  # noqa: E402

STRING_COLUMNS = [c for c in CITIZEN_COLUMNS if c not in ("citizen_id", "date_of_birth", "created_at", "updated_at")]
ABBR = indian_data.ADDRESS_ABBREVIATIONS
ABBR_TOKEN = re.compile(r"\b(" + "|".join(ABBR.values()) + r")\b")
LONG_TOKEN = re.compile(r"\b(" + "|".join(ABBR) + r")\b")

# columns a single corruption of each kind may change (besides source_system / timestamps)
TOUCHED = {
    "typo_insert": {"first_name", "last_name", "father_name", "full_name"},
    "typo_delete": {"first_name", "last_name", "father_name", "full_name"},
    "typo_substitute": {"first_name", "last_name", "father_name", "full_name"},
    "typo_transpose": {"first_name", "last_name", "father_name", "full_name"},
    "transliteration": {"first_name", "last_name", "father_name", "full_name"},
    "initials": {"first_name", "full_name"},
    "name_swap": {"first_name", "last_name", "full_name"},
    "missing_jan_aadhaar": {"jan_aadhaar"},
    "missing_mobile": {"mobile"},
    "missing_email": {"email"},
    "dob_day_month_swap": {"date_of_birth"},
    "dob_year_off": {"date_of_birth"},
    "new_mobile": {"mobile"},
    "address_abbreviation": {"address"},
    "moved": {"address", "district", "state", "pincode", "jan_aadhaar"},
    "new_email": {"email"},
    "wrong_gender": {"gender"},
    "dob_digit": {"date_of_birth"},
    "dob_default": {"date_of_birth"},
}
PER_RECORD = {"citizen_id", "source_system", "created_at", "updated_at", "aadhaar_last4"}


@pytest.fixture(scope="module")
def data():
    return generate(rows=20_000, duplicate_rate=0.2, seed=123)


@pytest.fixture(scope="module")
def merged(data):
    return data.citizens.merge(data.truth, on="citizen_id", validate="one_to_one")


@pytest.fixture(scope="module")
def pairs(data, merged):
    """Every corrupted copy side by side with its person's uncorrupted (base) record."""
    corrupted = set(data.corruptions["citizen_id"])
    is_copy = merged["citizen_id"].isin(corrupted)
    base = merged[~is_copy].set_index("entity_id")
    copies = merged[is_copy].reset_index(drop=True)
    orig = base.loc[copies["entity_id"]].reset_index()
    kinds = data.corruptions.groupby("citizen_id")["kind"].agg(list)
    copies["kinds"] = kinds.loc[copies["citizen_id"]].to_numpy()
    return copies, orig


def _single(pairs, kind):
    copies, orig = pairs
    m = copies["kinds"].map(lambda ks: ks == [kind]).to_numpy()
    assert m.sum() > 0, f"no copy with {kind} as its only corruption"
    return copies[m].reset_index(drop=True), orig[m].reset_index(drop=True)


def _base(data, merged):
    return merged[~merged["citizen_id"].isin(set(data.corruptions["citizen_id"]))]


# ----------------------------------------------------------------------------- shape and dtypes
def test_columns_rows_and_dtypes(data):
    c = data.citizens
    assert list(c.columns) == CITIZEN_COLUMNS
    assert len(c) == 20_000
    assert c["citizen_id"].dtype == np.int64
    assert c["citizen_id"].tolist() == list(range(1, 20_001))
    for col in ("date_of_birth", "created_at", "updated_at"):
        assert c[col].dtype == np.dtype("datetime64[ns]"), col
    assert (c["date_of_birth"] == c["date_of_birth"].dt.normalize()).all()
    for col in STRING_COLUMNS:
        assert c[col].dtype == object, col
        types = {type(v) for v in c[col]}
        assert types <= {str, type(None)}, (col, types)
    for col in ("full_name", "first_name", "last_name", "father_name", "gender", "address", "district",
                "state", "pincode", "source_system"):
        assert c[col].notna().all(), col
    assert set(c["gender"]) == {"M", "F"}
    assert set(c["state"]) <= set(indian_data.STATES)
    assert set(c["source_system"]) == set(synthetic.SOURCE_SYSTEMS)
    assert list(data.truth.columns) == ["citizen_id", "entity_id"]
    assert data.truth.dtypes.tolist() == [np.int64, np.int64]
    assert list(data.corruptions.columns) == ["citizen_id", "kind"]


@pytest.mark.parametrize("rows,rate", [(1, 0.2), (2, 0.9), (3, 0.5), (7, 0.2), (999, 0.35), (5_001, 0.0), (4_321, 0.95)])
def test_exact_row_count(rows, rate):
    d = generate(rows=rows, duplicate_rate=rate, seed=5)
    assert len(d.citizens) == rows
    assert len(d.truth) == rows
    assert d.stats["records"] == rows
    assert d.truth["entity_id"].nunique() == d.stats["people"]


def test_truth_and_stats_agree_with_independent_counts(data, merged):
    t = data.truth
    assert t["citizen_id"].is_unique
    assert set(t["citizen_id"]) == set(data.citizens["citizen_id"])
    k = t.groupby("entity_id").size()
    assert k.max() <= 4
    s = data.stats
    assert s["records"] == len(t)
    assert s["people"] == t["entity_id"].nunique()
    assert s["duplicate_records"] == len(t) - t["entity_id"].nunique()
    assert s["true_duplicate_pairs"] == sum(comb(int(n), 2) for n in k)
    assert s["people_with_duplicates"] == int((k > 1).sum())
    # households = distinct Jan Aadhaar among uncorrupted records (one per person)
    assert s["households"] == _base(data, merged)["jan_aadhaar"].nunique()
    # duplicate_rate is the share of people recorded more than once; 2-4 copies, mostly 2
    assert abs(s["people_with_duplicates"] / s["people"] - 0.2) < 0.01
    share = k[k > 1].value_counts(normalize=True)
    assert 0.6 < share[2] < 0.8 and share[4] < share[3] < share[2]


def test_zero_duplicate_rate_gives_no_duplicates():
    d = generate(rows=3_000, duplicate_rate=0.0, seed=9)
    assert d.truth["entity_id"].is_unique
    assert d.stats["duplicate_records"] == 0 and d.stats["true_duplicate_pairs"] == 0
    assert d.stats["people_with_duplicates"] == 0 and d.stats["people"] == 3_000
    assert len(d.corruptions) == 0 and list(d.corruptions.columns) == ["citizen_id", "kind"]


def test_records_are_shuffled(data, merged):
    ent = merged.sort_values("citizen_id")["entity_id"].to_numpy()
    assert (ent[1:] == ent[:-1]).mean() < 0.01          # copies are not adjacent
    # the uncorrupted record is not systematically the lowest citizen_id of its person
    corrupted = set(data.corruptions["citizen_id"])
    dup = merged[merged.groupby("entity_id")["entity_id"].transform("size") > 1]
    first = dup.loc[dup.groupby("entity_id")["citizen_id"].idxmin()]
    share_base_first = (~first["citizen_id"].isin(corrupted)).mean()
    assert 0.25 < share_base_first < 0.75


# ----------------------------------------------------------------------------- determinism
def test_same_seed_same_data_other_seed_other_data():
    a = generate(rows=4_000, seed=11)
    b = generate(rows=4_000, seed=11)
    pd.testing.assert_frame_equal(a.citizens, b.citizens)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.corruptions, b.corruptions)
    assert a.stats == b.stats
    c = generate(rows=4_000, seed=12)
    assert not a.citizens.equals(c.citizens)
    assert (a.citizens["full_name"] != c.citizens["full_name"]).mean() > 0.9


# ----------------------------------------------------------------------------- corruptions
def test_corruption_bookkeeping(data, merged, pairs):
    corr = data.corruptions
    assert set(corr["kind"]) == set(CORRUPTION_KINDS)          # every kind occurs
    assert set(corr["citizen_id"]) <= set(data.citizens["citizen_id"])
    per_copy = corr.groupby("citizen_id")["kind"]
    assert per_copy.size().between(1, 3).all()
    assert (per_copy.nunique() == per_copy.size()).all()
    assert not corr.duplicated().any()
    # exactly one uncorrupted record per person; every other record is a corrupted copy
    uncorrupted = merged[~merged["citizen_id"].isin(set(corr["citizen_id"]))]
    assert uncorrupted["entity_id"].is_unique
    assert uncorrupted["entity_id"].nunique() == data.stats["people"]
    assert corr["citizen_id"].nunique() == data.stats["duplicate_records"]
    # copies of a person come from different source systems, and keep the person's aadhaar_last4
    g = merged.groupby("entity_id")
    assert (g["source_system"].nunique() == g.size()).all()
    assert (g["aadhaar_last4"].nunique() <= 1).all()  # same value wherever it is recorded
    # the gender differs from the person's only on the copies a clerk got wrong
    copies, orig = pairs
    wrong = copies["kinds"].map(lambda ks: "wrong_gender" in ks).to_numpy()
    assert wrong.any()
    assert (copies["gender"].to_numpy() != orig["gender"].to_numpy()).tolist() == wrong.tolist()


def test_every_corrupted_copy_differs_from_its_base(pairs):
    copies, orig = pairs
    cols = [c for c in CITIZEN_COLUMNS if c not in PER_RECORD]
    same = pd.DataFrame({c: (copies[c].to_numpy() == orig[c].to_numpy())
                         | (copies[c].isna().to_numpy() & orig[c].isna().to_numpy()) for c in cols})
    assert not same.all(axis=1).any()


@pytest.mark.parametrize("kind", CORRUPTION_KINDS)
def test_single_corruption_only_touches_its_fields(pairs, kind):
    copies, orig = _single(pairs, kind)
    for col in CITIZEN_COLUMNS:
        if col in PER_RECORD or col in TOUCHED[kind]:
            continue
        a, b = copies[col], orig[col]
        equal = (a.to_numpy() == b.to_numpy()) | (a.isna().to_numpy() & b.isna().to_numpy())
        assert equal.all(), (kind, col)


def _changed_name(copies, orig):
    """(old, new) for the single name field changed by a typo/transliteration."""
    out = []
    for i in range(len(copies)):
        diffs = [(orig.at[i, f], copies.at[i, f]) for f in ("first_name", "last_name", "father_name")
                 if orig.at[i, f] != copies.at[i, f]]
        assert len(diffs) == 1, diffs
        out.append(diffs[0])
    return out


def test_typo_kinds_are_single_edits(pairs):
    for kind in ("typo_insert", "typo_delete", "typo_substitute", "typo_transpose"):
        for old, new in _changed_name(*_single(pairs, kind)):
            o, n = old.lower(), new.lower()
            if kind == "typo_insert":
                assert len(n) == len(o) + 1 and any(n[:i] + n[i + 1:] == o for i in range(len(n))), (old, new)
            elif kind == "typo_delete":
                assert len(n) == len(o) - 1 and any(o[:i] + o[i + 1:] == n for i in range(len(o))), (old, new)
            elif kind == "typo_substitute":
                assert len(n) == len(o) and sum(x != y for x, y in zip(o, n)) == 1, (old, new)
            else:
                diff = [i for i, (x, y) in enumerate(zip(o, n)) if x != y]
                assert len(n) == len(o) and len(diff) == 2 and diff[1] == diff[0] + 1, (old, new)
                assert o[diff[0]] == n[diff[1]] and o[diff[1]] == n[diff[0]], (old, new)


def test_transliteration_changes_spelling_not_identity(pairs):
    changes = _changed_name(*_single(pairs, "transliteration"))
    for old, new in changes:
        assert old != new and re.fullmatch(r"[A-Z][a-z]+( [A-Z][a-z]+)*", new), (old, new)
        assert new[0] in (old[0], "B", "V", "W", "K", "J", "S"), (old, new)   # v/b/w, q/k, z/j, sh/s
    olds = {o for o, _ in changes} | {o.split()[-1] for o, _ in changes}
    news = {n for _, n in changes} | {n.split()[-1] for _, n in changes}
    # classic variant groups show up
    assert any(v in news for v in ("Mohammad", "Muhammad", "Mohd", "Laxmi", "Sarma", "Gita", "Puja",
                                   "Varma", "Misra", "Chouhan", "Shrivastava", "Agrawal", "Sheikh"))
    assert olds


def test_initials_and_name_swap(pairs):
    copies, orig = _single(pairs, "initials")
    assert copies["first_name"].str.fullmatch(r"[A-Z]\.").all()
    assert (copies["first_name"] == orig["first_name"].str[0] + ".").all()
    assert (copies["full_name"] == copies["first_name"] + " " + orig["last_name"]).all()
    # name_swap: every copy with a swap (even with other corruptions) has the names exchanged
    allc, allo = pairs
    m = allc["kinds"].map(lambda ks: "name_swap" in ks).to_numpy()
    assert m.sum() > 0
    assert (allc.loc[m, "first_name"].to_numpy() == allo.loc[m, "last_name"].to_numpy()).all()
    assert (allc.loc[m, "last_name"].to_numpy() == allo.loc[m, "first_name"].to_numpy()).all()


@pytest.mark.parametrize("kind,col", [("missing_jan_aadhaar", "jan_aadhaar"), ("missing_mobile", "mobile"),
                                      ("missing_email", "email")])
def test_missing_field_corruptions(pairs, kind, col):
    allc, allo = pairs
    m = allc["kinds"].map(lambda ks: kind in ks).to_numpy()
    assert m.sum() > 0
    assert allc.loc[m, col].isna().all()
    assert allo.loc[m, col].notna().all()


def test_dob_corruptions(pairs):
    allc, allo = pairs
    m = allc["kinds"].map(lambda ks: "dob_day_month_swap" in ks).to_numpy()
    new, old = allc.loc[m, "date_of_birth"], allo.loc[m, "date_of_birth"]
    assert m.sum() > 0
    assert (new.dt.month.to_numpy() == old.dt.day.to_numpy()).all()
    assert (new.dt.day.to_numpy() == old.dt.month.to_numpy()).all()
    assert (new.dt.year.to_numpy() == old.dt.year.to_numpy()).all()
    assert (old.dt.day <= 12).all() and (old.dt.day != old.dt.month).all()

    m = allc["kinds"].map(lambda ks: "dob_year_off" in ks).to_numpy()
    new, old = allc.loc[m, "date_of_birth"], allo.loc[m, "date_of_birth"]
    assert m.sum() > 0
    assert (np.abs(new.dt.year.to_numpy() - old.dt.year.to_numpy()) == 1).all()
    assert (new.dt.month.to_numpy() == old.dt.month.to_numpy()).all()
    leap_fix = (old.dt.month.to_numpy() == 2) & (old.dt.day.to_numpy() == 29) & (new.dt.day.to_numpy() == 28)
    assert ((new.dt.day.to_numpy() == old.dt.day.to_numpy()) | leap_fix).all()
    # nobody is born in the future
    assert (allc["date_of_birth"] <= pd.Timestamp("2025-07-01")).all()


def test_dob_digit_and_default(pairs):
    allc, allo = pairs
    m = allc["kinds"].map(lambda ks: "dob_digit" in ks).to_numpy()
    assert m.sum() > 0
    new = allc.loc[m, "date_of_birth"].dt.strftime("%Y%m%d")
    old = allo.loc[m, "date_of_birth"].dt.strftime("%Y%m%d")
    for a, b in zip(old, new):
        assert sum(x != y for x, y in zip(a, b)) == 1 and a[:2] == b[:2], (a, b)
    m = allc["kinds"].map(lambda ks: "dob_default" in ks).to_numpy()
    assert m.sum() > 0
    new, old = allc.loc[m, "date_of_birth"], allo.loc[m, "date_of_birth"]
    assert ((new.dt.month == 1) & (new.dt.day == 1)).all()
    assert (new.dt.year.to_numpy() == old.dt.year.to_numpy()).all()
    assert ((old.dt.month != 1) | (old.dt.day != 1)).all()


def test_new_mobile_and_email(pairs):
    """A new number or e-mail is the person's own: copies of one person that changed share it."""
    allc, allo = pairs
    for kind, col, shape in (("new_mobile", "mobile", r"[6-9]\d{9}"),
                             ("new_email", "email", r"[a-z0-9._]+@[a-z.]+\.[a-z]+")):
        m = allc["kinds"].map(lambda ks: kind in ks).to_numpy()
        assert m.sum() > 0
        new, old = allc.loc[m, col], allo.loc[m, col]
        assert new.str.fullmatch(shape).all()
        assert (new.to_numpy() != old.to_numpy()).all()
        per_person = allc[m].groupby("entity_id")[col].nunique()
        assert (per_person == 1).all() and (per_person.index.size < m.sum())   # some share it


def test_moves_are_consistent_new_homes(data, pairs):
    """A copy that moved has another address, district and pincode (of that district), the state
    of that district; its copies that moved share the new home; a share left the household."""
    allc, allo = pairs
    m = allc["kinds"].map(lambda ks: "moved" in ks).to_numpy()
    new, old = allc[m], allo[m]
    assert m.sum() > 100
    for col in ("address", "district", "pincode"):
        assert (new[col].to_numpy() != old[col].to_numpy()).all(), col
    c = data.citizens
    prefix_of = c.groupby("district")["pincode"].agg(lambda s: set(s.str[:3]))
    assert all(p[:3] in prefix_of[d] for d, p in zip(new["district"], new["pincode"]))
    assert (c.groupby("district")["state"].nunique() == 1).all()
    assert 0.6 < (new["state"].to_numpy() == old["state"].to_numpy()).mean() < 0.9
    assert (new.groupby("entity_id")[["address", "pincode"]].nunique() == 1).all().all()
    left = (new["jan_aadhaar"].to_numpy() != old["jan_aadhaar"].to_numpy()) & new["jan_aadhaar"].notna().to_numpy()
    assert 0.15 < left.mean() < 0.45
    assert not new.loc[left, "jan_aadhaar"].isin(set(_base(data, c.merge(data.truth))["jan_aadhaar"])).any()


def test_news_is_newer(pairs):
    """A copy that moved or has a new number or e-mail was updated after the person's first record."""
    allc, allo = pairs
    news = allc["kinds"].map(lambda ks: bool({"moved", "new_mobile", "new_email"} & set(ks))).to_numpy()
    assert news.sum() > 100
    assert (allc.loc[news, "updated_at"].to_numpy() >= allo.loc[news, "updated_at"].to_numpy()).all()
    assert (allc["created_at"] <= allc["updated_at"]).all()


def test_address_abbreviation(pairs):
    allc, allo = pairs
    m = allc["kinds"].map(lambda ks: "address_abbreviation" in ks).to_numpy()
    assert m.sum() > 0
    expand = {v: k for k, v in ABBR.items()}
    for new, old in zip(allc.loc[m, "address"], allo.loc[m, "address"]):
        assert ABBR_TOKEN.search(new) and LONG_TOKEN.search(old) and not ABBR_TOKEN.search(old), (old, new)
        assert ABBR_TOKEN.sub(lambda t: expand[t.group(1)], new) == old, (old, new)


def test_all_kinds_occur_for_5000_rows():
    for seed in (1, 2):
        d = generate(rows=5_000, seed=seed)
        assert set(d.corruptions["kind"]) == set(CORRUPTION_KINDS)


# ----------------------------------------------------------------------------- formats
def test_formats(data):
    c = data.citizens
    assert (c["full_name"] == c["first_name"] + " " + c["last_name"]).all()
    mob = c["mobile"].dropna()
    assert len(mob) > 0.8 * len(c) and mob.str.fullmatch(r"[6-9]\d{9}").all()
    assert c["pincode"].str.fullmatch(r"\d{6}").all()
    jan = c["jan_aadhaar"].dropna()
    assert len(jan) > 0.8 * len(c) and jan.str.fullmatch(r"\d{10}").all()
    last4 = c["aadhaar_last4"].dropna()
    assert 0.4 * len(c) < len(last4) < 0.9 * len(c) and last4.str.fullmatch(r"\d{4}").all()
    # ration cards and schools never record Aadhaar
    assert c.loc[c["source_system"].isin(["ration_card", "school_education"]), "aadhaar_last4"].isna().all()
    em = c["email"].dropna()
    assert (em == em.str.lower()).all() and em.str.fullmatch(r"[a-z0-9._]+@[a-z.]+\.[a-z]+").all()
    assert (c["created_at"] <= c["updated_at"]).all()
    assert (c["created_at"] >= c["date_of_birth"]).all()
    assert c["created_at"].min() >= pd.Timestamp("2014-01-01")
    # pincode consistent with district: one 3-digit prefix per district, districts within one state
    assert (c.groupby("district")["pincode"].agg(lambda s: s.str[:3].nunique()) == 1).all()
    assert (c.groupby("district")["state"].nunique() == 1).all()


def test_base_missing_rates(data, merged):
    base = _base(data, merged)
    assert 0.15 < base["email"].isna().mean() < 0.26
    assert 0.03 < base["mobile"].isna().mean() < 0.08
    assert base["jan_aadhaar"].notna().all()
    assert base["email"].dropna().is_unique


# ----------------------------------------------------------------------------- households
def test_households(data, merged):
    base = _base(data, merged)
    g = base.groupby("jan_aadhaar")
    for col in ("address", "last_name", "district", "state", "pincode"):
        assert (g[col].nunique() == 1).all(), col
    sizes = g.size()
    assert sizes.between(1, 6).all() and 3.0 < sizes.mean() < 4.0
    # members are different people: different first names (or at least different DOBs)
    assert not base.duplicated(["jan_aadhaar", "first_name", "date_of_birth"]).any()
    assert not base.duplicated(["jan_aadhaar", "first_name"]).any()
    # children's father_name is the (male) head's full name
    multi = base[base["jan_aadhaar"].map(sizes) >= 3]
    full = multi.groupby("jan_aadhaar")["full_name"].agg(set)
    has_parent = multi.apply(lambda r: r["father_name"] in full[r["jan_aadhaar"]], axis=1)
    assert has_parent.groupby(multi["jan_aadhaar"]).any().mean() > 0.9
    fathers = multi.groupby("jan_aadhaar")["father_name"].agg(set)
    is_parent = multi.apply(lambda r: r["full_name"] in fathers[r["jan_aadhaar"]], axis=1)
    assert is_parent.sum() > 0.2 * multi["jan_aadhaar"].nunique()
    assert (multi.loc[is_parent, "gender"] == "M").mean() > 0.99   # a few unisex names (Kiran, Santosh)


def test_hard_non_matches_present(data, merged):
    base = _base(data, merged)
    # twins: same household and DOB, different first names
    twins = base[base.duplicated(["jan_aadhaar", "date_of_birth"], keep=False)]
    assert len(twins) > 20
    # siblings with look-alike first names (Ravi / Ravindra)
    pairs = indian_data.SIMILAR_MALE + indian_data.SIMILAR_FEMALE
    names = base.groupby("jan_aadhaar")["first_name"].agg(set)
    assert sum(any(a in s and b in s for a, b in pairs) for s in names) > 20
    # ~10-15 % of people carry very common full names, concentrated in few districts
    common = {f"{f} {s}" for sn, m, fm in indian_data.COMMON_NAMES.values() for s in sn for f in m + fm}
    share = base["full_name"].isin(common).mean()
    assert 0.08 < share < 0.2
    # ... and different people with the same full name live in the same district
    same = base.groupby(["district", "full_name"])["entity_id"].transform("size") > 1
    is_common = base["full_name"].isin(common)
    assert same[is_common].mean() > 0.2 and same[is_common].mean() > 5 * same[~is_common].mean()


# ----------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("kwargs", [
    {"rows": 0}, {"rows": -5}, {"rows": 1.5}, {"duplicate_rate": -0.1}, {"duplicate_rate": 1.0},
    {"duplicate_rate": 1.5}, {"duplicate_rate": float("nan")},
])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        generate(**kwargs)


# ----------------------------------------------------------------------------- hardness
def test_true_duplicates_differ_as_in_real_registries(data):
    """Measured as the model sees them (cleaned by the default config): 10-25 % of the true
    duplicate pairs differ on address, pincode, mobile and e-mail (moves, new numbers and
    addresses), a few on gender and date of birth (clerical errors), none on aadhaar_last4."""
    shares = config_differences(data.citizens, data.truth["entity_id"], load_model_config())
    assert shares["pairs"] == data.stats["true_duplicate_pairs"]
    for field in ("address", "pincode", "mobile", "email"):
        assert 0.10 <= shares[field] <= 0.25, (field, shares[field])
    assert 0.01 <= shares["gender"] <= 0.06, shares["gender"]
    assert 0.02 <= shares["date_of_birth"] <= 0.20, shares["date_of_birth"]
    assert 0.01 <= shares["jan_aadhaar"] <= 0.10, shares["jan_aadhaar"]     # moved out of the household
    assert shares["aadhaar_last4"] == 0.0
    # names still carry the evidence: most true pairs agree on each of them
    for field in ("first_name", "last_name", "father_name"):
        assert shares[field] < 0.45, (field, shares[field])
