"""``golden-record index [--run-id ID | --champion]`` (``make index``): build the block index of a
logged model's table for the lookup service (:func:`golden_record.io.block_index.build_index`)."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from golden_record import console
from golden_record.config import load_settings
from golden_record.io import warehouse
from golden_record.io.block_index import build_index
from golden_record.progress import Progress
from golden_record.tracking import store as tracking
from golden_record.tracking.model_logging import add_model_arguments, load_logged_model
from golden_record.tracking.registry import model_run

log = logging.getLogger(__name__)


def build_parser() -> console.ArgumentParser:
    p = console.ArgumentParser(
        "index",
        description="Build the block index of a model's records table: every record's blocking keys in "
                    "<golden.table>_block_keys, so that the lookup service (golden-record serve) finds the "
                    "records sharing a block with an incoming one by an indexed query. Replaces the index in "
                    "one transaction.")
    add_model_arguments(p, "MLflow run whose logged model's blocking passes and table are indexed")
    return p


def main(argv: list[str] | None = None) -> int:
    """``golden-record index`` (run through :func:`golden_record.console.run_main`)."""
    import mlflow

    args = build_parser().parse_args(argv)
    settings = load_settings()
    progress = Progress(quiet=args.quiet, logger=log)
    uri = tracking.configure(settings)
    client = mlflow.MlflowClient(uri)
    run = model_run(client, args, store=tracking.redact(uri))
    with tempfile.TemporaryDirectory() as tmp, progress.stage("model"):
        _, config, _ = load_logged_model(client, run.info.run_id, Path(tmp))
    target = warehouse.resolve_target(settings, announce=not args.quiet)
    with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn:
        info = build_index(conn, config, progress=progress)
    print(f"block index {info.table}: {info.rows:,} keys of {info.records:,} records of {info.data_table} "
          f"({info.keyless:,} with no key in any pass), {len(info.passes)} passes, model of run {run.info.run_id}, "
          f"built in {info.seconds:.1f} s")
    if info.keyless:
        log.warning(f"note: {info.keyless:,} records have no key in any pass: a lookup never offers them as "
                    "candidates")
    return 0
