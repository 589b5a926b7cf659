"""The library's front door: ``Linker(config)`` with ``fit``, ``predict``, ``evaluate``, ``cluster``.

It runs the same code path as the jobs (``linkage.pipeline``, ``linkage.scoring``,
``golden.build``), on records already in memory: a DataFrame shaped like the configured table
(its id column and the declared fields' columns), so a notebook or another engine can use the
model without PostgreSQL or MLflow::

    from golden_record import Linker
    linker = Linker("use-cases/golden_record/config/examples/people.yaml")   # or a dict, or a ModelConfig
    linker.fit(table, truth)             # prepare -> candidates -> compare -> EM -> score
    linker.learn(labels)                 # reviewed pairs teach the model (or fit(table, labels=labels))
    linker.evaluate().metrics["f1_score"]
    golden = linker.cluster()            # golden records, one per person
    linker.predict(pairs)                # <field>_l / <field>_r columns in, weights out
    linker.score_all()                   # every candidate pair: ids, probability, weight, levels
"""
from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from golden_record.progress import Progress
from golden_record.config import (MODEL_CONFIG_PATH, ConfigError, ModelConfig, _format_validation_error,
                                  _read_yaml, apply_overrides)
from golden_record.errors import DataError
from golden_record.linkage.decision import is_match
from golden_record.linkage.explain import comparison_frame
from golden_record.linkage.pipeline import fit_and_score
from golden_record.linkage.scoring import score_pair_frame
from golden_record.golden.build import Layout, assemble, cluster_pairs


#: ``data.table`` of a config given to the Linker without one: records in memory come from no table
IN_MEMORY_TABLE = "records"


def in_memory_config(config: ModelConfig | Mapping[str, Any] | str | PathLike | None,
                     overrides: list[str] | None = None) -> ModelConfig:
    """A :class:`ModelConfig` from a ``ModelConfig`` (kept as it is, ``overrides`` applied), a dict
    shaped like the YAML file, or a YAML file's path (none: the default config). Records in memory
    come from no table, so a config without ``data.table`` is completed with
    :data:`IN_MEMORY_TABLE` (it only names the golden tables, which the Linker never writes)."""
    import pydantic

    if isinstance(config, ModelConfig):
        if not overrides:
            return config
        data, source = config.model_dump(mode="json"), "config"
    elif isinstance(config, Mapping):
        data, source = dict(config), "config"
    elif config is None or isinstance(config, (str, PathLike)):
        path = Path(config) if config else MODEL_CONFIG_PATH
        data, source = _read_yaml(path), path.name
    else:
        raise ConfigError(f"Linker takes a dict, a YAML file's path or a ModelConfig, not {type(config).__name__}")
    data = apply_overrides(data, overrides)
    section = data.get("data")
    if isinstance(section, Mapping) and not section.get("table"):
        data["data"] = {**section, "table": IN_MEMORY_TABLE}
    try:
        return ModelConfig.model_validate(data)
    except pydantic.ValidationError as err:
        raise ConfigError(_format_validation_error(source, err)) from None


def records_from_frame(table: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """The rows of ``table`` (shaped like ``data.table``) as the pipeline's records: ``record_id``
    first, then every declared field as text, several columns joined with a space, as the
    warehouse reads them."""
    data = config.data
    missing = [c for c in [data.id, *(c for f, s in data.fields.items() for c in s.source_columns(f))]
               if c not in table.columns]
    if missing:
        raise DataError(f"the records lack the column(s) {sorted(set(missing))} that data.id / data.fields name",
                        "pass a frame shaped like data.table, or fix the config")
    out = pd.DataFrame({"record_id": table[data.id].to_numpy()})
    for field, spec in data.fields.items():
        parts = [_text(table[c]) for c in spec.source_columns(field)]
        joined = parts[0]
        for part in parts[1:]:    # "a b c" with blank parts skipped, as concat_ws does in SQL
            joined = _text(joined.fillna("") + " " + part.fillna("")).str.replace(r"\s+", " ", regex=True)
        out[field] = joined.to_numpy(dtype=object, na_value=None)
    return out


def _verdicts(labels: pd.DataFrame | None):
    from golden_record.io.labels import verdicts_of

    if labels is None or len(labels) == 0:
        return None
    try:
        return verdicts_of(labels)
    except ValueError as exc:
        raise DataError(f"labels: {exc}", "pass a frame with left_id, right_id and label or match") from None


def _text(values: pd.Series) -> pd.Series:
    """A column as trimmed text, blank -> missing (vectorised)."""
    text = values.astype("string").str.strip().reset_index(drop=True)
    return text.where(text != "")


class Linker:
    """Fellegi–Sunter record linkage of one configured schema, fitted on records in memory."""

    def __init__(self, config: ModelConfig | Mapping[str, Any] | str | PathLike | None = None,
                 overrides: list[str] | None = None, quiet: bool = True):
        """``config``: a dict shaped like the YAML config, its file's path (none: the default
        config) or a :class:`ModelConfig`; ``data.table`` may be left out (:func:`in_memory_config`)."""
        self.config = in_memory_config(config, overrides)
        self.progress = Progress(quiet=quiet)
        self.scored = None

    def fit(self, table: pd.DataFrame, truth: pd.Series | None = None, labels: pd.DataFrame | None = None
            ) -> "Linker":
        """Clean, block, compare, fit EM and score. ``truth`` (record id -> person) is used for
        evaluation only, never for fitting. ``labels``: reviewed pairs (``left_id``, ``right_id``,
        ``label`` match / not_match / unsure, or a boolean ``match``) that teach the model
        (semi-supervised EM, as ``train`` does with the table's ``pair_labels``)."""

        records = records_from_frame(table, self.config)
        entity = None
        if truth is not None:
            mapped = pd.Series(truth).reindex(records["record_id"].to_numpy())
            codes, _ = pd.factorize(mapped)
            codes = codes.astype(np.int64)
            codes[codes < 0] = -np.arange(1, int((codes < 0).sum()) + 1)   # no truth: a person of their own
            entity = codes
        self._threshold = self.config.model.params.match_threshold
        self.scored = fit_and_score(records, entity, self.config, self.progress, _verdicts(labels))
        return self

    def learn(self, labels: pd.DataFrame | None) -> "Linker":
        """Teach the fitted model ``labels`` (as in :meth:`fit`, replacing labels given before)
        without blocking and comparing again: EM goes on from the unlabelled fit, the threshold is
        chosen again when it is ``auto``."""
        from golden_record.linkage.pipeline import fit_stage

        s = self._fitted()
        if self._threshold == "auto":
            self.config.reopen_threshold()
        self.scored = fit_stage(s.records, s.entity, self.config, self.progress, s.prepared, s.pairs, s.vectors,
                                s.quality, _verdicts(labels), unlabelled=s.taught.unlabelled)
        return self

    def _fitted(self):
        if self.scored is None:
            raise RuntimeError("fit the Linker first: Linker(config).fit(records)")
        return self.scored

    def evaluate(self, threshold: float | None = None):
        """Precision, recall, F1, curves at the threshold (needs the truth given to ``fit``)."""
        scored = self._fitted()
        if scored.labels is None:
            raise DataError("no ground truth was given to fit", "pass truth= to Linker.fit to evaluate")
        return scored.evaluate(self.config.threshold if threshold is None else threshold)

    def predict(self, pairs: pd.DataFrame | None = None, threshold: float | None = None) -> pd.DataFrame:
        """Score record pairs given as ``<field>_l`` / ``<field>_r`` columns (any subset); with no
        pairs, every candidate pair of the fitted records (:meth:`score_all`)."""
        if pairs is None:
            return self.score_all(threshold)
        return score_pair_frame(pairs, self._fitted().model, self.config,
                                self.config.threshold if threshold is None else threshold)

    def score_all(self, threshold: float | None = None) -> pd.DataFrame:
        """Every candidate pair of the records given to ``fit``, one row each: ``left_id``,
        ``right_id`` (the records' ids), ``match_weight``, ``match_probability``, ``is_match``, then
        per comparison its level ``cmp_<name>`` and weight ``w_<name>`` (as :meth:`predict`)."""
        scored = self._fitted()
        ids = scored.records["record_id"].to_numpy()
        out = pd.DataFrame({"left_id": ids[scored.pairs.left], "right_id": ids[scored.pairs.right],
                            "match_weight": scored.weights, "match_probability": scored.probabilities,
                            "is_match": is_match(scored.probabilities,
                                                 self.config.threshold if threshold is None else threshold)})
        return pd.concat([out, comparison_frame(scored.model, scored.vectors)], axis=1)

    def cluster(self, run_id: str | None = None):
        """Golden records from the fitted pairs: clusters with the chaining guards, then
        survivorship on the records given to ``fit`` (nothing is written)."""

        scored = self._fitted()
        g = self.config.golden
        clusters = cluster_pairs(len(scored.records), scored.pairs.left, scored.pairs.right, scored.probabilities,
                                 self.config.threshold, g.min_edge_probability, g.max_cluster_size)
        return assemble(scored.records, clusters, g, Layout.from_config(self.config), run_id, scored.entity)
