#!/usr/bin/env python
"""Load a profile's synthetic records and ground truth (default citizens): ``python scripts/seed_data.py --help``."""
import _bootstrap  # noqa: F401

from golden_record.synthetic.seed import cli

if __name__ == "__main__":
    cli()
