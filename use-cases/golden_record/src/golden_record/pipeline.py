"""The training pipeline, stage by stage, independent of MLflow:

load -> prepare -> candidates -> compare -> fit -> score -> (evaluate)

Each stage is timed and named, so a failure can say where it happened. The ground truth is
loaded apart and only ever used to label pairs for evaluation, never for fitting.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import candidates as candidates_mod
from . import warehouse
from .cli import Progress
from .comparisons import ComparisonVectors, compare
from .config import ModelConfig
from .errors import DataError, ModelError
from .evaluation import Evaluation, evaluate
from .model import FellegiSunter, level_frequencies



@dataclass
class Scored:
    """Everything a run needs after fitting: the pairs, their vectors and scores, and labels."""
    records: pd.DataFrame            # loaded (raw) records, record_id first
    prepared: pd.DataFrame
    pairs: candidates_mod.Candidates
    vectors: ComparisonVectors
    model: FellegiSunter
    weights: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray | None        # True where both records belong to the same person (None: no truth)
    entity: np.ndarray | None        # entity id per record position
    total_true_pairs: int = 0

    @property
    def n_records(self) -> int:
        return len(self.records)

    @property
    def n_people(self) -> int | None:
        return None if self.entity is None else int(len(np.unique(self.entity)))

    def evaluate(self, threshold: float) -> Evaluation | None:
        if self.labels is None:
            return None
        return evaluate(self.probabilities, self.labels, threshold, self.total_true_pairs, self.n_records)


def random_pair_u(prepared: pd.DataFrame, config: ModelConfig, n_levels: list[int], seed: int = 0) -> list[np.ndarray]:
    """u-probabilities from random record pairs: two random records are almost surely different people."""
    n = len(prepared)
    k = int(min(config.model.em.random_pairs, max(n * (n - 1) // 2, 1)))
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=k)
    right = rng.integers(0, n, size=k)
    keep = left != right
    vectors = compare(prepared, left[keep], right[keep], config.comparisons)
    return level_frequencies(vectors.levels, n_levels)


def labels_for(entity: np.ndarray, pairs: candidates_mod.Candidates) -> np.ndarray:
    return entity[pairs.left] == entity[pairs.right]


def true_pair_count(entity: np.ndarray) -> int:
    _, counts = np.unique(entity, return_counts=True)
    return int((counts.astype(np.int64) * (counts - 1) // 2).sum())


def load(conn, config: ModelConfig, progress: Progress) -> tuple[pd.DataFrame, np.ndarray | None]:
    with progress.stage("load"):
        fields = config.needed_fields()
        with warehouse.snapshot(conn):   # records and ground truth from one consistent snapshot
            records = warehouse.load_records(conn, config.data, fields)
            truth = warehouse.load_truth(conn, config.data)
        entity = None
        if truth is not None:
            mapped = truth.reindex(records["record_id"].to_numpy())
            # records without a truth entry are their own person
            fill = -np.arange(1, mapped.isna().sum() + 1, dtype=np.int64)
            values = mapped.to_numpy(dtype=float)
            values[np.isnan(values)] = fill
            entity = values.astype(np.int64)
        progress.counts["records"] = len(records)
        progress.say(f"  {len(records):,} records, {len(fields)} fields"
                     + ("" if entity is None else f", ground truth for {np.isin(records['record_id'], truth.index).sum():,}"))
    return records, entity


def candidate_vectors(records: pd.DataFrame, config: ModelConfig, progress: Progress
                      ) -> tuple[pd.DataFrame, candidates_mod.Candidates, ComparisonVectors]:
    """prepare -> candidates -> compare: everything before the model, shared by training,
    re-scoring with a logged model (golden records, promotion) and sweeps."""
    from .prepare import prepare

    with progress.stage("prepare"):
        prepared = prepare(records)
    with progress.stage("candidates"):
        pairs = candidates_mod.generate(
            prepared, config.model.params.blocking_fields, config.candidates,
            progress=lambda r: progress.say(
                f"  pass {r.name}: {r.pairs:,} pairs in {r.blocks:,} blocks"
                + (f" ({r.skipped_blocks:,} blocks of > {config.candidates.max_block_size} records skipped)"
                   if r.skipped_blocks else "")))
        progress.counts["candidate_pairs"] = len(pairs)
        progress.say(f"  {len(pairs):,} candidate pairs after union")
        if len(pairs) == 0:
            raise DataError("blocking yielded no candidate pairs",
                            "check model.params.blocking_fields: the fields may be empty or all different")
    with progress.stage("compare"):
        with progress.bar(len(config.comparisons), "comparisons") as bar:
            vectors = compare(prepared, pairs.left, pairs.right, config.comparisons,
                              progress=lambda name: bar.update(1))
    return prepared, pairs, vectors


def fit_and_score(records: pd.DataFrame, entity: np.ndarray | None, config: ModelConfig,
                  progress: Progress) -> Scored:
    prepared, pairs, vectors = candidate_vectors(records, config, progress)
    with progress.stage("fit"):
        em = config.model.em
        model = FellegiSunter(vectors.names, vectors.labels)
        u_fixed = random_pair_u(prepared, config, model.n_levels) if em.u_from_random_pairs else None
        model.fit(vectors.levels, u_fixed=u_fixed, max_iterations=em.max_iterations, tolerance=em.tolerance,
                  initial_match_share=em.initial_match_share, related_classes=em.related_classes)
        weights, probs = model.score(vectors.levels)
        rep = model.report
        progress.say(f"  EM: {rep.iterations} iterations, converged={rep.converged}, "
                     f"match share {rep.match_share:.4f}, {rep.patterns:,} distinct patterns")
        if not rep.converged:
            raise ModelError(
                f"EM did not converge in {rep.iterations} iterations (tolerance {em.tolerance:g})",
                "raise model.em.max_iterations or loosen model.em.tolerance; check the comparisons")
        predicted = int((probs >= config.threshold).sum())
        if predicted == 0 or predicted == len(probs):
            raise ModelError(
                f"the model collapsed: {'no' if predicted == 0 else 'every'} candidate pair is a match "
                f"at threshold {config.threshold}",
                "check the comparisons (a field that is always equal or always different) and blocking")
    labels = labels_for(entity, pairs) if entity is not None else None
    total = true_pair_count(entity) if entity is not None else 0
    return Scored(records, prepared, pairs, vectors, model, weights, probs, labels, entity, total)
