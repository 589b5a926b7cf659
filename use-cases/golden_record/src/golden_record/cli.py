"""``golden-record COMMAND [ARGS]``: one command line for every job (also ``python -m golden_record``).

The top floor of the package: it knows every command (:data:`COMMANDS`) and runs each through
:func:`golden_record.console.run_main` (logging, signals, one line and an exit code at the end).
Nothing below it imports it: the library reports through :class:`golden_record.progress.Progress`
and :mod:`logging`.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from golden_record import __version__

PROG = "golden-record"
EXIT_USAGE = 2
#: names the command-line helpers had here (now in console.py and progress.py), for the scripts and
#: tests that import them from cli; loaded when asked for, so that --version and --help stay quick
_MOVED = {"Progress": "golden_record.progress", "run_main": "golden_record.console",
          **{name: "golden_record.console" for name in ("EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_TERMINATED",
                                                        "EXIT_WAREHOUSE")}}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'golden_record.cli' has no attribute {name!r}")

#: command -> (module, function, what it does). Each command keeps its own --help.
COMMANDS = {
    "train": ("golden_record.jobs.train", "main", "train, evaluate and log a model (--sweep, --write-golden, --register)"),
    "profile": ("golden_record.jobs.profile", "main",
                "what each declared field of the table holds before training (printed + HTML page)"),
    "blocking": ("golden_record.jobs.blocking", "main",
                 "pairs per blocking pass, new and cumulative, true pairs reached (--rule KEY to try one; + HTML)"),
    "explain": ("golden_record.jobs.explain", "main", "why a logged model scores two records as it does (table + waterfall PNG)"),
    "review": ("golden_record.web.review", "main", "the clerical review page: label a run's pairs in the browser (127.0.0.1)"),
    "index": ("golden_record.jobs.index", "main",
              "build the block index of a model's table (for the lookup service; --run-id or the champion)"),
    "serve": ("golden_record.serve.main", "main",
              "the lookup service: POST records, get candidate golden ids with explanations (--port 8060)"),
    "golden": ("golden_record.jobs.golden", "main", "golden records from a logged model (--run-id)"),
    "registry": ("golden_record.tracking.registry", "registry_main",
                 "each table's champion (list); migrate old golden_record_dedup registrations (migrate)"),
    "match-new": ("golden_record.jobs.match_new", "main",
                  "place records added or changed since the golden records were written (champion or --run-id)"),
    "seed": ("golden_record.synthetic.seed", "main", "seed synthetic records and their truth (--profile NAME: --list-profiles names them)"),
    "diagnose": ("golden_record.tracking.diagnose", "main",
                 "recent runs of every experiment, why failed runs failed, stale runs (--mark-failed closes them)"),
    "report": ("golden_record.tracking.reports", "report_main", "summary of the runs, or compare runs"),
    "export-runs": ("golden_record.tracking.reports", "export_runs_main", "all runs in one parquet/csv table"),
    "export-baseline": ("golden_record.tracking.baselines", "export_main", "export runs to baselines/"),
    "import-baselines": ("golden_record.tracking.baselines", "import_main", "import baselines/ into the store"),
    "db-check": ("golden_record.io.warehouse", "check_main", "make sure a database answers; apply the schema"),
    "init-tracking": ("golden_record.tracking.store", "init_main", "create the MLflow store's schema"),
}


def git_commit(folder: Path | None = None) -> str | None:
    """The commit checked out where the package lives (``abc1234``, ``abc1234.dirty`` with
    uncommitted changes to tracked files), or None outside a Git checkout."""
    folder = folder or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if sha.returncode != 0 or not sha.stdout.strip():
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha.stdout.strip() + (".dirty" if dirty else "")


def version_text() -> str:
    """``golden-record 0.2.0`` and, run from a checkout, ``(commit abc1234)``."""
    commit = git_commit()
    return f"{PROG} {__version__}" + (f" (commit {commit})" if commit else "")


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROG} COMMAND [ARGS]   ({PROG} COMMAND --help for its options)", "",
             "Golden-record deduplication: Fellegi-Sunter record linkage of a person-records table, tracked in "
             "MLflow.", "", "commands:"]
    lines += [f"  {name:<{width}}  {what}" for name, (_, _, what) in COMMANDS.items()]
    lines += ["", "options:", f"  {'-h, --help':<{width}}  this list",
              f"  {'-V, --version':<{width}}  the package version (and the git commit, run from a checkout)",
              "", "every command also takes -q/--quiet, -v/--verbose and --log-format text|json"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``golden-record COMMAND [ARGS]``: one entry point for every job."""
    import importlib

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else EXIT_USAGE
    if args[0] in ("-V", "--version"):
        print(version_text())
        return 0
    if args[0] not in COMMANDS:
        print(f"error: unknown command {args[0]!r}; commands: {', '.join(COMMANDS)} ({PROG} --help lists them)",
              file=sys.stderr)
        return EXIT_USAGE
    module, function, _ = COMMANDS[args[0]]
    from golden_record.extras import command_problem
    missing = command_problem(args[0])   # an optional extra (serve, review) not installed: say which
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return EXIT_USAGE
    job = getattr(importlib.import_module(module), function)
    from golden_record.console import run_main

    return run_main(job, args[1:])


def entry_point() -> None:
    sys.exit(main())
