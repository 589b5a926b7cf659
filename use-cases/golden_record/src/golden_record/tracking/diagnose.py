"""``golden-record diagnose`` (``make diagnose``): the recent runs of every experiment (``--experiment``
narrows to one) with their status, duration and key metrics; for failed runs the stage, error and
hint; stale RUNNING runs are flagged, and ``--mark-failed`` closes them as FAILED with a tag saying
why. Nothing is deleted.

A RUNNING run is stale when the process that opened it (tags ``host`` and ``pid``) is gone (a
trainer killed with SIGKILL leaves one); a RUNNING child run (a sweep's threshold, tag
``mlflow.parentRunId``) also when its parent has ended or is itself stale, which also catches the
children of older sweeps that carry no host/pid tags.
"""
from __future__ import annotations

import json
import socket
import time
from datetime import datetime

from golden_record import console
from golden_record.tracking import store as tracking
from golden_record.config import load_settings
from golden_record.errors import UsageError
from golden_record.tracking.lifecycle import quiet_store_logs

KEY_METRICS = ("f1_score", "precision", "recall", "best_f1_score")


def process_state(tags: dict, start_ms: int) -> str:
    """'alive', 'gone' or 'unknown' for the process that owns a RUNNING run."""
    import psutil

    host, pid = tags.get("host"), tags.get("pid")
    if not host or not pid or not pid.isdigit():
        return "unknown"
    if host != socket.gethostname():
        return "unknown"
    try:
        proc = psutil.Process(int(pid))
        # a pid reused by a process started after the run is not the run's process
        if proc.create_time() > start_ms / 1000 + 5 or proc.status() == psutil.STATUS_ZOMBIE:
            return "gone"
        return "alive"
    except psutil.NoSuchProcess:
        return "gone"


def stale_reason(run, parent_of) -> str | None:
    """Why the RUNNING ``run`` is stale, or None. ``parent_of(run_id)`` returns a run or None."""
    tags = run.data.tags
    if process_state(tags, run.info.start_time) == "gone":
        return f"process {tags.get('pid')} on {tags.get('host')} is gone"
    parent_id = tags.get("mlflow.parentRunId")
    parent = parent_of(parent_id) if parent_id else None
    if parent is None:
        return None
    if parent.info.status != "RUNNING":
        return f"its parent run {parent_id} has ended ({parent.info.status})"
    if process_state(parent.data.tags, parent.info.start_time) == "gone":
        return (f"its parent run {parent_id} is stale (process {parent.data.tags.get('pid')} on "
                f"{parent.data.tags.get('host')} is gone)")
    return None


def describe(run, parent_of=lambda run_id: None) -> dict:
    info, data = run.info, run.data
    end = info.end_time or int(time.time() * 1000)
    row = {"run_id": info.run_id, "run_name": info.run_name, "status": info.status,
           "started": datetime.fromtimestamp(info.start_time / 1000).strftime("%Y-%m-%d %H:%M:%S"),
           "duration_s": round((end - info.start_time) / 1000, 1),
           "metrics": {k: round(v, 4) for k, v in data.metrics.items() if k in KEY_METRICS}}
    if info.status in ("FAILED", "KILLED"):
        row["error"] = {k.split(".", 1)[1]: v for k, v in data.tags.items() if k.startswith("error.")}
    if info.status == "RUNNING":
        row["process"] = process_state(data.tags, info.start_time)
        reason = stale_reason(run, parent_of)
        row["stale"] = reason is not None
        if reason:
            row["stale_reason"] = reason
    return row


def mark_failed(client, run, reason: str) -> None:
    kind = "ParentRunEnded" if reason.startswith("its parent") else "ProcessGone"
    tags = {"error.stage": "unknown", "error.type": kind, "error.message": f"{reason} but the run was still RUNNING",
            "error.hint": "the trainer was killed (SIGKILL, out of memory, machine restart); start it again",
            "stale.closed_by": "diagnose_runs --mark-failed",
            "mlflow.note.content": f"Failed: {reason} but the run was still RUNNING. Closed by diagnose_runs "
                                   "--mark-failed."}
    for k, v in tags.items():
        client.set_tag(run.info.run_id, k, v)
    client.set_terminated(run.info.run_id, "FAILED")


def build_parser() -> console.ArgumentParser:
    p = console.ArgumentParser("diagnose", description=(
        "List the recent runs of every experiment (or of one) with their status, duration and key metrics; "
        "for a failed or killed run the stage, the error and the fix; flag RUNNING runs whose process is gone "
        "or whose parent has ended (stale), and close them as FAILED with --mark-failed. Nothing is deleted."))
    p.add_argument("--experiment", metavar="NAME",
                   help="only this experiment (default: every experiment of the tracking store)")
    p.add_argument("--limit", type=int, default=20, help="how many recent runs to list per experiment (default 20)")
    p.add_argument("--mark-failed", action="store_true", help="close stale RUNNING runs as FAILED")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text for a person (default) or json for a program")
    return p


def diagnose_experiment(client, exp, limit: int, mark: bool) -> dict:
    """The report of one experiment: its latest ``limit`` runs described, its stale RUNNING runs
    (beyond the listed ones too) and those closed (``mark``)."""
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=limit)
    # stale runs beyond the listed ones matter too (a sweep can leave many RUNNING children)
    running = _all_running(client, exp.experiment_id)
    known = {r.info.run_id: r for r in [*runs, *running]}

    def parent_of(run_id: str):
        if run_id not in known:
            try:
                known[run_id] = client.get_run(run_id)
            except Exception:  # noqa: BLE001 - a parent deleted for good
                known[run_id] = None
        return known[run_id]

    rows = [describe(r, parent_of) for r in runs]
    reasons = {r.info.run_id: stale_reason(r, parent_of) for r in running}
    stale = [r for r in running if reasons[r.info.run_id]]
    closed = []
    if mark:
        for r in stale:      # decided before closing any, so closing a parent does not change the verdicts
            mark_failed(client, r, reasons[r.info.run_id])
            closed.append(r.info.run_id)
        rows = [describe(client.get_run(r["run_id"]), parent_of) for r in rows]
    return {"experiment": exp.name, "experiment_id": exp.experiment_id, "runs": rows,
            "stale_runs": [r.info.run_id for r in stale], "closed": closed,
            "stale_children": sum(1 for r in stale if r.data.tags.get("mlflow.parentRunId")),
            "reasons": {run_id: reasons[run_id] for run_id in closed}}


def main(argv: list[str] | None = None) -> int:
    """``golden-record diagnose`` (run through :func:`golden_record.console.run_main`)."""
    import mlflow

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error(f"argument --limit: give 1 run or more, got {args.limit}")
    settings = load_settings()
    quiet_store_logs()
    uri = tracking.configure(settings)
    client = mlflow.MlflowClient(uri)
    if args.experiment:
        exp = client.get_experiment_by_name(args.experiment)
        if exp is None:
            names = sorted(e.name for e in client.search_experiments())
            raise UsageError(f"experiment '{args.experiment}' does not exist in {tracking.redact(uri)}",
                             "pass one of " + ", ".join(names) if names else
                             "train a model first (make train), or leave out --experiment")
        experiments = [exp]
    else:
        experiments = sorted(client.search_experiments(), key=lambda e: (e.name != settings.tracking.experiment_name,
                                                                          e.name))
    reports = [diagnose_experiment(client, exp, args.limit, args.mark_failed) for exp in experiments]
    if args.format == "json":
        out = [{k: r[k] for k in ("experiment", "runs", "stale_runs", "closed")} for r in reports]
        print(json.dumps(out[0] if args.experiment else {"experiments": out}, indent=2))
        return 0
    if not experiments:
        print(f"no experiment in {tracking.redact(uri)} yet: train a model first (make train)")
    for rep in reports:
        rows = rep["runs"]
        if not args.experiment and not rows:
            continue
        print(f"experiment '{rep['experiment']}' ({len(rows)} most recent runs) at {tracking.redact(uri)}")
        for r in rows:
            metrics = "  ".join(f"{k}={v}" for k, v in r["metrics"].items())
            flag = f"  <- STALE: {r['stale_reason']}" if r.get("stale") else ""
            print(f"{r['status']:<9} {r['started']}  {r['duration_s']:>8.1f}s  {r['run_name']}  {r['run_id']}  "
                  f"{metrics}{flag}")
            if "error" in r:
                e = r["error"]
                print(f"          stage {e.get('stage', '?')}: {e.get('type', '?')}: {e.get('message', '')}")
                if e.get("hint"):
                    print(f"          fix: {e['hint']}")
        stale = rep["stale_runs"]
        if stale and not args.mark_failed:
            print(f"{len(stale)} stale RUNNING run(s) ({rep['stale_children']} of them child runs) whose process is "
                  "gone or whose parent has ended: close them with --mark-failed")
        for run_id in rep["closed"]:
            print(f"marked {run_id} FAILED ({rep['reasons'][run_id]})")
        if rep["closed"]:
            print(f"closed {len(rep['closed'])} stale run(s) as FAILED ({rep['stale_children']} of them child runs)")
    return 0


def _all_running(client, experiment_id: str) -> list:
    """Every RUNNING run of the experiment, page by page."""
    out, token = [], None
    while True:
        page = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'",
                                  max_results=1000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out
