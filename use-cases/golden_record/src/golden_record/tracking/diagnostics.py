"""Failure diagnostics: a failed run says in MLflow where it failed, why, and what to do.

``record_failure`` sets the tags ``error.stage``, ``error.type``, ``error.message`` and
``error.hint``, writes ``diagnostics/error_report.json`` and ``diagnostics/traceback.txt``, puts a
one-sentence description on the run page (``mlflow.note.content``) and ends the run FAILED
(KILLED for Ctrl-C / SIGTERM). Metrics logged before the failure stay. Every string it sends is
scrubbed of passwords (:func:`golden_record.io.redaction.scrub`): exception texts may quote a URL.
"""
from __future__ import annotations

import json
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from golden_record.errors import GoldenRecordError
from golden_record.io.redaction import scrub, scrub_obj

GENERIC_HINTS = {
    "MemoryError": "reduce candidates.max_block_size or candidates.max_pairs, or use fewer rows",
    "KeyboardInterrupt": "the job was interrupted (Ctrl-C); start it again",
    "Terminated": "the job was stopped (SIGTERM); start it again",
}


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM."""


_terminated = False      # a SIGTERM arrived (its exception may have been swallowed, see below)


def install_sigterm_handler() -> None:
    def _handler(signum, frame):  # noqa: ARG001
        global _terminated
        _terminated = True
        raise Terminated("terminated by SIGTERM")
    signal.signal(signal.SIGTERM, _handler)
    if not getattr(sys.unraisablehook, "_keeps_terminated_quiet", False):
        sys.unraisablehook = _quiet_about_terminated(sys.unraisablehook)


def _quiet_about_terminated(previous):
    """An unraisable-exception hook that says nothing of a :class:`Terminated` Python had to drop
    (it would print "Exception ignored in ..." and a traceback where the user is promised one
    line): the SIGTERM is recorded, and :func:`raise_if_terminated` raises it where the stage
    ends. Any other unraisable exception goes to ``previous``."""
    def hook(unraisable):
        if isinstance(unraisable.exc_value, Terminated):
            return
        previous(unraisable)
    hook._keeps_terminated_quiet = True
    return hook


def raise_if_terminated() -> None:
    """Raise :class:`Terminated` when a SIGTERM arrived but its exception was lost: a signal
    handler's exception raised inside a callback Python calls from C (logging's lock release after
    ``os.fork``, as the plot process starts) is printed as "Exception ignored" and dropped, and the
    run would go on to finish. Called where a stage ends and before a run is marked FINISHED."""
    if _terminated:
        raise Terminated("terminated by SIGTERM")


def explain(exc: BaseException) -> tuple[str, str, str]:
    """(type, message, hint) for any exception."""
    if isinstance(exc, GoldenRecordError):
        return type(exc).__name__, exc.message, exc.hint
    if isinstance(exc, KeyboardInterrupt) and not str(exc).strip():
        return type(exc).__name__, "interrupted by Ctrl-C (SIGINT)", GENERIC_HINTS["KeyboardInterrupt"]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = GENERIC_HINTS.get(type(exc).__name__, "an unexpected error: run again with --verbose to see the traceback")
    return type(exc).__name__, text, hint


def record_failure(run_id: str, exc: BaseException, stage: str | None, context: dict[str, Any]) -> dict[str, Any]:
    """Tag, describe and end the run; returns the error report. Never raises."""
    import mlflow
    from mlflow.entities import RunStatus

    etype, message, hint = (scrub(text) for text in explain(exc))
    killed = isinstance(exc, (KeyboardInterrupt, Terminated))
    # everything below leaves the process (tags, the run description, artifacts): scrubbed of secrets
    report = scrub_obj({"status": "KILLED" if killed else "FAILED", "stage": stage or "unknown",
                        "error_type": etype, "error_message": message, "hint": hint, **context})
    client = mlflow.MlflowClient()
    note = (f"{'Killed' if killed else 'Failed'} in stage '{report['stage']}': {etype}: {message}. "
            f"Fix: {hint}.")
    try:
        for key, value in {"error.stage": report["stage"], "error.type": etype, "error.message": message[:5000],
                           "error.hint": hint, "mlflow.note.content": note}.items():
            client.set_tag(run_id, key, value)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "error_report.json").write_text(scrub(json.dumps(report, indent=2, default=str)))
            (folder / "traceback.txt").write_text(scrub("".join(traceback.format_exception(exc))))
            client.log_artifacts(run_id, str(folder), artifact_path="diagnostics")
    finally:
        status = RunStatus.to_string(RunStatus.KILLED if killed else RunStatus.FAILED)
        active = mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            mlflow.end_run(status=status)  # also pops the fluent run, so no exit hook marks it FINISHED
        else:
            client.set_terminated(run_id, status=status)
    return report
