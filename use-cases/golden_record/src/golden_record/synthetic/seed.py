"""``make seed-data``: load a profile's synthetic records and their ground truth (default: citizens).

The load runs over several connections (``--copy-workers``, default min(4, CPU count)): each COPYs
chunks of rows into staging tables shaped like the real ones, the indexes are built there, and one
transaction swaps them in. Re-seeding replaces the data; readers see all the old rows or all the
new ones, and a seed that fails half-way (killed, lost connection, bad data) leaves the previous
rows untouched (a killed seed's staging tables are dropped by the next seed).
"""
from __future__ import annotations

import logging
import sys
import time

from golden_record import console
from golden_record.progress import Progress
from golden_record.config import REPO_ROOT, load_settings
from golden_record.io import warehouse
from golden_record.synthetic import differences, profiles

log = logging.getLogger(__name__)

def build_parser(defaults) -> console.ArgumentParser:
    p = console.ArgumentParser("seed", description=(
        "Load a profile's synthetic records and their ground truth (default: citizens) into PostgreSQL, over "
        "several connections into staging tables swapped in in one transaction: readers see all the old rows "
        "or all the new ones."))
    p.add_argument("--profile", default=profiles.DEFAULT_PROFILE, choices=list(profiles.PROFILES),
                   help="what to seed (default %(default)s): " + "; ".join(
                       f"{p.name}: {p.description}".replace("%", "%%") for p in profiles.PROFILES.values()))
    p.add_argument("--list-profiles", action="store_true", help="print the profile names, one a line, and exit")
    p.add_argument("--rows", type=int, default=defaults.rows,
                   help=f"records to load, duplicates included (default {defaults.rows:,})")
    own = ", ".join(f"{p.name} {p.default_duplicate_rate}" for p in profiles.PROFILES.values()
                    if p.default_duplicate_rate is not None)
    p.add_argument("--duplicate-rate", type=float, default=None,
                   help="share of people who appear more than once, in [0, 1) (default: the profile's own "
                        f"({own}), else seed.duplicate_rate in config/settings.yaml: {defaults.duplicate_rate})")
    p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    workers = defaults.copy_workers or warehouse.default_copy_workers()
    p.add_argument("--copy-workers", type=int, default=workers,
                   help=f"connections the load runs over in parallel (default {workers}: seed.copy_workers in "
                        "config/settings.yaml, else min(4, CPU count))")
    return p


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = build_parser(settings.seed)
    args = parser.parse_args(argv)
    if args.list_profiles:
        print("\n".join(profiles.PROFILES))
        return 0
    if args.rows < 1:
        parser.error(f"--rows must be at least 1, got {args.rows}")
    if args.copy_workers < 1:
        parser.error(f"--copy-workers must be at least 1, got {args.copy_workers}")
    profile = profiles.get(args.profile)
    if args.duplicate_rate is None:
        args.duplicate_rate = (profile.default_duplicate_rate if profile.default_duplicate_rate is not None
                               else settings.seed.duplicate_rate)
    if not 0.0 <= args.duplicate_rate < 1.0:
        parser.error(f"--duplicate-rate must be in [0, 1), got {args.duplicate_rate}")

    started = time.perf_counter()
    config = profile.config()          # its tables, and the fields the model compares
    table, truth_table = config.data.table, config.data.truth.table
    target = warehouse.resolve_target(settings, create=True)   # the seeder may create the database
    progress = Progress(quiet=args.quiet, logger=log)
    with progress.stage(f"generate {args.rows:,} synthetic records (profile {profile.name})"):
        data = profile.generate(args.rows, args.duplicate_rate, args.seed)
        truth = data.truth[[config.data.truth.id_column, config.data.truth.entity_column]]
    with progress.stage("measure how the true duplicate pairs differ"):
        shares = differences.config_differences(data.records, truth[config.data.truth.entity_column], config)
    if profile.warehouse_schema:
        with progress.stage("apply schema"), warehouse.connect(target) as conn:
            warehouse.apply_schema(conn)
    with progress.stage(f"load (COPY over {args.copy_workers} connection{'s' * (args.copy_workers > 1)} into "
                        "staging tables, swapped in one transaction)"):
        created = None if profile.warehouse_schema else {table: config.data.id,
                                                           truth_table: config.data.truth.id_column}
        warehouse.load_tables(target.url, {table: data.records, truth_table: truth}, create=created,
                              workers=args.copy_workers, analyze=True, say=progress.say)
    total = time.perf_counter() - started
    s = data.stats
    print(f"seeded {s['records']:,} records of {s['people']:,} people "
          f"({s['duplicate_records']:,} duplicate records, {s['true_duplicate_pairs']:,} true duplicate pairs) "
          f"into {target.safe_url} (tables {table} and {truth_table}) in {total:.1f} s "
          f"({s['records'] / total:,.0f} rows/s)")
    if "records_per_person_max" in s:
        print(f"records per person: mean {s['records_per_person_mean']:.2f}, max {s['records_per_person_max']} "
              f"(duplicate rate {args.duplicate_rate})")
    print(differences.describe(shares))
    print(f"profile {profile.name}; its model config: {profile.config_path.relative_to(REPO_ROOT)}")
    return 0


def cli() -> None:
    sys.exit(console.run_main(main))


if __name__ == "__main__":
    cli()
