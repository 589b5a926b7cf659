"""Every failure explained: exit code, one line with a hint, and the MLflow run FAILED with
error tags, a description and diagnostics artifacts; stale runs found and closed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from mlflow import MlflowClient

from conftest import ROOT, run
from golden_record.io import warehouse
from test_train import USE_CASE, train



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


def test_no_ground_truth_configured_trains_and_skips_evaluation(scratch):
    """Only a config without data.truth skips the evaluation."""
    done = train(scratch["env"], "--experiment", "f-notruth", "--quiet", "--set", "data.truth=null")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "evaluation skipped" in done.stdout and "no calibration" in done.stdout
    client = MlflowClient(scratch["uri"])
    r = client.search_runs([client.get_experiment_by_name("f-notruth").experiment_id])[0]
    assert r.info.status == "FINISHED"
    assert r.data.tags["evaluation"] == "skipped" and "data.truth" in r.data.tags["evaluation.reason"]
    assert r.data.tags["calibration"] == "skipped"
    assert "f1_score" not in r.data.metrics and r.data.metrics["training_pairs"] > 0
    # estimated from the probabilities on every run; calibration needs the truth: not logged
    m = r.data.metrics
    assert 0.9 < m["estimated_precision"] <= 1 and 0.9 < m["estimated_recall"] <= 1 and 0.9 < m["estimated_f1"] <= 1
    assert f"F1 {m['estimated_f1']:.3f}" in done.stdout
    assert not {"calibration_ece", "calibration_brier"} & set(m)
    artifacts = {a.path for a in client.list_artifacts(r.info.run_id)}
    artifacts |= {a.path for a in client.list_artifacts(r.info.run_id, "plots")}
    assert "reliability.csv" not in artifacts and "plots/reliability.png" not in artifacts
    models = [m for m in client.search_logged_models([r.info.experiment_id]) if m.source_run_id == r.info.run_id]
    assert len(models) == 1 and models[0].name == "model"


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


def test_tracking_store_unreachable_fails_before_loading(scratch):
    env = {**scratch["env"], "MLFLOW_TRACKING_URI": "http://mlflow:s3cret@127.0.0.1:1"}
    start = time.time()
    done = train(env, "--experiment", "f-store")
    assert done.returncode == 1
    assert "http://mlflow@127.0.0.1:1" in done.stderr and "s3cret" not in done.stderr
    assert "[load]" not in done.stderr
    assert time.time() - start < 60


def _start_trainer(env, experiment):
    proc = subprocess.Popen([sys.executable, "src/train.py", "--experiment", experiment,
                             "--set", "model.em.max_iterations=10000", "--set", "model.em.tolerance=1e-15"],
                            cwd=USE_CASE, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stderr.readline()
        if "[fit] ..." in line or not line:
            break
    time.sleep(0.3)
    return proc


def test_sigterm_ends_the_run_killed(scratch):
    proc = _start_trainer(scratch["env"], "f-sigterm")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == 130
    _, r = failed_run(scratch, "f-sigterm")
    assert r.info.status == "KILLED" and r.data.tags["error.stage"] == "fit"


def test_sigkill_leaves_a_stale_run_that_diagnose_finds_and_closes(scratch):
    proc = _start_trainer(scratch["env"], "f-sigkill")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    _, r = failed_run(scratch, "f-sigkill")
    assert r.info.status == "RUNNING"
    env = scratch["env"]
    listed = run([sys.executable, "scripts/diagnose_runs.py", "--experiment", "f-sigkill"], env)
    assert listed.returncode == 0 and "STALE" in listed.stdout and r.info.run_id in listed.stdout
    closed = run([sys.executable, "scripts/diagnose_runs.py", "--experiment", "f-sigkill", "--mark-failed"], env)
    assert closed.returncode == 0 and f"marked {r.info.run_id} FAILED" in closed.stdout
    client, after = failed_run(scratch, "f-sigkill")
    assert after.info.status == "FAILED"
    assert after.data.tags["stale.closed_by"] == "diagnose_runs --mark-failed"
    assert "is gone" in after.data.tags["error.message"]
    again = run([sys.executable, "scripts/diagnose_runs.py", "--experiment", "f-sigkill"], env)
    assert "STALE" not in again.stdout and "fix:" in again.stdout
