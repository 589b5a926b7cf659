"""Golden records: clustering with chaining guards, survivorship, and golden tables generated from
the schema (``build.py``; ``python scripts/build_golden_records.py --run-id`` is ``build.main``)."""
from golden_record.golden.build import (GoldenResult, Layout, assemble, build_golden_records, cluster_metrics,  # noqa: F401
                                        cluster_pairs, log_to_mlflow, survive, write_golden)
