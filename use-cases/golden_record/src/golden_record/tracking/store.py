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

from golden_record.config import REPO_ROOT, ModelConfig, Settings
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
#: the most params a run logs: what a person compares across runs (the rest is in the artifact
#: config/resolved_config.yaml); past it the comparisons are logged as one param, ``comparisons``
MAX_PARAMS = 60
#: MLflow keeps a param value up to 6,000 characters
MAX_PARAM_VALUE = 6000
_COMPARISON_FLAGS = ("initials", "tf_adjustment")     # logged only when on


def param_text(value: Any) -> str:
    """A param's value as MLflow keeps it: text, cut to :data:`MAX_PARAM_VALUE` characters."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_PARAM_VALUE else text[:MAX_PARAM_VALUE - 1] + "…"


def _comparison_params(comparisons: list[dict]) -> dict[str, str]:
    """``comparisons.<name>.method`` and what differs from a plain comparison (the field when
    another than the name, levels, swap_with, initials and tf_adjustment when on)."""
    out = {}
    for c in comparisons:
        key = f"comparisons.{c['name']}"
        if c.get("field") and c["field"] != c["name"]:
            out[f"{key}.field"] = c["field"]
        out[f"{key}.method"] = c["method"]
        if c.get("levels"):
            out[f"{key}.levels"] = str(c["levels"])
        if c.get("swap_with"):
            out[f"{key}.swap_with"] = c["swap_with"]
        out.update({f"{key}.{flag}": "True" for flag in _COMPARISON_FLAGS if c.get(flag)})
    return out


def _one_comparisons_param(comparisons: list[dict]) -> str:
    """Every comparison in one value: ``first_name jaro_winkler [0.92, 0.8]; postcode exact; …``."""
    parts = []
    for c in comparisons:
        words = [c["name"] if c.get("field") in (None, c["name"]) else f"{c['name']}({c['field']})", c["method"]]
        words += [str(c["levels"])] if c.get("levels") else []
        words += [f"swap_with={c['swap_with']}"] if c.get("swap_with") else []
        words += [flag for flag in _COMPARISON_FLAGS if c.get(flag)]
        parts.append(" ".join(words))
    return "; ".join(parts)


def run_params(config: ModelConfig, budget: int = MAX_PARAMS) -> dict[str, str]:
    """What a person compares across runs, as MLflow params (at most :data:`MAX_PARAMS`, never a
    ``None`` or an empty list): the engine, the model type, the threshold (once chosen), the
    blocking passes, the EM settings (classes...), the table and its field list, the truth, the
    candidate limits, each comparison's method and levels, the golden-record guards. Everything
    else of the config is in the artifact ``config/resolved_config.yaml``. ``budget``: the most
    params these may take (a sweep logs a few of its own beside them)."""
    d = config.model_dump(mode="json")
    model, data, cand = d["model"], d["data"], d["candidates"]
    out: dict[str, Any] = {"engine": d["engine"]}
    if d["engine"] == "spark":
        out.update({f"spark.{k}": d["spark"][k] for k in ("master", "read_partitions", "shuffle_partitions",
                                                           "driver_memory")})
    out["model.type"] = model["type"]
    if not config.threshold_pending:
        out[THRESHOLD_KEY] = model["params"]["match_threshold"]
    out["model.params.blocking_fields"] = model["params"]["blocking_fields"]
    out.update({f"model.em.{k}": v for k, v in model["em"].items()})
    out.update({"data.table": data["table"], "data.id": data["id"],
                "data.fields": ", ".join(f"{name}:{spec['type']}" for name, spec in data["fields"].items()),
                "data.recency": data.get("recency"), "data.source": data.get("source"),
                "data.truth.table": (data.get("truth") or {}).get("table")})
    out.update({"candidates.max_block_size": cand["max_block_size"], "candidates.max_pairs": cand["max_pairs"],
                "candidates.fuzzy.method": cand["fuzzy"]["method"]})
    if cand["fuzzy"]["method"] != "none":
        out.update({"candidates.fuzzy.fields": cand["fuzzy"]["fields"], "candidates.fuzzy.window": cand["fuzzy"]["window"]})
    out.update({f"golden.{k}": d["golden"][k] for k in ("min_edge_probability", "max_cluster_size")})
    comparisons = d.get("comparisons") or []
    each = _comparison_params(comparisons)
    # the threshold and the blocking passes always counted: the choice is the same before and after they are known
    fixed = len({*out, THRESHOLD_KEY, "model.params.blocking_fields"})
    if fixed + len(each) <= budget:
        out.update(each)
    elif comparisons:
        out["comparisons"] = _one_comparisons_param(comparisons)
    return {k: param_text(v) for k, v in out.items()
            if v is not None and not (isinstance(v, (list, dict, str)) and not v)}


def _derived_param(key: str, derived: Iterable[str]) -> bool:
    return any(key == k or key.startswith(k + ".") for k in derived)


def declared_params(config: ModelConfig, budget: int = MAX_PARAMS) -> dict[str, str]:
    """:func:`run_params` as declared, without the keys derived from the data (logged once known)."""
    derived = list(config.derived_keys())
    if config.threshold_pending:          # match_threshold: auto is logged once chosen
        derived.append(THRESHOLD_KEY)
    return {k: v for k, v in run_params(config, budget).items() if not _derived_param(k, derived)}


def log_resolved_config(config: ModelConfig, skip: Iterable[str], budget: int = MAX_PARAMS) -> None:
    """After the pipeline filled in the config: the :func:`run_params` not logged yet (all but the
    keys in ``skip``, already logged or left out on purpose, and their sub-keys: the derived
    comparisons and blocking passes, the threshold ``auto`` chose), the tag ``config.derived`` (the
    derived keys, or ``none``) and the whole config as the artifact ``config/resolved_config.yaml``
    (readable with ``--config``)."""
    import mlflow

    skip = tuple(skip)
    params = {k: v for k, v in run_params(config, budget).items() if not _derived_param(k, skip)}
    if params:
        mlflow.log_params(params)
    mlflow.set_tag("threshold.source", config.threshold_source)
    mlflow.set_tag("config.derived", ", ".join(config.derived_keys()) or "none")
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
    import sys

    from golden_record import console

    parser = console.ArgumentParser("init-tracking", description=(
        "Create the MLflow tracking store's schema once (mlflow db upgrade) and the experiment, so that parallel "
        "runs never race to create a fresh SQLite store."))
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

    return (f"open the MLflow UI: {ui.ui_command()}, then {ui.run_url(experiment_id, run_id)}"
            f"  (all runs, key metrics first: {ui.runs_url(experiment_id)})")
