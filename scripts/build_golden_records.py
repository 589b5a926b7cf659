#!/usr/bin/env python
"""Build the golden records from a logged model, without retraining: the same as
``golden-record golden --run-id RUN_ID`` (``--help`` for the options)."""
import _bootstrap  # noqa: F401

from golden_record.jobs.golden import cli

if __name__ == "__main__":
    cli()
