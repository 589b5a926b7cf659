"""Dates keep their evidence (fast: no database): any year is a date, a typo'd date is kept as
text and compared digit by digit, only what has nothing usable left is dropped, and models logged
before the ``one_digit_edit`` level still score."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from golden_record.config import Comparison, load_model_config
from golden_record.errors import DataError, ModelError
from golden_record.linkage import pipeline
from golden_record.linkage.blocking import key_codes, pass_key_strings
from golden_record.linkage.comparisons import DATE_LABELS, compare, level_labels
from golden_record.linkage.model import FellegiSunter
from golden_record.linkage.schema import FieldSpec, clean_field
from golden_record.linkage.scoring import load_model_files, score_pair_frame

PEOPLE = ROOT / "use-cases" / "golden_record" / "config" / "examples" / "people.yaml"
DATE = Comparison(field="d", method="date")


def _clean(values: list, formats: list[str] | None = None):
    return clean_field("d", FieldSpec(type="date", formats=formats or []), pd.Series(values, dtype=object))


def _levels(pairs: list[tuple], formats: list[str] | None = None) -> list[str]:
    """The level label of each (left, right) pair of raw values, cleaned as training cleans them."""
    cleaned, _ = _clean([v for pair in pairs for v in pair], formats)
    n = len(pairs)
    vectors = compare(pd.DataFrame({"d": cleaned}), np.arange(n) * 2, np.arange(n) * 2 + 1, [DATE])
    return [DATE_LABELS[lvl] if lvl >= 0 else "missing" for lvl in vectors.levels[:, 0]]


def test_levels_run_from_worst_to_best_and_missing_is_minus_one():
    assert level_labels(DATE) == ["different", "one_digit_edit", "transposed_or_off_by_one", "exact"]
    assert _levels([("1985-03-02", None)]) == ["missing"]


def test_dates_of_any_year_are_dates_and_compare_exact():
    cleaned, q = _clean(["1529-01-01", "2400-06-30", "0800-02-29"])
    assert cleaned.tolist() == ["1529-01-01", "2400-06-30", "0800-02-29"]      # ISO days, no ns limit
    assert q.dropped == 0 and q.unusual == 0 and q.present_after == 3
    assert _levels([("1529-01-01", "1529-01-01"), ("2400-06-30", "2400-06-30"), ("1529-01-01", "1529-01-02")]) \
        == ["exact", "exact", "one_digit_edit"]
    # the declared format reads them too, and ISO is read whatever the formats (a timestamp's day as well)
    cleaned, q = _clean(["15290101", "24000630", "1529-01-01 00:00:00"], ["%Y%m%d"])
    assert cleaned.tolist() == ["1529-01-01", "2400-06-30", "1529-01-01"] and q.unusual == 0


def test_a_typod_month_is_kept_as_unusual_text_one_digit_from_the_true_date():
    cleaned, q = _clean(["1835-81-01", "1835-01-01"])
    assert cleaned.tolist() == ["1835-81-01", "1835-01-01"]
    assert q.dropped == 0 and q.unusual == 1 and q.unusual_examples == ["1835-81-01"]
    assert _levels([("1835-81-01", "1835-01-01")]) == ["one_digit_edit"]
    # in a declared compact format: the same, the digits read in the format's order
    assert _levels([("18358101", "18350101")], ["%Y%m%d"]) == ["one_digit_edit"]


def test_a_30th_of_february_and_trailing_junk_are_kept_and_compared():
    cleaned, q = _clean(["18350230", "18350203", "18350101x", "30/02/1835"], ["%Y%m%d"])
    assert cleaned.tolist() == ["1835-02-30", "1835-02-03", "1835-01-01", "30-02-1835"]
    assert q.unusual == 3 and q.dropped == 0                 # junk stripped: the digits are a date
    assert _levels([("18350230", "18350203"), ("18350230", "18350228"), ("18350101x", "18350101")],
                   ["%Y%m%d"]) == ["one_digit_edit", "different", "exact"]
    # a day-first format reads the kept text's digits day first
    cleaned, _ = _clean(["30/02/1835", "30/02/1836"], ["%d/%m/%Y"])
    assert cleaned.tolist() == ["1835-02-30", "1836-02-30"]
    assert _levels([("30/02/1835", "28/02/1835")], ["%d/%m/%Y"]) == ["different"]     # two digits apart


def test_swaps_and_years_off_by_one_keep_their_level():
    assert _levels([("1985-03-02", "1985-02-03"), ("1985-03-02", "1986-03-02"), ("1985-03-12", "1985-03-17"),
                    ("1985-03-02", "1991-07-19")]) == \
        ["transposed_or_off_by_one", "transposed_or_off_by_one", "one_digit_edit", "different"]
    # a day written where the month goes (month 13) is a swap too, kept text or not
    assert _levels([("1835-13-02", "1835-02-13")]) == ["transposed_or_off_by_one"]


def test_placeholders_and_values_without_digits_are_dropped():
    cleaned, q = _clean(["0000-00-00", "n/a", "00000000", "99999999", "", None, "unknown", "1985-03-02"])
    assert cleaned.tolist() == [None] * 7 + ["1985-03-02"]
    assert q.present_before == 6 and q.present_after == 1 and q.dropped == 5 and q.unusual == 0
    assert q.dropped_examples == ["0000-00-00", "n/a", "00000000", "99999999", "unknown"]


def test_quality_report_counts_kept_and_dropped_apart():
    values = ["1985-03-02"] * 90 + ["1835-81-01"] * 6 + ["1835-02-30"] * 2 + ["0000-00-00", "n/a"] + [None] * 10
    _, q = _clean(values)
    assert (q.rows, q.present_before, q.present_after, q.distinct_after) == (110, 100, 98, 3)
    assert q.dropped == 2 and q.dropped_share == pytest.approx(0.02) and q.unusual == 8
    d = q.to_dict()
    assert d["unusual"] == 8 and d["unusual_examples"] == ["1835-81-01", "1835-02-30"] and d["dropped"] == 2
    assert d["dropped_examples"] == ["0000-00-00", "n/a"] and "not a valid date" in d["unusual_reason"]
    line = q.line()
    assert "dropped 2 (2.0%" in line and "kept 8 not a valid date as written" in line and "1835-81-01" in line


def test_loss_guard_counts_only_the_unusable():
    config = load_model_config(overrides=["data.quality.max_dropped_share=0.05"])
    date_field = next(f for f, s in config.data.fields.items() if s.type == "date")
    n = 200
    typos = [f"1835-8{k % 10}-01" for k in range(40)]                        # 20 % typo'd: kept
    records = pd.DataFrame({"record_id": np.arange(n), date_field: typos + ["1960-05-04"] * (n - 40)})
    _, quality = pipeline.prepare(records, config, pipeline.Progress(quiet=True))
    [q] = [q for q in quality.fields if q.field == date_field]
    assert q.dropped == 0 and q.unusual == 40
    assert quality.metrics()[f"quality_unusual_{date_field}"] == pytest.approx(0.2)
    records[date_field] = ["0000-00-00"] * 20 + ["1960-05-04"] * (n - 20)      # 10 % placeholders: stops
    with pytest.raises(DataError, match=f"field {date_field} .* lost 10.0%"):
        pipeline.prepare(records, config, pipeline.Progress(quiet=True))


def test_year_blocking_key_on_a_16th_century_date_and_on_kept_text():
    cleaned, _ = _clean(["1529-01-01", "1529-06-30", "1529-81-01", "1530-01-01", "n/a", "12-34"], ["%Y-%m-%d"])
    prepared = pd.DataFrame({"d": cleaned})
    assert pass_key_strings(prepared, "year(d)", {"d": "date"}).tolist() == \
        ["year(d)=1529", "year(d)=1529", "year(d)=1529", "year(d)=1530", None, None]
    codes = key_codes(prepared, "year(d)")
    assert codes[0] == codes[1] == codes[2] != codes[3] and codes[4] == codes[5] == -1
    # the whole date as a key: the ISO text, as the block index always stored a date
    assert pass_key_strings(prepared, "d", {"d": "date"}).tolist()[0] == "d=1529-01-01"


def _legacy_model() -> FellegiSunter:
    labels = [["different", "transposed_or_off_by_one", "exact"], ["different", "exact"]]
    return FellegiSunter(names=["d", "x"], labels=labels, m=[np.array([0.1, 0.1, 0.8]), np.array([0.2, 0.8])],
                         u=[np.array([0.97, 0.02, 0.01]), np.array([0.9, 0.1])], match_share=0.1)


def test_a_model_fitted_before_one_digit_edit_scores_it_as_different():
    old = _legacy_model()
    now = np.array([[0, 1], [1, 1], [2, 1], [3, 1], [-1, 1]], dtype=np.int8)     # DATE_LABELS levels
    as_then = [0, 0, 1, 2]                     # different, different, transposed..., exact: its own levels
    date_weight = np.log2(old.m[0] / old.u[0])
    want = np.array([date_weight[k] for k in as_then] + [0.0]) + np.log2(0.8 / 0.1)
    np.testing.assert_allclose(old.score(now)[0], want)
    np.testing.assert_allclose(old.comparison_weights(now)[:, 0], want - np.log2(0.8 / 0.1))
    # a saved model round-trips with its old labels, and still maps
    again = FellegiSunter.from_dict(json.loads(json.dumps(old.to_dict())))
    assert again.labels == old.labels
    np.testing.assert_allclose(again.score(now)[0], want)


def test_a_model_without_a_level_computed_now_fails_with_a_clear_message():
    model = FellegiSunter(names=["d"], labels=[["different", "exact"]], m=[np.array([0.1, 0.9])],
                          u=[np.array([0.9, 0.1])], match_share=0.1)
    with pytest.raises(ModelError, match=r"comparison d has level 3, which the model does not have .*2 levels"):
        model.score(np.array([[3]], dtype=np.int8))


def test_the_committed_baseline_model_scores_typod_dates_with_this_version():
    """The baseline (logged before one_digit_edit) read by this version's code, as ``serve`` reads a
    run's model: a typo'd date weighs what "different" weighed in its m_u_parameters.csv."""
    [path] = sorted((ROOT / "baselines").glob("*/runs/*/model/fellegi_sunter.json"))
    model, config, threshold = load_model_files(path)
    weights = pd.read_csv(path.parents[1] / "artifacts" / "m_u_parameters.csv").set_index(["comparison", "level"])["weight"]
    pairs = pd.DataFrame({"date_of_birth_l": ["1985-03-14", "1985-03-14", "1985-03-14", "1985-13-04"],
                          "date_of_birth_r": ["1985-03-14", "1985-03-41", "1985-14-03", "1985-04-13"]})
    out = score_pair_frame(pairs, model, config, threshold)
    assert out["cmp_date_of_birth"].tolist() == ["exact", "one_digit_edit", "transposed_or_off_by_one",
                                                 "transposed_or_off_by_one"]
    assert out["match_weight"].tolist() == pytest.approx(
        [weights[("date_of_birth", lvl)] for lvl in ("exact", "different", "transposed_or_off_by_one",
                                                     "transposed_or_off_by_one")], abs=1e-6)


# =============================================================================== end to end
def test_old_and_typod_dates_train_through_the_cli_and_are_reported(test_databases, tmp_path_factory):
    """A people table whose dates of birth run back to the 16th century, with a typo'd month in one
    record of ten (more than data.quality.max_dropped_share, which stopped the run when they were
    dropped): it trains through the real CLI, the data-quality artifact and metrics read back from
    MLflow count the typos as kept, not dropped, and the golden records hold the old dates."""
    import sys

    import psycopg
    from mlflow import MlflowClient

    from conftest import fresh_store, run
    from golden_record.synthetic import people as people_synthetic

    url = test_databases.url("dates")
    data = people_synthetic.generate(400, seed=7)
    records = data.records
    person = records["rec_id"].map(dict(zip(data.truth["rec_id"], data.truth["person_id"])))
    dob = records["date_of_birth"].astype(object)
    valid = pd.to_datetime(dob, format="%Y%m%d", errors="coerce").notna() & (dob.str.len() == 8)
    old = valid & (person % 4 == 0)                                     # every record of a person
    dob[old] = "15" + dob[old].str[2:]
    rng = np.random.default_rng(7)
    typo = valid & ~old & (rng.random(len(dob)) < 0.12)
    dob[typo] = dob[typo].str[:4] + "8" + dob[typo].str[5:]             # month 8x: no calendar month
    records["date_of_birth"] = dob
    with psycopg.connect(url) as conn:
        people_synthetic.write_table(conn, "people", data, "people_truth")
        conn.commit()
    uri = fresh_store(tmp_path_factory, tmp_path_factory.mktemp("dates-mlflow"))
    done = run([sys.executable, "-m", "golden_record", "train", "--config", str(PEOPLE), "--experiment", "dates",
                "--write-golden"], {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": uri})
    assert done.returncode == 0, done.stderr[-4000:]

    client = MlflowClient(uri)
    [r] = client.search_runs([client.get_experiment_by_name("dates").experiment_id])
    report = json.loads(open(client.download_artifacts(r.info.run_id, "data_quality.json")).read())
    q = {f["field"]: f for f in report["fields"]}["date_of_birth"]
    assert q["unusual"] >= int(typo.sum()) > 0.05 * len(records)        # more than the guard allows
    assert q["dropped_share"] <= report["max_dropped_share"]
    assert "not a valid date" in q["unusual_reason"] and any(e[4] == "8" for e in q["unusual_examples"])
    assert all(not e.strip("0") or not any(c.isdigit() for c in e) for e in q["dropped_examples"])
    m = r.data.metrics
    assert m["quality_unusual_date_of_birth"] == pytest.approx(q["unusual"] / len(records))
    assert m["quality_present_date_of_birth"] == pytest.approx(q["present_after"] / len(records))
    assert m["pairs_completeness"] > 0.9 and m["f1_score"] > 0.8, m
    assert re.search(r"date_of_birth\s+date\s+present.*kept \d+ not a valid date", done.stderr)
    with psycopg.connect(url) as conn:
        kind = conn.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'people_golden' "
                            "AND column_name = 'date_of_birth'").fetchone()[0]
        early = conn.execute("SELECT count(*) FROM people_golden WHERE date_of_birth < '1600-01-01'").fetchone()[0]
    assert kind == "date" and early >= int(old.sum()) // 4 > 0
