"""The MLflow Project (use-cases/golden_record/MLproject): entry points, and `mlflow run` end to end
against the seeded test database and temporary tracking stores."""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from conftest import ROOT, fresh_store
from golden_record.config import MODEL_CONFIG_PATH, load_settings

USE_CASE = ROOT / "use-cases" / "golden_record"
SRC = USE_CASE / "src" / "golden_record"
BIN = Path(sys.executable).parent
DEFAULT_EXPERIMENT = "smart/golden_record/baseline_v1"



def test_entry_points_and_commands():
    from mlflow.projects import _project_spec  # what `mlflow run` itself uses to build the command

    spec = yaml.safe_load((USE_CASE / "MLproject").read_text())
    eps = spec["entry_points"]
    assert eps["train"]["parameters"] == {
        "match_threshold": {"type": "string", "default": "auto"},
        "experiment_name": {"type": "string", "default": DEFAULT_EXPERIMENT},
        "run_name": {"type": "string", "default": ""},
        "config": {"type": "string", "default": "config/model_config.yaml"}}
    assert eps["sweep"]["parameters"] == {"thresholds": {"type": "string", "default": "0.80:0.99:0.01"}}
    assert eps["seed"]["parameters"] == {"profile": {"type": "string", "default": "citizens"},
                                         "rows": {"type": "int", "default": 100000},
                                         "duplicate_rate": {"type": "float", "default": 0.2},
                                         "seed": {"type": "int", "default": 42}}
    assert eps["train"]["parameters"]["experiment_name"]["default"] == load_settings().tracking.experiment_name
    assert (USE_CASE / eps["train"]["parameters"]["config"]["default"]).resolve() == MODEL_CONFIG_PATH.resolve()

    project = _project_spec.load_project(str(USE_CASE))
    cmd = project.get_entry_point("train").compute_command({"match_threshold": "0.9"}, None)
    assert cmd == ("python src/train.py --config config/model_config.yaml --set model.params.match_threshold=0.9 "
                   f"--experiment {DEFAULT_EXPERIMENT} --run-name=''")  # '' = the default run name
    cmd = project.get_entry_point("train").compute_command({"run_name": "my run"}, None)
    assert cmd.endswith("--run-name='my run'")
    assert project.get_entry_point("sweep").compute_command({}, None) == \
        "python src/train.py --sweep match_threshold=0.80:0.99:0.01"
    assert project.get_entry_point("seed").compute_command({"rows": "500"}, None) == \
        "python ../../scripts/seed_data.py --profile citizens --rows 500 --duplicate-rate 0.2 --seed 42"
    assert (USE_CASE / "../../scripts/seed_data.py").resolve().is_file()


@pytest.fixture(scope="module")
def project_runs(seeded_small, tmp_path_factory):
    """`mlflow run` launched as a user would, in parallel, each into its own fresh store: (a) the plain
    command; (b) with --experiment-name and a run name. (The seed entry
    point is checked by its command line only: running it would re-seed the shared test database.)"""
    folder = tmp_path_factory.mktemp("mlproject")
    data = yaml.safe_load(MODEL_CONFIG_PATH.read_text())
    data.setdefault("tracking", {})["log_model"] = False        # faster; the model is tested elsewhere
    data.setdefault("model", {}).setdefault("em", {})["random_pairs"] = 20_000
    config = folder / "fast_config.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    env = {**os.environ, **seeded_small["env"], "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_RUN_ID", None)
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    mlflow_cli = str(BIN / "mlflow")
    jobs = {}
    uri = fresh_store(tmp_path_factory, folder / "a")
    jobs["a"] = (uri, [mlflow_cli, "run", str(USE_CASE), "-e", "train", "-P", "match_threshold=0.9",
                       "-P", f"config={config}", "--env-manager", "local"])
    uri = fresh_store(tmp_path_factory, folder / "b")
    jobs["b"] = (uri, [mlflow_cli, "run", str(USE_CASE), "-e", "train", "-P", "match_threshold=0.9",
                       "-P", f"config={config}", "-P", "experiment_name=mlproject/e2e", "-P", "run_name=named run",
                       "--experiment-name", "mlproject/e2e", "--env-manager", "local"])
    procs = {k: subprocess.Popen(cmd, cwd=folder / k, env={**env, "MLFLOW_TRACKING_URI": uri}, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for k, (uri, cmd) in jobs.items()}
    results = {}
    for k, p in procs.items():
        out, err = p.communicate(timeout=600)
        results[k] = {"rc": p.returncode, "stdout": out, "stderr": err, "uri": jobs[k][0]}
    return results


def _runs(uri: str) -> dict[str, list]:
    client = MlflowClient(uri)
    return {e.name: client.search_runs([e.experiment_id]) for e in client.search_experiments()}


def test_mlflow_run_train_with_experiment_name(project_runs):
    r = project_runs["b"]
    assert r["rc"] == 0, r["stderr"][-3000:]
    runs = _runs(r["uri"])
    assert runs.get("Default", []) == []                 # the project's run *is* the training run
    (run,) = runs["mlproject/e2e"]
    assert run.info.status == "FINISHED" and run.info.run_name == "named run"
    p = run.data.params
    assert p["model.params.match_threshold"] == "0.9"   # -P match_threshold reached the model config
    assert p["match_threshold"] == "0.9"                 # the project parameters, logged by mlflow run
    assert run.data.tags["mlflow.source.type"] == "PROJECT"
    assert run.data.tags["mlflow.project.entryPoint"] == "train"
    assert 0.5 < run.data.metrics["f1_score"] <= 1.0


def test_mlflow_run_train_plain_command(project_runs):
    """`mlflow run use-cases/golden_record -e train -P match_threshold=0.9 --env-manager local`."""
    r = project_runs["a"]
    assert r["rc"] == 0, r["stderr"][-3000:]
    runs = _runs(r["uri"])
    (run,) = runs[DEFAULT_EXPERIMENT]
    assert run.info.status == "FINISHED"
    assert re.fullmatch(r"deduplication_training_\d{8}_\d{6}_[0-9a-f]{4}", run.info.run_name)  # empty = default
    assert run.data.params["model.params.match_threshold"] == "0.9"
    assert run.data.tags["mlflow.source.type"] == "PROJECT"
    assert 0.5 < run.data.metrics["f1_score"] <= 1.0
    for other in runs.get("Default", []):                # mlflow run's own run, if kept apart, is finished
        assert other.info.status == "FINISHED" and other.data.params.get("match_threshold") == "0.9"
