"""Run reports (summary, compare) and the all-runs table, on a temporary store with known runs."""
from __future__ import annotations

import json
import math
import shutil
import sqlite3

import mlflow
import pandas as pd
import pytest

from conftest import fresh_store
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from golden_record.cli import run_main
from golden_record.config import load_settings
from golden_record.tracking.reports import export_runs_main, report_main

EXPERIMENT = load_settings().tracking.experiment_name  # the default the report uses
T0 = 1_700_000_000_000


def _run(client, exp_id, name, status, start, params, metrics, tags):
    run = client.create_run(exp_id, start_time=start, run_name=name, tags=tags)
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(k, str(v)) for k, v in params.items()],
                     metrics=[Metric(k, v, start + 1000, 0) for k, v in metrics.items()])
    client.set_terminated(rid, status, end_time=start + 60_000)
    return rid


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    uri = fresh_store(tmp_path_factory, folder)
    client = MlflowClient(uri)
    exp = client.create_experiment(EXPERIMENT, artifact_location=(folder / "art").as_uri())
    other = client.create_experiment("someone/else", artifact_location=(folder / "art2").as_uri())
    fs = {"model_type": "fellegi_sunter", "run_kind": "training"}
    base = {"model.params.match_threshold": 0.9, "model.em.max_iterations": 200, "data.table": "citizens"}
    ids = {
        "low": _run(client, exp, "low", "FINISHED", T0, base,
                    {"f1_score": 0.90, "precision": 0.95, "recall": 0.855, "training_pairs": 7623.0}, fs),
        "best": _run(client, exp, "best", "FINISHED", T0 + 10_000, {**base, "model.params.match_threshold": 0.95},
                     {"f1_score": 0.95, "precision": 0.97, "recall": 0.93, "training_pairs": 7623.0,
                      "roc_auc": float("nan")}, fs),
        "failed": _run(client, exp, "failed", "FAILED", T0 + 20_000, base, {}, fs),
        "killed_high": _run(client, exp, "killed_high", "KILLED", T0 + 30_000, base, {"f1_score": 0.99},
                            {"model_type": "experimental"}),
        "untyped": _run(client, exp, "untyped", "FINISHED", T0 + 40_000, {}, {"f1_score": 0.5}, {}),
        "elsewhere": _run(client, other, "elsewhere", "FINISHED", T0, base, {"f1_score": 1.0}, fs),
    }
    return {"uri": uri, "ids": ids, "client": client, "folder": folder}


def test_summary_counts_best_and_latest(store, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    assert run_main(report_main, ["--format", "json", "summary", "--latest", "3"]) == 0  # default experiment
    s = json.loads(capsys.readouterr().out)
    assert s["experiment"] == EXPERIMENT and s["total_runs"] == 5            # the other experiment not counted
    assert s["by_status"] == {"FINISHED": 3, "FAILED": 1, "KILLED": 1}
    assert s["by_model_type"] == {"fellegi_sunter": 3, "experimental": 1, "(none)": 1}
    assert s["by_run_kind"] == {"training": 3, "(none)": 2}
    assert s["best"]["run_id"] == store["ids"]["best"]                        # a KILLED run is never "best"
    assert s["best"]["f1_score"] == 0.95 and s["best"]["threshold"] == "0.95"
    assert [r["run_name"] for r in s["latest"]] == ["untyped", "killed_high", "failed"]

    assert run_main(report_main, ["summary", "--experiment", EXPERIMENT]) == 0
    text = capsys.readouterr().out
    assert "5 runs" in text and "FINISHED 3, FAILED 1, KILLED 1" in text
    assert "fellegi_sunter 3, (none) 1, experimental 1" in text and "by run kind:   training 3, (none) 2" in text
    assert f"Best finished run by f1_score: 0.9500  best ({store['ids']['best']})" in text
    assert text.index("untyped") < text.index("killed_high") < text.index("failed")


def test_summary_of_an_unknown_experiment_fails_clearly(store, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    assert run_main(report_main, ["summary", "--experiment", "nope"]) == 1
    err = capsys.readouterr().err
    assert "experiment 'nope' not found" in err and EXPERIMENT in err


def test_compare_marks_differences(store, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    low, best, untyped = store["ids"]["low"], store["ids"]["best"], store["ids"]["untyped"]
    assert run_main(report_main, ["compare", low, best, "--format", "json"]) == 0
    c = json.loads(capsys.readouterr().out)
    assert [r["run_name"] for r in c["runs"]] == ["low", "best"]
    assert c["params"]["model.params.match_threshold"] == {"values": ["0.9", "0.95"], "differs": True}
    assert c["params"]["model.em.max_iterations"] == {"values": ["200", "200"], "differs": False}
    assert c["metrics"]["training_pairs"]["differs"] is False
    assert c["metrics"]["f1_score"] == {"values": [0.9, 0.95], "differs": True}
    assert c["metrics"]["roc_auc"] == {"values": [None, None], "differs": True}  # missing vs NaN (JSON null)

    assert run_main(report_main, ["compare", low, best, untyped]) == 0
    text = capsys.readouterr().out
    lines = {line.split()[1]: line for line in text.splitlines() if line[:1] in ("*", " ") and len(line.split()) > 1}
    assert lines["model.params.match_threshold"].startswith("*")
    assert lines["model.params.match_threshold"].split()[2:] == ["0.9", "0.95", "-"]
    assert lines["f1_score"].startswith("*") and lines["f1_score"].split()[2:] == ["0.9000", "0.9500", "0.5000"]
    assert lines["precision"].startswith("*")
    assert "* = differs" in text

    assert run_main(report_main, ["compare", low, best, "--only-diff"]) == 0
    text = capsys.readouterr().out
    assert "model.params.match_threshold" in text and "model.em.max_iterations" not in text
    assert "training_pairs" not in text


def test_compare_unknown_run(store, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    assert run_main(report_main, ["compare", store["ids"]["low"], "0" * 32]) == 1
    assert f"run {'0' * 32} not found" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export_runs_one_row_per_run(store, monkeypatch, capsys, tmp_path, suffix):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    out = tmp_path / f"runs{suffix}"
    assert run_main(export_runs_main, ["--out", str(out)]) == 0
    assert "wrote 6 runs of 2 experiment(s)" in capsys.readouterr().out
    df = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert len(df) == 6 and set(df["run_id"]) == set(store["ids"].values())
    assert list(df.columns[:7]) == ["run_id", "run_name", "experiment", "experiment_id", "status", "start_time",
                                    "end_time"]
    for col in ("params.model.params.match_threshold", "metrics.f1_score", "metrics.training_pairs",
                "tags.model_type", "tags.mlflow.runName"):
        assert col in df.columns, col
    best = df.set_index("run_name").loc["best"]
    assert best["experiment"] == EXPERIMENT and best["status"] == "FINISHED"
    assert float(best["metrics.f1_score"]) == 0.95 and str(best["params.model.params.match_threshold"]) == "0.95"
    assert math.isnan(float(df.set_index("run_name").loc["failed", "metrics.f1_score"]))

    only = tmp_path / f"only{suffix}"
    assert run_main(export_runs_main, ["--out", str(only), "--experiment", "someone/else"]) == 0
    df = pd.read_parquet(only) if suffix == ".parquet" else pd.read_csv(only)
    assert df["run_name"].tolist() == ["elsewhere"]


def test_export_runs_refuses_duckdb(store, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    assert run_main(export_runs_main, ["--out", str(tmp_path / "runs.duckdb")]) == 1
    assert "DuckDB is not installed" in capsys.readouterr().err
    assert not (tmp_path / "runs.duckdb").exists()
