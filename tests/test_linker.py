"""The library's front door on records in memory (no database, no MLflow): Linker(config) fits,
evaluates, predicts and clusters through the same code path as the jobs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from golden_record import Linker
from golden_record.errors import DataError
from golden_record.synthetic import people

PEOPLE = ROOT / "use-cases" / "golden_record" / "config" / "examples" / "people.yaml"


@pytest.fixture(scope="module")
def fitted():
    data = people.generate(2000, seed=11)
    truth = data.truth.set_index("rec_id")["person_id"]
    return data, Linker(PEOPLE).fit(data.records, truth)


def test_fit_and_evaluate_a_table_in_memory(fitted):
    """The façade runs the jobs' path: its evaluation is the pipeline's, on every candidate pair.
    (Recall on this household-free table is issue 11's: the fixed related classes absorb matches.)"""
    _, linker = fitted
    m = linker.evaluate().metrics
    assert m["pairs_completeness"] > 0.9 and m["precision"] > 0.9, m
    assert m["training_pairs"] == len(linker.scored.pairs) and linker.evaluate(0.5).threshold == 0.5


def test_predict_scores_pairs_by_field_name(fitted):
    _, linker = fitted
    pairs = pd.DataFrame({"given_name_l": ["Stephanie", "Stephanie"], "given_name_r": ["Stefanie", "Brenda"],
                          "surname_l": ["Ross", "Ross"], "surname_r": ["Ross", "Parrish"],
                          "date_of_birth_l": ["20070502", "20070502"], "date_of_birth_r": ["20070502", "19610101"]})
    out = linker.predict(pairs)
    names = linker.scored.vectors.names
    assert list(out.columns) == (["match_weight", "match_probability", "is_match"]
                                 + [f"{kind}_{n}" for n in names for kind in ("cmp", "w")])
    assert out["match_weight"].iloc[0] > out["match_weight"].iloc[1]
    # each comparison's weight is its share of the match weight: they add up to it
    shares = out[[f"w_{n}" for n in names]].sum(axis=1)
    assert np.allclose(shares, out["match_weight"], atol=1e-3 * len(names))
    # the fields not given are missing values: no evidence either way
    given = {"given_name", "surname", "date_of_birth"}
    assert all((out[f"cmp_{n}"] == "missing").all() == (n not in given) for n in names)
    assert all((out[f"w_{n}"] == 0).all() for n in names if n not in given)


def test_cluster_gives_golden_records_of_the_schema(fitted):
    data, linker = fitted
    result = linker.cluster()
    assert len(result.mapping) == 2000 and len(result.golden) < 2000
    assert {"given_name", "surname", "address", "soc_sec_id"} <= set(result.golden.columns)
    assert result.golden["golden_id"].str.startswith("rec-").all()      # text ids stay text
    assert result.metrics["bcubed_f1"] > 0.8


def test_a_frame_of_another_shape_is_refused_naming_the_columns():
    with pytest.raises(DataError, match="soc_sec_id"):
        Linker(PEOPLE).fit(pd.DataFrame({"rec_id": ["a"], "given_name": ["x"]}))


def test_one_entry_point_runs_every_job():
    import sys

    from conftest import SRC, run

    env = {"PYTHONPATH": str(SRC)}
    done = run([sys.executable, "-m", "golden_record", "--help"], env)
    assert done.returncode == 0
    for command in ("train", "golden", "seed", "diagnose", "report", "export-runs", "import-baselines"):
        assert f"  {command} " in done.stdout
    done = run([sys.executable, "-m", "golden_record", "trian"], env)
    assert done.returncode == 2 and "unknown command 'trian'" in done.stderr
    done = run([sys.executable, "-m", "golden_record", "train", "--set", "model.params.match_threshold=1"], env)
    assert done.returncode == 2 and "strictly between 0 and 1" in done.stderr


def test_a_dict_without_data_table_fits_a_frame_in_memory_silently(capsys):
    """A notebook's config is a dict; records in memory come from no table. A date field declared
    without formats has them read once from a sample (no raw pandas warning: warnings are errors
    here) and said in the data-quality report; nothing is printed on stdout."""
    import warnings

    import yaml

    config = yaml.safe_load(PEOPLE.read_text())
    del config["data"]["table"], config["data"]["truth"], config["golden"]["table"], config["golden"]["map_table"]
    config["data"]["fields"]["date_of_birth"] = {"type": "date"}          # no formats
    data = people.generate(1000, seed=5)
    table = data.records.copy()
    dob = pd.to_datetime(table["date_of_birth"], format="%Y%m%d", errors="coerce")
    table["date_of_birth"] = dob.dt.strftime("%d/%m/%Y").where(dob.notna(), table["date_of_birth"])
    table["updated_at"] = table["updated_at"].dt.strftime("%d/%m/%Y %H:%M")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        linker = Linker(config).fit(table)
    assert capsys.readouterr().out == ""
    assert linker.config.data.table == "records"
    quality = {q.field: q for q in linker.scored.quality.fields}
    dob_q = quality["date_of_birth"]
    assert dob_q.formats_inferred == ["%d/%m/%Y"] and dob_q.formats_sample > 500
    assert "formats inferred from" in dob_q.line() and "'%d/%m/%Y'" in dob_q.line()
    assert dob_q.dropped_share < 0.01 and dob_q.unusual < 0.05 * dob_q.present_before   # placeholders, invalid dates
    assert quality["updated_at"].formats_inferred == ["%d/%m/%Y %H:%M"] and quality["updated_at"].dropped == 0
    # the choice is the model's from now on: the lookup service reads dates as training did
    assert linker.config.data.fields["date_of_birth"].formats == ["%d/%m/%Y"]
    assert linker.scored.quality.to_dict()["fields"][[q.field for q in linker.scored.quality.fields]
                                                     .index("date_of_birth")]["formats_inferred"] == ["%d/%m/%Y"]


def test_a_linker_takes_a_path_a_dict_or_a_model_config():
    from golden_record.config import ConfigError, ModelConfig

    from_path = Linker(PEOPLE)
    assert isinstance(from_path.config, ModelConfig) and from_path.config.data.table == "people"
    assert Linker(from_path.config).config is from_path.config
    assert Linker(str(PEOPLE), overrides=["model.params.match_threshold=0.7"]).config.threshold == 0.7
    with pytest.raises(ConfigError, match="unknown key 'data.nonsense'"):
        Linker({"data": {"id": "rec_id", "nonsense": 1, "fields": {"name": {"type": "name"}}}})
    with pytest.raises(ConfigError, match="not int"):
        Linker(3)


def test_score_all_gives_every_candidate_pair_with_its_scores(fitted):
    _, linker = fitted
    out = linker.score_all()
    scored = linker.scored
    names = scored.vectors.names
    assert len(out) == len(scored.pairs)
    assert list(out.columns) == (["left_id", "right_id", "match_weight", "match_probability", "is_match"]
                                 + [f"{kind}_{n}" for n in names for kind in ("cmp", "w")])
    assert out["left_id"].str.startswith("rec-").all() and (out["left_id"] != out["right_id"]).all()
    assert np.allclose(out["match_probability"], scored.probabilities)
    assert int(out["is_match"].sum()) == int((scored.probabilities >= linker.config.threshold).sum())
    assert linker.predict().equals(out)
