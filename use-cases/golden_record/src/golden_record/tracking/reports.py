"""Run reports from the tracking store: a summary of an experiment and runs compared side by side.

``summary``: total runs by status, by kind (tag ``run_kind``: training, sweep, incremental_match...)
and by model type (tag ``model_type``), the best finished run by a
metric (``f1_score``) and the latest runs. ``compare RUN_ID RUN_ID ...``: params and metrics side by
side; a row whose values differ is marked ``*`` in the first column (and coloured on a terminal).
Both print JSON with ``--format json``. ``export_runs``: every run as one row of a table (parquet
or csv) with ``params.*``, ``metrics.*`` and ``tags.*`` columns, for analysis outside MLflow.
"""
from __future__ import annotations

import json
import math
import os
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from golden_record.errors import GoldenRecordError
from golden_record.tracking import store as tracking
from golden_record.config import load_settings
from golden_record.io.warehouse import redact

THRESHOLD_PARAM = "model.params.match_threshold"
NONE = "(none)"
MARK = "*"


def _client(uri: str | None = None):
    from mlflow import MlflowClient
    return MlflowClient(uri) if uri else MlflowClient()


def _time(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _num(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}" if abs(v) >= 10_000 else str(int(v))
        return f"{v:.4f}" if abs(v) >= 1e-3 else f"{v:.3g}"
    return str(v)


def experiment_by_name(client, name: str):
    exp = client.get_experiment_by_name(name)
    if exp is None:
        known = sorted(e.name for e in client.search_experiments())
        raise GoldenRecordError(f"experiment {name!r} not found in the tracking store", f"known experiments: {known}")
    return exp


def all_runs(client, experiment_ids: list[str]) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs(experiment_ids, max_results=1000, page_token=token,
                                  order_by=["attributes.start_time DESC"])
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _run_row(run, metric: str) -> dict[str, Any]:
    m, p, t = run.data.metrics, run.data.params, run.data.tags
    return {"run_id": run.info.run_id, "run_name": run.info.run_name, "status": run.info.status,
            "start_time": _time(run.info.start_time), "model_type": t.get("model_type"),
            "threshold": p.get(THRESHOLD_PARAM), "baseline": t.get("baseline") == "true",
            metric: _num(m.get(metric)), "precision": _num(m.get("precision")), "recall": _num(m.get("recall"))}


# --------------------------------------------------------------------------- summary
def _by_count(counter: Counter) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def summary(client, experiment: str, metric: str = "f1_score", latest: int = 5) -> dict[str, Any]:
    exp = experiment_by_name(client, experiment)
    runs = all_runs(client, [exp.experiment_id])
    by_status = Counter(r.info.status for r in runs)
    by_type = Counter(r.data.tags.get("model_type") or NONE for r in runs)
    by_kind = Counter(r.data.tags.get("run_kind") or NONE for r in runs)
    scored = [r for r in runs if r.info.status == "FINISHED" and metric in r.data.metrics
              and not math.isnan(r.data.metrics[metric])]
    best = max(scored, key=lambda r: (r.data.metrics[metric], r.info.start_time or 0), default=None)
    return {"experiment": exp.name, "experiment_id": exp.experiment_id, "total_runs": len(runs),
            "by_status": _by_count(by_status), "by_model_type": _by_count(by_type), "by_run_kind": _by_count(by_kind),
            "metric": metric, "best": _run_row(best, metric) if best else None,
            "latest": [_run_row(r, metric) for r in runs[:latest]]}


def _table(header: list[str], rows: list[list[str]], marks: list[bool] | None = None) -> list[str]:
    cells = [header] + rows
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    out = []
    for k, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
        if color and marks and k > 0 and marks[k - 1]:
            line = f"\033[1;33m{line}\033[0m"
        out.append(line)
    return out


def format_summary(s: dict[str, Any]) -> str:
    lines = [f"Experiment {s['experiment']} (id {s['experiment_id']}): {s['total_runs']} runs"]
    if not s["total_runs"]:
        return lines[0] + "\n"
    lines.append("  by status:     " + ", ".join(f"{k} {v}" for k, v in s["by_status"].items()))
    lines.append("  by run kind:   " + ", ".join(f"{k} {v}" for k, v in s["by_run_kind"].items()))
    lines.append("  by model type: " + ", ".join(f"{k} {v}" for k, v in s["by_model_type"].items()))
    metric, b = s["metric"], s["best"]
    if b:
        lines.append(f"Best finished run by {metric}: {_fmt(b[metric])}  {b['run_name']} ({b['run_id']})  "
                     f"precision {_fmt(b['precision'])}  recall {_fmt(b['recall'])}  threshold {_fmt(b['threshold'])}"
                     + ("  [baseline]" if b["baseline"] else ""))
    else:
        lines.append(f"Best finished run by {metric}: none (no finished run has {metric})")
    lines.append(f"Latest {len(s['latest'])} runs:")
    header = ["started", "status", metric, "precision", "recall", "threshold", "run name", "run id"]
    rows = [[r["start_time"] or "-", r["status"], _fmt(r[metric]), _fmt(r["precision"]), _fmt(r["recall"]),
             _fmt(r["threshold"]), r["run_name"] + (" [baseline]" if r["baseline"] else ""), r["run_id"]]
            for r in s["latest"]]
    lines += ["  " + line for line in _table(header, rows)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- compare
def _same(values: list[Any]) -> bool:
    norm = [("nan" if isinstance(v, float) and math.isnan(v) else v) for v in values]
    return all(v == norm[0] for v in norm[1:])


def compare(client, run_ids: list[str], include_tags: bool = False) -> dict[str, Any]:
    from mlflow.exceptions import MlflowException

    runs = []
    for rid in run_ids:
        try:
            runs.append(client.get_run(rid))
        except MlflowException:
            raise GoldenRecordError(f"run {rid} not found in the tracking store",
                                    "list run ids with: python scripts/runs_report.py summary") from None
    exp_names = {}
    for r in runs:
        if r.info.experiment_id not in exp_names:
            exp_names[r.info.experiment_id] = client.get_experiment(r.info.experiment_id).name
    out: dict[str, Any] = {"runs": [{"run_id": r.info.run_id, "run_name": r.info.run_name, "status": r.info.status,
                                     "experiment": exp_names[r.info.experiment_id],
                                     "start_time": _time(r.info.start_time)} for r in runs]}
    sections = [("params", lambda r: r.data.params), ("metrics", lambda r: r.data.metrics)]
    if include_tags:
        sections.append(("tags", lambda r: {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")}))
    for section, get in sections:
        keys = sorted(set().union(*(get(r).keys() for r in runs)))
        table = {}
        for key in keys:
            values = [get(r).get(key) for r in runs]
            table[key] = {"values": [_num(v) for v in values], "differs": not _same(values)}
        out[section] = table
    return out


def _distinct_cells(row: dict[str, Any]) -> list[str]:
    """Formatted values; more digits when differing numbers would otherwise print the same."""
    values = row["values"]
    cells = [_fmt(x) for x in values]
    if row["differs"] and all(isinstance(x, float) for x in values):
        digits = 6
        while len(set(cells)) < len(set(values)) and digits <= 17:
            cells = [f"{x:.{digits}g}" for x in values]
            digits += 2
    return cells


def format_compare(c: dict[str, Any], only_diff: bool = False, width: int = 36) -> str:
    def cut(s: str) -> str:
        return s if len(s) <= width else s[:width - 1] + "…"

    header = [" ", "key"] + [cut(r["run_name"] or r["run_id"]) for r in c["runs"]]
    lines = []
    meta = [["", "run id"] + [r["run_id"] for r in c["runs"]],
            ["", "experiment"] + [cut(r["experiment"]) for r in c["runs"]],
            ["", "status"] + [r["status"] for r in c["runs"]],
            ["", "started"] + [r["start_time"] or "-" for r in c["runs"]]]
    lines += _table(header, meta)
    for section in ("params", "metrics", "tags"):
        if section not in c:
            continue
        items = [(k, v) for k, v in c[section].items() if v["differs"] or not only_diff]
        n_diff = sum(v["differs"] for v in c[section].values())
        lines += ["", f"{section} ({len(c[section])}, {n_diff} differ; {MARK} = differs)"]
        rows = [[MARK if v["differs"] else " ", k] + [cut(x) for x in _distinct_cells(v)] for k, v in items]
        if rows:
            lines += _table([" ", "key"] + header[2:], rows, [v["differs"] for _, v in items])[1:]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- export
FIRST_COLUMNS = ["run_id", "run_name", "experiment", "experiment_id", "status", "start_time", "end_time"]


def runs_frame(uri: str | None = None, experiments: list[str] | None = None, include_deleted: bool = False):
    """One row per run: the attributes, then ``params.*``, ``metrics.*``, ``tags.*`` columns
    (the shape of ``mlflow.search_runs``), over the named experiments or all of them."""
    import mlflow
    import pandas as pd
    from mlflow.entities import ViewType

    client = _client(uri)
    if experiments:
        exps = [experiment_by_name(client, n) for n in experiments]
    else:
        exps = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    names = {e.experiment_id: e.name for e in exps}
    if not exps:
        return pd.DataFrame(columns=FIRST_COLUMNS)
    if uri:
        mlflow.set_tracking_uri(uri)
    df = mlflow.search_runs(experiment_ids=list(names), output_format="pandas",
                            run_view_type=ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY,
                            order_by=["attributes.start_time ASC"])
    if df.empty:
        return pd.DataFrame(columns=FIRST_COLUMNS)
    df.insert(1, "run_name", df.get("tags.mlflow.runName"))
    df.insert(2, "experiment", df["experiment_id"].map(names))
    rest = sorted(c for c in df.columns if c not in FIRST_COLUMNS)
    ordered = [c for c in FIRST_COLUMNS if c in df.columns]
    ordered += [c for c in rest if not c.startswith(("params.", "metrics.", "tags."))]
    for prefix in ("params.", "metrics.", "tags."):
        ordered += [c for c in rest if c.startswith(prefix)]
    return df[ordered].reset_index(drop=True)


def write_frame(df, out: Path) -> str:
    suffix = Path(out).suffix.lower()
    if suffix in (".parquet", ".csv"):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        df.to_parquet(out, index=False)
        return "parquet"
    if suffix == ".csv":
        df.to_csv(out, index=False)
        return "csv"
    if suffix in (".duckdb", ".db"):
        raise GoldenRecordError(f"{out}: DuckDB is not installed in this project, so no .duckdb file",
                                "write runs.parquet and query it from DuckDB: SELECT * FROM 'runs.parquet'")
    raise GoldenRecordError(f"{out}: unknown output format {suffix or '(no suffix)'!r}", "use .parquet or .csv")


# --------------------------------------------------------------------------- command lines
def _configure(tracking_uri: str | None) -> str:

    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    return tracking.configure(load_settings())


def report_main(argv: list[str] | None = None) -> int:
    """``scripts/runs_report.py``: summary of an experiment, or runs compared side by side."""
    import argparse


    from golden_record import console

    p = console.ArgumentParser("report", description="A summary of an experiment's runs (by status and model "
                               "type, the best run, the latest runs), or runs compared side by side.")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.add_argument("--tracking-uri", help="tracking store (default MLFLOW_TRACKING_URI, else config/settings.yaml)")
    sub = p.add_subparsers(dest="command", required=True, metavar="{summary,compare}",
                           help="summary: the experiment's runs; compare: runs side by side")
    s = sub.add_parser("summary", help="runs by status and model type, the best run, the latest runs")
    s.add_argument("--experiment", help="experiment (default tracking.experiment_name of config/settings.yaml)")
    s.add_argument("--metric", default="f1_score", help="metric that picks the best run (default %(default)s)")
    s.add_argument("--latest", type=int, default=5, help="how many latest runs to list (default %(default)s)")
    c = sub.add_parser("compare", help="params and metrics of runs side by side, differences marked *")
    c.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="the runs to compare (two or more)")
    c.add_argument("--only-diff", action="store_true", help="only the rows whose values differ")
    c.add_argument("--tags", action="store_true", help="also compare tags (except mlflow.*)")
    for sp in (s, c):  # accept --format after the subcommand too
        sp.add_argument("--format", choices=("text", "json"), default=argparse.SUPPRESS,
                        help="output format (default text)")
    args = p.parse_args(argv)
    if args.command == "compare" and len(args.run_ids) < 2:
        p.error("compare needs at least two run ids")
    _configure(args.tracking_uri)
    client = _client()
    if args.command == "summary":
        result = summary(client, args.experiment or load_settings().tracking.experiment_name, args.metric,
                         args.latest)
        text = format_summary(result) if args.format == "text" else None
    else:
        result = compare(client, args.run_ids, include_tags=args.tags)
        text = format_compare(result, only_diff=args.only_diff) if args.format == "text" else None
    sys.stdout.write(text if text is not None else json.dumps(result, indent=2) + "\n")
    return 0


def export_runs_main(argv: list[str] | None = None) -> int:
    """``scripts/export_runs.py``: every run as one row (params.*, metrics.*, tags.* columns) to .parquet or .csv."""
    from golden_record import console

    p = console.ArgumentParser("export-runs", description="Every run of the tracking store as one row (params.*, "
                               "metrics.*, tags.* columns), written to a .parquet or .csv file.")
    p.add_argument("--out", type=Path, required=True, help="runs.parquet or runs.csv (DuckDB is not installed)")
    p.add_argument("--experiment", action="append", help="only this experiment (repeatable; default all)")
    p.add_argument("--include-deleted", action="store_true", help="also runs in the trash")
    p.add_argument("--tracking-uri", help="tracking store (default MLFLOW_TRACKING_URI, else config/settings.yaml)")
    args = p.parse_args(argv)
    suffix = args.out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        write_frame(None, args.out)  # raises the explanatory error
    uri = _configure(args.tracking_uri)
    df = runs_frame(uri, args.experiment, args.include_deleted)
    kind = write_frame(df, args.out)
    n_exp = df["experiment"].nunique() if len(df) else 0
    print(f"wrote {len(df):,} runs of {n_exp} experiment(s), {len(df.columns)} columns, as {kind} to {args.out} "
          f"(from {redact(uri)})")
    return 0
