"""Shared plumbing for the command-line entry points: one clear line and an exit code on failure."""
from __future__ import annotations

import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from golden_record.config import ConfigError
from golden_record.errors import GoldenRecordError
from golden_record.io.redaction import protect_process, scrub
from golden_record.errors import WarehouseError

EXIT_FAILURE = 1
EXIT_USAGE = 2        # bad arguments or invalid configuration: nothing was started
EXIT_WAREHOUSE = 3    # the database cannot be reached or lacks what is needed
EXIT_INTERRUPTED = 130


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call ``main`` and turn expected failures into one line on stderr and an exit code."""
    verbose = "--verbose" in (argv if argv is not None else sys.argv[1:])
    protect_process()   # no password in anything printed, tracebacks and warnings included
    try:
        return main(argv)
    except ConfigError as exc:
        print(scrub(f"error: invalid configuration: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except GoldenRecordError as exc:
        if verbose:
            traceback.print_exc()
        print(scrub(f"error: {exc.one_line()}"), file=sys.stderr)
        return EXIT_WAREHOUSE if isinstance(exc, WarehouseError) else EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a database error nobody explained still gets one line
        import psycopg

        if not isinstance(exc, psycopg.Error):
            raise
        if verbose:
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ("connect as a user with the needed privileges, or have the database owner grant them"
                if isinstance(exc, psycopg.errors.InsufficientPrivilege) else "run again with --verbose to see where")
        print(f"error: PostgreSQL: {first}: {hint}", file=sys.stderr)
        return EXIT_WAREHOUSE


@dataclass
class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


@dataclass
class Progress:
    """Prints each stage with its timing; remembers the current stage for failure reports."""
    quiet: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    current: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    @contextmanager
    def bar(self, total: int, unit: str) -> Iterator:
        """A progress bar on an interactive terminal (tqdm turns itself off when stderr is not a TTY)."""
        if self.quiet:
            yield _NoBar()
            return
        from tqdm import tqdm

        with tqdm(total=total, unit=f" {unit}", leave=False, disable=None, file=sys.stderr) as bar:
            yield bar

    @contextmanager
    def stage(self, name: str, announce: bool = True) -> Iterator[None]:
        self.current = name
        if announce:
            self.say(f"[{name}] ...")
        start = time.perf_counter()
        try:
            yield
        except GoldenRecordError as exc:
            exc.stage = exc.stage or name
            raise
        from golden_record.tracking.diagnostics import raise_if_terminated
        raise_if_terminated()            # a SIGTERM whose exception was lost inside the stage
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        if announce:
            self.say(f"[{name}] done in {self.timings[name]:.2f} s")


# --------------------------------------------------------------------------- one entry point
#: ``golden-record COMMAND [ARGS]`` (``[project.scripts]``; also ``python -m golden_record``):
#: command -> (module, function, what it does). Each command keeps its own --help.
COMMANDS = {
    "train": ("golden_record.jobs.train", "main", "train, evaluate and log a model (--sweep, --write-golden, --register)"),
    "explain": ("golden_record.jobs.explain", "main", "why a logged model scores two records as it does (table + waterfall PNG)"),
    "review": ("golden_record.web.review", "main", "the clerical review page: label a run's pairs in the browser (127.0.0.1)"),
    "index": ("golden_record.io.block_index", "index_main",
              "build the block index of a model's table (for the lookup service; --run-id or the champion)"),
    "serve": ("golden_record.serve.main", "main",
              "the lookup service: POST records, get candidate golden ids with explanations (--port 8060)"),
    "golden": ("golden_record.golden.build", "main", "golden records from a logged model (--run-id)"),
    "registry": ("golden_record.tracking.registry", "registry_main",
                 "each table's champion (list); migrate old golden_record_dedup registrations (migrate)"),
    "match-new": ("golden_record.jobs.match_new", "main",
                  "place records added or changed since the golden records were written (champion or --run-id)"),
    "seed": ("golden_record.synthetic.seed", "main", "seed synthetic records and their truth (--profile NAME: --list-profiles names them)"),
    "diagnose": ("golden_record.tracking.diagnose", "main", "recent runs, why failed runs failed, stale runs"),
    "report": ("golden_record.tracking.reports", "report_main", "summary of the runs, or compare runs"),
    "export-runs": ("golden_record.tracking.reports", "export_runs_main", "all runs in one parquet/csv table"),
    "export-baseline": ("golden_record.tracking.baselines", "export_main", "export runs to baselines/"),
    "import-baselines": ("golden_record.tracking.baselines", "import_main", "import baselines/ into the store"),
    "db-check": ("golden_record.io.warehouse", "check_main", "make sure a database answers; apply the schema"),
    "init-tracking": ("golden_record.tracking.store", "init_main", "create the MLflow store's schema"),
}


def main(argv: list[str] | None = None) -> int:
    """``golden-record COMMAND [ARGS]``: one entry point for every job."""
    import importlib

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        width = max(map(len, COMMANDS))
        print("usage: golden-record COMMAND [ARGS]   (golden-record COMMAND --help for its options)\n\ncommands:")
        for name, (_, _, what) in COMMANDS.items():
            print(f"  {name:<{width}}  {what}")
        return 0 if args else EXIT_USAGE
    if args[0] not in COMMANDS:
        print(f"error: unknown command {args[0]!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_USAGE
    module, function, _ = COMMANDS[args[0]]
    from golden_record.extras import command_problem
    missing = command_problem(args[0])   # an optional extra (serve, review) not installed: say which
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return EXIT_USAGE
    job = getattr(importlib.import_module(module), function)
    if args[0] == "train":          # the trainer reports its own failures (runs marked FAILED/KILLED)
        return job(args[1:])
    return run_main(job, args[1:])


def entry_point() -> None:
    sys.exit(main())
