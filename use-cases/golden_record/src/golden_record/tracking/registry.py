"""Model promotion: register a run's model as ``golden_record_dedup`` and move the alias
``champion`` to it only when its F1 beats the current champion's on the same data.

"The same data" is checked with the ``data.digest`` tag. When the champion was measured on other
data, it is re-scored on the current warehouse (its own config and fitted parameters, no
retraining) so that both F1 scores come from the same records.
"""
from __future__ import annotations

import numpy as np
from pydantic import ValidationError

from golden_record.config import Settings
from golden_record.errors import GoldenRecordError
from golden_record.tracking import store as tracking
from golden_record.io import warehouse
from golden_record.evaluation.pairs import evaluate
from golden_record.progress import Progress
from golden_record.linkage.pipeline import candidate_vectors, labels_for, load, true_pair_count

MODEL_NAME = "golden_record_dedup"
ALIAS = "champion"


def run_f1(run) -> float | None:
    m = run.data.metrics
    return m.get("f1_score", m.get("best_f1_score"))


def best_run_id(client, experiment_id: str) -> str:
    runs = client.search_runs([experiment_id], filter_string="attributes.status = 'FINISHED'",
                              max_results=1000)
    scored = [(run_f1(r), r.info.start_time, r.info.run_id) for r in runs
              if run_f1(r) is not None and r.data.tags.get("run_kind") != "sweep_child"]
    if not scored:
        raise GoldenRecordError("no finished run with an F1 score to register", "train a model first: make train")
    return max(scored)[2]


def f1_on_current_data(client, run_id: str, settings: Settings) -> tuple[float, str]:
    """Re-score a run's logged model on the warehouse as it is now; (F1, data digest)."""
    import tempfile
    from pathlib import Path

    import mlflow

    from golden_record.tracking.model_logging import load_logged_model

    with tempfile.TemporaryDirectory() as tmp:
        model, config, threshold = load_logged_model(mlflow.MlflowClient(), run_id, Path(tmp))
    target = warehouse.resolve_target(settings, announce=True)
    with warehouse.connect(target) as conn:
        records, entity = load(conn, config, Progress(quiet=True))
    if entity is None:
        raise GoldenRecordError("cannot compare models: the warehouse has no ground truth", "run make seed-data")
    _, pairs, vectors, _ = candidate_vectors(records, config, Progress(quiet=True))
    _, probs = model.score(vectors.levels, vectors.agreed)
    ev = evaluate(probs, labels_for(entity, pairs), threshold, true_pair_count(entity), len(records))
    return float(ev.metrics["f1_score"]), tracking.frame_digest(records)


def logged_model_uri(run_id: str, experiment_id: str) -> str:
    """The run's logged model as MLflow 3 knows it (``models:/m-…``); ``runs:/<id>/model`` for a
    run logged before logged models (registering that one through the run's path would warn)."""
    import mlflow

    try:
        logged = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list",
                                             filter_string=f"source_run_id = '{run_id}'")
    except Exception:  # noqa: BLE001 - stores without logged models
        logged = []
    named = [m for m in logged if m.name == "model"]
    return named[0].model_uri if named else f"runs:/{run_id}/model"


def register(run_id: str, settings: Settings, uri: str) -> str:
    """Register the run's model; move ``champion`` when it wins. Returns what happened, in words."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(uri)
    run = client.get_run(run_id)
    f1 = run_f1(run)
    if f1 is None:
        raise GoldenRecordError(f"run {run_id} has no f1_score to compare: registering promotes the champion by F1 "
                                "against the ground truth (data.truth)",
                                "register a run trained on a table with a ground truth; without one, keep the run "
                                "id (or the sweep's best threshold) and build golden records with golden-record golden --run-id")
    version = mlflow.register_model(logged_model_uri(run_id, run.info.experiment_id), MODEL_NAME)
    client.set_model_version_tag(MODEL_NAME, version.version, "f1_score", f"{f1:.6f}")
    client.set_model_version_tag(MODEL_NAME, version.version, "data.digest", run.data.tags.get("data.digest", ""))
    try:
        champion = client.get_model_version_by_alias(MODEL_NAME, ALIAS)
    except MlflowException:
        champion = None
    if champion is None:
        client.set_registered_model_alias(MODEL_NAME, ALIAS, version.version)
        return (f"registered {MODEL_NAME} version {version.version} (F1 {f1:.4f}) and made it '{ALIAS}': "
                f"there was no champion yet")
    champ_run = client.get_run(champion.run_id)
    digest = run.data.tags.get("data.digest")
    if champ_run.data.tags.get("data.digest") == digest and run_f1(champ_run) is not None:
        champ_f1, how = run_f1(champ_run), "as logged on the same data"
    else:
        try:
            champ_f1, current = f1_on_current_data(client, champion.run_id, settings)
            how = "re-scored on the current warehouse"
        except ValidationError:   # trained with a config layout this version cannot read
            champ_f1, current = float("-inf"), digest
            how = "its config uses a layout this version cannot read, so it cannot be re-scored"
        if current != digest:
            f1, _ = f1_on_current_data(client, run_id, settings)
    if champ_f1 == float("-inf") or (np.isfinite(champ_f1) and f1 > champ_f1):
        client.set_registered_model_alias(MODEL_NAME, ALIAS, version.version)
        return (f"registered {MODEL_NAME} version {version.version}: F1 {f1:.4f} beats champion version "
                f"{champion.version} (F1 {champ_f1:.4f}, {how}); '{ALIAS}' now points to version {version.version}")
    return (f"registered {MODEL_NAME} version {version.version}: F1 {f1:.4f} does not beat champion version "
            f"{champion.version} (F1 {champ_f1:.4f}, {how}); '{ALIAS}' stays on version {champion.version}")
