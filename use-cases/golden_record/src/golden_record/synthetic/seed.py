"""``make seed-data``: create the schema and load synthetic citizens plus their ground truth.

The load is one transaction (TRUNCATE + COPY): re-seeding replaces the data, and a seed that
fails half-way (killed, lost connection, bad data) leaves the previous rows untouched.
"""
from __future__ import annotations

import argparse
import sys
import time

from golden_record.synthetic import citizens as synthetic
from golden_record.io import warehouse
from golden_record.cli import Progress, run_main
from golden_record.config import load_settings


def build_parser(defaults) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seed_data.py", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=defaults.rows,
                   help=f"citizen records to load, duplicates included (default {defaults.rows:,})")
    p.add_argument("--duplicate-rate", type=float, default=defaults.duplicate_rate,
                   help="share of people who appear 2-4 times, in [0, 1) (default %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = build_parser(settings.seed)
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error(f"--rows must be at least 1, got {args.rows}")
    if not 0.0 <= args.duplicate_rate < 1.0:
        parser.error(f"--duplicate-rate must be in [0, 1), got {args.duplicate_rate}")

    started = time.perf_counter()
    target = warehouse.resolve_target(settings, create=True)   # the seeder may create the database
    progress = Progress()
    with progress.stage(f"generate {args.rows:,} synthetic citizens"):
        data = synthetic.generate(rows=args.rows, duplicate_rate=args.duplicate_rate, seed=args.seed)
    with warehouse.connect(target) as conn:
        with progress.stage("apply schema"):
            warehouse.apply_schema(conn)
        with progress.stage("load (COPY, one transaction)"):
            warehouse.replace_tables(conn, {"citizens": data.citizens, "citizen_truth": data.truth})
        conn.execute("ANALYZE citizens")
    total = time.perf_counter() - started
    s = data.stats
    print(f"seeded {s['records']:,} records of {s['people']:,} people "
          f"({s['duplicate_records']:,} duplicate records, {s['true_duplicate_pairs']:,} true duplicate pairs) "
          f"into {target.safe_url} in {total:.1f} s ({s['records'] / total:,.0f} rows/s)")
    return 0


def cli() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    cli()
