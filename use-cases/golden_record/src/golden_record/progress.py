"""How a job reports its progress: stage lines and timings through :mod:`logging`, bars through a
callback.

The ground floor of the package (``linkage/``, ``golden/``, ``linker.py``, ``io/``) reports
through a :class:`Progress` it is handed and never draws anything itself:

* :meth:`Progress.say` logs a line at INFO on the progress's logger (by default
  ``golden_record.progress``; a job passes its own module's logger). A library user who never
  configures logging sees nothing: the package logger has a ``NullHandler``
  (``golden_record/__init__.py``); the command line adds a handler on stderr
  (:func:`golden_record.console.configure_logging`).
* :meth:`Progress.bar` asks the *bar factory* for a progress bar. The library's default draws none;
  the command line installs one drawing ``tqdm`` bars on stderr (:func:`set_bar_factory`).
* :meth:`Progress.stage` times a stage, names it on a failure (``exc.stage``) and stops the job
  where the stage ends when a SIGTERM arrived whose exception Python had to drop.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator, Protocol

from golden_record.errors import GoldenRecordError

log = logging.getLogger(__name__)


class Bar(Protocol):
    """What a progress bar offers the code that advances it."""

    def update(self, n: int = 1) -> object: ...


class _NoBar:
    """The bar of a job that draws none."""

    def update(self, n: int = 1) -> None:
        pass


#: ``factory(total, unit) -> context manager yielding a Bar``; None: no bars (the library default)
BarFactory = Callable[[int, str], ContextManager[Bar]]
_bar_factory: BarFactory | None = None


def set_bar_factory(factory: BarFactory | None) -> BarFactory | None:
    """Install the callback that draws progress bars (None: no bars); returns the previous one."""
    global _bar_factory
    previous, _bar_factory = _bar_factory, factory
    return previous


def bar_factory() -> BarFactory | None:
    return _bar_factory


@dataclass
class Progress:
    """Logs each stage with its timing; remembers the current stage for failure reports.

    ``quiet``: say nothing and draw no bars (the timings are kept). ``logger``: where the lines go,
    a logger or its name (default ``golden_record.progress``)."""
    quiet: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    current: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    logger: logging.Logger | str | None = None

    def __post_init__(self) -> None:
        if self.logger is None:
            self.logger = log
        elif isinstance(self.logger, str):
            self.logger = logging.getLogger(self.logger)

    def say(self, text: str) -> None:
        if not self.quiet:
            self.logger.info(text)

    def bar(self, total: int, unit: str) -> ContextManager[Bar]:
        """A progress bar from the installed factory; a bar that draws nothing when there is none
        (the library default) or the progress is quiet."""
        factory = _bar_factory
        if self.quiet or factory is None or not self.logger.isEnabledFor(logging.INFO):
            return nullcontext(_NoBar())
        return factory(total, unit)

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
        except BaseException as exc:   # Ctrl-C, SIGTERM, a library's error: the one line says where too
            if getattr(exc, "stage", None) is None and not isinstance(exc, (SystemExit, GeneratorExit)):
                try:
                    exc.stage = name  # type: ignore[attr-defined]
                except AttributeError:
                    pass
            raise
        from golden_record.tracking.diagnostics import raise_if_terminated
        raise_if_terminated()            # a SIGTERM whose exception was lost inside the stage
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        if announce:
            self.say(f"[{name}] done in {self.timings[name]:.2f} s")
