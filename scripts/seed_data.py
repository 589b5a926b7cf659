#!/usr/bin/env python
"""Create the citizens warehouse and load synthetic citizens: ``python scripts/seed_data.py --help``."""
import _bootstrap  # noqa: F401

from golden_record.synthetic.seed import cli

if __name__ == "__main__":
    cli()
