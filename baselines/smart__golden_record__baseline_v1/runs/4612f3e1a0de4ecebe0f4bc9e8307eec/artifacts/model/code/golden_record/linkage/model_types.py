"""The registry of model types: what ``model.type`` may name (validated in :mod:`golden_record.config`).

Only names and what they mean live here, so the config can check ``model.type`` without importing
any model; :mod:`golden_record.linkage.fitting` maps each name to its class and fits it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelType:
    description: str
    #: the ``model.em`` settings the type reads (the others do not apply to it); None: all of them
    em_settings: tuple[str, ...] | None = None


MODEL_TYPES: dict[str, ModelType] = {
    "fellegi_sunter": ModelType(
        "Fellegi-Sunter on graded levels by EM, with related non-match classes and u from random pairs "
        "(the default; linkage/model.py)"),
    "recordlinkage_ecm": ModelType(
        "baseline: the recordlinkage package's ECMClassifier on the same pairs, levels binarised to "
        "agree/disagree/missing (linkage/ecm.py)",
        ("max_iterations", "tolerance", "initial_match_share")),
}


def check_model_type(value: str) -> str:
    """``value`` if it names a registered model type, else a ValueError naming the choices."""
    if value not in MODEL_TYPES:
        choices = "; ".join(f"{name!r}: {spec.description}" for name, spec in MODEL_TYPES.items())
        raise ValueError(f"unknown model type {value!r}; choose one of {list(MODEL_TYPES)} ({choices})")
    return value
