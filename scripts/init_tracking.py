#!/usr/bin/env python
"""Thin entry point: see golden_record.tracking.store.init_main."""
import sys

import _bootstrap  # noqa: F401

from golden_record.console import run_main
from golden_record.tracking.store import init_main

if __name__ == "__main__":
    sys.exit(run_main(init_main))
