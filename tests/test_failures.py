"""Every failure explained: exit code, one line with a hint, and the MLflow run FAILED with
error tags, a description and diagnostics artifacts; stale runs found and closed. (A run without
ground truth, an unreachable store and the signals: test_failures_runs.py, a file of its own so
that the two workers of ``make test`` share them.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest
from mlflow import MlflowClient

from conftest import ROOT
from golden_record.io import warehouse
from test_train import train



@pytest.fixture(scope="module")
def scratch(seeded_copy, tmp_path_factory):
    """A small seeded warehouse of its own (1,500 records, seed 11: a copy of the run's), plus a
    fresh MLflow store, for breaking things."""
    url = seeded_copy("failures", rows=1500, seed=11)
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS citizens_empty, citizens_nulls")
        conn.execute("CREATE TABLE citizens_empty (LIKE citizens)")
        conn.execute("CREATE TABLE citizens_nulls AS SELECT * FROM citizens")
        conn.execute("UPDATE citizens_nulls SET father_name = NULL")
    store = tmp_path_factory.mktemp("fail-mlflow")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "mlflow"), "db", "upgrade", uri], check=True,
                   capture_output=True)
    return {"url": url, "uri": uri, "env": {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": uri}}


def failed_run(scratch, experiment):
    client = MlflowClient(scratch["uri"])
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    return client, runs[0]


def check_failure(scratch, experiment, done, *, code, stage, words, hint):
    assert done.returncode == code, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, done.stderr[-2000:]
    assert words in errors[0] and hint in errors[0] and "Traceback" not in done.stderr
    client, r = failed_run(scratch, experiment)
    assert r.info.status == "FAILED"
    tags = r.data.tags
    assert tags["error.stage"] == stage
    assert words in tags["error.message"] and hint in tags["error.hint"] and tags["error.type"]
    assert words in tags["mlflow.note.content"] and f"stage '{stage}'" in tags["mlflow.note.content"]
    files = {a.path for a in client.list_artifacts(r.info.run_id, "diagnostics")}
    assert files == {"diagnostics/error_report.json", "diagnostics/traceback.txt"}
    report = json.loads(open(client.download_artifacts(r.info.run_id, "diagnostics/error_report.json")).read())
    assert report["stage"] == stage and report["hint"] == tags["error.hint"] and "config" in report
    assert "stage_timings_seconds" in report and "counts" in report
    return r


def no_run(scratch, experiment):
    client = MlflowClient(scratch["uri"])
    exp = client.get_experiment_by_name(experiment)
    return exp is None or not client.search_runs([exp.experiment_id])


def test_table_missing_is_the_seed_hint(scratch, test_databases):
    """The classic: training before seeding (the database exists, the table does not): said before
    any run is created, with the seed hint (citizens is the seeder's table)."""
    url = test_databases.url("unseeded")
    done = train({**scratch["env"], "DATABASE_URL": url}, "--experiment", "f-unseeded", "--quiet")
    assert done.returncode == 3, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and errors[0].startswith('error: relation "citizens" does not exist')
    assert "make seed-data" in errors[0] and "Traceback" not in done.stderr
    assert no_run(scratch, "f-unseeded")


def test_server_unreachable_before_any_run(scratch):
    """A wrong port is said before a run exists, as README's troubleshooting table shows it."""
    env = {**scratch["env"], "DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:1/smart_warehouse"}
    done = train(env, "--experiment", "f-unreachable", "--quiet")
    assert done.returncode == 3, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1
    assert errors[0].startswith("error: cannot connect to PostgreSQL at 127.0.0.1:1/smart_warehouse")
    assert "start the server" in errors[0] and "hunter2" not in done.stderr + done.stdout
    assert no_run(scratch, "f-unreachable")


@pytest.mark.parametrize("experiment, args, stage, words, hint", [
    ("f-empty", ["--set", "data.table=citizens_empty"], "load", "table citizens_empty is empty", "fill the table"),
    ("f-null", ["--set", "data.table=citizens_nulls"], "load", "father_name", "fill the column"),
    ("f-nopairs", ["--set", "data.fields.entered={column: created_at, type: timestamp}", "--set", "model.params.blocking_fields=[entered]"],
     "candidates", "no candidate pairs",
     "blocking_fields"),
    ("f-toomany", ["--set", "candidates.max_pairs=100"], "candidates", "more than candidates.max_pairs=100",
     "more selective"),
    ("f-em", ["--set", "model.em.max_iterations=1"], "fit", "EM did not converge", "max_iterations"),
])
def test_named_failures(scratch, experiment, args, stage, words, hint):
    done = train(scratch["env"], "--experiment", experiment, "--quiet", *args)
    r = check_failure(scratch, experiment, done, code=1 if stage != "load" else 1, stage=stage, words=words,
                      hint=hint)
    if stage in ("candidates", "fit"):
        assert r.data.metrics["records"] == 1500  # metrics logged before the failure stay


def test_wrong_column_type_is_a_config_error(scratch):
    done = train(scratch["env"], "--experiment", "f-type", "--quiet", "--set", "data.fields.date_of_birth.column=citizen_id")
    assert done.returncode == 2 and "data.fields.date_of_birth.column" in done.stderr and "bigint" in done.stderr
    client = MlflowClient(scratch["uri"])
    assert client.get_experiment_by_name("f-type") is None


@pytest.mark.parametrize("experiment, setting, words", [
    ("f-truth-table", "data.truth.table=citizen_truht", 'relation "citizen_truht" does not exist'),
    ("f-truth-column", "data.truth.entity_column=entity", "no column 'entity' (data.truth.entity_column)"),
])
def test_a_configured_ground_truth_that_is_missing_is_an_error(scratch, experiment, setting, words):
    """A typo in data.truth never silently skips the evaluation: exit 2, the key named, no run."""
    done = train(scratch["env"], "--experiment", experiment, "--quiet", "--set", setting)
    assert done.returncode == 2, done.stderr[-2000:]
    assert words in done.stderr and "data.truth" in done.stderr and "Traceback" not in done.stderr
    assert no_run(scratch, experiment)
