"""Run lifecycle (issue 12): every run a process opens ends KILLED/FAILED, never RUNNING, on SIGTERM;
stale sweep children are found and closed by diagnose; an MLflow store failure is its own stage in
one line; SIGTERM while logging is quiet; default run names are unique.

Real signals, a real PostgreSQL warehouse, real SQLite MLflow stores read back through MlflowClient.
"""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime

import psutil
import pytest
from mlflow import MlflowClient

from conftest import fresh_store, run
from test_train import USE_CASE

NAME = r"{}_\d{{8}}_\d{{6}}_[0-9a-f]{{4}}"
MANY_THRESHOLDS = "match_threshold=0.50:0.99:0.002"          # 246 children: seconds of child runs


class Trainer:
    """``python src/train.py ARGS`` in the background, its stderr collected line by line."""

    def __init__(self, env: dict, *args: str):
        self.proc = subprocess.Popen([sys.executable, "src/train.py", *args], cwd=USE_CASE,
                                     env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.out = ""
        self._err = threading.Thread(target=self._pump, daemon=True)
        self._err.start()
        self._out = threading.Thread(target=self._pump_out, daemon=True)
        self._out.start()

    def _pump(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def _pump_out(self) -> None:
        self.out = self.proc.stdout.read()

    def wait_for(self, text: str, timeout: float = 180) -> float:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in line for line in self.lines):
                return time.time()
            assert self.proc.poll() is None, f"trainer ended before {text!r}:\n{self.stderr[-3000:]}"
            time.sleep(0.02)
        raise AssertionError(f"no {text!r} within {timeout} s:\n{self.stderr[-3000:]}")

    def finish(self, timeout: float = 180) -> int:
        code = self.proc.wait(timeout=timeout)
        self._err.join(10)
        self._out.join(10)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


def _store(tmp_path_factory, seeded_small, name):
    uri = fresh_store(tmp_path_factory, tmp_path_factory.mktemp(name))
    return uri, {**seeded_small["env"], "MLFLOW_TRACKING_URI": uri}


def _runs(uri: str, experiment: str):
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return client, ([] if exp is None else client.search_runs([exp.experiment_id], max_results=5000))


def _wait_for_children(uri: str, experiment: str, n: int, trainer: Trainer, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, runs = _runs(uri, experiment)
        if sum(1 for r in runs if "mlflow.parentRunId" in r.data.tags) >= n:
            return
        assert trainer.proc.poll() is None, trainer.stderr[-3000:]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} child runs within {timeout} s")


def _one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, stderr[-3000:]
    return errors[0]


# --------------------------------------------------------------------------- unique run names
def test_default_run_names_are_unique_within_one_second():
    from golden_record.tracking.lifecycle import SWEEP_RUN_PREFIX, TRAINING_RUN_PREFIX, default_run_name

    now = datetime(2024, 5, 6, 7, 8, 9)
    for prefix in (TRAINING_RUN_PREFIX, SWEEP_RUN_PREFIX):
        names = [default_run_name(prefix, now) for _ in range(3000)]
        assert len(set(names)) == len(names)
        assert all(re.fullmatch(NAME.format(prefix), n) and "_20240506_070809_" in n for n in names)


def test_runs_started_in_the_same_second_get_distinct_names(test_databases, tmp_path_factory):
    """Two trainings and two sweeps started together (their runs start, then fail in load: the
    table is empty)."""
    import psycopg

    from golden_record.io import warehouse

    url = test_databases.url("names")
    with psycopg.connect(url) as conn:
        warehouse.apply_schema(conn)
    uri = fresh_store(tmp_path_factory, tmp_path_factory.mktemp("names"))
    env = {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": uri}
    jobs = [Trainer(env, "--experiment", "names", "--quiet", *extra)
            for extra in ([], [], ["--sweep", "match_threshold=0.9,0.95"], ["--sweep", "match_threshold=0.9,0.95"])]
    for job in jobs:
        assert job.finish() == 1, job.stderr[-2000:]
        assert "is empty" in job.stderr, job.stderr[-2000:]
    _, runs = _runs(uri, "names")
    names = [r.info.run_name for r in runs]
    assert len(runs) == 4 and len(set(names)) == 4, names
    assert sum(bool(re.fullmatch(NAME.format("deduplication_training"), n)) for n in names) == 2, names
    assert sum(bool(re.fullmatch(NAME.format("threshold_sweep"), n)) for n in names) == 2, names


# --------------------------------------------------------------------------- the lifecycle itself
@pytest.mark.parametrize("error, status", [(RuntimeError("boom"), "FAILED"), (KeyboardInterrupt(), "KILLED")])
def test_lifecycle_closes_every_run_it_opened(tmp_path_factory, error, status):
    """In process, on a real store: a failure inside the lifecycle ends the main run and every
    child still open with the same status (also a child the registry never heard of, found in the
    store by its parent id), leaves finished children alone, and empties the open-runs registry."""
    import mlflow

    from golden_record.tracking import lifecycle

    uri = fresh_store(tmp_path_factory, tmp_path_factory.mktemp("lifecycle"))
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp = client.create_experiment("lifecycle")
    runs = lifecycle.RunLifecycle(uri, exp, "lifecycle")
    with pytest.raises(type(error)):
        with runs:
            main = runs.start("main").info.run_id
            done = runs.child("done").info.run_id
            runs.end(done)
            open_child = runs.child("open").info.run_id
            stray = client.create_run(exp, run_name="stray", tags={"mlflow.parentRunId": main}).info.run_id
            assert set(lifecycle.open_runs()) == {main, open_child}
            raise error
    assert lifecycle.open_runs() == {}
    get = client.get_run
    assert get(main).info.status == status and get(main).data.tags["error.type"] == type(error).__name__
    assert get(done).info.status == "FINISHED"
    for child in (open_child, stray):
        assert get(child).info.status == status
        assert main in get(child).data.tags["error.message"] and get(child).data.tags["error.stage"]
    assert get(open_child).data.tags["pid"] == str(os.getpid()) and get(open_child).data.tags["host"]
    assert mlflow.active_run() is None


# --------------------------------------------------------------------------- sweeps and signals
def test_sigterm_during_a_sweep_leaves_no_run_running(seeded_small, tmp_path_factory):
    uri, env = _store(tmp_path_factory, seeded_small, "sweep-sigterm")
    job = Trainer(env, "--experiment", "sweep-sigterm", "--sweep", MANY_THRESHOLDS)
    _wait_for_children(uri, "sweep-sigterm", 5, job)
    job.proc.send_signal(signal.SIGTERM)
    assert job.finish(60) == 143, job.stderr[-3000:]
    assert "Traceback" not in job.stderr
    assert "marked KILLED" in _one_error_line(job.stderr)
    _, runs = _runs(uri, "sweep-sigterm")
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) + 1 == len(runs) and 5 <= len(children) < 246
    assert parent.info.status == "KILLED"
    assert [c.info.run_name for c in children if c.info.status == "RUNNING"] == []
    # a child is written whole (signals wait for it), so the children that exist are FINISHED
    assert {c.info.status for c in children} == {"FINISHED"}
    for c in children:
        assert c.data.tags["pid"] == parent.data.tags["pid"] == str(job.proc.pid)
        assert c.data.tags["host"] == parent.data.tags["host"]


def test_sigkill_during_sweeps_then_diagnose_closes_parents_and_children(seeded_small, tmp_path_factory):
    """SIGKILL leaves the parent and the child in progress RUNNING; diagnose --mark-failed closes
    both. A kill can land between two children, so sweeps are killed until one leaves a child open."""
    uri, env = _store(tmp_path_factory, seeded_small, "sweep-sigkill")
    client = MlflowClient(uri)
    for _attempt in range(4):
        job = Trainer(env, "--experiment", "sweep-sigkill", "--quiet", "--sweep", MANY_THRESHOLDS)
        _, before = _runs(uri, "sweep-sigkill")
        _wait_for_children(uri, "sweep-sigkill", len([r for r in before if "mlflow.parentRunId" in r.data.tags]) + 5,
                           job)
        job.proc.send_signal(signal.SIGKILL)
        job.finish(60)
        _, runs = _runs(uri, "sweep-sigkill")
        if any(r.info.status == "RUNNING" and "mlflow.parentRunId" in r.data.tags for r in runs):
            break
    running = [r for r in runs if r.info.status == "RUNNING"]
    parents = [r for r in running if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in running if "mlflow.parentRunId" in r.data.tags]
    assert parents and children, "no kill left a child RUNNING in 4 attempts"
    for c in children:
        assert c.data.tags["host"] and c.data.tags["pid"].isdigit()
    listed = run([sys.executable, "scripts/diagnose_runs.py", "--experiment", "sweep-sigkill", "--limit", "5"], env)
    assert listed.returncode == 0 and "STALE" in listed.stdout, listed.stdout + listed.stderr
    assert f"{len(running)} stale RUNNING run(s) ({len(children)} of them child runs)" in listed.stdout
    closed = run([sys.executable, "scripts/diagnose_runs.py", "--experiment", "sweep-sigkill", "--mark-failed"], env)
    assert closed.returncode == 0, closed.stderr
    for r in running:
        assert f"marked {r.info.run_id} FAILED" in closed.stdout
        after = client.get_run(r.info.run_id)
        assert after.info.status == "FAILED"
        assert after.data.tags["stale.closed_by"] == "diagnose_runs --mark-failed"
        assert "is gone" in after.data.tags["error.message"]
    _, runs = _runs(uri, "sweep-sigkill")
    assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
    again = run([sys.executable, "scripts/diagnose_runs.py", "--experiment", "sweep-sigkill"], env)
    assert "STALE" not in again.stdout


def test_diagnose_closes_children_of_ended_or_stale_parents_without_process_tags(tmp_path_factory):
    """Children written before they carried host/pid tags: stale when their parent has ended, or
    when their parent's process is gone; a child of a live parent is left alone."""
    uri = fresh_store(tmp_path_factory, tmp_path_factory.mktemp("old-children"))
    client = MlflowClient(uri)
    exp = client.create_experiment("old-children")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = __import__("socket").gethostname()
    ended = client.create_run(exp, run_name="ended_parent")
    client.set_terminated(ended.info.run_id, "KILLED")
    gone = client.create_run(exp, run_name="gone_parent", tags={"host": host, "pid": str(dead.pid)})
    alive = client.create_run(exp, run_name="alive_parent", tags={"host": host, "pid": str(os.getpid())})
    kids = {name: client.create_run(exp, run_name=name, tags={"mlflow.parentRunId": parent.info.run_id})
            for name, parent in (("child_of_ended", ended), ("child_of_gone", gone), ("child_of_alive", alive))}
    env = {"MLFLOW_TRACKING_URI": uri}
    done = run([sys.executable, "scripts/diagnose_runs.py", "--experiment", "old-children", "--mark-failed"], env)
    assert done.returncode == 0, done.stderr
    status = {r.info.run_name: r for r in client.search_runs([exp])}
    assert status["child_of_ended"].info.status == "FAILED"
    assert "has ended (KILLED)" in status["child_of_ended"].data.tags["error.message"]
    assert status["child_of_gone"].info.status == "FAILED" and status["gone_parent"].info.status == "FAILED"
    assert status["child_of_alive"].info.status == "RUNNING" and status["alive_parent"].info.status == "RUNNING"
    for name in ("child_of_ended", "child_of_gone", "gone_parent"):
        assert f"marked {status[name].info.run_id} FAILED" in done.stdout
    assert "closed 3 stale run(s) as FAILED (2 of them child runs)" in done.stdout


# --------------------------------------------------------------------------- the store locked mid-run
def test_a_locked_store_is_a_tracking_failure_in_one_line(seeded_small, tmp_path_factory):
    """Another process holds ``BEGIN EXCLUSIVE`` on mlflow.db from the fit on, so the first write
    after the fit waits MLflow's 20 s and fails. (a) The lock is released after that: the
    failure is recorded as stage 'tracking'. (b) The lock is held to the end: one line says the
    failure could not be recorded. Both run side by side, in stores of their own."""
    jobs = {}
    for case in ("released", "held"):
        uri, env = _store(tmp_path_factory, seeded_small, f"locked-{case}")
        jobs[case] = {"uri": uri, "job": Trainer(env, "--experiment", "locked")}
    for case, j in jobs.items():
        j["job"].wait_for("[fit] ...")
        j["lock"] = sqlite3.connect(j["uri"][len("sqlite:///"):], isolation_level=None, timeout=30)
        j["lock"].execute("BEGIN EXCLUSIVE")
    try:
        evaluated = jobs["released"]["job"].wait_for("[fit] done")
        # the first write after the fit (the derived config's params) fails at +20 s; recording
        # the failure waits from then on
        time.sleep(max(0.0, evaluated + 30 - time.time()))
        assert jobs["released"]["job"].proc.poll() is None
        jobs["released"]["lock"].execute("ROLLBACK")
        assert jobs["released"]["job"].finish(120) == 1
        assert jobs["held"]["job"].finish(120) == 1
    finally:
        for j in jobs.values():
            j["job"].proc.kill() if j["job"].proc.poll() is None else None
            j["lock"].close()
    for case, j in jobs.items():
        stderr = j["job"].stderr
        assert "Traceback" not in stderr and "SQLAlchemy" not in stderr and "[SQL:" not in stderr, stderr[-3000:]
        # short: the progress lines, then one error line (not SQLAlchemy's 244-line log)
        quality = [x for x in stderr.splitlines() if re.match(r"^\s+\w+\s+\w+\s+present ", x)]
        assert len(stderr.splitlines()) - len(quality) < 30, stderr
        line = _one_error_line(stderr)
        assert line.startswith("error in stage tracking: MLflow store") and "is locked" in line, line
        assert "the MLflow store is locked or unreachable" in line
    client, (r,) = _runs(jobs["released"]["uri"], "locked")
    assert r.info.status == "FAILED"
    tags = r.data.tags
    assert tags["error.stage"] == "tracking" and tags["error.type"] == "TrackingStoreLocked"
    assert tags["error.hint"].startswith("the MLflow store is locked or unreachable: ")
    assert "database is locked" in tags["error.message"]
    assert {a.path for a in client.list_artifacts(r.info.run_id, "diagnostics")} == {
        "diagnostics/error_report.json", "diagnostics/traceback.txt"}
    assert f"MLflow run {r.info.run_id} marked FAILED" in jobs["released"]["job"].stderr
    _, (held,) = _runs(jobs["held"]["uri"], "locked")
    notes = [line for line in jobs["held"]["job"].stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "could not be recorded in MLflow" in notes[0] and held.info.run_id in notes[0]
    assert "--mark-failed" in notes[0] and "marked FAILED" not in jobs["held"]["job"].stderr
    assert held.info.status == "RUNNING"                 # nothing could be written; diagnose closes it later


# --------------------------------------------------------------------------- SIGTERM while logging
def test_sigterm_while_logging_is_quiet_and_stops_the_plot_process(seeded_small, tmp_path_factory):
    uri, env = _store(tmp_path_factory, seeded_small, "log-sigterm")
    job = Trainer(env, "--experiment", "log-sigterm")
    job.wait_for("[log] ...")
    parent = psutil.Process(job.proc.pid)
    deadline = time.time() + 10
    while not (plotters := [p for p in parent.children() if "python" in p.name().lower()]) and time.time() < deadline:
        time.sleep(0.01)
    assert plotters, "no plot process seen"
    job.proc.send_signal(signal.SIGTERM)
    assert job.finish(60) == 143, job.stderr[-3000:]
    assert "Traceback" not in job.stderr, job.stderr[-5000:]
    assert "in stage log" in _one_error_line(job.stderr)
    time.sleep(0.5)
    for p in plotters:
        assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE, "the plot process outlived the trainer"
    _, (r,) = _runs(uri, "log-sigterm")
    assert r.info.status == "KILLED" and r.data.tags["error.stage"] == "log"
