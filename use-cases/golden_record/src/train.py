#!/usr/bin/env python
"""Train, evaluate and log the golden-record deduplication model: ``python src/train.py --help``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # works from a checkout, installed or not

from golden_record.jobs.train import cli  # noqa: E402

if __name__ == "__main__":
    cli()
