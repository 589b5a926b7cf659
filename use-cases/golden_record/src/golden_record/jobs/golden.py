"""``golden-record golden --run-id RUN_ID`` (``make golden`` trains first): build the golden records
from a logged model without retraining: score the warehouse with the run's model, cluster, apply
survivorship, replace the golden table and its map, and log the cluster metrics to the same run.
The step itself is :func:`golden_record.golden.build.build_golden_records`.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

from golden_record import console
from golden_record.config import ConfigError, ModelConfig, _format_validation_error, apply_overrides, load_settings
from golden_record.config import parse_override
from golden_record.golden.build import build_golden_records, log_to_mlflow, score_with_model
from golden_record.io import warehouse
from golden_record.linkage.pipeline import load
from golden_record.progress import Progress
from golden_record.tracking import store as tracking
from golden_record.tracking.model_logging import get_run, load_logged_model

log = logging.getLogger(__name__)

#: what ``--set`` may change of a logged model's config
OVERRIDABLE = ("golden.", "model.params.match_threshold")


def build_parser() -> console.ArgumentParser:
    p = console.ArgumentParser("golden", description=(
        "Build the golden records from a logged model, without retraining: score the warehouse, cluster, apply "
        "survivorship, replace the golden table and its map, and log the cluster metrics to the same MLflow run."))
    p.add_argument("--run-id", required=True, help="MLflow run whose logged model scores the pairs")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override golden.* or model.params.match_threshold of the logged config, "
                        "e.g. --set golden.max_cluster_size=6 (repeatable)")
    p.add_argument("--no-log", action="store_true", help="do not log metrics and artifacts to the run")
    return p


def main(argv: list[str] | None = None) -> int:
    """``golden-record golden --run-id RUN_ID`` (run through :func:`golden_record.console.run_main`)."""
    import mlflow
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    for text in args.overrides:
        key = ".".join(parse_override(text)[0])
        if not key.startswith(OVERRIDABLE):
            raise ConfigError(f"--set {text}: only golden.* and model.params.match_threshold can be changed "
                              "for a logged model")
    started = time.perf_counter()
    settings = load_settings()
    uri = tracking.configure(settings)
    client = mlflow.MlflowClient(uri)
    run = get_run(client, args.run_id, store=tracking.redact(uri))
    progress = Progress(quiet=args.quiet, logger=log)
    with tempfile.TemporaryDirectory() as tmp, progress.stage("model"):
        model, config, _ = load_logged_model(client, args.run_id, Path(tmp))
    if args.overrides:
        data = apply_overrides(config.model_dump(mode="json"), args.overrides)
        try:
            config = ModelConfig.model_validate(data)
        except ValidationError as err:
            raise ConfigError(_format_validation_error("--set", err)) from None
    if config.engine == "spark":          # said, never silent: this command has no Spark path yet
        progress.say(f"note: run {args.run_id} was trained on Spark; rebuilding its golden records runs the local "
                     "engine (the whole table in this process); for Spark, train again with --write-golden")
    target = warehouse.resolve_target(settings, announce=not args.quiet)
    with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn:
        records, entity = load(conn, config, progress)
        scored = score_with_model(records, entity, config, model, progress)
        with progress.stage("golden"):
            result = build_golden_records(scored, config, conn, run_id=args.run_id, say=progress.say)
    if not args.no_log:
        with progress.stage("log"):
            log_to_mlflow(result, run_id=run.info.run_id, client=client)
            client.set_tag(run.info.run_id, "golden.database", target.safe_url)
    m = result.metrics
    people = f" for {int(m['golden_true_people']):,} people" if "golden_true_people" in m else ""
    quality = (f", cluster precision {m['cluster_precision']:.4f} recall {m['cluster_recall']:.4f} "
               f"F1 {m['cluster_f1']:.4f}, B-cubed F1 {m['bcubed_f1']:.4f}, {int(m['people_split']):,} people split, "
               f"{int(m['golden_merged']):,} merged" if "bcubed_f1" in m else "")
    if "golden_labels_match" in m:     # review labels were applied (the lines above say more)
        quality += (f"; labels: {int(m['golden_links_forced']):,} links forced, "
                    f"{int(m['golden_clusters_split_labels']):,} clusters split, "
                    f"{int(m['golden_label_contradictions']):,} contradictions")
    print(f"golden records: {int(m['golden_records']):,}{people} from {int(m['golden_source_records']):,} records "
          f"(largest cluster {int(m['largest_cluster_size'])}{quality}) written to {target.safe_url} "
          f"in {m['seconds_golden']:.1f} s (total {time.perf_counter() - started:.1f} s)"
          + ("" if args.no_log else f"; metrics logged to run {args.run_id}"))
    return 0


def cli() -> None:
    sys.exit(console.run_main(main))


if __name__ == "__main__":
    cli()
