"""Optional extras: the core (``pip install golden-record``) trains, evaluates, writes golden records,
seeds, logs to MLflow and reads PostgreSQL; a command or engine that needs more says which extra to
install, in one line, before it starts (exit 2), never with an ImportError traceback.

``make install`` (``make setup``, ``make all``) installs ``[all]``.
"""
from __future__ import annotations

import importlib

from golden_record.config import ConfigError

#: extra -> the modules it brings (pyproject.toml's [project.optional-dependencies])
EXTRAS: dict[str, tuple[str, ...]] = {
    "spark": ("pyspark",),
    "serve": ("fastapi", "uvicorn"),
    "review": ("flask",),
    "embedded": ("pgserver",),
}
#: golden-record commands that need an extra
COMMAND_EXTRAS = {"serve": "serve", "review": "review"}


class MissingExtra(ConfigError):
    """A command or setting needs an optional extra that is not installed (a usage error: exit 2)."""


def install_line(extra: str) -> str:
    return f"pip install 'golden-record[{extra}]'"


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    out = []
    for name in EXTRAS[extra]:
        try:
            importlib.import_module(name)
        except ImportError:
            out.append(name)
    return out


def problem(extra: str, what: str) -> str | None:
    """None when ``extra`` is installed, else one line naming what needs it and the pip command."""
    missing = missing_modules(extra)
    if not missing:
        return None
    return (f"{what} needs the optional extra [{extra}] ({', '.join(missing)} not installed): "
            f"{install_line(extra)} (or make install, which installs every extra)")


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtra` (exit 2, one line) when ``extra`` is not installed."""
    text = problem(extra, what)
    if text:
        raise MissingExtra(text)


def command_problem(command: str) -> str | None:
    """Why ``golden-record COMMAND`` cannot start here (None: it can, or it needs no extra)."""
    extra = COMMAND_EXTRAS.get(command)
    return problem(extra, f"golden-record {command}") if extra else None
