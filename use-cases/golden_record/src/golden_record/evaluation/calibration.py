"""Can the match probabilities be trusted? Calibration against ground truth, and estimates without it.

**With ground truth** (:func:`calibrate`): the candidate pairs are put in equal-width bins of
predicted probability over [0, 1] (default 10; every bin is ``[lower, upper)``, the last one
``[lower, 1]``) and per bin the table gives the pair count, the mean predicted probability and the
observed match rate (share of the bin's pairs that are true duplicates). A calibrated model's
observed rate equals its mean prediction in every bin.

* ``ece`` (expected calibration error): the count-weighted mean over non-empty bins of
  ``|observed rate - mean predicted|``; 0 is perfect, at most 1.
* ``brier`` (Brier score): the mean of ``(probability - label)^2`` over all pairs; 0 is perfect.

Both are over the **candidate pairs that were scored**: true duplicate pairs that blocking never
produced have no probability and are not in them (``pairs_completeness`` says how many those are).
Because most candidate pairs are clear non-matches near 0, the first bin usually holds most pairs
and weighs most in the ECE; read the table (or the plot) for the bins in between.

**Without ground truth** (:func:`estimate`, always available): if the probabilities are calibrated,
a pair with probability ``p`` is a true duplicate with chance ``p``, so

* ``estimated_precision`` = mean probability of the predicted matches (expected true positives /
  predicted matches);
* ``estimated_recall`` = sum of the probabilities of the predicted matches / (sum of the
  probabilities of all candidate pairs + the expected true pairs blocking left out). The second
  term comes from :mod:`golden_record.evaluation.outside` (random record pairs outside the
  candidates, scored by the model): the estimate covers every true pair, as ``recall`` does, and
  ``estimated_pairs_completeness`` is the share of them among the candidates. The missed pairs
  are estimated from a sample, so recall comes with a 95 % interval
  (``estimated_recall_lower`` / ``_upper``);
* ``estimated_f1`` = their harmonic mean, computed from the expected counts as
  ``2 E[tp] / (predicted matches + E[true pairs])`` (the same count form as ``f1_score``).

Predicted matches follow the project's one rule, :func:`golden_record.linkage.decision.is_match`.
Undefined values are NaN, never a silent 0 or 1: precision is undefined when nothing is predicted a
match, recall when the probabilities sum to 0 (no candidate pairs, or all probabilities 0), F1 when
both counts are 0. :attr:`Estimates.undefined` says which and why (the training job logs it as the
tag ``estimated.undefined`` and leaves the metric out). With no predicted matches but some
probability mass, recall and F1 are a well-defined 0: the model expects to find none of the true pairs.

Every function takes ``counts``: then each probability stands for that many pairs (the Spark
engine's (probability, label, count) aggregates), with the numbers of the pairs expanded.

Everything is vectorised (``np.searchsorted``/``np.bincount``/one sort for many thresholds): it
runs on tens of millions of pairs in well under a second per call.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from golden_record.evaluation.outside import Missed
from golden_record.linkage.decision import is_match, snap

__all__ = ["Calibration", "Estimates", "ThresholdChoice", "calibrate", "choose_threshold", "estimate", "estimates_at",
           "RELIABILITY_COLUMNS"]

RELIABILITY_COLUMNS = ["bin", "lower", "upper", "count", "true_matches", "mean_predicted", "observed_rate"]
ESTIMATE_COLUMNS = ["threshold", "estimated_precision", "estimated_recall", "estimated_f1", "predicted_matches",
                    "expected_true_positives", "expected_true_pairs"]


def _probabilities(probabilities) -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"probabilities must be 1-dimensional, got shape {p.shape}")
    if p.size and not (np.isfinite(p).all() and p.min() >= 0.0 and p.max() <= 1.0):
        raise ValueError("probabilities must be finite and lie in [0, 1]")
    return p


def _counts(counts, p: np.ndarray) -> np.ndarray | None:
    if counts is None:
        return None
    w = np.asarray(counts)
    if w.shape != p.shape or (w.size and (not np.issubdtype(w.dtype, np.integer) or w.min() < 0)):
        raise ValueError("counts must be non-negative integers, one per probability")
    return w.astype(np.int64, copy=False)


# --------------------------------------------------------------------------- with ground truth


@dataclass
class Calibration:
    """Reliability table, ECE and Brier score of candidate-pair probabilities against labels."""

    table: pd.DataFrame = field(repr=False)     # RELIABILITY_COLUMNS, one row per bin (empty ones too)
    ece: float                                   # NaN when there are no pairs
    brier: float                                 # NaN when there are no pairs
    pairs: int

    def metrics(self) -> dict[str, float]:
        """``calibration_ece`` and ``calibration_brier`` (left out when undefined: no pairs)."""
        out = {"calibration_ece": self.ece, "calibration_brier": self.brier}
        return {k: v for k, v in out.items() if math.isfinite(v)}


def calibrate(probabilities, labels, bins: int = 10, counts=None) -> Calibration:
    """Reliability table (``bins`` equal-width bins over [0, 1]), ECE and Brier score.

    ``labels`` is bool-like per pair (True: a true duplicate pair). Empty bins stay in the table
    with count 0 and NaN means; they do not enter the ECE.
    """
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    p = _probabilities(probabilities)
    y = np.asarray(labels)
    if y.shape != p.shape:
        raise ValueError(f"probabilities and labels must have equal length, got {p.size} and {y.size}")
    y = y.astype(bool, copy=False)
    w = _counts(counts, p)
    edges = np.round(np.linspace(0.0, 1.0, bins + 1), 12)     # 0.3, not 0.30000000000000004
    # bin k holds edges[k] <= p < edges[k + 1]; p == 1.0 goes to the last bin
    idx = np.minimum(np.searchsorted(edges, p, side="right") - 1, bins - 1)
    if w is None:
        count = np.bincount(idx, minlength=bins)
        sum_p = np.bincount(idx, weights=p, minlength=bins)
        true = np.bincount(idx[y], minlength=bins)
    else:
        count = np.bincount(idx, weights=w, minlength=bins).astype(np.int64)
        sum_p = np.bincount(idx, weights=p * w, minlength=bins)
        true = np.bincount(idx[y], weights=w[y], minlength=bins).astype(np.int64)
    filled = count > 0
    mean_p = np.divide(sum_p, count, out=np.full(bins, np.nan), where=filled)
    observed = np.divide(true, count, out=np.full(bins, np.nan), where=filled)
    n = int(p.size) if w is None else int(w.sum())
    if n:
        ece = float(np.sum(count[filled] * np.abs(observed[filled] - mean_p[filled])) / n)
        diff = p - y
        brier = float(np.dot(diff, diff) / n) if w is None else float(np.dot(diff * w, diff) / n)
    else:
        ece = brier = math.nan
    table = pd.DataFrame({"bin": np.arange(bins), "lower": edges[:-1], "upper": edges[1:], "count": count,
                          "true_matches": true, "mean_predicted": mean_p, "observed_rate": observed},
                         columns=RELIABILITY_COLUMNS)
    return Calibration(table=table, ece=ece, brier=brier, pairs=n)


# --------------------------------------------------------------------------- without ground truth


def _rates(predicted: np.ndarray, expected_tp: np.ndarray, expected_true: float):
    """Estimated precision, recall and F1 from expected counts, NaN where undefined."""
    predicted = np.asarray(predicted, dtype=np.float64)
    expected_tp = np.asarray(expected_tp, dtype=np.float64)
    nan = np.full(predicted.shape, np.nan)
    precision = np.divide(expected_tp, predicted, out=nan.copy(), where=predicted > 0)
    recall = np.divide(expected_tp, expected_true, out=nan.copy(), where=expected_true > 0)
    den = predicted + expected_true
    f1 = np.divide(2.0 * expected_tp, den, out=nan.copy(), where=den > 0)
    return precision, recall, f1


@dataclass
class Estimates:
    """Precision, recall and F1 expected from the posterior probabilities alone (no ground truth)."""

    threshold: float
    precision: float
    recall: float
    f1: float
    predicted_matches: int
    expected_true_positives: float    # sum of the probabilities of the predicted matches
    expected_true_pairs: float        # sum of the probabilities of all candidate pairs + expected_missed
    candidate_pairs: int
    #: expected true pairs blocking left out (evaluation.outside), with a 95 % interval; None: not estimated
    missed: Missed | None = None

    @property
    def expected_missed(self) -> float:
        return self.missed.expected if self.missed is not None else 0.0

    @property
    def pairs_completeness(self) -> float:
        """Expected share of the true pairs among the candidates (NaN without a missed estimate)."""
        if self.missed is None or self.expected_true_pairs <= 0:
            return math.nan
        return (self.expected_true_pairs - self.missed.expected) / self.expected_true_pairs

    def recall_interval(self) -> tuple[float, float]:
        """95 % interval of the recall from the interval of the missed pairs (the candidates' own
        probabilities taken as they are)."""
        if self.missed is None or not math.isfinite(self.recall):
            return (self.recall, self.recall)
        inside = self.expected_true_pairs - self.missed.expected
        tp = self.expected_true_positives
        hi = tp / (inside + self.missed.lower) if inside + self.missed.lower > 0 else math.nan
        lo = tp / (inside + self.missed.upper) if inside + self.missed.upper > 0 else math.nan
        return (lo, hi)

    def metrics(self) -> dict[str, float]:
        """``estimated_precision``, ``estimated_recall``, ``estimated_f1``; with a missed-pairs
        estimate also ``estimated_recall_lower``/``_upper``, ``estimated_pairs_completeness`` and
        ``estimated_missed_pairs``; undefined ones left out."""
        out = {"estimated_precision": self.precision, "estimated_recall": self.recall, "estimated_f1": self.f1}
        if self.missed is not None:
            lo, hi = self.recall_interval()
            out.update({"estimated_recall_lower": lo, "estimated_recall_upper": hi,
                        "estimated_pairs_completeness": self.pairs_completeness,
                        "estimated_missed_pairs": self.missed.expected})
        return {k: v for k, v in out.items() if math.isfinite(v)}

    @property
    def undefined(self) -> str | None:
        """Which estimates are undefined and why (None when all three are defined)."""
        reasons = []
        if not math.isfinite(self.precision):
            reasons.append(f"estimated_precision (no pair reaches the threshold {self.threshold:g}"
                           f" among {self.candidate_pairs:,} candidate pairs)")
        if not math.isfinite(self.recall):
            reasons.append("estimated_recall (the match probabilities of the "
                           f"{self.candidate_pairs:,} candidate pairs sum to 0)")
        if not math.isfinite(self.f1):
            reasons.append("estimated_f1 (neither predicted matches nor probability mass)")
        return "; ".join(reasons) or None


def estimate(probabilities, threshold: float, counts=None, missed: Missed | None = None,
             judge=None) -> Estimates:
    """Estimated precision, recall and F1 at ``threshold`` from the probabilities (see module doc);
    ``missed``: the expected true pairs outside the candidates (:mod:`evaluation.outside`).
    ``judge``: other probabilities of the same pairs (another model's) that count the expected true
    pairs instead: the decisions of the first model as the other one sees them."""
    p = _probabilities(probabilities)
    w = _counts(counts, p)
    t = snap(threshold)
    match = is_match(p, t)
    if judge is not None:
        p = _probabilities(judge)
    if w is None:
        predicted, expected_tp, expected_true = int(np.count_nonzero(match)), float(p[match].sum()), float(p.sum())
    else:
        mass = p * w
        predicted, expected_tp, expected_true = int(w[match].sum()), float(mass[match].sum()), float(mass.sum())
    expected_true += missed.expected if missed is not None else 0.0
    precision, recall, f1 = (float(a[0]) for a in _rates(np.array([predicted]), np.array([expected_tp]),
                                                         expected_true))
    return Estimates(threshold=t, precision=precision, recall=recall, f1=f1, predicted_matches=predicted,
                     expected_true_positives=expected_tp, expected_true_pairs=expected_true,
                     candidate_pairs=int(p.size) if w is None else int(w.sum()), missed=missed)


#: how far apart the estimates of the chosen class count and of the runner-up may be before a run
#: says that its estimates hang on that choice (issue 25's bound on |estimated - true|)
MODEL_CHOICE_TOLERANCE = 0.03


@dataclass(frozen=True)
class ModelChoice:
    """The chosen model's decisions as the runner-up class count's model sees them.

    The estimates take the fitted model's probabilities as true; when two class counts fit the
    pairs almost equally well (BIC) and disagree about which pairs are matches, the estimates are
    only as sure as that choice. Measured (20,000 records, seed 7): on citizens, people and crm the
    two agree within 0.001; on the sparse profile at 100,000 records the runner-up puts F1 at 0.83
    where the chosen model says 0.95 (true 0.94)."""
    related_classes: int
    bic_gap: float
    estimates: Estimates
    spread: float                   # largest |difference| on precision, recall, F1

    def metrics(self) -> dict[str, float]:
        out = {"estimated_precision_runner_up": self.estimates.precision,
               "estimated_recall_runner_up": self.estimates.recall,
               "estimated_f1_runner_up": self.estimates.f1,
               "estimated_model_choice_spread": self.spread, "em_runner_up_bic_gap": self.bic_gap}
        return {k: v for k, v in out.items() if math.isfinite(v)}

    @property
    def unsure(self) -> bool:
        return self.spread > MODEL_CHOICE_TOLERANCE

    def line(self, chosen: Estimates) -> str:
        e = self.estimates
        return (f"the estimates hang on the class count: the runner-up ({self.related_classes} related classes, "
                f"BIC {self.bic_gap:+,.0f}) sees these decisions at precision {e.precision:.3f}, recall "
                f"{e.recall:.3f}, F1 {e.f1:.3f} (chosen: {chosen.precision:.3f}, {chosen.recall:.3f}, "
                f"{chosen.f1:.3f}); take the estimated F1 as within [{min(e.f1, chosen.f1):.3f}, "
                f"{max(e.f1, chosen.f1):.3f}] at best, and label pairs (make review, the active queue) to settle it")


def model_choice(model, levels, agreed, probabilities, threshold: float, missed: Missed | None = None,
                 chosen: Estimates | None = None) -> ModelChoice | None:
    """:class:`ModelChoice` of a model fitted with ``related_classes: auto`` (None otherwise): its
    runner-up scores the same pairs (``levels``, ``agreed``) and judges the decisions made from
    ``probabilities`` at ``threshold``."""
    runner_up = getattr(model, "runner_up", None)
    if runner_up is None:
        return None
    count, gap, alternative = runner_up
    _, judged = alternative.score(levels, agreed)
    seen = estimate(probabilities, threshold, missed=missed, judge=judged)
    chosen = chosen or estimate(probabilities, threshold, missed=missed)
    diffs = [abs(a - b) for a, b in ((seen.precision, chosen.precision), (seen.recall, chosen.recall),
                                     (seen.f1, chosen.f1)) if math.isfinite(a) and math.isfinite(b)]
    return ModelChoice(int(count), float(gap), seen, max(diffs, default=0.0))


def estimates_at(probabilities, thresholds: Sequence[float], counts=None, missed: Missed | None = None
                 ) -> pd.DataFrame:
    """:func:`estimate` at many thresholds from one sort: one row per threshold (input order),
    columns :data:`ESTIMATE_COLUMNS`; NaN where an estimate is undefined."""
    p = _probabilities(probabilities)
    w = _counts(counts, p)
    order = np.argsort(p, kind="stable")
    p = p[order]
    w = np.ones(p.size, dtype=np.int64) if w is None else w[order]
    t = np.array([snap(x) for x in np.atleast_1d(np.asarray(thresholds, dtype=np.float64))])
    first = np.searchsorted(p, t, side="left")        # p[first:] >= t, as is_match
    after = np.concatenate([np.cumsum(w[::-1])[::-1], [0]])     # after[i] = pairs at p[i:]
    predicted = after[first]
    tail = np.concatenate([np.cumsum((p * w)[::-1])[::-1], [0.0]])   # tail[i] = (p * w)[i:].sum()
    expected_tp = tail[first]
    expected_true = float(tail[0]) + (missed.expected if missed is not None else 0.0)
    precision, recall, f1 = _rates(predicted, expected_tp, expected_true)
    return pd.DataFrame({"threshold": t, "estimated_precision": precision, "estimated_recall": recall,
                         "estimated_f1": f1, "predicted_matches": predicted.astype(np.int64),
                         "expected_true_positives": expected_tp, "expected_true_pairs": expected_true},
                        columns=ESTIMATE_COLUMNS)


# --------------------------------------------------------------------------- match_threshold: auto
#: the thresholds ``auto`` chooses among: every hundredth, and two above 0.99
AUTO_THRESHOLDS = tuple(round(x, 2) for x in np.arange(0.01, 0.995, 0.01)) + (0.995, 0.999)
#: ``auto`` keeps the calibrated posterior 0.5 when its estimated F1 is within this of the best
AUTO_TOLERANCE = 0.001


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    estimated_f1: float
    best_threshold: float           # the threshold of the highest estimated F1
    best_estimated_f1: float
    table: pd.DataFrame = field(repr=False)

    @property
    def note(self) -> str:
        why = (f"the nearest to 0.5 of the thresholds within {AUTO_TOLERANCE:g} of the highest estimated F1 "
               f"({self.best_estimated_f1:.4f} at {self.best_threshold:g})"
               if self.threshold != self.best_threshold else "the highest estimated F1")
        return f"{self.threshold:g} (estimated F1 {self.estimated_f1:.4f}: {why})"


def choose_threshold(probabilities, counts=None, missed: Missed | None = None) -> ThresholdChoice:
    """``match_threshold: auto``: among :data:`AUTO_THRESHOLDS`, the threshold of the highest
    estimated F1 (the expected F1 if the probabilities are calibrated, blocking's misses counted);
    of the thresholds as good as the best (within :data:`AUTO_TOLERANCE`), the one nearest 0.5:
    with calibrated probabilities the F1-optimal threshold is half the best F1, so near 0.5 whenever
    the model is good, and 0.5, the calibrated posterior, is the one a reader expects. With no
    probability mass at all (nothing looks like a match), 0.5 is kept."""
    table = estimates_at(probabilities, AUTO_THRESHOLDS, counts=counts, missed=missed)
    f1 = table["estimated_f1"].to_numpy()
    thresholds = np.asarray(AUTO_THRESHOLDS)
    half = AUTO_THRESHOLDS.index(0.5)
    if not np.isfinite(f1).any():
        return ThresholdChoice(0.5, float(f1[half]), 0.5, float(f1[half]), table)
    best = int(np.nanargmax(f1))
    good = np.flatnonzero(np.nan_to_num(f1, nan=-1.0) >= f1[best] - AUTO_TOLERANCE)
    chosen = int(good[np.argmin(np.abs(thresholds[good] - 0.5))])
    return ThresholdChoice(float(thresholds[chosen]), float(f1[chosen]), float(thresholds[best]), float(f1[best]),
                           table)
