"""test_failures.py's scratch warehouse, continued (a file of its own so that the two workers of
``make test`` share the failures): a run without ground truth trains and skips the evaluation; an
unreachable store fails before loading; SIGTERM ends a run KILLED; SIGKILL leaves a stale run that
diagnose finds and closes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from mlflow import MlflowClient

from conftest import run
from test_failures import failed_run, scratch  # noqa: F401,F811 - scratch: the module fixture, set up here too
from test_train import USE_CASE, train


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
    assert proc.returncode == 143              # 128 + SIGTERM, as a shell reports it
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
