"""Threshold sweeps as nested runs, and model promotion through the registry."""
from __future__ import annotations

import sys

import mlflow
import pandas as pd
from pathlib import Path
import pytest
from mlflow import MlflowClient

from conftest import run
from golden_record.config import ConfigError, load_model_config
from golden_record.jobs.sweep import THRESHOLD_KEY, parse_sweeps, parse_values
from test_train import USE_CASE, train


def test_parse_range_and_list():
    assert parse_values(THRESHOLD_KEY, "0.80:0.99:0.01") == pytest.approx([round(0.8 + i / 100, 2) for i in range(20)])
    assert parse_values(THRESHOLD_KEY, "0.5:0.99:0.05")[-1] == pytest.approx(0.95)
    assert parse_values(THRESHOLD_KEY, "0.98,0.9,0.95") == [0.9, 0.95, 0.98]
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        parse_values(THRESHOLD_KEY, "0.9,1.5")
    cfg = load_model_config()
    spec = parse_sweeps(["model.params.blocking_fields=[[jan_aadhaar, full_name], [jan_aadhaar]]",
                         "match_threshold=0.9,0.95"], cfg.model_dump(mode="json"), cfg)
    assert len(spec.combinations()) == 2 and spec.thresholds == [0.9, 0.95]
    with pytest.raises(ConfigError, match="unknown key"):
        parse_sweeps(["model.params.colour=[red, blue]"], cfg.model_dump(mode="json"), cfg)
    with pytest.raises(ConfigError, match="comparison method"):
        parse_sweeps(["comparisons.0.method=[jaro_winkler, soundex]"], cfg.model_dump(mode="json"), cfg)


@pytest.fixture(scope="module")
def swept(seeded_small, mlflow_store):
    env = {**seeded_small["env"], "MLFLOW_TRACKING_URI": mlflow_store}
    done = train(env, "--experiment", "sweeps", "--sweep", "match_threshold=0.90,0.95,0.98", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(mlflow_store)
    exp = client.get_experiment_by_name("sweeps")
    runs = client.search_runs([exp.experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return {"env": env, "client": client, "parent": parent, "children": children, "exp": exp, "done": done}


def test_one_parent_and_a_child_per_threshold(swept):
    parent, children = swept["parent"], swept["children"]
    assert parent.info.run_name.startswith("threshold_sweep_") and parent.info.status == "FINISHED"
    assert sorted(float(c.data.params[THRESHOLD_KEY]) for c in children) == [0.9, 0.95, 0.98]
    for c in children:
        assert c.info.status == "FINISHED"
        assert {"precision", "recall", "f1_score", "match_pairs", "true_positives", "false_positives",
                "false_negatives", "estimated_precision", "estimated_recall", "estimated_f1"} <= set(c.data.metrics)
    best = max(children, key=lambda c: (c.data.metrics["f1_score"], -float(c.data.params[THRESHOLD_KEY])))
    assert parent.data.tags["best_child_run_id"] == best.info.run_id
    assert parent.data.metrics["best_threshold"] == float(best.data.params[THRESHOLD_KEY])
    assert parent.data.metrics["best_f1_score"] == best.data.metrics["f1_score"]
    assert parent.data.params["model.params.blocking_fields"]  # shared params live on the parent


def test_parent_artifacts_and_model(swept, tmp_path):
    client, pid = swept["client"], swept["parent"].info.run_id
    names = {a.path for a in client.list_artifacts(pid)} | {a.path for a in client.list_artifacts(pid, "plots")}
    assert {"sweep_results.csv", "plots/threshold_sweep.png", "plots/threshold_sweep.html"} <= names
    page = Path(client.download_artifacts(pid, "plots/threshold_sweep.html", str(tmp_path))).read_text()
    assert '"threshold": 0.95' in page and "vegaEmbed(" in page      # the children's points, drawn in the browser
    table = pd.read_csv(client.download_artifacts(pid, "sweep_results.csv", str(tmp_path)))
    assert sorted(table["threshold"]) == [0.9, 0.95, 0.98]
    mlflow.set_tracking_uri(swept["env"]["MLFLOW_TRACKING_URI"])
    assert mlflow.pyfunc.load_model(f"runs:/{pid}/model") is not None


def test_child_metrics_equal_a_standalone_run(swept):
    env = swept["env"]
    done = train(env, "--experiment", "sweeps-standalone", "--set", "model.params.match_threshold=0.95", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    client = swept["client"]
    alone = client.search_runs([client.get_experiment_by_name("sweeps-standalone").experiment_id])[0]
    child = next(c for c in swept["children"] if float(c.data.params[THRESHOLD_KEY]) == 0.95)
    for key in ("precision", "recall", "f1_score", "match_pairs", "true_positives", "false_positives",
                "false_negatives", "pairs_completeness", "training_pairs"):
        assert child.data.metrics[key] == pytest.approx(alone.data.metrics[key], abs=1e-12), key
    # the estimates: one sort for every threshold in the sweep, one masked sum in a run (same values)
    for key in ("estimated_precision", "estimated_recall", "estimated_f1"):
        assert child.data.metrics[key] == pytest.approx(alone.data.metrics[key], rel=1e-9), key


def test_sweep_over_another_setting(seeded_small, mlflow_store):
    env = {**seeded_small["env"], "MLFLOW_TRACKING_URI": mlflow_store}
    done = train(env, "--experiment", "grid", "--quiet", "--sweep", "match_threshold=0.9,0.95",
                 "--sweep", "model.params.blocking_fields=[[jan_aadhaar, mobile], [jan_aadhaar]]")
    assert done.returncode == 0, done.stderr[-2000:]
    client = MlflowClient(mlflow_store)
    runs = client.search_runs([client.get_experiment_by_name("grid").experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 4
    combos = {(c.data.params["model.params.blocking_fields"], c.data.params[THRESHOLD_KEY]) for c in children}
    assert combos == {("['jan_aadhaar', 'mobile']", "0.9"), ("['jan_aadhaar', 'mobile']", "0.95"),
                      ("['jan_aadhaar']", "0.9"), ("['jan_aadhaar']", "0.95")}
    # fewer blocking passes keep fewer candidate pairs
    pairs = {c.data.params["model.params.blocking_fields"]: c.data.metrics["training_pairs"] for c in children}
    assert pairs["['jan_aadhaar']"] < pairs["['jan_aadhaar', 'mobile']"]


def test_invalid_sweep_key_starts_no_run(seeded_small, mlflow_store):
    env = {**seeded_small["env"], "MLFLOW_TRACKING_URI": mlflow_store}
    done = train(env, "--experiment", "bad-sweep", "--sweep", "model.params.shoe_size=[1, 2]")
    assert done.returncode == 2 and "shoe_size" in done.stderr
    client = MlflowClient(mlflow_store)
    exp = client.get_experiment_by_name("bad-sweep")
    assert exp is None or not client.search_runs([exp.experiment_id])


def test_register_moves_champion_only_when_f1_improves(seeded_small, tmp_path):
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    env = {**seeded_small["env"], "MLFLOW_TRACKING_URI": uri}
    first = train(env, "--experiment", "promote", "--quiet", "--register")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "made it 'champion'" in first.stdout
    # a deliberately weak model: blocking on the household id only, names ignored
    weak = train(env, "--experiment", "promote", "--quiet", "--register",
                 "--set", "model.params.blocking_fields=[jan_aadhaar]", "--set", "candidates.fuzzy.method=none",
                 "--set", "model.params.match_threshold=0.999999")
    assert weak.returncode == 0, weak.stderr[-2000:]
    assert "does not beat champion" in weak.stdout and "stays on version 1" in weak.stdout
    client = MlflowClient(uri)
    assert str(client.get_model_version_by_alias("golden_record__public_citizens", "champion").version) == "1"
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/golden_record__public_citizens@champion")
    pairs = pd.DataFrame({f"{f}_{s}": [v] for f, v in {"first_name": "Ravi", "last_name": "Kumar",
                                                        "father_name": "Suresh Kumar", "date_of_birth": "1990-01-02",
                                                        "gender": "M", "mobile": "9876543210", "email": None,
                                                        "jan_aadhaar": "1234567890", "aadhaar_last4": "1234",
                                                        "address": "12 MG Road", "pincode": "302001"}.items()
                          for s in ("l", "r")})
    assert model.predict(pairs)["match_probability"].iloc[0] > 0.99
