"""Scoring record pairs with a fitted model: the one code path shared by training and the
logged MLflow pyfunc model, so the logged model scores new pairs exactly as training did."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .comparisons import compare
from .config import Comparison, ModelConfig, check_threshold
from .model import FellegiSunter
from .prepare import prepare

LEFT, RIGHT = "_l", "_r"


def pair_fields(comparisons: list[Comparison]) -> list[str]:
    fields = []
    for c in comparisons:
        for f in (c.field, c.swap_with):
            if f and f not in fields:
                fields.append(f)
    if "first_name" in fields and "last_name" in fields and "full_name" not in fields:
        fields.append("full_name")
    return fields


def score_pair_frame(pairs: pd.DataFrame, model: FellegiSunter, comparisons: list[Comparison],
                     threshold: float) -> pd.DataFrame:
    """``pairs`` has ``<field>_l`` and ``<field>_r`` columns; returns weight, probability, is_match."""
    fields = pair_fields(comparisons)
    missing = [f + side for f in fields for side in (LEFT, RIGHT) if f + side not in pairs.columns
               and f != "full_name"]
    if missing:
        raise ValueError(f"record pairs lack columns {missing}; expected <field>_l and <field>_r for {fields}")
    n = len(pairs)
    sides = []
    for side in (LEFT, RIGHT):
        part = pd.DataFrame({"record_id": np.arange(n)})
        for f in fields:
            col = f + side
            if col in pairs.columns:
                part[f] = pairs[col].to_numpy(dtype=object)
        if "full_name" not in part.columns and {"first_name", "last_name"} <= set(part.columns):
            part["full_name"] = (part["first_name"].fillna("") + " " + part["last_name"].fillna("")).str.strip()
        sides.append(part)
    records = pd.concat(sides, ignore_index=True)
    records["date_of_birth"] = pd.to_datetime(records.get("date_of_birth"), errors="coerce") \
        if "date_of_birth" in records.columns else None
    prepared = prepare(records)
    vectors = compare(prepared, np.arange(n), np.arange(n) + n, comparisons)
    weights, probs = model.score(vectors.levels)
    return pd.DataFrame({"match_weight": weights, "match_probability": probs, "is_match": probs >= threshold})


def save_model_files(folder: Path, model: FellegiSunter, config: ModelConfig) -> Path:
    """The fitted parameters plus the whole model config (blocking, comparisons, data source),
    so that a logged model can rebuild candidates and score a warehouse without retraining."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fellegi_sunter.json"
    path.write_text(json.dumps({"model": model.to_dict(), "threshold": config.threshold,
                                "comparisons": [c.model_dump(mode="json") for c in config.comparisons],
                                "config": config.model_dump(mode="json")}, indent=2))
    return path


def load_model_files(path: str | Path) -> tuple[FellegiSunter, list[Comparison], float]:
    data = json.loads(Path(path).read_text())
    return (FellegiSunter.from_dict(data["model"]), [Comparison.model_validate(c) for c in data["comparisons"]],
            float(data["threshold"]))


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
            self.model, self.comparisons, self.threshold = load_model_files(context.artifacts["fellegi_sunter"])

        def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
            threshold = check_threshold((params or {}).get("threshold", self.threshold))
            return score_pair_frame(pd.DataFrame(model_input), self.model, self.comparisons, threshold)

    return GoldenRecordPairModel


def python_model():
    return _python_model_class()()
