"""``golden-record match-new`` (``make match-new``): place the records added or changed since the
golden records were written, with the champion of the config's table (or ``--run-id``), without rebuilding the
others (:mod:`golden_record.golden.incremental`).

Each call is an MLflow run ``incremental_match_YYYYMMDD_HHMMSS_<4 hex>`` in the tracking
experiment, tagged ``run_kind=incremental_match`` and with the model's run id: counts (new,
changed, attached, new golden records, merges...), timings (``seconds_<step>``), and
``incremental/decisions_sample.csv`` (a sample of decisions, each with its strongest pair's
per-comparison explanation) plus ``incremental/summary.json``. A call that finds nothing to place
is a run too, with zero counts: the run list says when the warehouse was last brought up to date.
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

from golden_record import console
from golden_record.config import load_settings
from golden_record.io import warehouse
from golden_record.tracking import store as tracking
from golden_record.tracking import ui
from golden_record.tracking.lifecycle import RunLifecycle, default_run_name
from golden_record.progress import Progress
from golden_record.tracking.model_logging import add_model_arguments, load_logged_model
from golden_record.tracking import registry

log = logging.getLogger(__name__)

RUN_PREFIX = "incremental_match"
ARTIFACT_PATH = "incremental"


def build_parser() -> console.ArgumentParser:
    p = console.ArgumentParser(
        "match-new",
        description="Match the records added (no row in the golden map) or changed (data.recency later than "
                    "their mapping) since the golden records were written, against the existing records, "
                    "touching only the blocks they fall into; attach each to its golden record, start new "
                    "ones, merge golden records a new record links (the older id survives, the other is "
                    "redirected). One transaction; one MLflow run with the counts and a sample of decisions.")
    add_model_arguments(p, "MLflow run whose logged model matches (default: the champion)")
    p.add_argument("--sample", type=int, default=50, metavar="N",
                   help="decisions logged with their explanation (default 50)")
    p.add_argument("--experiment", help="MLflow experiment of the run (default: tracking.experiment_name)")
    return p


def summary_line(metrics: dict, seconds: float) -> str:
    m = {k: int(v) for k, v in metrics.items() if k.startswith("incremental_")}
    deleted = m.get("incremental_deleted_records", 0)
    gone = (f"{deleted:,} deleted records removed from their golden records" if deleted else "")
    if not m["incremental_new_records"] and not m["incremental_changed_records"]:
        if deleted:
            return (f"match-new: no new or changed records; {gone} "
                    f"({m['incremental_golden_written']:,} golden records rewritten) in {seconds:.1f} s")
        return f"match-new: nothing to match (no new or changed records) in {seconds:.1f} s"
    return (f"match-new: {m['incremental_new_records']:,} new and {m['incremental_changed_records']:,} changed "
            f"records: {m['incremental_attached']:,} attached to an existing golden record, "
            f"{m['incremental_new_golden_records']:,} new golden records, {m['incremental_merges']:,} merges"
            + (f", {m['incremental_moved']:,} changed records moved" if m.get("incremental_moved") else "")
            + (f", {gone}" if deleted else "")
            + f"; {m['incremental_golden_written']:,} golden records rewritten in {seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """``golden-record match-new`` (run through :func:`golden_record.console.run_main`): whatever ends
    the job once its run has started (an error, Ctrl-C, SIGTERM) ends the run FAILED or KILLED."""
    import mlflow

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.sample < 0:
        parser.error(f"--sample must be 0 or more, got {args.sample}")
    settings = load_settings()
    started = time.perf_counter()
    progress = Progress(quiet=args.quiet, logger=log)
    uri = tracking.configure(settings)
    client = mlflow.MlflowClient(uri)
    model_run = registry.model_run(client, args, store=tracking.redact(uri))
    with tempfile.TemporaryDirectory() as tmp, progress.stage("model"):
        model, config, _ = load_logged_model(client, model_run.info.run_id, Path(tmp))
    target = warehouse.resolve_target(settings, announce=not args.quiet)
    experiment = args.experiment or settings.tracking.experiment_name
    experiment_id = tracking.ensure_experiment(experiment, uri)
    from golden_record.golden.incremental import match_new

    # one lifecycle, as for training: the run ends FINISHED, FAILED or KILLED, never left RUNNING
    with RunLifecycle(uri, experiment_id, experiment, progress) as runs:
        run = runs.start(default_run_name(RUN_PREFIX))
        run_id = run.info.run_id
        progress.say(f"MLflow run {run_id} ({run.info.run_name}) in experiment '{experiment}'")
        mlflow.set_tags({"run_kind": RUN_PREFIX, "model_run_id": model_run.info.run_id,
                         "data.table": config.data.table, "data.database": target.safe_url,
                         "code_version": tracking.code_version(), **tracking.process_tags()})
        mlflow.log_params({"model_run_id": model_run.info.run_id, "match_threshold": config.threshold,
                           "data.table": config.data.table, "golden.table": config.golden.table})
        with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn, progress.stage("match"):
            result = match_new(conn, config, model, config.threshold, run_id=run_id, say=progress.say,
                               sample_size=args.sample)
        for line in result.notes:
            progress.say("  " + line)
        metrics = {**result.metrics, **{f"seconds_{k}": v for k, v in result.timings.items()}}
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        with progress.stage("log"), tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            result.sample.to_csv(folder / "decisions_sample.csv", index=False)
            (folder / "summary.json").write_text(json.dumps(
                {"metrics": metrics, "notes": result.notes, "model_run_id": model_run.info.run_id,
                 "redirects": result.redirects.astype(object).where(result.redirects.notna(), None).to_dict(
                     orient="records")}, indent=2, default=str))
            mlflow.log_artifacts(str(folder), artifact_path=ARTIFACT_PATH)
        line = summary_line(result.metrics, time.perf_counter() - started)
        ui.describe_run(client, run_id, line + f" (model of run {model_run.info.run_id}).")
        runs.finish()
    print(line)
    print(tracking.ui_hint(experiment_id, run_id))
    return 0
