#!/usr/bin/env python
"""Thin entry point: see golden_record.tracking.reports.export_runs_main."""
import sys

import _bootstrap  # noqa: F401

from golden_record.console import run_main
from golden_record.tracking.reports import export_runs_main

if __name__ == "__main__":
    sys.exit(run_main(export_runs_main))
