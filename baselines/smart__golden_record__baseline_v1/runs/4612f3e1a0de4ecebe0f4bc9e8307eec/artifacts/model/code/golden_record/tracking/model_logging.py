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
    # every field as an optional string column: an absent one is a missing value
    inputs = Schema([ColSpec("string", f + side, required=False) for f in fields if f in rec.columns
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
