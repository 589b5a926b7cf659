"""Scoring record pairs with a fitted model: the one code path shared by training and the
logged MLflow pyfunc model, so the logged model scores new pairs exactly as training did."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from golden_record.linkage.decision import is_match
from golden_record.linkage.comparisons import compare
from golden_record.config import ModelConfig, check_threshold
from golden_record.linkage.fitting import Model, model_from_dict, model_to_dict
from golden_record.linkage.schema import clean_records

LEFT, RIGHT = "_l", "_r"


def pair_fields(config: ModelConfig) -> list[str]:
    """The fields a pair of records is scored on: every compared field (and swap partner)."""
    fields = []
    for c in config.comparisons:
        for f in (c.field, c.swap_with):
            if f and f not in fields:
                fields.append(f)
    return fields


def score_pair_frame(pairs: pd.DataFrame, model: Model, config: ModelConfig,
                     threshold: float) -> pd.DataFrame:
    """``pairs`` has ``<field>_l`` and ``<field>_r`` columns (any subset: an absent column is a
    missing value, which counts neither way); values are cleaned by each field's declared type,
    exactly as in training. Returns weight, probability and is_match per pair."""
    fields = pair_fields(config)
    known = {f + side for f in fields for side in (LEFT, RIGHT)}
    if not known & set(pairs.columns):
        raise ValueError(f"record pairs have none of the columns <field>_l / <field>_r for the fields {fields}")
    n = len(pairs)
    sides = []
    for side in (LEFT, RIGHT):
        part = pd.DataFrame({"record_id": np.arange(n)})
        for f in fields:
            col = f + side
            values = pairs[col] if col in pairs.columns else pd.Series([None] * n, index=pairs.index)
            if pd.api.types.is_datetime64_any_dtype(values):
                values = values.dt.strftime("%Y-%m-%d %H:%M:%S")
            part[f] = [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                       for v in values.to_numpy(dtype=object)]
        sides.append(part)
    records = pd.concat(sides, ignore_index=True)
    prepared, _ = clean_records(records, config.data.fields)
    vectors = compare(prepared, np.arange(n), np.arange(n) + n, config.comparisons)
    weights, probs = model.score(vectors.levels, vectors.agreed)
    return pd.DataFrame({"match_weight": weights, "match_probability": probs, "is_match": is_match(probs, threshold)})


def save_model_files(folder: Path, model: Model, config: ModelConfig) -> Path:
    """The fitted parameters (with the model type) plus the whole model config (blocking,
    comparisons, data source), so that a logged model can rebuild candidates and score a warehouse
    without retraining. The file keeps its name ``fellegi_sunter.json`` whatever the type, so runs
    logged before and after the model-type registry are found and read alike."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fellegi_sunter.json"
    path.write_text(json.dumps({"model": model_to_dict(model), "threshold": config.threshold,
                                "config": config.model_dump(mode="json")}, indent=2))
    return path


def load_model_files(path: str | Path) -> tuple[Model, ModelConfig, float]:
    """The fitted model (of the type it was saved with; a file without a type is a FellegiSunter),
    the config it was trained with, and its threshold."""
    data = json.loads(Path(path).read_text())
    return model_from_dict(data["model"]), ModelConfig.model_validate(data["config"]), float(data["threshold"])


def load_model_config_from_files(path: str | Path) -> ModelConfig:
    return ModelConfig.model_validate(json.loads(Path(path).read_text())["config"])


def _python_model_class():
    import warnings

    import mlflow.pyfunc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow asks for type hints; the signature is explicit
        return _define_class(mlflow.pyfunc.PythonModel)


def _define_class(base):
    class GoldenRecordPairModel(base):
        """Takes a DataFrame of record pairs (``<field>_l``, ``<field>_r``) and returns
        ``match_weight``, ``match_probability`` and ``is_match`` per pair."""

        def load_context(self, context):
            self.model, self.config, self.threshold = load_model_files(context.artifacts["fellegi_sunter"])

        def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
            threshold = check_threshold((params or {}).get("threshold", self.threshold))
            return score_pair_frame(pd.DataFrame(model_input), self.model, self.config, threshold)

    return GoldenRecordPairModel


def python_model():
    return _python_model_class()()
