"""Scoring record pairs with a fitted model: the one code path shared by training and the
logged MLflow pyfunc model, so the logged model scores new pairs exactly as training did."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from golden_record.linkage.decision import is_match
from golden_record.linkage.comparisons import compare
from golden_record.linkage.explain import (Explanation, comparison_fields, comparison_frame, explain_row,
                                           prior_weight, weights_note)
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


def _as_text(values: pd.Series) -> list:
    """A column of the caller's as text for the cleaner: dates as ISO dates (datetime64 columns,
    ``date``/``Timestamp`` objects), whole floats without ``.0`` (an integer column with gaps
    arrives as floats), missing values as None."""
    if pd.api.types.is_datetime64_any_dtype(values):
        values = values.dt.strftime("%Y-%m-%d %H:%M:%S")
    out = []
    for v in values.to_numpy(dtype=object):
        if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            out.append(str(int(v)))
        elif isinstance(v, pd.Timestamp):
            out.append(v.strftime("%Y-%m-%d %H:%M:%S"))
        else:
            out.append(str(v))
    return out


def score_pair_frame(pairs: pd.DataFrame, model: Model, config: ModelConfig,
                     threshold: float, explain: bool = True) -> pd.DataFrame:
    """``pairs`` has ``<field>_l`` and ``<field>_r`` columns (any subset: an absent column is a
    missing value, which counts neither way); values are cleaned by each field's declared type,
    exactly as in training (dates as dates or text, numbers as numbers or text). Returns per pair
    the match weight, probability and is_match, then (``explain``) per comparison its level
    ``cmp_<name>`` and weight ``w_<name>`` (:func:`golden_record.linkage.explain.comparison_frame`)."""
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
            part[f] = _as_text(pairs[col]) if col in pairs.columns else [None] * n
        sides.append(part)
    records = pd.concat(sides, ignore_index=True)
    prepared, _ = clean_records(records, config.data.fields)
    vectors = compare(prepared, np.arange(n), np.arange(n) + n, config.comparisons)
    weights, probs = model.score(vectors.levels, vectors.agreed)
    out = pd.DataFrame({"match_weight": weights, "match_probability": probs, "is_match": is_match(probs, threshold)})
    if explain:
        out = pd.concat([out, comparison_frame(model, vectors)], axis=1)
    return out


def explain_records(model, config, left: Mapping, right: Mapping, threshold: float) -> Explanation:
    """Score and explain one pair of records given as ``{field: value}`` (raw values, as in the
    warehouse; ``record_id`` if known): the same scoring path as training and the pyfunc model."""
    fields = pair_fields(config)
    pair = pd.DataFrame({f + side: [record.get(f)] for f in fields for side, record in ((LEFT, left), (RIGHT, right))})
    scored = score_pair_frame(pair, model, config, threshold).iloc[0].to_dict()
    row = {**{f"left_{f}": left.get(f) for f in fields}, **{f"right_{f}": right.get(f) for f in fields}, **scored,
           "left_id": left.get("record_id"), "right_id": right.get("record_id")}
    return explain_row(row, comparison_fields(config), prior_weight(model), threshold, note=weights_note(model))


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


def _python_model_class():
    import warnings

    import mlflow.pyfunc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow asks for type hints; the signature is explicit
        return _define_class(mlflow.pyfunc.PythonModel)


def _define_class(base):
    class GoldenRecordPairModel(base):
        """Takes a DataFrame of record pairs (``<field>_l``, ``<field>_r``, any subset) and
        returns per pair ``match_weight``, ``match_probability``, ``is_match`` and per comparison
        its level ``cmp_<name>`` and weight ``w_<name>``."""

        def load_context(self, context):
            self.model, self.config, self.threshold = load_model_files(context.artifacts["fellegi_sunter"])

        def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
            threshold = check_threshold((params or {}).get("threshold", self.threshold))
            return score_pair_frame(pd.DataFrame(model_input), self.model, self.config, threshold)

    return GoldenRecordPairModel


def python_model():
    return _python_model_class()()
