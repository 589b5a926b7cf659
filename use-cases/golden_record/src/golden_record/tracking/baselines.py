"""Baselines shared through Git: export MLflow runs to plain files, import them into any store.

Layout (one folder per experiment, its name made filesystem-safe: ``/`` -> ``__``)::

    baselines/<experiment>/experiment.json               name, tags, when and from which MLflow
    baselines/<experiment>/runs/<run_id>/run.json         run name, status, start/end times, params,
                                                          metrics with their full history (value,
                                                          step, timestamp), tags, dataset inputs, the
                                                          package version and commit that produced
                                                          the run (``produced_by``) and the logged
                                                          model's name and signature (``model``)
    baselines/<experiment>/runs/<run_id>/model/fellegi_sunter.json
                                                          the model's fitted parameters and its whole
                                                          config (the only part of the model shared)
    baselines/<experiment>/runs/<run_id>/artifacts/...    the run's artifacts (the resolved config,
                                                          reports, plots), never the logged model

No code is shared: the logged model's ``code/`` (a copy of the package) and its environment files
are left out. ``import_baselines`` recreates each run in the experiment of the same name (same run
name, params, metrics with history, tags, status and times, artifacts) and rebuilds its model from
the *installed* package, as ``train`` logs one (``runs:/<id>/model`` loads it, ``golden-record serve
--run-id <id>`` serves it), plus the tags ``baseline = "true"`` and ``baseline.source_run_id``. A
model the installed package cannot read is said, and the run imported without it. A run whose
``baseline.source_run_id`` is already in the store (or whose original run is) is skipped, so
importing twice creates nothing. Folders of format 1 (with the model's code copy) still import: the
copy is ignored and the model rebuilt the same way.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from golden_record.config import REPO_ROOT
from golden_record.errors import GoldenRecordError, TrackingError
from golden_record.io.redaction import scrub_obj
from golden_record.tracking import store as tracking
from golden_record.config import load_settings
from golden_record.io.redaction import register_url
from golden_record.io.warehouse import redact

BASELINES_DIR = REPO_ROOT / "baselines"
FORMAT_VERSION = 2
BASELINE_TAG = "baseline"
SOURCE_TAG = "baseline.source_run_id"
SOURCE_EXPERIMENT_TAG = "baseline.source_experiment"
DEFAULT_MAX_MODEL_MB = 5.0
#: the artifact folder of the pyfunc model (``runs:/<id>/model``), and the baseline's folder of its parameters
MODEL_DIR = "model"
#: the model's parameters and config, as ``save_model_files`` writes them
PARAMETERS_FILE = "fellegi_sunter.json"
#: tags an import adds; an imported run exported again drops them and takes back its source's id
_IMPORT_TAGS = (BASELINE_TAG, SOURCE_TAG, SOURCE_EXPERIMENT_TAG)
#: tags not copied onto an imported run (the parent run does not exist in the other store)
_DROPPED_TAGS = ("mlflow.parentRunId",)


def safe_name(name: str) -> str:
    """``smart/golden_record/baseline_v1`` -> ``smart__golden_record__baseline_v1``."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("/", "__")).strip("._") or "experiment"
    return out


#: run tags holding a path on the machine that logged the run
PATH_TAGS = ("mlflow.source.name",)


def portable_path(value: str) -> str:
    """A path of the machine that logged a run, as a path any checkout has: from ``use-cases/``
    (this repository's layout), else relative to the repository root, else the file name."""
    if not value.startswith("/"):
        return value
    if "/use-cases/" in value:
        return value[value.index("/use-cases/") + 1:]
    path = Path(value)
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else path.name


def _shared_experiment_tag(key: str) -> bool:
    """Experiment tags a baseline carries: the user's and the description, not MLflow's own (the
    store's view settings, kinds), which the importing store sets for itself."""
    return not key.startswith("mlflow.") or key == "mlflow.note.content"


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _client(uri: str | None):
    from mlflow import MlflowClient
    return MlflowClient(uri) if uri else MlflowClient()


# --------------------------------------------------------------------------- export
@dataclass
class ExportedRun:
    run_id: str
    run_name: str
    status: str
    folder: Path
    artifacts: int
    skipped: list[dict]
    model_bytes: int | None = None     # the exported parameters file (None: no model exported)

    def model_line(self) -> str:
        """What a clone gets: a model the import rebuilds, or why not."""
        if self.model_bytes is not None:
            return (f"model parameters exported ({self.model_bytes / 1e6:.2f} MB, no code): the import rebuilds "
                    "the model from the installed package, runs:/<imported run id>/model")
        if self.skipped:
            return "no model exported (" + "; ".join(f"{s['path']}: {s['reason']}" for s in self.skipped) + ")"
        return "no model exported (the run logged none)"


def _tree(list_fn: Callable[[str | None], list], path: str | None = None) -> list[tuple[str, int]]:
    """(path, bytes) of every file under ``path`` of an artifact listing."""
    out = []
    for f in list_fn(path):
        if f.is_dir:
            out.extend(_tree(list_fn, f.path))
        else:
            out.append((f.path, int(f.file_size or 0)))
    return out


def _write_json(path: Path, doc: dict) -> None:
    """Write an exported document, every string scrubbed of passwords: these files are committed to
    Git, so this is the last line of defence for a run logged before secrets were scrubbed."""

    path.write_text(json.dumps(scrub_obj(doc), indent=2) + "\n")


def _inputs_to_json(run) -> list[dict]:
    out = []
    for di in getattr(run.inputs, "dataset_inputs", None) or []:
        d = di.dataset
        out.append({"dataset": {"name": d.name, "digest": d.digest, "source_type": d.source_type,
                                "source": d.source, "schema": d.schema, "profile": d.profile},
                    "tags": {t.key: t.value for t in di.tags}})
    return out


def produced_by(tags: dict[str, str]) -> dict:
    """The package version and the commit that produced a run, from its tags (``code_version`` is
    ``<version>+<short sha>[.dirty]``; ``mlflow.source.git.commit`` the whole sha)."""
    code = tags.get("code_version", "")
    version, _, local = code.partition("+")
    commit = tags.get("mlflow.source.git.commit") or local.removesuffix(".dirty") or None
    return {"package": "golden-record", "version": version or None, "commit": commit,
            "dirty": local.endswith(".dirty"), "code_version": code or None}


def _model_parameters(folder: Path) -> tuple[Path | None, dict | None]:
    """A downloaded pyfunc model folder's parameters file and signature (None: not this package's model)."""
    import yaml

    found = sorted(Path(folder).rglob(PARAMETERS_FILE))
    if not found:
        return None, None
    mlmodel = Path(folder) / "MLmodel"
    signature = (yaml.safe_load(mlmodel.read_text()) or {}).get("signature") if mlmodel.is_file() else None
    return found[0], signature


def export_run(run_id: str, out_root: Path = BASELINES_DIR, uri: str | None = None,
               max_model_mb: float = DEFAULT_MAX_MODEL_MB, say: Callable[[str], None] = print) -> ExportedRun:
    """Write one run (and its experiment's ``experiment.json``) under ``out_root``: the run as data,
    its model as parameters only (``model/fellegi_sunter.json``), no code."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = _client(uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise GoldenRecordError(f"run {run_id} not found in the tracking store ({str(exc).splitlines()[0][:120]})",
                                "check the run id (MLflow UI, or scripts/runs_report.py summary)") from None
    exp = client.get_experiment(run.info.experiment_id)
    exp_dir = Path(out_root) / safe_name(exp.name)
    exp_dir.mkdir(parents=True, exist_ok=True)
    _write_json(exp_dir / "experiment.json", {
        "format_version": FORMAT_VERSION, "name": exp.name, "source_experiment_id": exp.experiment_id,
        "tags": dict(sorted((k, v) for k, v in exp.tags.items() if _shared_experiment_tag(k))),
        "mlflow_version": mlflow.__version__,
        "exported_at_ms": int(time.time() * 1000)})

    tags = dict(run.data.tags)
    # an imported baseline exported again is its source again: same id, same tags, no import marks
    exported_id = tags.get(SOURCE_TAG) or run.info.run_id
    if SOURCE_TAG in tags:
        for key in _IMPORT_TAGS:
            tags.pop(key, None)
        for key in _DROPPED_TAGS:
            saved = tags.pop(f"baseline.source_{key.split('.')[-1]}", None)
            if saved is not None:
                tags[key] = saved
    run_dir = exp_dir / "runs" / exported_id
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a re-export replaces the previous one
    art_dir = run_dir / "artifacts"
    art_dir.mkdir(parents=True)

    metrics = {}
    for key in sorted(run.data.metrics):
        history = client.get_metric_history(run.info.run_id, key)
        metrics[key] = [{"value": m.value, "step": m.step, "timestamp": m.timestamp}
                        for m in sorted(history, key=lambda m: (m.step, m.timestamp))]

    limit = int(max_model_mb * 1024 * 1024)
    files, skipped, models = [], [], []
    candidates = []   # (name, model_id, download) of each model: its parameters only are shared
    for entry in client.list_artifacts(run.info.run_id):
        if entry.is_dir and entry.path.split("/")[-1] == MODEL_DIR:   # a model logged as a run artifact
            candidates.append((MODEL_DIR, None, lambda dst, p=entry.path: client.download_artifacts(
                run.info.run_id, p, dst)))
            continue
        sizes = _tree(lambda p: client.list_artifacts(run.info.run_id, p), entry.path) if entry.is_dir \
            else [(entry.path, int(entry.file_size or 0))]
        client.download_artifacts(run.info.run_id, entry.path, str(art_dir))
        files.extend(p for p, _ in sizes)
    # MLflow 3 logged models (mlflow.<flavor>.log_model(name=...)) live beside the run's artifacts
    for out in getattr(run.outputs, "model_outputs", None) or []:
        try:
            lm = client.get_logged_model(out.model_id)
        except MlflowException:
            continue
        candidates.append((safe_name(lm.name or MODEL_DIR), lm.model_id, lambda dst, loc=lm.artifact_location:
                           mlflow.artifacts.download_artifacts(artifact_uri=loc, dst_path=dst)))
    model_bytes = None
    for name, model_id, download in candidates:
        ident = {"path": name, **({"model_id": model_id} if model_id else {})}
        if models:
            skipped.append({**ident, "bytes": 0, "reason": "the run's other model is the one shared"})
            continue
        with tempfile.TemporaryDirectory() as tmp:
            params_file, signature = _model_parameters(Path(download(tmp)))
            if params_file is None:
                skipped.append({**ident, "bytes": 0, "reason": f"no {PARAMETERS_FILE}: not a golden-record model, "
                                "and a baseline shares a model's parameters only, never its code"})
                continue
            size = params_file.stat().st_size
            if size > limit:
                skipped.append({**ident, "bytes": size, "reason": f"model larger than {max_model_mb} MB"})
                continue
            (run_dir / MODEL_DIR).mkdir()
            shutil.copy(params_file, run_dir / MODEL_DIR / PARAMETERS_FILE)
        model_bytes = size
        models.append({"name": name, "parameters": f"{MODEL_DIR}/{PARAMETERS_FILE}", "signature": signature})
    for s in skipped:
        say(f"  skipped model {s['path']} ({s['bytes'] / 1e6:.1f} MB): {s['reason']}")
    if not files:
        art_dir.rmdir()

    info = run.info
    doc = {
        "format_version": FORMAT_VERSION,
        "run_id": exported_id, "run_name": info.run_name, "experiment_name": exp.name,
        "status": info.status, "start_time": info.start_time, "end_time": info.end_time,
        "produced_by": produced_by(tags),
        "params": dict(sorted(run.data.params.items())),
        "metrics": metrics,
        "tags": {k: portable_path(v) if k in PATH_TAGS else v for k, v in sorted(tags.items())},
        "inputs": _inputs_to_json(run),
        "artifacts": {"files": sorted(files), "skipped": skipped},
        "model": models[0] if models else None,
    }
    _write_json(run_dir / "run.json", doc)
    if info.status == "RUNNING":
        say(f"  warning: run {info.run_id} is still RUNNING; exported as it is now")
    return ExportedRun(exported_id, info.run_name, info.status, run_dir, len(files), skipped, model_bytes)


def export_experiment(name: str, out_root: Path = BASELINES_DIR, uri: str | None = None,
                      max_model_mb: float = DEFAULT_MAX_MODEL_MB,
                      say: Callable[[str], None] = print) -> list[ExportedRun]:
    """Export every active run of the experiment ``name``."""
    client = _client(uri)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        known = [e.name for e in client.search_experiments()]
        raise GoldenRecordError(f"experiment {name!r} not found in the tracking store",
                                f"known experiments: {known}")
    runs, token = [], None
    while True:
        page = client.search_runs([exp.experiment_id], max_results=1000, page_token=token,
                                  order_by=["attributes.start_time ASC"])
        runs.extend(page)
        token = page.token
        if not token:
            break
    return [export_run(r.info.run_id, out_root, uri, max_model_mb, say) for r in runs]


# --------------------------------------------------------------------------- import
@dataclass
class ImportResult:
    source_run_id: str
    run_name: str
    experiment: str
    action: str              # "imported" or "skipped"
    run_id: str | None       # the run in this store
    reason: str = ""
    model: bool = False      # the run has a model/ artifact (runs:/<run_id>/model)


def _find_existing(client, experiment_id: str, source_id: str) -> tuple[str, str] | None:
    from mlflow.exceptions import MlflowException

    found = client.search_runs([experiment_id], filter_string=f"tags.`{SOURCE_TAG}` = '{source_id}'",
                               max_results=1)
    if found:
        return found[0].info.run_id, "already imported"
    try:
        original = client.get_run(source_id)
    except MlflowException:
        return None
    if original.info.lifecycle_stage == "active":
        return original.info.run_id, "the original run is in this store"
    return None


def _dataset_inputs(items: list[dict]):
    from mlflow.entities import Dataset, DatasetInput, InputTag

    out = []
    for item in items:
        d = item["dataset"]
        out.append(DatasetInput(Dataset(name=d["name"], digest=d["digest"], source_type=d["source_type"],
                                        source=d["source"], schema=d.get("schema"), profile=d.get("profile")),
                                tags=[InputTag(k, v) for k, v in item.get("tags", {}).items()]))
    return out


def _shared_model(run_dir: Path, doc: dict) -> tuple[Path, dict | None, str] | None:
    """(parameters file, signature, model name) of a baseline's model, or None: format 2 names it in
    run.json; a format-1 folder holds the whole logged model under artifacts/model/ (its code copy is
    not used)."""
    import yaml

    shared = doc.get("model")
    if shared and (Path(run_dir) / shared["parameters"]).is_file():
        return Path(run_dir) / shared["parameters"], shared.get("signature"), shared.get("name") or MODEL_DIR
    old = Path(run_dir) / "artifacts" / MODEL_DIR
    found = sorted(old.rglob(PARAMETERS_FILE)) if (old / "MLmodel").is_file() else []
    if found:
        return found[0], (yaml.safe_load((old / "MLmodel").read_text()) or {}).get("signature"), MODEL_DIR
    return None


def rebuild_model(run_id: str, parameters: Path, signature: dict | None, name: str = MODEL_DIR) -> None:
    """Log the model of run ``run_id`` from its parameters with the *installed* package, as training
    logs one (``pyfunc_model.py`` plus the package as code, the parameters as an artifact, pinned
    requirements, the run's signature): ``runs:/<run_id>/<name>`` loads and serves it."""
    import logging
    import warnings

    import mlflow
    from mlflow.models import ModelSignature

    from golden_record.tracking.model_logging import pip_requirements

    package_dir = Path(__file__).resolve().parents[1]     # the installed golden_record package
    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    mlflow_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), mlflow.start_run(run_id=run_id):
            warnings.simplefilter("ignore")
            mlflow.pyfunc.log_model(name=name, python_model=str(package_dir / "pyfunc_model.py"),
                                    artifacts={"fellegi_sunter": str(parameters)}, code_paths=[str(package_dir)],
                                    pip_requirements=pip_requirements(),
                                    signature=ModelSignature.from_dict(signature) if signature else None)
    finally:
        mlflow_logger.setLevel(level)


def _unreadable(parameters: Path, produced: dict) -> str | None:
    """Why the installed package cannot read a baseline's model (None: it can)."""
    from golden_record.linkage.scoring import load_model_files

    try:
        load_model_files(parameters)
    except Exception as exc:  # noqa: BLE001 - a config or model format this version does not know
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"this golden-record cannot read the model made by {produced.get('code_version') or 'an unknown version'}"
                f" ({first[:160]}): export a baseline trained with this version")
    return None


def import_run(run_dir: Path, experiment_id: str, experiment_name: str, uri: str | None = None) -> ImportResult:
    from mlflow.entities import Metric, Param

    client = _client(uri)
    doc = json.loads((Path(run_dir) / "run.json").read_text())
    tags = dict(doc.get("tags") or {})
    source_id = tags.get(SOURCE_TAG) or doc["run_id"]  # a re-exported import keeps its origin
    run_name = doc.get("run_name") or tags.get("mlflow.runName") or source_id
    art_dir = Path(run_dir) / "artifacts"
    shared = _shared_model(Path(run_dir), doc)
    existing = _find_existing(client, experiment_id, source_id)
    if existing:
        has_model = bool(shared) and _has_model(client, existing[0])
        return ImportResult(source_id, run_name, experiment_name, "skipped", existing[0], existing[1], has_model)

    for key in _DROPPED_TAGS:
        if key in tags:
            tags[f"baseline.source_{key.split('.')[-1]}"] = tags.pop(key)
    tags.update({BASELINE_TAG: "true", SOURCE_TAG: source_id, SOURCE_EXPERIMENT_TAG: doc.get("experiment_name", "")})
    tags["mlflow.runName"] = run_name
    run = client.create_run(experiment_id, start_time=doc.get("start_time"), tags=tags, run_name=run_name)
    run_id = run.info.run_id
    reason = ""
    try:
        params = [Param(k, str(v)) for k, v in (doc.get("params") or {}).items()]
        for chunk in _chunks(params, 100):
            client.log_batch(run_id, params=chunk)
        metrics = [Metric(key, float(m["value"]), int(m["timestamp"]), int(m.get("step") or 0))
                   for key, history in (doc.get("metrics") or {}).items() for m in history]
        for chunk in _chunks(metrics, 1000):
            client.log_batch(run_id, metrics=chunk)
        if doc.get("inputs"):
            client.log_inputs(run_id, datasets=_dataset_inputs(doc["inputs"]))
        if art_dir.is_dir():
            for entry in sorted(art_dir.iterdir()):    # a format-1 model/ folder (code copy) is rebuilt instead
                if entry.name == MODEL_DIR and shared is not None:
                    continue
                if entry.is_dir():
                    client.log_artifacts(run_id, str(entry), entry.name)
                else:
                    client.log_artifact(run_id, str(entry))
        if shared is not None:
            parameters, signature, name = shared
            reason = _unreadable(parameters, doc.get("produced_by") or produced_by(tags)) or ""
            if not reason:
                rebuild_model(run_id, parameters, signature, name)
        status = doc.get("status") or "FINISHED"
        if status != "RUNNING":
            client.set_terminated(run_id, status, end_time=doc.get("end_time"))
    except BaseException:
        client.delete_run(run_id)  # no half-imported run that a later import would take as present
        raise
    return ImportResult(source_id, run_name, experiment_name, "imported", run_id, reason,
                        model=shared is not None and not reason)


def _has_model(client, run_id: str) -> bool:
    """The run in this store has a model at runs:/<run_id>/model (logged or as an artifact)."""
    run = client.get_run(run_id)
    if getattr(run.outputs, "model_outputs", None):
        return True
    return any(f.path == MODEL_DIR and f.is_dir for f in client.list_artifacts(run_id))


def import_baselines(root: Path = BASELINES_DIR, uri: str | None = None,
                     experiments: list[str] | None = None) -> list[ImportResult]:
    """Import every ``<root>/*/experiment.json`` with its runs (optionally only some experiments)."""
    import mlflow


    uri = uri or mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)   # the model is rebuilt through mlflow.start_run / log_model
    client = _client(uri)
    results = []
    for exp_file in sorted(Path(root).glob("*/experiment.json")):
        meta = json.loads(exp_file.read_text())
        name = meta["name"]
        if experiments and name not in experiments and exp_file.parent.name not in experiments:
            continue
        exp_id = tracking.ensure_experiment(name, uri)
        for key, value in (meta.get("tags") or {}).items():
            if _shared_experiment_tag(key):
                client.set_experiment_tag(exp_id, key, value)
        for run_file in sorted((exp_file.parent / "runs").glob("*/run.json")):
            results.append(import_run(run_file.parent, exp_id, name, uri))
    return results


# --------------------------------------------------------------------------- command lines
def _configure(uri: str | None) -> str:
    import os


    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    if uri:
        import mlflow

        register_url(uri)
        mlflow.set_tracking_uri(uri)
        return uri
    return tracking.configure(load_settings())


def export_main(argv: list[str] | None = None) -> int:
    """``scripts/export_baseline.py``: write runs to baselines/<experiment>/ for sharing through Git."""
    from golden_record import console


    p = console.ArgumentParser("export-baseline", description="Write runs to baselines/<experiment>/ for sharing "
                               "through Git.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--run-id", action="append", help="run to export (repeatable)")
    what.add_argument("--experiment", help="export every active run of this experiment")
    p.add_argument("--out", type=Path, default=BASELINES_DIR, help="baselines folder (default %(default)s)")
    p.add_argument("--max-model-mb", type=float, default=DEFAULT_MAX_MODEL_MB,
                   help="skip a model folder larger than this (default %(default)s MB)")
    p.add_argument("--tracking-uri", help="tracking store (default MLFLOW_TRACKING_URI, else config/settings.yaml)")
    args = p.parse_args(argv)
    uri = _configure(args.tracking_uri)
    print(f"tracking store: {redact(uri)}")
    if args.run_id:
        done = [export_run(r, args.out, uri, args.max_model_mb) for r in args.run_id]
    else:
        done = export_experiment(args.experiment, args.out, uri, args.max_model_mb)
    for d in done:
        print(f"exported run {d.run_id} ({d.run_name}, {d.status}, {d.artifacts} artifact files) -> {d.folder}")
        print(f"  {d.model_line()}")
    if not done:
        print("no runs to export")
    else:
        print(f"share them: git add {args.out} && git commit -m 'Baseline: <what changed and why>'")
    return 0


def import_main(argv: list[str] | None = None) -> int:
    """``scripts/import_baseline.py``: import baselines/ into the local tracking store (idempotent)."""
    from golden_record import console


    p = console.ArgumentParser("import-baselines", description="Import the runs shared in baselines/ into the "
                               "local tracking store (idempotent: a run already imported is left as it is).")
    p.add_argument("--dir", type=Path, default=BASELINES_DIR, help="baselines folder (default %(default)s)")
    p.add_argument("--experiment", action="append", help="only this experiment (name or folder; repeatable)")
    p.add_argument("--tracking-uri", help="tracking store (default MLFLOW_TRACKING_URI, else config/settings.yaml)")
    args = p.parse_args(argv)
    if not Path(args.dir).is_dir():
        raise TrackingError(f"baselines folder {args.dir} does not exist", "pass --dir")
    uri = _configure(args.tracking_uri)
    results = import_baselines(args.dir, uri, args.experiment)
    for r in results:
        extra = f" ({r.reason})" if r.reason else ""
        if r.model:
            model = f"; model: runs:/{r.run_id}/model"
        elif r.reason and r.action == "imported":
            model = "; no model"
        else:
            model = "; no model (none was exported)"
        print(f"{r.action} {r.experiment} / {r.run_name}: source run {r.source_run_id} -> run {r.run_id}{extra}{model}")
    imported = sum(r.action == "imported" for r in results)
    print(f"baselines: {imported} imported, {len(results) - imported} already present, into {redact(uri)}")
    return 0
