"""Run lifecycle (issue 12): default run names are unique; SIGTERM while logging is quiet.

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
    from golden_record.lifecycle import SWEEP_RUN_PREFIX, TRAINING_RUN_PREFIX, default_run_name

    now = datetime(2024, 5, 6, 7, 8, 9)
    for prefix in (TRAINING_RUN_PREFIX, SWEEP_RUN_PREFIX):
        names = [default_run_name(prefix, now) for _ in range(3000)]
        assert len(set(names)) == len(names)
        assert all(re.fullmatch(NAME.format(prefix), n) and "_20240506_070809_" in n for n in names)


def test_runs_started_in_the_same_second_get_distinct_names(test_databases, tmp_path_factory):
    """Two trainings and two sweeps started together (they fail in load: an empty database)."""
    uri = fresh_store(tmp_path_factory, tmp_path_factory.mktemp("names"))
    env = {"DATABASE_URL": test_databases.url("names"), "MLFLOW_TRACKING_URI": uri}
    jobs = [Trainer(env, "--experiment", "names", "--quiet", *extra)
            for extra in ([], [], ["--sweep", "match_threshold=0.9,0.95"], ["--sweep", "match_threshold=0.9,0.95"])]
    for job in jobs:
        assert job.finish() == 3, job.stderr[-2000:]
    _, runs = _runs(uri, "names")
    names = [r.info.run_name for r in runs]
    assert len(runs) == 4 and len(set(names)) == 4, names
    assert sum(bool(re.fullmatch(NAME.format("deduplication_training"), n)) for n in names) == 2, names
    assert sum(bool(re.fullmatch(NAME.format("threshold_sweep"), n)) for n in names) == 2, names


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
    assert job.finish(60) == 130, job.stderr[-3000:]
    assert "Traceback" not in job.stderr, job.stderr[-5000:]
    assert "marked KILLED" in _one_error_line(job.stderr)
    time.sleep(0.5)
    for p in plotters:
        assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE, "the plot process outlived the trainer"
    _, (r,) = _runs(uri, "log-sigterm")
    assert r.info.status == "KILLED" and r.data.tags["error.stage"] == "log"
