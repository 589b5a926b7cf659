"""The terminal side of every ``golden-record`` command: its parser, its logging, its signals and
how it ends.

* :class:`ArgumentParser`: usage ``golden-record COMMAND``, the output options every command has
  (``-q/--quiet``, ``-v/--verbose``, ``--log-format text|json``), and a bad argument said in one
  line (exit 2) instead of argparse's usage block.
* :func:`configure_logging`: the package logs through :mod:`logging` (a logger per module under
  ``golden_record``; a library user who configures nothing sees nothing). A command adds one
  handler on stderr that keeps the look the commands always had (the line as it was written;
  ``--log-format json``: one JSON object a line for machines), sets the level (``--quiet``:
  warnings and errors only; ``-v``: debug lines too) and draws progress bars with ``tqdm``
  (:func:`golden_record.progress.set_bar_factory`).
* :func:`run_main`: runs a command's ``main`` and turns whatever ends it into one line on stderr
  and an exit code. A SIGTERM raises :class:`~golden_record.tracking.diagnostics.Terminated` in
  the main thread, like Ctrl-C raises ``KeyboardInterrupt``, so that every job ends the same way:
  its MLflow run (if it has one) closed KILLED by :class:`~golden_record.tracking.lifecycle.RunLifecycle`,
  one line, exit 130 (Ctrl-C, SIGINT) or 143 (SIGTERM).

Exit codes: 0 done; 1 failed (the line says why and what to do); 2 bad argument or configuration
(nothing was started); 3 the database cannot be reached or lacks what is needed; 130 / 143
interrupted (128 + the signal's number, as a shell reports it).
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

from golden_record.config import ConfigError
from golden_record.errors import GoldenRecordError
from golden_record.io.redaction import protect_process, scrub
from golden_record.progress import set_bar_factory
from golden_record.tracking import diagnostics

log = logging.getLogger(__name__)

PROG = "golden-record"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2        # bad arguments or invalid configuration: nothing was started
EXIT_WAREHOUSE = 3    # the database cannot be reached or lacks what is needed
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2
EXIT_TERMINATED = 143   # SIGTERM: 128 + 15
LOG_FORMATS = ("text", "json")
PACKAGE_LOGGER = "golden_record"


# --------------------------------------------------------------------------- arguments
def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command has: how much it says, and in which form."""
    group = parser.add_argument_group("output")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no progress lines: only warnings, errors and the result")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="debug lines too, and the full traceback when the command fails")
    group.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                       help="progress and error lines as text (default) or as one JSON object a line (json)")


class ArgumentParser(argparse.ArgumentParser):
    """A command's parser: ``prog`` is ``golden-record COMMAND``; the output options are added;
    a bad argument ends the command with one line and exit 2."""

    def __init__(self, command: str | None = None, description: str | None = None, *, prog: str | None = None,
                 output: bool | None = None, **kwargs):
        super().__init__(prog=prog or (f"{PROG} {command}" if command else PROG), description=description,
                         **kwargs)
        # added last (after the command's own options, in the usage and the help); not on a sub-command's parser
        self._output_pending = output if output is not None else command is not None

    def _with_output(self) -> None:
        if self._output_pending:
            self._output_pending = False
            add_output_arguments(self)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._with_output()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._with_output()
        return super().format_usage()

    def format_help(self) -> str:
        self._with_output()
        return super().format_help()

    def error(self, message: str):  # type: ignore[override]
        command = self.prog.split()
        help_of = " ".join(command[:2]) if command and command[0] == PROG else self.prog
        self.exit(EXIT_USAGE, scrub(f"error: {self.prog}: {message} ({help_of} --help lists the options)\n"))


def threshold_arg(text: str) -> float:
    """``type=`` of a ``--threshold`` option: a match probability strictly between 0 and 1 (the one
    rule of :func:`golden_record.config.check_threshold`), else a bad argument (exit 2)."""
    from golden_record.config import check_threshold

    try:
        return check_threshold(float(text))
    except ValueError as exc:
        reason = str(exc) if "threshold" in str(exc) else "not a number"
        raise argparse.ArgumentTypeError(f"{text!r}: {reason}") from None


def port_arg(text: str) -> int:
    """``type=`` of a ``--port`` option: 1-65535."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return port


def output_options(argv: list[str]) -> argparse.Namespace:
    """The output options in ``argv`` (whatever else it holds), read before the command's parser."""
    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_output_arguments(p)
    p.error = lambda message: None  # type: ignore[method-assign]  # the command's parser says it
    try:
        opts, _ = p.parse_known_args([a for a in argv if a != "--"])
    except (SystemExit, Exception):  # noqa: BLE001 - a bad output option: the command's parser says it
        opts = None
    return opts or argparse.Namespace(quiet=False, verbose=False, log_format="text")


# --------------------------------------------------------------------------- logging
class _StderrHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record comes (a test's capture, the
    scrubbing stream of :func:`protect_process`), not the stream there was when it was made."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class TextFormatter(logging.Formatter):
    """The line as it was written (the commands' look), ``debug:`` before a debug line."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno < logging.INFO:
            text = f"debug: {text}"
        if record.exc_info and record.levelno < logging.INFO:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message (and the traceback of a
    record that carries one)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for key in ("exit_code", "stage", "run_id"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


@contextmanager
def _tqdm_bar(total: int, unit: str) -> Iterator:
    """A tqdm bar on stderr (it turns itself off when stderr is not a terminal)."""
    from tqdm import tqdm

    with tqdm(total=total, unit=f" {unit}", leave=False, disable=None, file=sys.stderr) as bar:
        yield bar


def configure_logging(quiet: bool = False, verbose: bool = False, log_format: str = "text") -> logging.Handler:
    """Give the package logger one handler on stderr (replacing the one an earlier call added),
    its level and its formatter; progress bars with tqdm when the lines are text for a person."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    set_bar_factory(_tqdm_bar if log_format == "text" and not quiet else None)
    return handler


def setup(argv: list[str] | None = None) -> argparse.Namespace:
    """What every command does first: logging from its output options, secrets kept out of
    everything printed. Returns the output options."""
    opts = output_options(list(sys.argv[1:] if argv is None else argv))
    configure_logging(opts.quiet, opts.verbose, opts.log_format)
    protect_process()   # no password in anything printed, tracebacks and warnings included
    return opts


# --------------------------------------------------------------------------- signals
@contextmanager
def signals_handled() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in the main thread while the block runs (Ctrl-C raises
    ``KeyboardInterrupt`` as always); the handler there before is put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    diagnostics.install_sigterm_handler()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


# --------------------------------------------------------------------------- how a command ends
def _psycopg_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    if not module.startswith("psycopg"):
        return False
    import psycopg

    return isinstance(exc, psycopg.Error)


def failure(exc: BaseException) -> tuple[str, int]:
    """(the one line saying how ``exc`` ended the command, the exit code)."""
    stage = getattr(exc, "stage", None)
    where = f" in stage {stage}" if stage else ""
    if isinstance(exc, ConfigError):
        return f"error: invalid configuration: {exc}", EXIT_USAGE
    killed = isinstance(exc, (KeyboardInterrupt, diagnostics.Terminated))
    if killed:
        code = EXIT_TERMINATED if isinstance(exc, diagnostics.Terminated) else EXIT_INTERRUPTED
    elif isinstance(exc, GoldenRecordError):
        code = exc.exit_code
    elif _psycopg_error(exc):
        import psycopg

        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ("connect as a user with the needed privileges, or have the database owner grant them"
                if isinstance(exc, psycopg.errors.InsufficientPrivilege) else "run again with --verbose to see where")
        return f"error{where}: PostgreSQL: {first}: {hint}", EXIT_WAREHOUSE
    else:
        code = EXIT_FAILURE
    _, message, hint = diagnostics.explain(exc)
    line = f"error{where}: {message}" + (f": {hint}" if hint else "")
    run_id = getattr(exc, "run_id", None) if getattr(exc, "run_closed", True) else None
    if run_id:
        line += f" (MLflow run {run_id} marked {'KILLED' if killed else 'FAILED'})"
    return line, code


def report(exc: BaseException, verbose: bool = False) -> int:
    """Say how ``exc`` ended the command (its traceback first with ``verbose``); the exit code."""
    line, code = failure(exc)
    if verbose and not isinstance(exc, (KeyboardInterrupt, diagnostics.Terminated)):
        traceback.print_exception(exc)
    extra = {"exit_code": code}
    if getattr(exc, "stage", None):
        extra["stage"] = exc.stage  # type: ignore[attr-defined]
    if getattr(exc, "run_id", None):
        extra["run_id"] = exc.run_id  # type: ignore[attr-defined]
    _emit(scrub(line), extra)
    return code


def _emit(line: str, extra: dict) -> None:
    """The failure line through the package's logging (JSON with --log-format json); straight to
    stderr when no handler of a command is there (a job's ``main`` called as a function)."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    if any(isinstance(h, _StderrHandler) for h in logger.handlers):
        log.error(line, extra=extra)
    else:
        print(line, file=sys.stderr, flush=True)


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a command's ``main(argv)``: logging set up from its output options, SIGTERM made an
    exception like Ctrl-C, and whatever ends it said in one line with its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    opts = setup(argv)
    try:
        with signals_handled():
            return main(argv)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - every end of a command gets one line and a code
        return report(exc, opts.verbose)
