"""Configuration is data: typed, validated, with errors that name the key."""
from __future__ import annotations

import sys

import pytest
import yaml

from conftest import ROOT, run
from golden_record.config import (MODEL_CONFIG_PATH, ConfigError, flatten, load_model_config, load_settings)


def test_default_config_matches_the_documented_defaults():
    cfg = load_model_config()
    assert cfg.model.type == "fellegi_sunter"
    assert cfg.model.params.match_threshold == "auto" and cfg.threshold_pending   # chosen once fitted
    with pytest.raises(RuntimeError, match="not been chosen yet"):
        cfg.threshold
    assert "jan_aadhaar" in cfg.model.params.blocking_fields
    assert any("full_name" in b for b in cfg.model.params.blocking_fields)
    assert any(b.startswith("phonetic(") for b in cfg.model.params.blocking_fields)  # the fuzzy pass
    assert cfg.data.table == "citizens"
    assert load_settings().tracking.experiment_name == "smart/golden_record/baseline_v1"


@pytest.mark.parametrize("override, key, words", [
    (["model.params.match_threshold=1.5"], "model.params.match_threshold", "strictly between 0 and 1"),
    (["model.params.match_threshold=-0.1"], "model.params.match_threshold", "strictly between 0 and 1"),
    (["model.params.match_threshold=1.0"], "model.params.match_threshold", "strictly between 0 and 1"),
    (["model.params.match_threshold=0"], "model.params.match_threshold", "strictly between 0 and 1"),
    (["data.table=citizens; DROP TABLE x; --"], "data.table", "not a valid table name"),
    (["data.table=a.b.c"], "data.table", "SCHEMA.NAME"),
    (["data.truth.entity_column=entity id"], "data.truth.entity_column", "not a valid column name"),
    (["data.fields.mobile.column=mobile); --"], "data.fields", "not a valid column name"),
    (["data.columns.mobile=cell"], "data", "replaced by data.id and data.fields"),
    (["data.fields.gender.type=colour"], "data.fields.gender.type", "'name'"),
    (["data.fields.full_name.length=4"], "data.fields.full_name", "do not apply to type 'name'"),
    (["model.params.blocking_fields=[soundex(first_name)]"], "model.params.blocking_fields", "unknown transform"),
    (["model.params.blocking_fields=[year(first_name)]"], "model_config.yaml: ", "year() does not apply"),
    (["comparisons.3.method=jaro_winkler", "comparisons.3.levels=[0.9]"], "comparisons[3]",
     "does not apply to 'date_of_birth' of type 'date'"),
    (["data.recency=null"], "model_config.yaml: ", "needs data.recency"),
    (["data.fields.created_at={type: timestamp}"], "data.fields.created_at", "has a column 'created_at' of its own"),
    (["model.params.match_threshold=high"], "model.params.match_threshold", "'auto' or a match probability"),
    (["model.colour=blue"], "model.colour", "unknown key"),
    (["comparisons.0.method=soundex"], "comparisons.0.method", "jaro_winkler"),
    (["model.params.blocking_fields=[jan_aadhaar, shoe_size]"], "model.params.blocking_fields", "shoe_size"),
    (["candidates.fuzzy.method=magic"], "candidates.fuzzy.method", "phonetic"),
    (["golden.default_rule=[longest_name]"], "golden.default_rule", "most_recent"),
    (["comparisons.2.levels=[0.5, 0.9]"], "comparisons.2.levels", "strictly decreasing"),
    (["comparisons.0.field=shoe_size"], "model_config.yaml: ", "shoe_size"),
    (["engine=hadoop"], "engine", "allowed: ['local', 'spark']"),
    (["engine=spark", "candidates.fuzzy.method=sorted_neighbourhood"], "model_config.yaml: ",
     "not available on engine spark"),
    (["spark.driver_memory=lots"], "spark.driver_memory", "write e.g. 2g"),
    (["spark.read_partitions=0"], "spark.read_partitions", "greater than or equal to 1"),
])
def test_invalid_values_are_rejected_naming_the_key(override, key, words):
    with pytest.raises(ConfigError) as err:
        load_model_config(overrides=override)
    assert key in str(err.value)
    assert words in str(err.value)


def test_overrides_change_typed_values():
    cfg = load_model_config(overrides=["model.params.match_threshold=0.9",
                                       "model.params.blocking_fields=[jan_aadhaar, mobile]",
                                       "data.table=warehouse.people"])
    assert cfg.threshold == 0.9
    assert cfg.data.table == "warehouse.people"   # schema-qualified names are accepted
    assert cfg.model.params.blocking_fields == ["jan_aadhaar", "mobile"]


def test_a_comparison_on_an_unmapped_field_is_rejected(tmp_path):
    data = yaml.safe_load(MODEL_CONFIG_PATH.read_text())
    del data["data"]["fields"]["father_name"]
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="father_name"):
        load_model_config(path)


def test_flatten_gives_one_param_per_setting():
    params = flatten(load_model_config())
    assert params["model.params.match_threshold"] == "auto"
    assert params["comparisons.first_name.method"] == "jaro_winkler"
    assert all(len(v) < 6000 for v in params.values())


def test_train_rejects_bad_config_before_any_run(mlflow_store, database_url):
    """Exit 2, the key in one line, and no MLflow run created."""
    import mlflow

    env = {"MLFLOW_TRACKING_URI": mlflow_store, "DATABASE_URL": database_url}
    done = run([sys.executable, "src/train.py", "--experiment", "config-errors",
                "--set", "model.params.match_threshold=1.7"], env, cwd=ROOT / "use-cases" / "golden_record")
    assert done.returncode == 2
    assert "model.params.match_threshold" in done.stderr and "1.7" in done.stderr
    assert "Traceback" not in done.stderr
    client = mlflow.MlflowClient(mlflow_store)
    exp = client.get_experiment_by_name("config-errors")
    assert exp is None or not client.search_runs([exp.experiment_id])


def test_sweeps_on_spark_are_refused_before_any_run(capsys):
    """Sweeps have no Spark path yet: refused in one line, never run locally in Spark's place
    (golden records do run on Spark: tests/test_spark.py)."""
    from golden_record.jobs import train

    assert train.main(["--set", "engine=spark", "--sweep", "match_threshold=0.9,0.95", "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "engine spark does not run --sweep yet" in err and "engine: local" in err
