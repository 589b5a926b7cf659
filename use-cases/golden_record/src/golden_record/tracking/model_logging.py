"""Logging the fitted model to MLflow as a pyfunc model, logged as code (nothing is pickled):
``pyfunc_model.py`` plus the package as ``code_paths``, the fitted parameters and the whole config
as an artifact, an explicit signature (every compared field optional) and pinned requirements."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from golden_record.config import ModelConfig
from golden_record.linkage.pipeline import Scored
from golden_record.linkage.scoring import LEFT, RIGHT, pair_fields, save_model_files, score_pair_frame

PIP_REQUIREMENTS_PACKAGES = ("mlflow", "numpy", "pandas", "pyarrow", "anyascii", "rapidfuzz", "jellyfish",
                             "pydantic", "PyYAML")


def pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version
    reqs = []
    for name in PIP_REQUIREMENTS_PACKAGES:
        try:
            reqs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            reqs.append(name)
    return reqs


#: field types whose values may arrive as dates or numbers as well as text
ANY_TYPED = ("date", "timestamp", "identifier", "phone")


def input_type(config: ModelConfig, field: str):
    """The signature type of a field's ``_l``/``_r`` columns."""
    from mlflow.types.schema import AnyType

    spec = config.data.fields.get(field)
    return AnyType() if spec is not None and spec.type in ANY_TYPED else "string"


def log_model(scored: Scored, config: ModelConfig, folder: Path) -> None:
    """Log the pyfunc model (code + fitted parameters) under the name ``model``."""
    import logging
    import warnings

    import mlflow
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    path = save_model_files(folder / "model_files", scored.model, config)
    fields = pair_fields(config)
    sample_idx = np.arange(min(5, len(scored.pairs)))
    rec = scored.records
    example = pd.DataFrame({f + side: rec[f].to_numpy()[pos[sample_idx]]
                            for f in fields if f in rec.columns
                            for side, pos in ((LEFT, scored.pairs.left), (RIGHT, scored.pairs.right))})
    example = example.astype(object).where(example.notna(), None)
    output = score_pair_frame(example, scored.model, config, config.threshold)
    # every field an optional column (an absent one is a missing value): text fields as strings;
    # dates, identifiers and phones as anything (a date or a string, a number or a string)
    inputs = Schema([ColSpec(input_type(config, f), f + side, required=False) for f in fields if f in rec.columns
                     for side in (LEFT, RIGHT)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signature = infer_signature(example.astype(str), output, params={"threshold": config.threshold})
    signature = ModelSignature(inputs=inputs, outputs=signature.outputs, params=signature.params)
    package_dir = Path(__file__).resolve().parents[1]   # the golden_record package
    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    mlflow_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlflow.pyfunc.log_model(name="model", python_model=str(package_dir / "pyfunc_model.py"),
                                    artifacts={"fellegi_sunter": str(path)}, code_paths=[str(package_dir)],
                                    pip_requirements=pip_requirements(), signature=signature)
    finally:
        mlflow_logger.setLevel(level)


# --------------------------------------------------------------------------- the run


# --------------------------------------------------------------------------- reading a logged model back
def logged_model_file(client, run_id: str, dst: Path) -> Path:
    """Download the run's logged model and return its ``fellegi_sunter.json``."""
    import os

    import mlflow

    from golden_record.errors import TrackingError

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    errors: list[str] = []

    def candidates():
        yield f"runs:/{run_id}/model"
        try:  # MLflow 3: the run's LoggedModel, should the runs:/ URI not resolve
            logged = mlflow.search_logged_models(experiment_ids=[client.get_run(run_id).info.experiment_id],
                                                 filter_string=f"source_run_id = '{run_id}'", output_format="list")
        except Exception as exc:  # noqa: BLE001 - stores without logged models
            errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return
        yield from (m.artifact_location for m in logged if m.name == "model")

    for i, uri in enumerate(candidates()):
        try:
            folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst / str(i))))
        except Exception as exc:  # noqa: BLE001
            errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        found = sorted(folder.rglob("fellegi_sunter.json"))
        if found:
            return found[0]
    raise TrackingError(f"MLflow run {run_id} has no logged model with fellegi_sunter.json"
                        + (f" ({errors[-1][:200]})" if errors else ""),
                        "train with tracking.log_model true (the default): golden-record train")


def add_model_arguments(parser, run_help: str) -> None:
    """``--run-id ID`` | ``--champion`` (the default), and ``--config``/``--set`` as ``train`` reads
    them: which logged model a command uses (:func:`golden_record.tracking.registry.model_run`)."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run-id", help=run_help)
    which.add_argument("--champion", action="store_true",
                       help="the champion of the config's table, registered as golden_record__<schema>_<table> "
                            "(or tracking.model_name): the default without --run-id")
    parser.add_argument("--config", help="model config YAML whose table's champion is used (default "
                                         "use-cases/golden_record/config/model_config.yaml); not with --run-id")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value as train does, e.g. --set data.table=people (repeatable)")


def get_run(client, run_id: str, store: str = "the tracking store"):
    """The MLflow run ``run_id``; a missing or deleted run is an error saying what to pass
    (``store``: how the message names the tracking store, e.g. its redacted URI)."""
    from golden_record.errors import RunNotFoundError

    try:
        run = client.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - MlflowException: RESOURCE_DOES_NOT_EXIST
        raise RunNotFoundError(f"MLflow run {run_id!r} not found in {store}",
                            "pass the run id printed by golden-record train (or copy it from the MLflow UI)") from exc
    if run.info.lifecycle_stage == "deleted":
        raise RunNotFoundError(f"MLflow run {run_id} is deleted", "restore it in the MLflow UI or pick another run")
    return run


def load_logged_model(client, run_id: str, dst: Path):
    """(model, config, threshold) of a run's logged model; a config this version cannot read is
    a configuration error naming the run."""
    from pydantic import ValidationError

    from golden_record.config import ConfigError, _format_validation_error
    from golden_record.linkage.scoring import load_model_files

    path = logged_model_file(client, run_id, dst)
    try:
        return load_model_files(path)
    except ValidationError as err:
        raise ConfigError(f"run {run_id} was trained with a config this version cannot read "
                          f"({_format_validation_error('its model', err).splitlines()[0]}): train a new "
                          "model (golden-record train) and use its run") from None
