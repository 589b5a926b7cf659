"""Golden records: clustering with chaining guards, survivorship, and golden tables generated from
the schema (``build.py``; the command ``golden-record golden --run-id`` is :mod:`golden_record.jobs.golden`)."""
from golden_record.golden.build import (GoldenResult, Layout, assemble, build_golden_records, cluster_metrics,  # noqa: F401
                                        cluster_pairs, log_to_mlflow, survive, write_golden)
