#!/usr/bin/env python
"""Seeding and training speed at 100,000 and 1,000,000 records: see golden_record.bench."""
import sys

import _bootstrap  # noqa: F401

from golden_record.bench import main

if __name__ == "__main__":
    sys.exit(main())
