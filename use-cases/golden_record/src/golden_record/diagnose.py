"""``make diagnose`` (``python scripts/diagnose_runs.py``): recent runs of the experiment with their
status, duration and key metrics; for failed runs the stage, error and hint; RUNNING runs whose
process is gone (a killed trainer leaves one) are flagged, and ``--mark-failed`` closes them as
FAILED with a tag saying why. Nothing is deleted.
"""
from __future__ import annotations

import argparse
import json
import socket
import time
from datetime import datetime

from . import tracking
from .config import load_settings
from .errors import GoldenRecordError

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


def describe(run) -> dict:
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
        row["stale"] = row["process"] == "gone"
    return row


def mark_failed(client, run, reason: str) -> None:
    tags = {"error.stage": "unknown", "error.type": "ProcessGone", "error.message": reason,
            "error.hint": "the trainer was killed (SIGKILL, out of memory, machine restart); start it again",
            "stale.closed_by": "diagnose_runs --mark-failed",
            "mlflow.note.content": f"Failed: {reason}. Closed by diagnose_runs --mark-failed."}
    for k, v in tags.items():
        client.set_tag(run.info.run_id, k, v)
    client.set_terminated(run.info.run_id, "FAILED")


def main(argv: list[str] | None = None) -> int:
    import mlflow

    settings = load_settings()
    p = argparse.ArgumentParser(prog="diagnose_runs.py", description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default=settings.tracking.experiment_name)
    p.add_argument("--limit", type=int, default=20, help="how many recent runs to list (default 20)")
    p.add_argument("--mark-failed", action="store_true", help="close stale RUNNING runs as FAILED")
    p.add_argument("--format", choices=("text", "json"), default="text")
    args = p.parse_args(argv)
    uri = tracking.configure(settings)
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name(args.experiment)
    if exp is None:
        raise GoldenRecordError(f"experiment '{args.experiment}' does not exist in {tracking.redact(uri)}",
                                "train a model first (make train) or pass --experiment")
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=args.limit)
    # stale runs beyond the listed ones matter too
    running = client.search_runs([exp.experiment_id], filter_string="attributes.status = 'RUNNING'",
                                 max_results=1000)
    rows = [describe(r) for r in runs]
    stale = [r for r in running if describe(r).get("stale")]
    closed = []
    if args.mark_failed:
        for r in stale:
            reason = (f"process {r.data.tags.get('pid')} on {r.data.tags.get('host')} is gone but the run was "
                      f"still RUNNING")
            mark_failed(client, r, reason)
            closed.append(r.info.run_id)
        rows = [describe(client.get_run(r["run_id"])) for r in rows]
    if args.format == "json":
        print(json.dumps({"experiment": args.experiment, "runs": rows,
                          "stale_runs": [r.info.run_id for r in stale], "closed": closed}, indent=2))
        return 0
    print(f"experiment '{args.experiment}' ({len(rows)} most recent runs) at {tracking.redact(uri)}")
    for r in rows:
        metrics = "  ".join(f"{k}={v}" for k, v in r["metrics"].items())
        flag = "  <- STALE: process gone" if r.get("stale") else ""
        print(f"{r['status']:<9} {r['started']}  {r['duration_s']:>8.1f}s  {r['run_name']}  {r['run_id']}  "
              f"{metrics}{flag}")
        if "error" in r:
            e = r["error"]
            print(f"          stage {e.get('stage', '?')}: {e.get('type', '?')}: {e.get('message', '')}")
            if e.get("hint"):
                print(f"          fix: {e['hint']}")
    if stale and not args.mark_failed:
        print(f"{len(stale)} stale RUNNING run(s) whose process is gone: close them with --mark-failed")
    for run_id in closed:
        print(f"marked {run_id} FAILED (process gone)")
    return 0
