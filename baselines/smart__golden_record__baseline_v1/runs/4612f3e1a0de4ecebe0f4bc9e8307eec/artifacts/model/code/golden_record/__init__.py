"""Golden-record deduplication: Fellegi–Sunter record linkage of any person-records table, tracked
in MLflow. ``Linker`` is the library's front door; ``golden-record COMMAND`` (or ``python -m
golden_record``) runs the jobs."""
__version__ = "0.2.0"

from golden_record.linker import Linker, records_from_frame  # noqa: E402

__all__ = ["Linker", "records_from_frame", "__version__"]
