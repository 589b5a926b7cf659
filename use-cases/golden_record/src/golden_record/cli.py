"""Shared plumbing for the command-line entry points: one clear line and an exit code on failure."""
from __future__ import annotations

import sys
import time
import traceback
from contextlib import contextmanager
from typing import Callable, Iterator

from .config import ConfigError
from .errors import GoldenRecordError

EXIT_FAILURE = 1
EXIT_USAGE = 2        # bad arguments or invalid configuration: nothing was started
EXIT_WAREHOUSE = 3    # the database cannot be reached or lacks what is needed
EXIT_INTERRUPTED = 130


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call ``main`` and turn expected failures into one line on stderr and an exit code."""
    verbose = "--verbose" in (argv if argv is not None else sys.argv[1:])
    try:
        return main(argv)
    except ConfigError as exc:
        print(f"error: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GoldenRecordError as exc:
        if verbose:
            traceback.print_exc()
        from .errors import WarehouseError
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return EXIT_WAREHOUSE if isinstance(exc, WarehouseError) else EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


@contextmanager
def stage(name: str, timings: dict[str, float] | None = None, quiet: bool = False) -> Iterator[None]:
    """Print ``name ...`` then ``name done in 1.23 s``; record the seconds in ``timings``."""
    if not quiet:
        print(f"[{name}] ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    if timings is not None:
        timings[name] = seconds
    if not quiet:
        print(f"[{name}] done in {seconds:.2f} s", file=sys.stderr, flush=True)
