"""``golden-record serve [--run-id ID | --champion] [--port 8060]``: the lookup service.

Loads the model of a run (or of the registered champion, the default) once, connects to the
warehouse through ``DATABASE_URL`` (else ``config/settings.yaml``), and serves
:mod:`golden_record.serve.app` with uvicorn on 127.0.0.1. The block index
(``golden-record index``) must have been built for the model's passes: without it the service
starts, and ``/health`` and ``/match`` answer 503 saying so.
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

from golden_record.cli import Progress
from golden_record.config import check_threshold, load_settings
from golden_record.errors import GoldenRecordError
from golden_record.io import warehouse

DEFAULT_PORT = 8060


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="golden-record serve",
                                description="Serve record lookups over HTTP: POST /match takes records by field "
                                            "name and returns their candidate golden ids with probability and "
                                            "per-comparison explanation; GET /health. Needs the block index "
                                            "(golden-record index).")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--run-id", help="MLflow run whose logged model scores the lookups")
    which.add_argument("--champion", action="store_true",
                       help="the model registered as golden_record_dedup@champion (the default without --run-id)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--threshold", type=float, help="judge matches at this probability (default: the run's)")
    p.add_argument("--pool-size", type=int, default=4, help="database connections at most (default 4)")
    p.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--verbose", action="store_true", help="print the full traceback on failure")
    return p


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise GoldenRecordError(f"cannot listen on {host}:{port} ({exc.strerror})",
                                    "pass another --port (make serve SERVE_PORT=...), or stop what uses it") from None


def build_lookup(run_id: str | None, champion: bool, threshold: float | None, pool_size: int, quiet: bool):
    """(Lookup, settings): the model loaded once, the warehouse checked, the pool ready."""
    import mlflow

    from golden_record.serve.lookup import ConnectionPool, Lookup
    from golden_record.tracking import store as tracking
    from golden_record.tracking.model_logging import load_logged_model, resolve_run

    settings = load_settings()
    progress = Progress(quiet=quiet)
    client = mlflow.MlflowClient(tracking.configure(settings))
    run = resolve_run(client, run_id, champion)
    with tempfile.TemporaryDirectory() as tmp, progress.stage("model", announce=False):
        model, config, logged_threshold = load_logged_model(client, run.info.run_id, Path(tmp))
    threshold = check_threshold(threshold if threshold is not None else logged_threshold)
    target = warehouse.resolve_target(settings, announce=not quiet)
    with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn:
        if not warehouse.table_exists(conn, config.data.table):
            raise warehouse.missing_table_error(conn, config.data.table, "data.table of the model's config")
        warehouse.check_source(conn, config.data, list(config.data.fields))
    pool = ConnectionPool(target.url, size=max(1, pool_size), timeout=settings.database.connect_timeout_seconds)
    return Lookup(model, config, threshold, run.info.run_id, pool)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from golden_record.serve.app import create_app

    args = build_parser().parse_args(argv)
    if not 1 <= args.port <= 65535:
        print(f"error: --port {args.port} is not a port (1-65535)", file=sys.stderr)
        return 2
    _check_port(args.host, args.port)
    lookup = build_lookup(args.run_id, args.champion, args.threshold, args.pool_size, args.quiet)
    status, health = lookup.health()
    for note in health.get("notes", []):
        print(note, file=sys.stderr)
    if status != 200:
        print(f"warning: {health.get('error')}; the service answers 503 until then", file=sys.stderr)
        index = "no usable block index"
    else:
        i = health["index"]
        index = f"index {i['table']}: {i['rows']:,} keys of {i['records']:,} records"
    rows = health.get("table_rows")
    print(f"serving the model of run {lookup.run_id} (threshold {lookup.threshold:g}) over {lookup.config.data.table} "
          f"({'?' if rows is None else f'{rows:,}'} records; {index}) on http://{args.host}:{args.port} "
          "(POST /match, GET /health, docs at /docs); Ctrl-C stops", flush=True)
    try:
        uvicorn.run(create_app(lookup), host=args.host, port=args.port, log_level="warning",
                    access_log=args.access_log)
    finally:
        lookup.pool.close()
    return 0
