#!/usr/bin/env python
"""Thin entry point: see golden_record.tracking.baselines.export_main."""
import sys

import _bootstrap  # noqa: F401

from golden_record.console import run_main
from golden_record.tracking.baselines import export_main

if __name__ == "__main__":
    sys.exit(run_main(export_main))
