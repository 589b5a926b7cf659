"""``golden-record explain LEFT_ID RIGHT_ID``: why a logged model scores two records as it does.

Reads the model of a run (``--run-id``) or the champion of the config's table (the default), the two
records from the warehouse the model was trained on (its ``data.*`` config; ``DATABASE_URL``
decides the server), prints the table comparison → values → level → weight, and writes the
waterfall chart (``--output``, default ``explanation_<left>_<right>.png``).
"""
from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from golden_record import console
from golden_record.progress import Progress
from golden_record.config import check_threshold, load_settings
from golden_record.errors import DataError
from golden_record.io import warehouse
from golden_record.linkage.scoring import explain_records
from golden_record.tracking import store as tracking
from golden_record.tracking.model_logging import add_model_arguments, load_logged_model
from golden_record.tracking.registry import model_run

log = logging.getLogger(__name__)


def build_parser() -> console.ArgumentParser:
    p = console.ArgumentParser("explain",
                               description="Explain a logged model's score of two records: the table of "
                                            "comparison, values, level and weight, and a waterfall chart PNG.")
    p.add_argument("left_id", help="id of the first record (the data.id column of the model's table)")
    p.add_argument("right_id", help="id of the second record")
    add_model_arguments(p, "MLflow run whose logged model explains the pair (default: the champion of the "
                           "config's table)")
    p.add_argument("--threshold", type=console.threshold_arg,
                   help="judge the pair at this match probability, in (0, 1) (default: the run's)")
    p.add_argument("--output", type=Path, help="the waterfall PNG (default: explanation_<left>_<right>.png)")
    p.add_argument("--json", action="store_true", help="print the explanation as JSON instead of a table")
    return p


def fetch_pair(conn, config, left_id: str, right_id: str) -> tuple[dict, dict]:
    """The two records (raw values, as text) by id; an id not in the table is an error naming it."""
    fields = list(config.data.fields)
    found = warehouse.load_records(conn, config.data, fields, only_ids=[left_id, right_id])
    by_id = {str(r["record_id"]): r for r in found.to_dict(orient="records")}
    missing = [i for i in (left_id, right_id) if str(i) not in by_id]
    if missing:
        raise DataError(f"no record with id {', '.join(map(repr, missing))} in {config.data.table} "
                        f"(column {config.data.id}, data.id)", "pass ids of records in the model's table")
    return by_id[str(left_id)], by_id[str(right_id)]


def blocking_line(config, left: dict, right: dict) -> str:
    """Whether blocking brings the two records together, pass by pass (keys of the two records
    alone: a block over ``candidates.max_block_size`` is skipped in training, which two records
    cannot show, and the sorted-neighbourhood pass depends on the whole table)."""
    import pandas as pd

    from golden_record.linkage.blocking import fuzzy_key, key_codes
    from golden_record.linkage.schema import clean_records

    records = pd.DataFrame([left, right]).reset_index(drop=True)
    records = records[["record_id"] + [c for c in records.columns if c in config.data.fields]]
    prepared, _ = clean_records(records, config.data.fields)
    shared = [entry for entry in (config.model.params.blocking_fields or [])
              if (codes := key_codes(prepared, entry))[0] >= 0 and codes[0] == codes[1]]
    fuzzy = config.candidates.fuzzy
    if fuzzy.method == "phonetic":
        key = fuzzy_key(prepared, fuzzy.fields)
        if key.notna().all() and key.iloc[0] == key.iloc[1]:
            shared.append("phonetic(" + "+".join(fuzzy.fields) + ")")
    if shared:
        return (f"blocking: the records share the key of {', '.join(shared)}: a candidate pair (unless that block "
                f"held more than candidates.max_block_size={config.candidates.max_block_size:,} records)")
    extra = (" (the sorted-neighbourhood pass may still pair them: it depends on the whole table)"
             if fuzzy.method == "sorted_neighbourhood" else "")
    return ("blocking: no pass puts these two records together, so training never scored this pair: were they "
            "the same person, blocking would have missed them, not the model" + extra)


def main(argv: list[str] | None = None) -> int:
    import mlflow

    from golden_record.tracking.plots import save_figure
    from golden_record.tracking.waterfall import waterfall_plot

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.left_id == args.right_id:
        parser.error("LEFT_ID and RIGHT_ID are the same record: pass two different ids")
    settings = load_settings()
    uri = tracking.configure(settings)
    client = mlflow.MlflowClient(uri)
    progress = Progress(quiet=args.quiet, logger=log)
    run = model_run(client, args, store=tracking.redact(uri))
    with tempfile.TemporaryDirectory() as tmp, progress.stage("model", announce=False):
        model, config, threshold = load_logged_model(client, run.info.run_id, Path(tmp))
    threshold = check_threshold(args.threshold if args.threshold is not None else threshold)
    target = warehouse.resolve_target(settings, announce=not args.quiet)
    with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn:
        left, right = fetch_pair(conn, config, args.left_id, args.right_id)
    expl = explain_records(model, config, left, right, threshold)
    output = args.output or Path(f"explanation_{args.left_id}_{args.right_id}.png")
    save_figure(waterfall_plot(expl), output)
    if args.json:
        print(json.dumps(expl.to_dict(), indent=2, default=str))
    else:
        print(f"pair {args.left_id} – {args.right_id} of {config.data.table}, model of run {run.info.run_id}")
        print(expl.text())
        print(blocking_line(config, left, right))
    if args.json:       # stdout holds the JSON alone
        log.warning(f"waterfall chart: {output.resolve()}")
    else:
        print(f"waterfall chart: {output.resolve()}")
    return 0
