"""One way to fit, name and reload a model of any registered type (:mod:`golden_record.linkage.model_types`).

The pipeline calls :func:`fit_model`; scoring's save/load calls :func:`model_to_dict` and
:func:`model_from_dict`, which reads files written before there was a type (FellegiSunter).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from golden_record.errors import ModelError
from golden_record.linkage.ecm import RecordLinkageECM
from golden_record.linkage.model import FellegiSunter
from golden_record.linkage.model_types import MODEL_TYPES

MODEL_CLASSES: dict[str, type] = {"fellegi_sunter": FellegiSunter, "recordlinkage_ecm": RecordLinkageECM}
if set(MODEL_CLASSES) != set(MODEL_TYPES):
    raise RuntimeError(f"model types {sorted(set(MODEL_TYPES) ^ set(MODEL_CLASSES))} lack a class or a registry entry")
#: a saved model without a type was written before the registry: it is a FellegiSunter
DEFAULT_TYPE = "fellegi_sunter"

Model = FellegiSunter | RecordLinkageECM


def model_type_of(model: Model) -> str:
    for name, cls in MODEL_CLASSES.items():
        if type(model) is cls:
            return name
    raise TypeError(f"{type(model).__name__} is not a registered model type ({list(MODEL_CLASSES)})")


def fit_model(model_type: str, names: list[str], labels: list[list[str]], levels: np.ndarray, *,
              random_u: Callable[[], list[np.ndarray]] | None = None, say: Callable[[str], None] | None = None,
              counts: np.ndarray | None = None, **options) -> Model:
    """Fit a model of ``model_type`` on the comparison ``levels`` of the candidate pairs.

    ``options`` are the ``model.em`` settings as keywords (``max_iterations``, ``tolerance``,
    ``initial_match_share``, ``related_classes``...); ``random_u`` returns what random record
    pairs say (:class:`golden_record.linkage.model.RandomPairStats`: their u-probabilities, and
    which comparisons agree together; pass it when ``model.em.u_from_random_pairs``), called only
    by a type that uses them. A type that does not use an option or ``random_u`` says so through ``say``, with the
    values given, never silently. ``counts``: ``levels`` are distinct patterns with these pair
    counts (aggregated by the Spark engine): the same fit as on the pairs.
    """
    if model_type not in MODEL_CLASSES:
        raise ModelError(f"unknown model type {model_type!r}", f"model.type is one of {list(MODEL_CLASSES)}")
    settings = MODEL_TYPES[model_type].em_settings
    used = options if settings is None else {k: v for k, v in options.items() if k in settings}
    ignored = {k: v for k, v in options.items() if k not in used}
    if random_u is not None and settings is not None and "u_from_random_pairs" not in settings:
        ignored["u_from_random_pairs"] = True
    if ignored and say is not None:
        say(f"  {model_type}: " + ", ".join(f"model.em.{k}={v}" for k, v in ignored.items())
            + (" does" if len(ignored) == 1 else " do") + " not apply to this model type")
    if model_type == "fellegi_sunter":
        stats = random_u() if random_u else None
        return FellegiSunter(names, labels).fit(levels, u_fixed=stats.u if stats else None, counts=counts,
                                                dependent=stats.dependent if stats else None, **used)
    if counts is not None:      # recordlinkage's ECM reads one row per pair
        levels = np.repeat(levels, np.asarray(counts, dtype=np.int64), axis=0)
    return RecordLinkageECM(names, labels).fit(levels, **used)


def model_to_dict(model: Model) -> dict:
    return {**model.to_dict(), "type": model_type_of(model)}


def model_from_dict(data: dict) -> Model:
    model_type = data.get("type", DEFAULT_TYPE)
    if model_type not in MODEL_CLASSES:
        raise ModelError(f"the saved model has type {model_type!r}, which this version does not know",
                         f"known types: {list(MODEL_CLASSES)}; train the model again with this version")
    return MODEL_CLASSES[model_type].from_dict(data)
