"""Golden-record deduplication: Fellegi–Sunter record linkage of any person-records table, tracked
in MLflow. ``Linker`` is the library's front door; ``golden-record COMMAND`` (or ``python -m
golden_record``) runs the jobs."""
import logging as _logging

__version__ = "0.2.0"

# the package logs through `logging` (a logger per module under "golden_record"): silent until the
# application configures logging; the golden-record command adds its handler on stderr (console.py)
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = ["Linker", "records_from_frame", "__version__"]


def __getattr__(name: str):
    """``Linker`` and ``records_from_frame`` load the linkage stack when first asked for, so that a
    command that needs none of it (seed, db-check, diagnose, a Spark worker reading a part) does
    not pay for importing it."""
    if name in ("Linker", "records_from_frame"):
        from golden_record import linker

        return getattr(linker, name)
    raise AttributeError(f"module 'golden_record' has no attribute {name!r}")
