"""Golden-record deduplication of a citizen registry, tracked in MLflow."""
__version__ = "0.1.0"
