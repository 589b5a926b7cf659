"""Run lifecycle: every MLflow run this process opens, and how each of them ends.

Run names: :func:`default_run_name` (``<prefix>_YYYYMMDD_HHMMSS_<4 hex>``) is used for every
default name, so runs started in the same second do not share a name.
"""
from __future__ import annotations

import secrets
from datetime import datetime

TRAINING_RUN_PREFIX = "deduplication_training"
SWEEP_RUN_PREFIX = "threshold_sweep"

_issued_names: set[str] = set()


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
