#!/usr/bin/env python
"""Thin entry point: see golden_record.tracking.reports.report_main."""
import sys

import _bootstrap  # noqa: F401

from golden_record.console import run_main
from golden_record.tracking.reports import report_main

if __name__ == "__main__":
    sys.exit(run_main(report_main))
