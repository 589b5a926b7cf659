#!/usr/bin/env python
"""Build the golden records from a logged model, without retraining:
``python scripts/build_golden_records.py --run-id RUN_ID`` (``--help`` for the options)."""
import _bootstrap  # noqa: F401

from golden_record.golden.build import cli

if __name__ == "__main__":
    cli()
