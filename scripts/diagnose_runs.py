#!/usr/bin/env python
"""List recent runs, explain failures, find and close stale runs: see golden_record.tracking.diagnose."""
import sys

import _bootstrap  # noqa: F401

from golden_record.console import run_main
from golden_record.tracking.diagnose import main

if __name__ == "__main__":
    sys.exit(run_main(main))
