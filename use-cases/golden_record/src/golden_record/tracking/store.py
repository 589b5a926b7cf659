"""MLflow tracking: the store, the experiment, and what a training run logs.

The store is ``MLFLOW_TRACKING_URI`` when set, else ``tracking.uri`` of ``config/settings.yaml``
(``sqlite:///mlflow.db``); a relative SQLite path is resolved against the repository root so
every command, from any folder, writes to the same ``mlflow.db``. Artifacts of a SQLite store
live beside it in ``mlartifacts/``.
"""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from golden_record.config import REPO_ROOT, ModelConfig, Settings, flatten
from golden_record.io import redaction
from golden_record.errors import TrackingError
from golden_record.io.redaction import redact  # noqa: F401 - tracking.redact is used by the command lines
from golden_record import __version__
from golden_record.config import load_settings


def resolve_uri(settings: Settings) -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip() or settings.tracking.uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        path = Path(uri[len("sqlite:///"):])
        if not path.is_absolute():
            uri = f"sqlite:///{(REPO_ROOT / path).resolve()}"
    elif "://" not in uri:  # a bare folder or file path
        path = Path(uri)
        if not path.is_absolute():
            path = REPO_ROOT / path
        uri = path.resolve().as_uri()
    redaction.register_url(uri)   # an http://user:password@host store: scrub() removes the password
    return uri


def scrub(text: str, uri: str) -> str:
    """``text`` with the URI's password (and any other registered secret) removed wherever it appears."""
    redaction.register_url(uri)
    return redaction.scrub(text)


def artifact_root(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite file, else the server's default."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).parent / "mlartifacts").resolve().as_uri()
    return None


def configure(settings: Settings) -> str:
    """Point MLflow at the store, checking it answers before any data is loaded."""
    import mlflow

    uri = resolve_uri(settings)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    if uri.startswith("sqlite:///"):
        folder = Path(uri[len("sqlite:///"):]).parent
        if not folder.is_dir():
            raise TrackingError(f"MLflow tracking store {redact(uri)} is unreachable: folder {folder} does not exist",
                                "create the folder or fix MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.MlflowClient(uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any failure here means the store is unusable
        first = scrub(str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__, uri)
        raise TrackingError(f"MLflow tracking store {redact(uri)} is unreachable ({first})",
                            "start the tracking server, or fix or unset MLFLOW_TRACKING_URI "
                            "(the default is sqlite:///mlflow.db at the repo root)") from exc
    return uri


def ensure_experiment(name: str, uri: str) -> str:
    """The experiment's id, created (or restored) when needed, and made fit for the MLflow UI:
    tagged as a model-training experiment and holding the runs table's saved view "Key metrics"
    (:func:`golden_record.tracking.ui.prepare_experiment`)."""
    import mlflow

    from golden_record.tracking import ui

    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            experiment_id = client.create_experiment(name, artifact_location=artifact_root(uri),
                                                     tags={ui.EXPERIMENT_KIND_TAG: ui.MODEL_TRAINING_KIND})
        except Exception:  # created meanwhile by another process
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
            experiment_id = exp.experiment_id
    else:
        experiment_id = exp.experiment_id
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(experiment_id)
    ui.prepare_experiment(client, experiment_id, name)
    return experiment_id


def start_run(experiment_id: str, experiment: str, run_name: str):
    """``mlflow.start_run`` that also works under ``mlflow run``.

    ``mlflow run`` creates a run itself and passes it as ``MLFLOW_RUN_ID``; ``mlflow.start_run``
    would then silently continue that run in *its* experiment (the ``mlflow run`` default is
    ``Default``), ignoring ``experiment_id``. So: continue it when it belongs to the requested
    experiment (``mlflow run --experiment-name`` given), else start the run in the requested
    experiment and link the two with tags (the project run keeps the project's parameters).
    """
    import mlflow

    launcher_id = os.environ.pop("MLFLOW_RUN_ID", None)
    if not launcher_id:
        return mlflow.start_run(experiment_id=experiment_id, run_name=run_name)
    client = mlflow.MlflowClient()
    launcher = client.get_run(launcher_id)
    if launcher.info.experiment_id == experiment_id:
        return mlflow.start_run(run_id=launcher_id, run_name=run_name)
    project_tags = {k: v for k, v in launcher.data.tags.items()
                    if k.startswith(("mlflow.source.", "mlflow.project.")) or k == "mlflow.user"}
    run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name,
                           tags={**project_tags, "mlflow_project.run_id": launcher_id})
    client.set_tag(launcher_id, "training_run_id", run.info.run_id)
    client.set_tag(launcher_id, "mlflow.note.content",
                   f"`mlflow run` launcher: the run is {run.info.run_id} in experiment '{experiment}'")
    return run


def code_version() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    return f"{__version__}+{sha}{'.dirty' if dirty else ''}" if sha else __version__


def process_tags() -> dict[str, str]:
    return {"host": socket.gethostname(), "pid": str(os.getpid())}


def frame_digest(df: pd.DataFrame) -> str:
    """Digest of every row and column (not just a head sample)."""
    h = hashlib.sha256(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    h.update(",".join(df.columns).encode())
    return h.hexdigest()[:16]


def log_dataset(records: pd.DataFrame, database_url: str, table: str, digest: str, rows: int | None = None) -> None:
    """``mlflow.log_input`` of the loaded records (their first 1,000 give the schema; ``rows``: how
    many the table held when they are only a part), with a source naming the table (no password)."""
    import mlflow
    from mlflow.data.dataset_source import DatasetSource

    class PostgresTableSource(DatasetSource):
        def __init__(self, url: str, table: str):
            self.url, self.table = url, table

        @staticmethod
        def _get_source_type() -> str:
            return "postgresql"

        def load(self, **kwargs):  # pragma: no cover - lineage only
            raise NotImplementedError

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return False

        @classmethod
        def _resolve(cls, raw_source: Any) -> "PostgresTableSource":  # pragma: no cover
            raise NotImplementedError

        def to_dict(self) -> dict[str, Any]:
            return {"url": self.url, "table": self.table}

        @classmethod
        def from_dict(cls, source_dict: dict[str, Any]) -> "PostgresTableSource":  # pragma: no cover
            return cls(source_dict["url"], source_dict["table"])

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # schema-inference hints about integer columns
        dataset = mlflow.data.from_pandas(records.head(1000), name=table, digest=digest,
                                          source=PostgresTableSource(redaction.safe_target(database_url), table))
        mlflow.log_input(dataset, context="training", tags={"rows": str(len(records) if rows is None else rows)})


#: where a training run keeps the config it used, derived comparisons and blocking filled in
RESOLVED_CONFIG_ARTIFACT = "config/resolved_config.yaml"


#: the run parameter holding the match threshold
THRESHOLD_KEY = "model.params.match_threshold"


def declared_params(config: ModelConfig) -> dict[str, str]:
    """The config's params as declared, without the keys derived from the data (logged once known)."""
    derived = config.derived_keys()
    if config.threshold_pending:          # match_threshold: auto is logged once chosen
        derived = [*derived, THRESHOLD_KEY]
    return {k: v for k, v in flatten(config).items() if k not in derived}


def log_resolved_config(config: ModelConfig, skip: Iterable[str]) -> None:
    """After the pipeline filled in the config: the derived values as params (but the keys in
    ``skip``, already logged or left out on purpose, and their sub-keys), the tag ``config.derived``
    (the derived keys, or ``none``) and the whole config as the artifact
    ``config/resolved_config.yaml`` (readable with ``--config``)."""
    import mlflow

    derived = config.derived_keys()
    skip = tuple(skip)
    if derived:
        mlflow.log_params({k: v for k, v in flatten(config).items()
                           if k not in skip and not k.startswith(tuple(s + "." for s in skip))})
    elif THRESHOLD_KEY not in skip:      # the threshold match_threshold: auto chose
        mlflow.log_param(THRESHOLD_KEY, str(config.threshold))
    mlflow.set_tag("threshold.source", config.threshold_source)
    mlflow.set_tag("config.derived", ", ".join(derived) or "none")
    mlflow.log_text(config.resolved_yaml(), RESOLVED_CONFIG_ARTIFACT)


def flatten_metrics(prefix: str, values: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in values.items():
        if isinstance(v, bool):
            v = float(v)
        if isinstance(v, (int, float)):
            out[f"{prefix}{k}"] = float(v)
    return out


def init_main(argv: list[str] | None = None) -> int:
    """``scripts/init_tracking.py``: create the tracking store's schema once (``mlflow db upgrade``)
    and the experiment, so that parallel runs never race to create a fresh SQLite store."""
    import argparse
    import sys


    parser = argparse.ArgumentParser(prog="init_tracking.py", description=init_main.__doc__)
    parser.add_argument("--print-uri", action="store_true", help="only print the resolved tracking URI")
    args = parser.parse_args(argv)
    settings = load_settings()
    uri = resolve_uri(settings)
    if args.print_uri:
        print(uri)
        return 0
    if uri.startswith(("sqlite:", "postgresql:", "mysql:", "mssql:")):
        mlflow_cli = Path(sys.executable).with_name("mlflow")
        cmd = [str(mlflow_cli) if mlflow_cli.exists() else "mlflow", "db", "upgrade", uri]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise TrackingError(f"mlflow db upgrade failed for {redact(uri)}: "
                                f"{scrub(str(done.stderr.strip().splitlines()[-1:]), uri)}",
                                "check MLFLOW_TRACKING_URI")
    configure(settings)
    exp_id = ensure_experiment(settings.tracking.experiment_name, uri)
    print(f"tracking store: {redact(uri)}; experiment '{settings.tracking.experiment_name}' (id {exp_id})")
    return 0


def ui_hint(experiment_id: str, run_id: str) -> str:
    """Where to look: the run's page and the runs table with the key metrics, both in MLflow's
    model-training view (see :mod:`golden_record.tracking.ui`)."""
    from golden_record.tracking import ui

    return (f"open the MLflow UI: make mlflow-ui, then {ui.run_url(experiment_id, run_id)}"
            f"  (all runs, key metrics first: {ui.runs_url(experiment_id)})")
