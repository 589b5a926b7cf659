"""Every job ends cleanly (issue 26, points 3 and 6), as a user runs it: SIGTERM or Ctrl-C in
``match-new``, ``golden``, ``index``, ``seed`` and ``serve`` prints one line and exits 143 (SIGTERM)
or 130 (SIGINT), and ``match-new``'s MLflow run ends KILLED, as a training run does; an unknown run
id is a user error (exit 2); a training run read back through ``MlflowClient`` has at most 60
params, none ``None`` or ``[]``, and the ones the MLflow UI's saved view shows.

Real PostgreSQL (a database of this module's own) and a real SQLite MLflow store. To stop a job
*during* its work, the job runs through a small driver that replaces its slow step by a wait that
says ``READY`` on stderr; everything else (parsing, the store, the model, the run lifecycle, the
signal handling, the exit) is the command's own.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from mlflow import MlflowClient

from conftest import ROOT, SRC, run, free_port

USE_CASE = ROOT / "use-cases" / "golden_record"
EXPERIMENT = "cli-jobs"

#: ``python -c DRIVER MODULE ATTRIBUTE COMMAND ARGS...``: ``golden-record COMMAND ARGS`` with
#: ``MODULE.ATTRIBUTE`` replaced by a wait (None: the command as it is)
DRIVER = """
import importlib, sys, time
module, attribute = sys.argv[1], sys.argv[2]
if module != "-":
    def wait(*args, **kwargs):
        print("READY", file=sys.stderr, flush=True)
        time.sleep(600)
    setattr(importlib.import_module(module), attribute, wait)
from golden_record.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(scope="module")
def trained(trained_copy, trained_template):
    """A warehouse of 3,000 records, a model trained on it with its golden records written: a copy of
    the run's shared one (``src/train.py --write-golden --quiet``, seeded as seeded_small is), its
    experiment renamed EXPERIMENT; ``train`` is that training's output."""
    copy = trained_copy("cli_jobs", EXPERIMENT)
    env = {**copy["env"], "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    client = MlflowClient(copy["store"])
    (r,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert r.info.run_id == copy["run_id"]
    return {"env": env, "url": copy["url"], "store": copy["store"], "client": client, "run_id": r.info.run_id,
            "train": SimpleNamespace(stdout=trained_template["stdout"], stderr=trained_template["stderr"])}


class Job:
    """``golden-record ARGS`` in the background (through :data:`DRIVER`), stderr read line by line."""

    def __init__(self, env: dict, replaced: str | None, *args: str):
        module, attribute = replaced.rsplit(".", 1) if replaced else ("-", "-")
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER, module, attribute, *args], cwd=ROOT,
                                     env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self.out: list[str] = []
        self._threads = [threading.Thread(target=self._pump, args=(s, lines), daemon=True)
                         for s, lines in ((self.proc.stderr, self.err), (self.proc.stdout, self.out))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _pump(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 240) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in line for line in self.err + self.out):
                return
            assert self.proc.poll() is None, f"ended before {text!r}:\n" + "\n".join(self.err[-40:])
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"no {text!r} within {timeout} s:\n" + "\n".join(self.err[-40:]))

    def stop(self, signum: int, timeout: float = 60) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(10)
        return code

    @property
    def stderr(self) -> str:
        return "\n".join(self.err)


def _one_line(job: Job, prefix: str = "error") -> str:
    text = job.stderr
    assert "Traceback" not in text and "Exception ignored" not in text, text[-3000:]
    said = [line for line in job.err if line.strip() and line != "READY"]
    assert len(said) == 1 and said[0].startswith(prefix), text[-3000:]
    return said[0]


# --------------------------------------------------------------------------- runs you can read
def test_a_training_run_logs_few_params_and_none_empty(trained):
    from golden_record.tracking import ui

    run_ = trained["client"].get_run(trained["run_id"])
    params = run_.data.params
    assert 10 < len(params) <= 60, sorted(params)
    assert [k for k, v in params.items() if v in ("None", "[]")] == []
    # what a person compares across runs is there; the rest is in config/resolved_config.yaml
    for key in ("model.params.match_threshold", "model.type", "model.params.blocking_fields", "data.table",
                "data.fields", "model.em.related_classes", "comparisons.first_name.method"):
        assert key in params, key
    assert 0 < float(params["model.params.match_threshold"]) < 1
    # the saved view of the MLflow UI shows params that exist
    shown = [c.split("`")[1] for c in ui.KEY_COLUMNS if c.startswith("params.")]
    assert shown and all(name in params for name in shown)
    artifacts = {a.path for a in trained["client"].list_artifacts(trained["run_id"], "config")}
    assert "config/resolved_config.yaml" in artifacts


def test_the_end_of_a_run_prints_a_pasteable_store_and_the_ui_port(trained, tmp_path):
    """The store's URI as printed opens (sqlite:////abs/path); the addresses use UI_PORT."""
    env = {**trained["env"], "UI_PORT": "5077"}
    done = run([sys.executable, "-m", "golden_record", "diagnose", "--experiment", EXPERIMENT], env)
    assert done.returncode == 0, done.stderr
    uri = done.stdout.splitlines()[0].rsplit(" at ", 1)[1]
    assert uri == trained["store"] and uri.startswith("sqlite:////")
    assert MlflowClient(uri).get_run(trained["run_id"]).info.status == "FINISHED"
    hint = [line for line in trained["train"].stdout.splitlines() if line.startswith("open the MLflow UI")]
    assert hint and "make mlflow-ui, then http://127.0.0.1:5000/#/experiments/" in hint[0]
    done = run([sys.executable, "-m", "golden_record", "match-new", "--run-id", trained["run_id"], "--experiment",
                "cli-jobs-port", "--quiet"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    (hint,) = [line for line in done.stdout.splitlines() if line.startswith("open the MLflow UI")]
    assert "make mlflow-ui UI_PORT=5077, then http://127.0.0.1:5077/#/experiments/" in hint and ":5000" not in hint


def test_diagnose_looks_at_every_experiment(trained):
    client = trained["client"]
    other = client.create_experiment("cli-jobs-other")
    stray = client.create_run(other, run_name="failed_elsewhere").info.run_id
    client.set_tag(stray, "error.stage", "fit")
    client.set_terminated(stray, "FAILED")
    done = run([sys.executable, "-m", "golden_record", "diagnose"], trained["env"])
    assert done.returncode == 0, done.stderr
    assert f"experiment '{EXPERIMENT}'" in done.stdout and "experiment 'cli-jobs-other'" in done.stdout
    assert stray in done.stdout and trained["run_id"] in done.stdout
    narrowed = run([sys.executable, "-m", "golden_record", "diagnose", "--experiment", EXPERIMENT], trained["env"])
    assert narrowed.returncode == 0 and stray not in narrowed.stdout and trained["run_id"] in narrowed.stdout


# --------------------------------------------------------------------------- a user error is exit 2
def test_an_unknown_run_id_is_exit_2(trained):
    for args in (["golden", "--run-id", "nosuchrun"], ["match-new", "--run-id", "nosuchrun"],
                 ["index", "--run-id", "0" * 32]):
        done = run([sys.executable, "-m", "golden_record", *args], trained["env"])
        assert done.returncode == 2, (args, done.stderr[-2000:])
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: MLflow run") and "not found" in lines[0], lines
        assert "Traceback" not in done.stderr


# --------------------------------------------------------------------------- signals
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_match_new_ends_its_run_killed(trained, signum, code):
    client = trained["client"]
    experiment = f"cli-jobs-match-{signum}"
    job = Job(trained["env"], "golden_record.golden.incremental.match_new", "match-new", "--run-id",
              trained["run_id"], "--experiment", experiment, "--quiet")
    job.wait_for("READY")
    assert job.stop(signum) == code, job.stderr[-3000:]
    line = _one_line(job)
    assert line.startswith("error in stage match: ") and "marked KILLED" in line, line
    assert ("SIGTERM" if signum == signal.SIGTERM else "Ctrl-C") in line
    (r,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert r.info.status == "KILLED" and r.info.run_name.startswith("incremental_match_")
    assert r.data.tags["error.stage"] == "match" and r.info.run_id in line
    assert r.data.tags["error.type"] == ("Terminated" if signum == signal.SIGTERM else "KeyboardInterrupt")


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("command, replaced, stage", [
    ("golden", "golden_record.jobs.golden.build_golden_records", "golden"),
    ("index", "golden_record.jobs.index.build_index", None),
    ("seed", "golden_record.synthetic.differences.config_differences", "measure"),
])
def test_a_signal_in_any_job_is_one_line_and_its_exit_code(trained, test_databases, command, replaced, stage,
                                                            signum, code):
    env = dict(trained["env"])
    if command == "seed":       # the seeder writes: a database of its own
        env["DATABASE_URL"] = test_databases.url("cli_jobs_seed")
        args = ["seed", "--rows", "200"]
    else:
        args = [command, "--run-id", trained["run_id"]]
    job = Job(env, replaced, *args, "--quiet")
    job.wait_for("READY")
    assert job.stop(signum) == code, job.stderr[-3000:]
    line = _one_line(job)
    assert ("terminated by SIGTERM" if signum == signal.SIGTERM else "interrupted by Ctrl-C") in line, line
    if stage:
        assert line.startswith(f"error in stage {stage}"), line
    if command == "golden":         # the training run it logs to is left as it was
        assert trained["client"].get_run(trained["run_id"]).info.status == "FINISHED"


@pytest.mark.parametrize("signum, code, workers", [(signal.SIGTERM, 143, 1), (signal.SIGINT, 130, 1),
                                                    (signal.SIGTERM, 143, 2)])
def test_a_signal_stops_the_lookup_service_with_one_line(trained, signum, code, workers):
    job = Job(trained["env"], None, "serve", "--run-id", trained["run_id"], "--port", str(free_port()),
              "--workers", str(workers), "--quiet")
    job.wait_for("serving the model of run")
    # the line comes before uvicorn installs its signal handlers (and, with workers, before they load
    # the model): a signal sent at once, on a busy machine, can arrive before either
    time.sleep(3 if workers > 1 else 1.5)
    assert job.stop(signum) == code, job.stderr[-3000:]
    said = [line for line in job.err if line.strip() and not line.startswith(("warning:", "note:"))]
    assert "Traceback" not in job.stderr, job.stderr[-3000:]
    assert said == [f"lookup service stopped ({'SIGTERM' if signum == signal.SIGTERM else 'Ctrl-C'})"], said
