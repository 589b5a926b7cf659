"""``golden-record serve [--run-id ID | --champion] [--config YAML] [--port 8060]``: the lookup service.

Loads the model of a run (or the champion of the config's table, the default) once, connects to the
warehouse through ``DATABASE_URL`` (else ``config/settings.yaml``), and serves
:mod:`golden_record.serve.app` with uvicorn on 127.0.0.1. The block index
(``golden-record index``) must have been built for the model's passes: without it the service
starts, and ``/health`` and ``/match`` answer 503 saying so.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import tempfile
from pathlib import Path

from golden_record import console
from golden_record.progress import Progress
from golden_record.config import check_threshold, load_settings
from golden_record.errors import GoldenRecordError
from golden_record.io import warehouse
from golden_record.tracking import diagnostics
from golden_record.tracking.model_logging import add_model_arguments

DEFAULT_PORT = 8060
log = logging.getLogger(__name__)


def build_parser() -> console.ArgumentParser:
    p = console.ArgumentParser("serve",
                               description="Serve record lookups over HTTP: POST /match takes records by field "
                                            "name and returns their candidate golden ids with probability and "
                                            "per-comparison explanation; GET /health. Needs the block index "
                                            "(golden-record index).")
    add_model_arguments(p, "MLflow run whose logged model scores the lookups")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=console.port_arg, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--threshold", type=console.threshold_arg,
                   help="judge matches at this probability, in (0, 1) (default: the run's)")
    p.add_argument("--pool-size", type=int, default=4, help="database connections at most, per worker (default 4)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes, each with the model loaded (default 1; scoring is CPU-bound Python, so "
                        "more concurrent requests than one process answers need more workers, up to the cores)")
    p.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")
    return p


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise GoldenRecordError(f"cannot listen on {host}:{port} ({exc.strerror})",
                                    "pass another --port (make serve SERVE_PORT=...), or stop what uses it") from None


def build_lookup(run_id: str | None, champion: bool, threshold: float | None, pool_size: int, quiet: bool,
                 config_path: str | None = None, overrides: list[str] | None = None):
    """(Lookup, settings): the model loaded once, the warehouse checked, the pool ready."""
    import mlflow

    from golden_record.serve.lookup import ConnectionPool, Lookup
    from golden_record.tracking import store as tracking
    from golden_record.tracking.model_logging import load_logged_model
    from golden_record.tracking.registry import model_run

    settings = load_settings()
    progress = Progress(quiet=quiet, logger=log)
    uri = tracking.configure(settings)
    client = mlflow.MlflowClient(uri)
    which = argparse.Namespace(run_id=run_id, config=config_path, overrides=overrides or [])
    run = model_run(client, which, store=tracking.redact(uri), say=progress.say)
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

    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 64:
        parser.error(f"--workers {args.workers}: give 1 to 64 worker processes")
    if args.pool_size < 1:
        parser.error(f"--pool-size {args.pool_size}: give 1 connection or more")
    _check_port(args.host, args.port)
    lookup = build_lookup(args.run_id, args.champion, args.threshold, args.pool_size, args.quiet,
                          args.config, args.overrides)
    status, health = lookup.health()
    for note in health.get("notes", []):
        log.warning(note)
    if status != 200:
        log.warning(f"warning: {health.get('error')}; the service answers 503 until then")
        index = "no usable block index"
    else:
        i = health["index"]
        index = f"index {i['table']}: {i['rows']:,} keys of {i['records']:,} records"
    rows = health.get("table_rows")
    print(f"serving the model of run {lookup.run_id} (threshold {lookup.threshold:g}) over {lookup.config.data.table} "
          f"({'?' if rows is None else f'{rows:,}'} records; {index}) on http://{args.host}:{args.port} "
          f"({args.workers} worker{'s' if args.workers > 1 else ''}) "
          "(POST /match, GET /health, docs at /docs); Ctrl-C stops", flush=True)
    try:
        if args.workers > 1:      # each worker process builds its own Lookup (model, pool) from these arguments
            lookup.pool.close()
            os.environ[_WORKER_ARGS] = json.dumps({"run_id": lookup.run_id, "threshold": lookup.threshold,
                                                   "pool_size": args.pool_size})
            _run_workers(args)
        else:
            # uvicorn stops gracefully on SIGINT / SIGTERM, then raises the signal again; a SIGINT
            # raised again inside asyncio's runner only cancels a task that has already finished (exit
            # 0), so which signal stopped the server is remembered and said here, as with workers
            class SignalledServer(uvicorn.Server):
                stopped_by: int | None = None

                def handle_exit(self, sig, frame) -> None:
                    self.stopped_by = sig
                    super().handle_exit(sig, frame)

            server = SignalledServer(uvicorn.Config(create_app(lookup), host=args.host, port=args.port,
                                                    log_level="warning", access_log=args.access_log))
            try:
                server.run()
            finally:
                lookup.pool.close()
            if server.stopped_by == signal.SIGTERM:
                raise diagnostics.Terminated("terminated by SIGTERM")
            if server.stopped_by is not None:
                raise KeyboardInterrupt
    except (KeyboardInterrupt, diagnostics.Terminated) as exc:
        terminated = isinstance(exc, diagnostics.Terminated)
        log.warning(f"lookup service stopped ({'SIGTERM' if terminated else 'Ctrl-C'})")
        return console.EXIT_TERMINATED if terminated else console.EXIT_INTERRUPTED
    return 0


_WORKER_ARGS = "GOLDEN_RECORD_SERVE_WORKER"



def _run_workers(args) -> None:
    """uvicorn's multiprocess supervisor over a listening socket bound here with IPPROTO_TCP: the
    one uvicorn binds itself has protocol 0, so asyncio never sets TCP_NODELAY on the accepted
    connections and every kept-alive answer waits ~40 ms for the client's delayed ACK (uvicorn
    issue 3149; measured here: 56 ms instead of 14 ms a lookup)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("golden_record.serve.main:worker_app", factory=True, host=args.host, port=args.port,
                            workers=args.workers, log_level="warning", access_log=args.access_log)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.set_inheritable(True)
    stopped_by: list[int] = []
    try:
        supervisor = Multiprocess(config, sockets=[sock])
        for signum in (signal.SIGINT, signal.SIGTERM):      # the supervisor's handling, and which signal it was
            signal.signal(signum, lambda n, frame: (stopped_by.append(n), supervisor.signal_queue.append(n)))
        supervisor.run()
    except KeyboardInterrupt:
        stopped_by.append(signal.SIGINT)
    finally:
        sock.close()
    if signal.SIGTERM in stopped_by:       # ended like any job stopped by a signal (130 / 143)
        raise diagnostics.Terminated("terminated by SIGTERM")
    if stopped_by:
        raise KeyboardInterrupt


def worker_app():
    """The app of one worker process of ``--workers N`` (uvicorn calls it in each process)."""
    from golden_record.io.redaction import protect_process
    from golden_record.serve.app import create_app

    protect_process()
    spec = json.loads(os.environ[_WORKER_ARGS])
    return create_app(build_lookup(spec["run_id"], False, spec["threshold"], spec["pool_size"], quiet=True))
