"""The seeder's hard profiles, ``historical`` and ``crm`` (synthetic/historical.py, synthetic/crm.py):
the shapes they promise, measured on the generated frames (fast lane: no database)."""
from __future__ import annotations

import calendar
import dataclasses
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from golden_record.synthetic import crm, historical, profiles, seed


@pytest.fixture(scope="module")
def hist():
    return historical.generate(30_000, seed=7)


@pytest.fixture(scope="module")
def cust():
    return crm.generate(20_000, 0.2, seed=7)


def _valid_iso(text: str) -> bool:
    """A real calendar date written YYYY-MM-DD (any year from 1)."""
    try:
        y, m, d = (int(x) for x in text.split("-"))
    except ValueError:
        return False
    return y >= 1 and 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y, m)[1]


# ----------------------------------------------------------------------------- both profiles
@pytest.mark.parametrize("module", [historical, crm])
def test_the_same_seed_gives_the_same_tables_and_another_seed_others(module):
    a, b, c = module.generate(3_000, 0.3, 11), module.generate(3_000, 0.3, 11), module.generate(3_000, 0.3, 12)
    pd.testing.assert_frame_equal(a.records, b.records)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.corruptions, b.corruptions)
    assert a.stats == b.stats
    assert not a.records.equals(c.records)


@pytest.mark.parametrize("name", ["historical", "crm"])
@pytest.mark.parametrize("rows", [1, 7, 1_000])
def test_truth_covers_every_record_and_the_counts_agree(name, rows):
    profile = profiles.get(name)
    config = profile.config()
    data = profile.generate(rows, profile.default_duplicate_rate or 0.2, 5)
    ids, truth = data.records[config.data.id], data.truth
    assert list(truth.columns) == [config.data.truth.id_column, config.data.truth.entity_column] == \
        [config.data.id, "person_id"]
    assert len(data.records) == len(truth) == rows and ids.is_unique and ids.notna().all()
    assert set(ids) == set(truth[config.data.id])
    sizes = truth["person_id"].value_counts()
    s = data.stats
    assert s["records"] == rows and s["people"] == len(sizes)
    assert s["duplicate_records"] == rows - len(sizes)
    assert s["true_duplicate_pairs"] == int((sizes * (sizes - 1) // 2).sum())
    assert s["records_per_person_max"] == sizes.max()
    assert s["records_per_person_mean"] == pytest.approx(rows / len(sizes), abs=1e-3)
    assert set(data.records.columns) >= {c for f, spec in config.data.fields.items() for c in spec.source_columns(f)}


def test_the_hard_profiles_declare_only_their_data():
    for name in ("historical", "crm"):
        text = profiles.get(name).config_path.read_text()
        top = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "#"))]
        assert top == ["data"], name
        assert f"make seed-data PROFILE={name}" in text and "golden-record train --config" in text
    assert "formats" not in profiles.get("historical").config().data.fields["date_of_birth"].model_fields_set


def test_seed_uses_the_profiles_own_duplicate_rate_unless_one_is_given(monkeypatch):
    """historical has its own default (0.85); the others keep settings' seed.duplicate_rate (0.2)."""
    assert profiles.get("historical").default_duplicate_rate == historical.DEFAULT_DUPLICATE_RATE
    assert all(profiles.get(n).default_duplicate_rate is None for n in ("citizens", "people", "sparse", "crm"))
    seen = []

    class Stop(Exception):
        pass

    def fake(rows, rate, s):
        seen.append(rate)
        raise Stop

    for name in profiles.PROFILES:
        monkeypatch.setitem(profiles.PROFILES, name, dataclasses.replace(profiles.PROFILES[name], generate=fake))
    monkeypatch.setattr(seed.warehouse, "resolve_target", lambda *a, **k: None)
    for argv in (["--profile", "historical"], ["--profile", "people"], ["--profile", "crm"],
                 ["--profile", "historical", "--duplicate-rate", "0.3"]):
        with pytest.raises(Stop):
            seed.main(argv + ["--rows", "10"])
    assert seen == [0.85, 0.2, 0.2, 0.3]
    with pytest.raises(SystemExit) as exc:
        seed.main(["--profile", "historical", "--duplicate-rate", "1.5"])
    assert exc.value.code == 2


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_seed_data_passes_a_duplicate_rate_only_when_one_is_set():
    def command(*args):
        out = subprocess.run(["make", "-n", "-W", "install", "seed-data", *args], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
        return next(line for line in out.splitlines() if "seed_data.py" in line)

    assert "--duplicate-rate" not in command("PROFILE=historical")
    assert "--duplicate-rate 0.3 " in command("PROFILE=citizens", "DUPLICATE_RATE=0.3")


# ----------------------------------------------------------------------------- historical
def test_historical_records_per_person_have_a_long_tail_up_to_30(hist):
    sizes = hist.truth["person_id"].value_counts()
    assert sizes.max() == 30 and sizes.min() == 1
    assert 7.0 <= sizes.mean() <= 9.5                   # about 8 at the default duplicate rate
    assert 0.10 <= (sizes == 1).mean() <= 0.20          # 1 - 0.85 people recorded once
    assert (sizes >= 15).mean() >= 0.10                 # a long tail ...
    assert (sizes >= 25).sum() >= 20                    # ... reaching the cap
    assert sizes.median() < sizes.mean()                # skewed right


def test_historical_dates_reach_before_1677_and_some_are_impossible(hist):
    dob = hist.records["date_of_birth"].dropna()
    assert dob.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()        # text, as written
    years = dob.str.slice(0, 4).astype(int)
    assert years.min() < 1550 and years.max() > 1950
    assert 0.2 <= (years < 1677).mean() <= 0.45                 # out of pandas' nanosecond range
    valid = dob.map(_valid_iso)
    assert 0.03 <= (~valid).mean() <= 0.25                      # month 13+, day 32+, 1835-00-00 ...
    assert dob[~valid].str.slice(5, 7).astype(int).gt(12).any()
    assert dob[~valid].str.slice(8, 10).astype(int).gt(31).any()
    assert dob.str.endswith("-01-01").mean() > 0.05             # year only, with a default day
    kinds = set(hist.corruptions["kind"])
    assert {"dob_digit", "dob_transpose", "dob_day_month_swap", "dob_year_off", "dob_year_only"} <= kinds


def test_historical_fields_are_each_missing_in_about_a_fifth_of_the_records(hist):
    r = hist.records
    for f in historical.MISSING_FIELDS:
        assert 0.17 <= r[f].isna().mean() <= 0.23, f
    # independently: both names missing in about 4 % of the records
    both = (r["first_name"].isna() & r["surname"].isna()).mean()
    assert 0.025 <= both <= 0.055
    for f in ("rec_id", "source", "updated_at"):
        assert r[f].notna().all()


def test_historical_duplicates_carry_several_corruptions_of_every_kind(hist):
    per_dup = hist.corruptions[hist.corruptions["kind"].isin(historical.CORRUPTION_KINDS)].groupby("rec_id").size()
    assert 2.3 <= per_dup.sum() / hist.stats["duplicate_records"] <= 3.0
    assert per_dup.max() == 6
    assert set(hist.corruptions["kind"]) == set(historical.CORRUPTION_KINDS + historical.LIFE_KINDS)
    moved = (hist.corruptions["kind"] == "moved").sum() / hist.stats["duplicate_records"]
    assert 0.25 <= moved <= 0.35


def test_historical_has_look_alike_people(hist):
    """Different people sharing given name, surname and birthplace (siblings given one name,
    namesakes, the period's few common names), and siblings sharing surname, birthplace and father."""
    r = hist.records.assign(person=hist.truth["person_id"].to_numpy())
    full = r.dropna(subset=["first_name", "surname", "birthplace"])
    people_per_name = full.groupby(["first_name", "surname", "birthplace"])["person"].nunique()
    assert (people_per_name > 1).sum() >= 50
    fam = r.dropna(subset=["surname", "birthplace", "father_name"])
    assert (fam.groupby(["surname", "birthplace", "father_name"])["person"].nunique() > 1).sum() >= 100
    assert hist.stats["namesakes"] > 0 and hist.stats["necronyms"] > 0


# ----------------------------------------------------------------------------- crm
def _originals(data):
    rec = data.records.set_index("customer_id")
    return rec.loc[data.copies["customer_id"]], rec.loc[data.copies["original_id"]]


def test_crm_a_quarter_of_the_duplicates_moved_street_city_and_postcode_together(cust):
    dup, org = _originals(cust)
    moved = dup.index.isin(cust.corruptions.loc[cust.corruptions["kind"] == "moved", "customer_id"])
    assert 0.20 <= moved.mean() <= 0.30
    for f in ("street", "city", "postcode"):
        assert (dup[f].to_numpy()[moved] != org[f].to_numpy()[moved]).all(), f
    # who did not move kept the city, and the street and postcode but for their spelling
    assert (dup["city"].to_numpy()[~moved] == org["city"].to_numpy()[~moved]).all()
    same_zip = dup["postcode"].str.slice(0, 5).to_numpy()[~moved] == org["postcode"].to_numpy()[~moved]
    assert same_zip.all()
    # a move changes neither name nor date of birth (they differ as often as on any duplicate),
    # and mostly keeps the e-mail
    def kept(f, rows):
        return (dup[f].to_numpy()[rows] == org[f].to_numpy()[rows]).mean()

    for f in ("first_name", "last_name", "date_of_birth"):
        assert kept(f, moved) == pytest.approx(kept(f, ~moved), abs=0.05), f
    assert kept("email", moved) > 0.6


def test_crm_people_have_one_to_five_records_most_one_or_two(cust):
    sizes = cust.truth["person_id"].value_counts()
    assert sizes.max() == 5 and ((sizes <= 2).mean() > 0.9)
    assert 0.17 <= (sizes > 1).mean() <= 0.23


def test_crm_has_households_and_namesakes_as_hard_non_matches(cust):
    r = cust.records.assign(person=cust.truth["person_id"].to_numpy())
    home = r.groupby(["last_name", "street", "postcode"])["person"].nunique()
    assert (home > 1).sum() >= 200                         # family members at one address
    phone = r.dropna(subset=["phone"]).groupby("phone")["person"].nunique()
    assert (phone > 1).sum() >= 100                        # a shared landline
    names = r.groupby(["first_name", "last_name"])["person"].nunique()
    assert (names > 1).sum() >= 200
    assert cust.records["email"].dropna().groupby(r["person"]).nunique().max() <= 5


def test_crm_dates_are_mostly_valid_and_values_go_missing(cust):
    dob = cust.records["date_of_birth"].dropna()
    assert dob.map(_valid_iso).mean() > 0.999
    assert (dob == "1900-01-01").mean() == pytest.approx(0.01, abs=0.004)     # a placeholder
    for f, lo, hi in (("phone", 0.05, 0.15), ("email", 0.08, 0.2), ("date_of_birth", 0.02, 0.08)):
        assert lo <= cust.records[f].isna().mean() <= hi, f


def test_crm_generates_a_thousand_to_a_hundred_thousand_rows():
    for rows in (1_000, 100_000):
        data = crm.generate(rows, 0.2, 1)
        assert len(data.records) == rows and data.records["customer_id"].is_unique
    assert np.issubdtype(data.records["customer_id"].dtype, np.integer)
