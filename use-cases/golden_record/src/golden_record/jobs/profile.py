"""``golden-record profile`` (``make profile``): what each declared field of the configured table
holds, before anything is trained: present before and after cleaning, distinct values, the most
frequent values, lengths and token counts (:mod:`golden_record.linkage.profiling`). Printed, and
written as an HTML page (``--output``)."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from golden_record import console
from golden_record.config import load_model_config, load_settings
from golden_record.io import warehouse
from golden_record.linkage import profiling
from golden_record.linkage.pipeline import load
from golden_record.linkage.schema import clean_records
from golden_record.progress import Progress

log = logging.getLogger(__name__)


def add_table_arguments(p: console.ArgumentParser) -> None:
    """--config and --set, as ``train`` reads them."""
    p.add_argument("--config", help="model config YAML (default use-cases/golden_record/config/model_config.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set candidates.max_block_size=500 (repeatable)")


def build_parser() -> console.ArgumentParser:
    p = console.ArgumentParser("profile", description="Profile the configured table's declared fields before "
                               "training: share of records holding a value before and after cleaning, distinct "
                               "values, the most frequent values, lengths and token counts. Prints a table and "
                               "writes an HTML page; nothing is trained or logged.")
    add_table_arguments(p)
    p.add_argument("--output", help="the HTML page to write (default profile_<table>.html in the current folder)")
    return p


def main(argv: list[str] | None = None) -> int:
    """``golden-record profile`` (run through :func:`golden_record.console.run_main`)."""
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    settings = load_settings()
    config = load_model_config(args.config, args.overrides)
    progress = Progress(quiet=args.quiet, logger=log)
    target = warehouse.preflight(config, settings, args.quiet)
    fields = list(config.data.fields)
    with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn:
        records, _ = load(conn, config, progress, fields=fields, allow_null=True)
    with progress.stage("profile"):
        prepared, quality = clean_records(records, config.data.fields)
        summaries = profiling.summarise(prepared, quality, config.candidates.max_block_size)
    output = Path(args.output or f"profile_{config.data.table.replace('.', '_')}.html")
    title = f"Profile of {config.data.table}: {len(records):,} records, {len(fields)} declared fields"
    from golden_record.tracking import charts
    charts.profile_page(output, summaries, title, intro=(
        f"Read from {target.safe_url}; each field cleaned by its declared type (data.fields). Shares are of all "
        f"{len(records):,} records. Pairs/record: what a blocking pass on the field alone would make (blocks of at "
        f"most candidates.max_block_size={config.candidates.max_block_size} records)."))
    print(title)
    for line in profiling.lines(summaries):
        print(line)
    empty = [s.field for s in summaries if s.present_after == 0]
    if empty:
        log.warning(f"warning: {len(empty)} declared field(s) hold no value after cleaning: {', '.join(empty)}")
    print(f"HTML report: {output.resolve()} ({time.perf_counter() - started:.1f} s)")
    return 0
