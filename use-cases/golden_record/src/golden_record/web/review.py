"""``golden-record review``: the clerical review page, served on 127.0.0.1 (``make review``).

Shows a run's review pairs (``review/uncertain_pairs.csv`` by default, most uncertain first) one
at a time: both records side by side with their differences marked, the score and the waterfall
chart (hidden in blind mode), and Match / Not a match / Unsure buttons with keyboard shortcuts.
Each label is one POST and one transaction in PostgreSQL table ``pair_labels``
(:mod:`golden_record.io.labels`); a reviewer's labelled pairs are skipped, so a review resumes
where it stopped; Undo removes the reviewer's last label of this run. The next training is
taught the labels and counts them (``labels_used_in_fit``, out-of-sample ``labelled_*`` metrics);
on the active queue the page says after each batch of labels how they move the estimate.

The app is Flask (plain HTML, CSS and JavaScript in ``templates/`` and ``static/``, no build step)
served by Werkzeug's threaded server, on the loopback interface only: it is a one-person tool
on the reviewer's machine, not a service.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flask import Flask, jsonify, render_template, request

from golden_record.errors import DataError, GoldenRecordError
from golden_record.io import labels
from golden_record.io.redaction import scrub
from golden_record.tracking.model_logging import add_model_arguments
from golden_record.web.queue import BATCH, QUEUES, EstimateMover, ReviewQueue

HOST = "127.0.0.1"
DEFAULT_PORT = 8050
#: the names the page answers to: the loopback's own (a request naming any other host, e.g. a site
#: whose DNS name was rebound to 127.0.0.1, or sent from another origin, is refused with 403)
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
QUEUE_ALIASES = {"uncertain": "uncertain_pairs", "uncertain_pairs": "uncertain_pairs",
                 "active": "active_pairs", "active_pairs": "active_pairs",
                 "false_positives": "false_positives", "false_negatives": "false_negatives"}
MAX_REVIEWER = 100


class LabelStore:
    """The labels of one records table in PostgreSQL: a connection per request, in autocommit
    mode, so each :func:`labels.record_label` is exactly one transaction of its own."""

    def __init__(self, target, timeout: int = 5):
        self.target = target
        self.timeout = timeout

    @contextmanager
    def connection(self) -> Iterator:
        from golden_record.io import warehouse

        conn = warehouse.connect(self.target, self.timeout)
        try:
            conn.autocommit = True
            yield conn
        finally:
            conn.close()

    def labelled(self, data_table: str, reviewer: str) -> set[tuple[str, str]]:
        with self.connection() as conn:
            done = labels.read_labels(conn, data_table, reviewer)
        return set(zip(done["left_id"], done["right_id"]))

    def verdicts(self, data_table: str) -> dict[tuple[str, str], bool]:
        """Every reviewer's decided labels of ``data_table``: pair -> labelled a match."""
        with self.connection() as conn:
            found = labels.pair_verdicts(labels.read_labels(conn, data_table))
        return {(a, b): lab == labels.MATCH for a, b, lab in found.pairs[["left_id", "right_id", "label"]].itertuples(
            index=False)}

    def record(self, **kwargs) -> None:
        with self.connection() as conn:
            labels.record_label(conn, **kwargs)

    def undo(self, **kwargs) -> dict | None:
        with self.connection() as conn:
            return labels.undo_last(conn, **kwargs)


def _host_name(host: str) -> str:
    """``name`` of ``name:port`` (``[::1]:8050`` -> ``[::1]``), lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def foreign_request(host: str | None, origin: str | None) -> str | None:
    """Why a request is not the page's own (None when it is): its ``Host`` must be a loopback name
    (:data:`LOCAL_NAMES`), and its ``Origin``, when sent, the very address it was sent to (DNS
    rebinding, and other pages on this machine, post from elsewhere)."""
    from urllib.parse import urlsplit

    if not host or _host_name(host) not in LOCAL_NAMES:
        return f"Host {host!r} is not this page's address (it answers on {HOST} and localhost only)"
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.strip().lower():
            return f"Origin {origin!r} is not this page's address http://{host}"
    return None


class BadRequest(Exception):
    """A request the page should not have sent (no reviewer, a pair not in the queue...)."""


def _reviewer(value) -> str:
    name = str(value or "").strip()
    if not name:
        raise BadRequest("enter your name before labelling: labels are kept per reviewer")
    if len(name) > MAX_REVIEWER:
        raise BadRequest(f"a reviewer name has at most {MAX_REVIEWER} characters")
    return name


def _flag(value) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def create_app(queue: ReviewQueue, store: LabelStore, reviewer: str | None = None, blind: bool = False,
               log=None, viewer=None, mover: EstimateMover | None = None) -> Flask:
    """The review app over ``queue``; ``reviewer`` fixes the name (else the page asks for it),
    ``blind`` starts the page in blind mode; ``log`` gets one line per label and undo; ``viewer``
    (:class:`golden_record.web.viewer.GoldenViewer`) adds the golden-record tab under ``/golden/``;
    ``mover`` says after each :data:`BATCH` labels how the estimate moved (:func:`batch_message`)."""
    app = Flask(__name__)
    app.json.sort_keys = False
    say = log or (lambda text: None)

    def state(name: str, is_blind: bool) -> dict:
        done, first = queue.progress(store.labelled(queue.data_table, name))
        return {"reviewer": name, "total": len(queue), "labelled": done, "done": first is None,
                "blind": is_blind, "pair": None if first is None else queue.pair(first, blind=is_blind)}

    @app.before_request
    def _own_address_only():
        why = foreign_request(request.headers.get("Host"), request.headers.get("Origin"))
        if why:
            say(f"refused {request.method} {request.path}: {why}")
            return jsonify(error=f"refused: {why}; open the page at http://{HOST}:<port>/"), 403
        return None

    @app.errorhandler(BadRequest)
    def _bad(exc):
        return jsonify(error=str(exc)), 400

    @app.errorhandler(GoldenRecordError)
    def _known(exc):
        return jsonify(error=scrub(exc.one_line())), 503

    @app.errorhandler(Exception)
    def _unexpected(exc):
        import psycopg
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return jsonify(error=f"{exc.code} {exc.name}: {exc.description}"), exc.code
        app.logger.exception("review request failed")
        kind = "PostgreSQL" if isinstance(exc, psycopg.Error) else type(exc).__name__
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return jsonify(error=scrub(f"{kind}: {first} (nothing was saved by this request)")), \
            503 if isinstance(exc, psycopg.Error) else 500

    @app.get("/")
    def page():
        return render_template("review.html", page={
            "run_id": queue.run_id, "queue": queue.name, "queue_title": queue.title, "table": queue.data_table,
            "total": len(queue), "reviewer": reviewer, "blind": blind, "threshold": queue.threshold})

    @app.get("/api/state")
    def get_state():
        return jsonify(state(_reviewer(reviewer or request.args.get("reviewer")),
                             _flag(request.args.get("blind", blind))))

    @app.post("/api/label")
    def post_label():
        body = request.get_json(silent=True) or {}
        name = _reviewer(reviewer or body.get("reviewer"))
        label = body.get("label")
        if label not in labels.LABELS:
            raise BadRequest(f"label must be one of {', '.join(labels.LABELS)}, got {label!r}")
        try:
            key = labels.ordered(body.get("left_id"), body.get("right_id"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        if key not in queue.key_set:
            raise BadRequest(f"pair {body.get('left_id')} – {body.get('right_id')} is not in this queue: reload the page")
        store.record(data_table=queue.data_table, run_id=queue.run_id, left_id=key[0], right_id=key[1],
                     label=label, reviewer=name)
        say(f"{name}: {key[0]} – {key[1]} {label}")
        out = state(name, _flag(body.get("blind", blind)))
        out["recorded"] = {"left_id": str(body.get("left_id")), "right_id": str(body.get("right_id")), "label": label}
        moved = batch_message(queue, store, mover, out["labelled"], out["done"])
        if moved is not None:
            out["moved"] = moved
            say(f"{name}: {moved['text']}")
        return jsonify(out)

    @app.post("/api/undo")
    def post_undo():
        body = request.get_json(silent=True) or {}
        name = _reviewer(reviewer or body.get("reviewer"))
        undone = store.undo(data_table=queue.data_table, reviewer=name, run_id=queue.run_id)
        if undone:
            say(f"{name}: undid {undone['left_id']} – {undone['right_id']} {undone['label']}")
            undone = {k: str(v) for k, v in undone.items()}
            key = (undone["left_id"], undone["right_id"])
            if key in queue.key_set:                     # name the pair in the queue's order, as the page does
                row = queue.frame.iloc[queue.keys().index(key)]
                undone.update(left_id=str(row["left_id"]), right_id=str(row["right_id"]), in_queue=True)
        out = state(name, _flag(body.get("blind", blind)))
        out["undone"] = undone
        return jsonify(out)

    @app.get("/api/waterfall/<int:index>.png")
    def waterfall(index: int):
        if not 0 <= index < len(queue):
            raise BadRequest(f"no pair {index} in this queue of {len(queue)}")
        if not queue.scored(index):
            raise BadRequest("blocking never made this pair a candidate: it has no score and no waterfall")
        response = app.response_class(queue.waterfall_png(index), mimetype="image/png")
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    if viewer is not None:
        from golden_record.web.viewer import blueprint

        app.register_blueprint(blueprint(viewer, reviewer, say))
    return app


def batch_message(queue: ReviewQueue, store: LabelStore, mover: EstimateMover | None, labelled: int,
                  done: bool) -> dict | None:
    """After every :data:`BATCH` labels of the queue (and at its end): how the labels move the
    model's estimates (:meth:`EstimateMover.moved`), or why that cannot be said; None between batches."""
    if labelled == 0 or (labelled % BATCH and not done):
        return None
    if mover is None:
        return {"text": f"{labelled:,} pairs labelled: run {queue.run_id} logged no comparison patterns "
                        "(review/patterns.csv), so the page cannot refit its model; train again to apply the labels"}
    verdicts = store.verdicts(queue.data_table)
    try:
        return mover.moved(queue, verdicts)
    except (GoldenRecordError, ValueError, FloatingPointError) as exc:     # the label itself is saved
        return {"text": f"{labelled:,} pairs labelled and saved, but the page could not refit the model to say how "
                        f"the estimate moved ({type(exc).__name__}: {exc}); train again to apply the labels"}


# --------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    from golden_record import console

    p = console.ArgumentParser("review",
                               description="Serve the clerical review page on 127.0.0.1: a run's pairs one at a "
                                            "time, most uncertain first; labels go to PostgreSQL table pair_labels.")
    add_model_arguments(p, "MLflow run whose review pairs to label (default: the champion of the config's table)")
    p.add_argument("--reviewer", help="your name, stored with each label (default: the page asks for it)")
    p.add_argument("--port", type=int, default=int(os.environ.get("REVIEW_PORT") or DEFAULT_PORT),
                   help=f"port on 127.0.0.1 (default: REVIEW_PORT, else {DEFAULT_PORT})")
    p.add_argument("--queue", choices=["active", "uncertain", "false_positives", "false_negatives"], default=None,
                   help="which review file of the run: active (the pairs that teach the model most; the default "
                        "when the run had no ground truth), uncertain (the default with a ground truth), or with a "
                        "ground truth the false positives or false negatives")
    p.add_argument("--blind", action="store_true",
                   help="start in blind mode: the score, the model's verdict, the truth and the waterfall are "
                        "hidden (key b toggles it on the page)")
    return p


def default_queue(client, run) -> str:
    """``active_pairs`` for a run without ground truth that logged it, else ``uncertain_pairs``."""
    logged = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "review")}
    truth = "false_positives.csv" in logged
    return "active_pairs" if "active_pairs.csv" in logged and not truth else "uncertain_pairs"


def load_mover(client, run, queue: ReviewQueue, dst: Path) -> EstimateMover | None:
    """The run's comparison patterns and logged model, for :func:`batch_message` (None when the run
    logged no ``review/patterns.csv``: trained before there were any, or a model type
    that cannot be refitted)."""
    from golden_record.tracking.model_logging import load_logged_model

    run_id = run.info.run_id
    if "patterns.csv" not in {Path(a.path).name for a in client.list_artifacts(run_id, "review")}:
        return None
    model, _, threshold = load_logged_model(client, run_id, dst / "mover")
    if not hasattr(model, "refit"):
        return None
    return EstimateMover.from_csv(Path(client.download_artifacts(run_id, "review/patterns.csv", str(dst))),
                                  model, threshold)


def load_queue(client, run, name: str, dst: Path) -> ReviewQueue:
    """The run's ``review/<name>.csv`` with what explains its rows (the logged model)."""
    from golden_record.linkage.explain import comparison_fields, prior_weight, weights_note
    from golden_record.tracking.model_logging import load_logged_model

    run_id = run.info.run_id
    model, config, threshold = load_logged_model(client, run_id, dst / "model")
    logged = {Path(a.path).name for a in client.list_artifacts(run_id, "review")}
    if f"{name}.csv" not in logged:
        hint = ("it was trained without a ground truth: review its uncertain pairs (--queue uncertain)"
                if name != "uncertain_pairs" else "train a new run (golden-record train) and review its pairs")
        raise DataError(f"run {run_id} logged no review/{name}.csv"
                        + (f" (it has {', '.join(sorted(logged))})" if logged else ""), hint)
    path = Path(client.download_artifacts(run_id, f"review/{name}.csv", str(dst)))
    return ReviewQueue.from_csv(path, run_id=run_id, name=name, data_table=config.data.table,
                                fields_of=comparison_fields(config), prior=prior_weight(model),
                                threshold=threshold, note=weights_note(model))


def check_port(port: int) -> None:
    """The port is free on 127.0.0.1, else an error naming the fix (Werkzeug would exit on its own)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)     # as the server binds
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise GoldenRecordError(f"cannot serve on {HOST}:{port} ({exc.strerror or exc})",
                                    "pick another port: --port N, or make review REVIEW_PORT=N") from None


def main(argv: list[str] | None = None) -> int:
    import mlflow
    from werkzeug.serving import make_server

    from golden_record.config import load_settings
    from golden_record.io import warehouse
    from golden_record.tracking import store as tracking
    from golden_record.tracking.registry import model_run

    args = build_parser().parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"error: --port {args.port} is not a port number (1-65535)", file=sys.stderr)
        return 2
    reviewer = args.reviewer.strip() if args.reviewer else None
    if args.reviewer is not None and not reviewer:
        print("error: --reviewer is empty: pass your name, or leave it out and enter it on the page", file=sys.stderr)
        return 2
    check_port(args.port)          # before the slow part: a port in use is known at once
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    settings = load_settings()
    uri = tracking.configure(settings)
    client = mlflow.MlflowClient(uri)
    run = model_run(client, args, store=tracking.redact(uri))
    name = QUEUE_ALIASES[args.queue] if args.queue else default_queue(client, run)
    assert name in QUEUES
    with tempfile.TemporaryDirectory() as tmp:
        queue = load_queue(client, run, name, Path(tmp))
        mover = load_mover(client, run, queue, Path(tmp))
    target = warehouse.resolve_target(settings, announce=not args.quiet)
    store = LabelStore(target, settings.database.connect_timeout_seconds)
    with store.connection() as conn:
        labels.ensure_table(conn)
    from golden_record.web.viewer import load_viewer

    viewer = load_viewer(client, queue.run_id, store)
    print(f"run {queue.run_id}: review/{name}.csv, {len(queue):,} pairs of table {queue.data_table} "
          f"({queue.title})")
    print(f"after every {BATCH} labels the page says how they move the model's estimate" if mover is not None else
          f"note: run {queue.run_id} logged no review/patterns.csv: the page cannot say how labels move the estimate "
          "(train again with this version)")
    if not len(queue):
        print(f"note: the queue is empty: run {queue.run_id} has no {name.replace('_', ' ')} to review "
              "(the page says so)")
    if reviewer:
        done, _ = queue.progress(store.labelled(queue.data_table, reviewer))
        print(f"reviewer {reviewer}: {done:,} of {len(queue):,} already labelled (those are skipped)")
    check_port(args.port)          # again: it may have been taken while the run was loading
    server = make_server(HOST, args.port, create_app(
        queue, store, reviewer, args.blind, log=None if args.quiet else lambda t: print(t, flush=True), viewer=viewer,
        mover=mover),
        threaded=True)
    print(f"review page: http://{HOST}:{server.server_port}/  golden records: http://{HOST}:{server.server_port}/golden/  "
          f"(labels go to table {labels.TABLE}; Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("review page stopped")
    finally:
        server.server_close()
    return 0
