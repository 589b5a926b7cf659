"""The training pipeline, stage by stage, independent of MLflow:

load -> prepare -> candidates -> compare -> fit -> score -> (evaluate)

Each stage is timed and named, so a failure can say where it happened. The ground truth is
loaded apart and only ever used to label pairs for evaluation, never for fitting; the reviewers'
labels (``pair_labels``) do teach the model (:func:`learn_from_labels`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits
import pandas as pd

from golden_record.linkage.decision import is_match, pairs_within
from golden_record.linkage import blocking as candidates_mod
from golden_record.linkage import defaults
from golden_record.io import warehouse
from golden_record.progress import Progress
from golden_record.linkage.comparisons import ComparisonVectors, compare
from golden_record.config import ModelConfig
from golden_record.errors import DataError, ModelError
from golden_record.evaluation.calibration import choose_threshold
from golden_record.evaluation import outside
from golden_record.evaluation.outside import Missed
from golden_record.evaluation.pairs import Evaluation, evaluate
from golden_record.linkage.cleaning import FieldQuality
from golden_record.linkage.schema import clean_records, settle_formats
from golden_record.linkage.fitting import Model, fit_model
from golden_record.linkage.model import RandomPairStats, decode_patterns, encode_patterns, with_labelled_rows



@dataclass
class Scored:
    """Everything a run needs after fitting: the pairs, their vectors and scores, and labels."""
    records: pd.DataFrame            # loaded (raw) records, record_id first
    prepared: pd.DataFrame
    pairs: candidates_mod.Candidates
    vectors: ComparisonVectors
    model: Model
    weights: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray | None        # True where both records belong to the same person (None: no truth)
    entity: np.ndarray | None        # entity id per record position
    total_true_pairs: int = 0
    quality: "DataQuality | None" = None     # what preparation did to each field
    #: a view of a run whose pairs live elsewhere (the Spark engine, :mod:`golden_record.spark.view`):
    #: the true pairs blocking missed (positions), and which of the pairs form the random sample
    missed: tuple[np.ndarray, np.ndarray] | None = None
    sampled: np.ndarray | None = None
    #: the expected true pairs outside the candidates, estimated without truth (None: not estimated)
    outside: Missed | None = None
    #: what the reviewers' labels taught the model (:func:`learn_from_labels`); None: no labels
    taught: "Taught | None" = None

    @property
    def pair_labels(self) -> np.ndarray | None:
        """Per candidate pair, the label EM was taught: 1 match, 0 not, -1 none (None: no labels)."""
        return None if self.taught is None else self.taught.pair_labels

    @property
    def held_out(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The labelled candidates scored out of sample: (pair indices, probability from a model
        fitted without that label), what the ``labelled_*`` figures use."""
        return None if self.taught is None else self.taught.held_out

    def figures(self) -> "PairFigures":
        return PairFigures(self.probabilities, self.weights, self.labels)

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


@dataclass
class PairFigures:
    """Every scored pair's probability, weight and label (None without a ground truth), or, with
    ``counts``, distinct (weight, probability, label) rows and the pairs each stands for: what the
    run's metrics, calibration and histograms are computed from, on either engine."""
    probabilities: np.ndarray
    weights: np.ndarray
    labels: np.ndarray | None
    counts: np.ndarray | None = None

    @property
    def pairs(self) -> int:
        return len(self.probabilities) if self.counts is None else int(self.counts.sum())

    def matches(self, threshold: float) -> int:
        hit = is_match(self.probabilities, threshold)
        return int(hit.sum()) if self.counts is None else int(self.counts[hit].sum())


def random_positions(n: int, config: ModelConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``model.em.random_pairs`` uniform random record pairs (positions, two different records each;
    the Spark engine draws the very same ones)."""
    k = int(min(config.model.em.random_pairs, max(pairs_within([n]), 1)))
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=k)
    right = rng.integers(0, n, size=k)
    keep = left != right
    return left[keep], right[keep]


@dataclass
class RandomPairs:
    """Random record pairs and their comparison levels: the u-probabilities are measured on them
    (two random records are almost surely different people), and, cut to the pairs that are not
    candidates, they estimate the true pairs blocking missed (:mod:`evaluation.outside`)."""
    left: np.ndarray
    right: np.ndarray
    levels: np.ndarray

    @classmethod
    def draw(cls, prepared: pd.DataFrame, config: ModelConfig, seed: int = 0) -> "RandomPairs":
        left, right = random_positions(len(prepared), config, seed)
        vectors = compare(prepared, left, right, config.comparisons, agreed=False)
        return cls(left, right, vectors.levels)

    def stats(self, n_levels: list[int]) -> RandomPairStats:
        return RandomPairStats.of(self.levels, n_levels)

    def missed(self, model, prepared: pd.DataFrame, config: ModelConfig, pairs: candidates_mod.Candidates
               ) -> Missed | None:
        """Expected true pairs outside ``pairs`` (the candidates), scored by ``model``: these random
        pairs are the last stratum of :func:`evaluation.outside.strata`."""
        if not hasattr(model, "class_log_likelihoods"):
            return None
        parts = outside.strata(prepared, config, pairs.left, pairs.right, self.left, self.right)
        drawn = [s for s in parts if s.rows is None]             # compared in one go, then split
        compared = compare(prepared, np.concatenate([s.left for s in drawn]), np.concatenate([s.right for s in drawn]),
                           config.comparisons, agreed=False).levels if drawn else None
        ends = np.cumsum([len(s.left) for s in drawn])
        split = iter(np.split(compared, ends[:-1])) if drawn else iter(())
        levels = [self.levels[s.rows] if s.rows is not None else next(split) for s in parts]
        return outside.estimate_missed(model, list(zip(parts, levels)), pairs_within([len(prepared)]) - len(pairs))


def labels_for(entity: np.ndarray, pairs: candidates_mod.Candidates) -> np.ndarray:
    return entity[pairs.left] == entity[pairs.right]


def true_pair_count(entity: np.ndarray) -> int:
    _, counts = np.unique(entity, return_counts=True)
    return pairs_within(counts)


def load(conn, config: ModelConfig, progress: Progress, fields: list[str] | None = None,
         allow_null: bool = False) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The records (``fields``, default the config's :meth:`~ModelConfig.needed_fields`) and the
    person code per record from the ground truth (None without one), from one snapshot."""
    with progress.stage("load"):
        fields = config.needed_fields() if fields is None else fields
        with warehouse.snapshot(conn):   # records and ground truth from one consistent snapshot
            records = warehouse.load_records(conn, config.data, fields, allow_null=allow_null)
            truth = warehouse.load_truth(conn, config.data)
        entity = None
        if truth is not None:
            ids = records["record_id"]
            if ids.dtype != truth.index.dtype:       # e.g. integer ids, a truth table with text ids
                ids, truth = ids.astype(str), truth.set_axis(truth.index.astype(str))
            mapped = truth.reindex(ids.to_numpy())
            # records without a truth entry are their own person
            fill = -np.arange(1, mapped.isna().sum() + 1, dtype=np.int64)
            values = mapped.to_numpy(dtype=float)
            values[np.isnan(values)] = fill
            entity = values.astype(np.int64)
        progress.counts["records"] = len(records)
        progress.say(f"  {len(records):,} records, {len(fields)} fields"
                     + ("" if entity is None else f", ground truth for {int(mapped.notna().sum()):,}"))
    return records, entity


@dataclass
class DataQuality:
    """What preparation did to every field, and which blocking passes found nothing."""
    fields: list[FieldQuality]
    max_dropped_share: float
    empty_passes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"max_dropped_share": self.max_dropped_share, "fields": [q.to_dict() for q in self.fields],
                "empty_blocking_passes": self.empty_passes}

    def metrics(self) -> dict[str, float]:
        out = {f"quality_present_{q.field}": q.present_after / q.rows for q in self.fields if q.rows}
        # kept but unusual (a date that does not parse kept as text, an id of another length...)
        out.update({f"quality_unusual_{q.field}": q.unusual / q.rows for q in self.fields if q.rows})
        out["quality_fields_with_drops"] = float(sum(q.dropped > 0 for q in self.fields))
        out["blocking_passes_empty"] = float(len(self.empty_passes))
        return out


def prepare(records: pd.DataFrame, config: ModelConfig, progress: Progress) -> tuple[pd.DataFrame, DataQuality]:
    """Clean every field by its declared type, print one quality line per field, and stop (before
    any pair is generated) when a field lost more than ``data.quality.max_dropped_share`` of its
    present values in cleaning: the value was there, and the pipeline could not read it."""
    prepared, reports = clean_records(records, config.data.fields)
    settle_formats(config.data.fields, reports)     # inferred date formats: logged with the model
    limit = config.data.quality.max_dropped_share
    progress.say("  data quality (present before -> after cleaning):")
    for q in reports:
        progress.say(q.line())
    quality = DataQuality(reports, limit)
    bad = [q for q in reports if q.dropped_share > limit]
    if bad:
        q = bad[0]
        raise DataError(
            f"field {q.field} (type {q.type}) lost {q.dropped_share:.1%} of its {q.present_before:,} present values "
            f"in cleaning, more than data.quality.max_dropped_share={limit:g} (e.g. {q.dropped_examples[:3]})",
            f"declare the field's type and options to fit its values (data.fields.{q.field}, e.g. formats for a "
            "date), map it to another column, or raise data.quality.max_dropped_share")
    return prepared, quality


def candidate_vectors(records: pd.DataFrame, config: ModelConfig, progress: Progress
                      ) -> tuple[pd.DataFrame, candidates_mod.Candidates, ComparisonVectors, DataQuality]:
    """prepare -> candidates -> compare: everything before the model, shared by training,
    re-scoring with a logged model (golden records, promotion) and sweeps."""
    with progress.stage("prepare"):
        prepared, quality = prepare(records, config, progress)
        defaults.resolve(config, prepared, progress)   # comparisons / blocking the config leaves out
    with progress.stage("candidates"):
        pairs = candidates_mod.generate(
            prepared, config.model.params.blocking_fields, config.candidates,
            progress=lambda r: progress.say(
                f"  pass {r.name}: {r.pairs:,} pairs in {r.blocks:,} blocks"
                + (f" ({r.skipped_blocks:,} blocks of > {config.candidates.max_block_size} records skipped)"
                   if r.skipped_blocks else "")))
        empty = [r.name for r in pairs.passes if r.pairs == 0]
        for name in empty:
            progress.say(f"  warning: blocking pass {name} yielded no pairs: its keys never agree between two "
                         "records (check the fields' cleaning in the quality lines above, or drop the pass)")
        quality.empty_passes = empty
        progress.counts["candidate_pairs"] = len(pairs)
        progress.say(f"  {len(pairs):,} candidate pairs after union")
        if len(pairs) == 0:
            raise DataError("blocking yielded no candidate pairs",
                            "check model.params.blocking_fields: the fields may be empty or all different")
    with progress.stage("compare"):
        with progress.bar(len(config.comparisons), "comparisons") as bar:
            vectors = compare(prepared, pairs.left, pairs.right, config.comparisons,
                              progress=lambda name: bar.update(1))
    return prepared, pairs, vectors, quality


# every matrix product of the pipeline (the blocking scorer's and the model's EM, the missed pairs'
# class shares) is small and repeated: one BLAS thread is faster than several
@threadpool_limits.wrap(limits=1, user_api="blas")
def fit_and_score(records: pd.DataFrame, entity: np.ndarray | None, config: ModelConfig,
                  progress: Progress, verdicts=None) -> Scored:
    """``verdicts``: the reviewers' labels (:class:`golden_record.io.labels.Verdicts`), which
    teach the model (:func:`learn_from_labels`)."""
    prepared, pairs, vectors, quality = candidate_vectors(records, config, progress)
    return fit_stage(records, entity, config, progress, prepared, pairs, vectors, quality, verdicts)


def fit_stage(records: pd.DataFrame, entity: np.ndarray | None, config: ModelConfig, progress: Progress,
              prepared: pd.DataFrame, pairs: candidates_mod.Candidates, vectors: ComparisonVectors,
              quality: "DataQuality | None", verdicts=None, unlabelled: Model | None = None) -> Scored:
    """fit -> score on the compared candidates; ``unlabelled``: a model fitted before on these very
    pairs without labels (:meth:`golden_record.linker.Linker.learn`), taught ``verdicts`` again
    without fitting EM from scratch."""
    with progress.stage("fit"):
        em = config.model.em
        n_levels = [len(labels) for labels in vectors.labels]
        sample = RandomPairs.draw(prepared, config)
        model = unlabelled
        if model is None:
            model = fit_model(config.model.type, vectors.names, vectors.labels, vectors.levels,
                              random_u=(lambda: sample.stats(n_levels)) if em.u_from_random_pairs else None,
                              say=progress.say, max_iterations=em.max_iterations, tolerance=em.tolerance,
                              initial_match_share=em.initial_match_share, related_classes=em.related_classes,
                              max_related_classes=em.max_related_classes,
                              match_class_agreement=em.match_class_agreement)
            model.learn_term_frequencies(prepared, config.comparisons)
            if getattr(model, "ignored_tf", None):
                progress.say(f"  {config.model.type}: tf_adjustment of {model.ignored_tf} does not apply to this "
                             "model type")
        pair_labels, outside_labels = candidate_labels(records, pairs, verdicts)
        taught = learn_from_labels(model, vectors, pair_labels, em, progress, outside_labels)
        model = taught.model
        weights, probs = model.score(vectors.levels, vectors.agreed)
        rep = model.report
        if rep.criterion == "bic":
            progress.say("  related classes by BIC: " + ", ".join(
                f"{s['related_classes']}: {s['bic']:,.0f}" for s in rep.selection)
                + f" -> {rep.related_classes} chosen")
        progress.say(f"  EM: {rep.iterations} iterations, converged={rep.converged}, "
                     f"match share {rep.match_share:.4f} ({len(model.match_classes)} match class"
                     f"{'es' if len(model.match_classes) > 1 else ''} of {len(model.class_shares)}), "
                     f"{rep.patterns:,} distinct patterns")
        if not rep.converged:
            raise ModelError(
                f"EM did not converge in {rep.iterations} iterations (tolerance {em.tolerance:g})",
                "raise model.em.max_iterations or loosen model.em.tolerance; check the comparisons")
        missed = sample.missed(model, prepared, config, pairs)
        if missed is not None:
            progress.say("  " + missed.line())
        else:
            progress.say(f"  {config.model.type}: the true pairs blocking missed are not estimated (no latent "
                         "classes to score random pairs with): estimated recall counts the candidates only")
        settle_threshold(config, probs, None, missed, progress)
        check_decisions(config, probs, None, rep.match_share, progress)
    labels = labels_for(entity, pairs) if entity is not None else None
    total = true_pair_count(entity) if entity is not None else 0
    return Scored(records, prepared, pairs, vectors, model, weights, probs, labels, entity, total, quality,
                  outside=missed, taught=taught)


#: labelled pairs are scored out of sample by this many cross-fitted models (fewer with fewer labels)
LABEL_FOLDS = 5


@dataclass
class Taught:
    """A model taught by the reviewers' labels (:func:`learn_from_labels`)."""
    model: Model
    pair_labels: np.ndarray | None         # per candidate pair: 1 match, 0 not, -1 none
    held_out: tuple[np.ndarray, np.ndarray] | None
    not_candidates: int = 0                # labelled pairs blocking never produced (not used by EM)
    unlabelled: Model | None = None        # the model before the labels taught it

    def metrics(self) -> dict[str, float]:
        """``labels_used_in_fit`` (0 without labels), the labelled pairs that are not candidates,
        and how many cross-fitted folds scored the labelled pairs out of sample (0: in sample)."""
        used = 0 if self.pair_labels is None else int((self.pair_labels >= 0).sum())
        return {"labels_used_in_fit": float(used), "labels_not_candidates": float(self.not_candidates),
                "labels_cross_fit_folds": float(0 if self.held_out is None else min(LABEL_FOLDS, used))}

    def tag(self) -> str:
        if self.pair_labels is None:
            return "none"
        if self.held_out is None:
            return "in sample: one labelled candidate pair, too few to hold out"
        return (f"out of sample: each of the {len(self.held_out[0]):,} labelled candidate pairs that taught the model "
                f"scored by the model refitted without its fold ({min(LABEL_FOLDS, len(self.held_out[0]))} folds)")


def candidate_labels(records: pd.DataFrame, pairs: candidates_mod.Candidates, verdicts
                     ) -> tuple[np.ndarray | None, int]:
    """(per candidate pair 1 a labelled match, 0 a labelled non-match, -1 none; labelled pairs that
    are not candidates) from the reviewers' verdicts (:func:`golden_record.io.labels.pair_verdicts`)."""
    from golden_record.evaluation.labelled import candidate_index, locate

    if verdicts is None or verdicts.pairs.empty:
        return None, 0
    loc = locate(records["record_id"].to_numpy(), verdicts)
    idx = candidate_index(pairs.left, pairs.right, loc.left, loc.right, len(records))
    out = np.full(len(pairs), -1, dtype=np.int8)
    out[idx[idx >= 0]] = loc.match[idx >= 0].astype(np.int8)
    return (out if (out >= 0).any() else None), int((idx < 0).sum())


def learn_from_labels(model: Model, vectors: ComparisonVectors, pair_labels: np.ndarray | None, em,
                      progress: Progress, not_candidates: int = 0) -> Taught:
    """Teach the unlabelled ``model`` the labelled candidate pairs (semi-supervised EM,
    :meth:`FellegiSunter.refit`), and score each labelled pair by a model fitted without it (the
    labels in :data:`LABEL_FOLDS` folds, each scored by the model refitted on the others), so the
    ``labelled_*`` figures are out of sample. A model type without latent classes is left as it is
    (said)."""
    if pair_labels is None:
        return Taught(model, None, None, not_candidates, model)
    n = int((pair_labels >= 0).sum())
    if not hasattr(model, "refit"):
        progress.say(f"  labels: {n:,} labelled candidate pairs; model type {type(model).__name__} cannot be "
                     "taught by labels (no latent classes): they count in the labelled_* figures only")
        return Taught(model, None, None, not_candidates, model)
    opts = {"max_iterations": em.max_iterations, "tolerance": em.tolerance}
    labelled = np.flatnonzero(pair_labels >= 0)
    n_levels = model.n_levels
    codes, counts = np.unique(encode_patterns(vectors.levels, n_levels), return_counts=True)
    patterns = decode_patterns(codes, n_levels)

    def refit(rows: np.ndarray):
        return model.refit(*with_labelled_rows(patterns, counts, vectors.levels[rows], pair_labels[rows], n_levels),
                           **opts)

    folds = min(LABEL_FOLDS, n)
    held_p = np.empty(n)
    if folds >= 2:
        fold = np.random.default_rng(0).permutation(n) % folds
        for f in range(folds):
            rows = labelled[fold == f]
            agreed = None if vectors.agreed is None else {k: v[rows] for k, v in vectors.agreed.items()}
            held_p[fold == f] = refit(labelled[fold != f]).score(vectors.levels[rows], agreed)[1]
    taught = refit(labelled)
    used = taught.labels_used
    progress.say(f"  labels: EM taught by {n:,} labelled candidate pairs ({int(used['matches']):,} match, "
                 f"{int(used['non_matches']):,} not); {not_candidates:,} labelled pairs are not candidates (forced "
                 "links and labelled figures only); match share "
                 f"{model.match_share:.4f} -> {taught.match_share:.4f}"
                 + (f"; labelled figures scored out of sample ({folds} cross-fitted folds)" if folds >= 2 else
                    "; one label: the labelled figures are not out of sample"))
    return Taught(taught, pair_labels, (labelled, held_p) if folds >= 2 else None, not_candidates, model)


def settle_threshold(config: ModelConfig, probabilities: np.ndarray, counts: np.ndarray | None,
                     outside: Missed | None, progress: Progress) -> None:
    """``match_threshold: auto``: choose it from the fitted model's probabilities (the one rule,
    :func:`evaluation.calibration.choose_threshold`) and fill it into the config; a declared
    threshold is kept as it is."""
    if not config.threshold_pending:
        return
    choice = choose_threshold(probabilities, counts=counts, missed=outside)
    config.choose_threshold(choice.threshold, choice.note)
    progress.say(f"  match_threshold auto: {choice.note}")


def check_decisions(config: ModelConfig, probabilities: np.ndarray, counts: np.ndarray | None,
                    match_share: float, progress: Progress) -> None:
    """Stop when no pair is a match at the threshold (the model collapsed); warn when every pair is."""
    hit = is_match(probabilities, config.threshold)
    predicted = int(hit.sum()) if counts is None else int(np.asarray(counts)[hit].sum())
    total = len(probabilities) if counts is None else int(np.asarray(counts).sum())
    if predicted == 0:
        raise ModelError(
            f"the model collapsed: no candidate pair is a match at threshold {config.threshold} "
            f"(highest match probability {float(np.max(probabilities)):.3g})",
            "check the comparisons (a field that is always equal or always different) and blocking")
    if predicted == total:
        progress.say(
            f"  warning: every one of the {total:,} candidate pairs is a match at threshold "
            f"{config.threshold} (EM match share {match_share:.4f}, lowest match probability "
            f"{float(np.min(probabilities)):.3g}): right when blocking only pairs records of one person; otherwise "
            "check the comparisons (a field always equal) and blocking")
