"""Run lifecycle: every MLflow run this process opens, and how each of them ends.

One :class:`RunLifecycle` per job that opens runs (a training, a sweep, ``match-new``) knows the
main run (the fluent run started with
:func:`tracking.start_run`) and every child it created (``child``), and keeps them in this
module's registry of open runs (:func:`open_runs`). Whatever happens, none stays RUNNING:

* success: ``finish()`` ends the main run FINISHED (and any run still open with it);
* failure: ``fail()`` records the error on the main run (:func:`diagnostics.record_failure`:
  tags, description, ``diagnostics/`` artifacts) and ends every still-open run of the lifecycle
  with the same status: **KILLED** for Ctrl-C / SIGTERM, **FAILED** otherwise. Children of the
  main run that the store holds as RUNNING but this process never heard of (a failure between
  the store creating a child and ``create_run`` returning) are found by their
  ``mlflow.parentRunId`` and closed too.

Used as a context manager (``with RunLifecycle(...) as runs:``, as the sweep and ``match-new`` do)
the failure path runs on any exception; ``train.run_training`` calls ``finish``/``fail`` explicitly.
A SIGTERM reaches it as :class:`~golden_record.tracking.diagnostics.Terminated`, raised in the main
thread by the handler every command installs (:func:`golden_record.console.run_main`), so that it
ends the runs KILLED as Ctrl-C does; the command then exits 143 (130 for Ctrl-C).

An error of the MLflow store itself (a SQLite file locked by another process, a tracking
server that stopped answering) is reported as its own stage, ``tracking``, with a
:class:`TrackingStoreError` naming the problem, instead of being blamed on whichever pipeline
stage happened to be running; SQLAlchemy's own logging of it (a traceback with the SQL, some
250 lines) is silenced. When the failure cannot be recorded because the store is still
unusable, one line says so and which runs stay RUNNING (``make diagnose`` closes them later).

Run names: :func:`default_run_name` (``<prefix>_YYYYMMDD_HHMMSS_<4 hex>``) is used for every
default name, so runs started in the same second do not share a name.
"""
from __future__ import annotations

import logging
import secrets
import signal
import threading
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator

from golden_record.tracking import diagnostics
from golden_record.tracking import store as tracking
from golden_record.errors import GoldenRecordError, TrackingError

log = logging.getLogger(__name__)

TRAINING_RUN_PREFIX = "deduplication_training"
SWEEP_RUN_PREFIX = "threshold_sweep"
STAGE = "tracking"                       # error.stage of a failure of the MLflow store itself
STORE_HINT = "the MLflow store is locked or unreachable"
#: loggers that print a store error at length (SQL, parameters, traceback) before MLflow raises it
NOISY_LOGGERS = ("mlflow.store.db.utils", "sqlalchemy", "alembic")

_issued_names: set[str] = set()
_open_runs: dict[str, str] = {}          # run id -> role ("main" or "child"), for this whole process


# --------------------------------------------------------------------------- run names
def default_run_name(prefix: str, now: datetime | None = None) -> str:
    """``<prefix>_YYYYMMDD_HHMMSS_<4 hex>``: the time it was made plus a random suffix.

    Never the same name twice in one process; two processes naming a run in the same second
    draw the same suffix with probability 1/65,536.
    """
    stamp = f"{prefix}_{(now or datetime.now()):%Y%m%d_%H%M%S}"
    while True:
        name = f"{stamp}_{secrets.token_hex(2)}"
        if name not in _issued_names:
            _issued_names.add(name)
            return name


# --------------------------------------------------------------------------- store errors
class TrackingStoreError(TrackingError):
    """The MLflow store failed while a run was being written (error.stage ``tracking``)."""


class TrackingStoreLocked(TrackingStoreError):
    """Another process holds a lock on the SQLite store longer than MLflow waits (20 s)."""


class TrackingStoreUnreachable(TrackingStoreError):
    """The store (a database file or a tracking server) cannot be reached or used."""


def _chain(exc: BaseException):
    """``exc`` and its explicit causes (``raise ... from``), as MLflow wraps store errors."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def store_error(exc: BaseException) -> TrackingStoreError | None:
    """The :class:`TrackingStoreError` that ``exc`` amounts to, or None when it is not one."""
    if isinstance(exc, TrackingStoreError):
        return exc
    if isinstance(exc, (GoldenRecordError, KeyboardInterrupt, diagnostics.Terminated)):
        return None
    uri = _current_uri()
    where = f"MLflow store {tracking.redact(uri)}" if uri else "the MLflow store"
    chain = list(_chain(exc))
    # only what MLflow raised: the warehouse (PostgreSQL through SQLAlchemy) has OperationalErrors too
    from_mlflow = any(type(e).__name__ == "MlflowException" for e in chain)
    # the innermost cause names the problem best: MLflow wraps "database is locked" in a generic error
    for e in reversed(chain):
        module = type(e).__module__
        name = type(e).__name__
        if name == "OperationalError" and module.startswith(("sqlite3", "sqlalchemy")) and from_mlflow:
            detail = _first_line(e).removeprefix("(sqlite3.OperationalError) ")
            if "locked" in detail or "busy" in detail:
                return TrackingStoreLocked(
                    f"{where} is locked ({detail})",
                    f"{STORE_HINT}: another process holds a lock on it (an MLflow UI or server writing, "
                    "a backup, a stuck trainer); wait for it or stop it, then run again",
                    stage=STAGE)
            return TrackingStoreUnreachable(f"{where} cannot be used ({detail})",
                                            f"{STORE_HINT}: check the file, its folder and the disk, "
                                            "or fix MLFLOW_TRACKING_URI", stage=STAGE)
        if module.startswith(("requests", "urllib3")) and ("Connection" in name or "Timeout" in name):
            return TrackingStoreUnreachable(f"{where} is unreachable ({tracking.scrub(_first_line(e), uri or '')})",
                                            f"{STORE_HINT}: start the tracking server or fix MLFLOW_TRACKING_URI",
                                            stage=STAGE)
        if name == "MlflowException":
            text = _first_line(e)
            if getattr(e, "error_code", "") == "TEMPORARILY_UNAVAILABLE" or (
                    text.startswith("API request to") and "failed with exception" in text):
                return TrackingStoreUnreachable(f"{where} is unreachable ({tracking.scrub(text, uri or '')})",
                                                f"{STORE_HINT}: start the tracking server or fix "
                                                "MLFLOW_TRACKING_URI", stage=STAGE)
    return None


def _current_uri() -> str:
    try:
        import mlflow

        return mlflow.get_tracking_uri()
    except Exception:  # noqa: BLE001
        return ""


def quiet_store_logs() -> None:
    """Keep SQLAlchemy / alembic / MLflow's store from printing a store error at length: the
    failure is reported once, in one line, with its traceback in ``diagnostics/traceback.txt``."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


# --------------------------------------------------------------------------- signals
@contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGTERM and Ctrl-C that arrive inside the block take effect when it ends.

    For a short group of store writes (a sweep child's create, log, end): a signal raised in the
    middle of a SQLite write can leave this very process holding the store's lock, so that the
    failure record then waits for itself and fails ("database is locked"). A Python-level handler
    (not a signal mask), so that a signal delivered to another thread is deferred too.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, lambda n, frame: pending.append(n))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            signal.raise_signal(pending[0])    # now, through the handler that was there before


# --------------------------------------------------------------------------- the registry
def open_runs() -> dict[str, str]:
    """Run id -> role of every run this process opened and has not closed yet."""
    return dict(_open_runs)


def _forget_fluent_run(run_id: str) -> None:
    """Pop ``run_id`` from MLflow's active-run stack without writing to the store, so that
    MLflow's exit hook does not end it FINISHED later (used when the store cannot be written)."""
    try:
        from mlflow.environment_variables import MLFLOW_RUN_ID
        from mlflow.tracking.fluent import _active_run_stack

        stack = _active_run_stack.get()
        if stack and stack[-1].info.run_id == run_id:
            stack.pop()
            MLFLOW_RUN_ID.unset()
    except Exception:  # noqa: BLE001 - a private API; at worst MLflow ends the run at exit
        pass


class RunLifecycle:
    """The runs of one training or sweep, and their ends (see the module docstring)."""

    def __init__(self, uri: str, experiment_id: str, experiment: str, progress=None,
                 context: Callable[[], dict[str, Any]] | None = None):
        import mlflow

        quiet_store_logs()
        self.uri, self.experiment_id, self.experiment = uri, experiment_id, experiment
        self.progress = progress
        self.context = context or (lambda: {})
        self.client = mlflow.MlflowClient(uri)
        self.run_id: str | None = None
        self.opened: dict[str, str] = {}      # run id -> role, in order of creation, still open
        self.status: str | None = None        # how the lifecycle ended: FINISHED, FAILED, KILLED

    # ---------------------------------------------------------------- opening runs
    def start(self, run_name: str):
        """Start the main run (MLflow's active run; the caller tags it, host and pid included)."""
        try:
            run = tracking.start_run(self.experiment_id, self.experiment, run_name)
        except Exception as exc:  # noqa: BLE001
            err = store_error(exc)
            if err is None:
                raise
            raise err from exc
        self.run_id = run.info.run_id
        self._opened(self.run_id, "main")
        return run

    def child(self, run_name: str, tags: dict[str, str] | None = None):
        """Create a child run of the main run, tagged with its parent, host and pid."""
        assert self.run_id is not None, "start() the main run first"
        run = self.client.create_run(self.experiment_id, run_name=run_name,
                                     tags={"mlflow.parentRunId": self.run_id, **tracking.process_tags(),
                                           **(tags or {})})
        self._opened(run.info.run_id, "child")
        return run

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        """End one run (a child, usually) and forget it."""
        self.client.set_terminated(run_id, status)
        self._closed(run_id)

    def _opened(self, run_id: str, role: str) -> None:
        self.opened[run_id] = role
        _open_runs[run_id] = role

    def _closed(self, run_id: str) -> None:
        self.opened.pop(run_id, None)
        _open_runs.pop(run_id, None)

    # ---------------------------------------------------------------- ending
    def finish(self) -> None:
        """The work is done: every run still open ends FINISHED, the main run last (unless a
        SIGTERM arrived whose exception was lost: then :class:`Terminated` is raised here)."""
        import mlflow

        from golden_record.tracking.diagnostics import raise_if_terminated
        raise_if_terminated()

        for run_id, role in list(self.opened.items()):
            if role != "main":
                self.end(run_id, "FINISHED")
        if self.run_id in self.opened:
            active = mlflow.active_run()
            if active is not None and active.info.run_id == self.run_id:
                mlflow.end_run("FINISHED")
            else:
                self.client.set_terminated(self.run_id, "FINISHED")
            self._closed(self.run_id)
        self.status = "FINISHED"

    def fail(self, exc: BaseException, stage: str | None = None, context: dict[str, Any] | None = None,
             metrics: dict[str, float] | None = None) -> BaseException:
        """Record ``exc`` on the main run and end every open run KILLED or FAILED. Never raises.

        Returns the exception to report: ``exc`` itself, or a :class:`TrackingStoreError` when
        ``exc`` was a failure of the MLflow store. It carries ``run_id`` and ``run_closed``
        (False when the store could not be written, and the runs stay RUNNING).
        """
        err = store_error(exc)
        report: BaseException = err if err is not None else exc
        if err is not None and err is not exc:
            err.__cause__ = exc
        if err is not None:
            stage = STAGE
        elif isinstance(exc, GoldenRecordError) and exc.stage:
            stage = exc.stage
        killed = isinstance(exc, (KeyboardInterrupt, diagnostics.Terminated))
        status = "KILLED" if killed else "FAILED"
        self.status = status
        context = {**self.context(), "run_id": self.run_id, **(context or {})}
        run_closed = True
        if self.run_id is not None:
            try:
                run_closed = self._record(report, stage, context, metrics, status)
            except BaseException as second:  # noqa: BLE001 - e.g. a second Ctrl-C: say it, keep the first error
                run_closed = False
                self._say(f"note: could not record the failure in MLflow ({type(second).__name__}: "
                          f"{_first_line(second)})")
            report.run_id = self.run_id  # type: ignore[attr-defined]
        report.run_closed = run_closed  # type: ignore[attr-defined]
        if getattr(report, "stage", None) is None and stage:
            try:   # the one-line message says where, for a signal or a library's exception too
                report.stage = stage  # type: ignore[attr-defined]
            except AttributeError:
                pass
        return report

    def _record(self, report: BaseException, stage: str | None, context: dict, metrics: dict | None,
                status: str) -> bool:
        etype = type(report).__name__
        # one cheap write first: when the store is still unusable, do not wait for every write in turn
        try:
            self.client.set_tag(self.run_id, "error.stage", stage or "unknown")
        except Exception as exc:  # noqa: BLE001
            self._unrecorded(exc)
            return False
        if metrics:
            try:
                import time

                from mlflow.entities import Metric

                now = int(time.time() * 1000)
                self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()])
            except Exception:  # noqa: BLE001 - timings are a nicety
                pass
        try:
            diagnostics.record_failure(self.run_id, report, stage, context)
        except Exception as exc:  # noqa: BLE001 - record_failure says it never raises; the store may differ
            _forget_fluent_run(self.run_id)
            self._unrecorded(exc)
            return False
        self._closed(self.run_id)
        self._close_children(report, stage, status, etype)
        return True

    def _close_children(self, report: BaseException, stage: str | None, status: str, etype: str) -> None:
        from mlflow.entities import RunTag

        _, message, _ = diagnostics.explain(report)
        verb = "killed" if status == "KILLED" else "failed"
        reason = f"its parent run {self.run_id} was {verb} in stage '{stage or 'unknown'}' ({etype}: {message})"
        children = [r for r, role in self.opened.items() if role != "main"]
        try:   # children created by a create_run that a signal interrupted: in the store, unknown here
            found = self.client.search_runs([self.experiment_id], max_results=5000, filter_string=(
                f"tags.mlflow.parentRunId = '{self.run_id}' and attributes.status = 'RUNNING'"))
            children += [r.info.run_id for r in found if r.info.run_id not in children]
        except Exception:  # noqa: BLE001
            pass
        for child_id in children:
            try:
                self.client.log_batch(child_id, tags=[
                    RunTag("error.stage", stage or "unknown"), RunTag("error.type", etype),
                    RunTag("error.message", reason[:5000]), RunTag("error.hint", "see the parent run"),
                    RunTag("mlflow.note.content", f"{status.capitalize()}: {reason}.")])
                self.client.set_terminated(child_id, status)
                self._closed(child_id)
            except Exception as exc:  # noqa: BLE001
                self._unrecorded(exc)
                return

    def _unrecorded(self, exc: BaseException) -> None:
        """One line: the failure could not be written, which runs stay RUNNING, how to close them."""
        _forget_fluent_run(self.run_id)
        err = store_error(exc)
        why = err.message if err is not None else f"{type(exc).__name__}: {_first_line(exc)}"
        children = len([r for r in self.opened if r != self.run_id])
        parts = ([f"run {self.run_id}"] if self.run_id in self.opened else []) + \
            ([f"{children} child run(s) of {self.run_id}"] if children else [])
        runs = " and ".join(parts) or "some runs"
        one = len(parts) == 1 and not children
        self._say(f"note: the failure could not be recorded in MLflow ({why}); {runs} "
                  f"{'stays' if one else 'stay'} RUNNING: close {'it' if one else 'them'} later with "
                  "make diagnose DIAGNOSE_ARGS=--mark-failed")

    def _say(self, text: str) -> None:
        log.warning(text)

    # ---------------------------------------------------------------- context manager
    def __enter__(self) -> "RunLifecycle":
        return self

    def __exit__(self, etype, exc, tb) -> bool:
        if exc is None:
            if self.status is None:
                self.finish()
            return False
        if isinstance(exc, GoldenRecordError) and exc.stage is None and self.progress is not None:
            exc.stage = self.progress.current
        stage = getattr(exc, "stage", None) or (self.progress.current if self.progress is not None else None)
        timings = getattr(self.progress, "timings", {}) or {}
        report = self.fail(exc, stage, metrics={f"seconds_{k}": v for k, v in timings.items()})
        if report is not exc:
            raise report from exc
        return False
