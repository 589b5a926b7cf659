"""Evaluation of a scored record-linkage (deduplication) model against ground truth.

The Fellegi-Sunter model scores *candidate* pairs (the output of blocking).  Blocking
misses some true duplicate pairs, so every function here distinguishes between

* ``labels.sum()`` - true duplicate pairs that are among the candidates, and
* ``total_true_pairs`` - all true duplicate pairs in the data.

**Recall is computed over all true pairs**: a true pair missed by blocking can never be
classified a match and counts as a false negative.  Precision, ROC and true negatives are
necessarily computed over candidate pairs only (non-candidate non-matches are not scored).

Conventions
-----------
* A pair is classified a match when ``probability >= threshold``.
* Thresholds are snapped to 12 decimal places (``round(t, 12)``) before use, in
  :func:`evaluate` and :func:`threshold_metrics` alike, so that a threshold such as
  ``np.arange(0, 1, 0.05)[19] == 0.9500000000000001`` behaves like ``0.95`` (a pair
  scored exactly 0.95 is a match).  Reported thresholds are the snapped values.
* Precision is 0.0 when nothing is classified a match; recall is 0.0 when there are no
  true pairs at all; F1 is 0.0 when precision + recall == 0 (computed from counts as
  ``2 tp / (2 tp + fp + fn)``).
* ``average_precision`` is the step-wise area under the precision-recall curve
  (``sum_k (R_k - R_{k-1}) P_k`` over distinct scores, as in
  ``sklearn.metrics.average_precision_score``) with recall over all true pairs, so its
  maximum is ``pairs_completeness``.  NaN when ``total_true_pairs == 0``.
* ``roc_auc`` is over candidate pairs; NaN unless candidates contain both classes.
* ``reduction_ratio`` is NaN when ``n_records < 2``.

Implementation: all curves and threshold tables come from a single ``np.sort`` of the
probabilities.  The label is packed into the lowest bit of a 64-bit sort key built from
the IEEE-754 bit pattern of the probability (non-negative doubles sort like their bit
patterns), which keeps probabilities and labels together without ``np.argsort`` (about 4x
faster; 10 million pairs take well under a second).  Counts at any threshold then follow
from cumulative sums and ``np.searchsorted``.

Every function also takes ``counts``: then each row stands for that many pairs (distinct
probability and label with their pair counts, as the Spark engine aggregates them), and every
number is the one the rows expanded into pairs would give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from golden_record.linkage.decision import THRESHOLD_DECIMALS, pairs_within

__all__ = ["Evaluation", "evaluate", "threshold_metrics", "THRESHOLD_DECIMALS"]

#: Thresholds are rounded to this many decimals before comparison (see module docstring).

#: Maximum number of points per curve kept by :meth:`Evaluation.to_dict`.
_MAX_CURVE_POINTS_IN_DICT = 200

PR_COLUMNS = ["threshold", "precision", "recall", "f1"]
ROC_COLUMNS = ["threshold", "fpr", "tpr"]
THRESHOLD_TABLE_COLUMNS = [
    "threshold",
    "precision",
    "recall",
    "f1_score",
    "match_pairs",
    "true_positives",
    "false_positives",
    "false_negatives",
]


# --------------------------------------------------------------------------- validation


def _validate_probabilities(probabilities: Any) -> np.ndarray:
    try:
        p = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"probabilities must be numeric: {exc}") from None
    if p.ndim != 1:
        raise ValueError(f"probabilities must be 1-dimensional, got shape {p.shape}")
    if p.size:
        if not np.isfinite(p).all():
            raise ValueError("probabilities contain NaN or infinite values")
        lo, hi = float(p.min()), float(p.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"probabilities must lie in [0, 1], got range [{lo}, {hi}]")
    # Fresh contiguous copy; "+ 0.0" also turns -0.0 into +0.0 (needed for the bit-packing).
    return np.add(p, 0.0)


def _validate_labels(labels: Any) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-dimensional, got shape {y.shape}")
    if y.dtype == np.bool_:
        return np.ascontiguousarray(y)
    try:
        yf = y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"labels must be boolean-like (bool or 0/1), got dtype {y.dtype}"
        ) from None
    if yf.size and not np.isin(yf, (0.0, 1.0)).all():
        bad = yf[~np.isin(yf, (0.0, 1.0))][:5]
        raise ValueError(f"labels must be boolean-like (bool or 0/1), found values {bad.tolist()}")
    return yf == 1.0


def _validate_threshold(threshold: Any, name: str = "threshold") -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {threshold!r}") from None
    if not (0.0 <= t <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1], got {threshold!r}")
    return round(t, THRESHOLD_DECIMALS)


def _validate_thresholds(thresholds: Any) -> np.ndarray:
    try:
        t = np.asarray(thresholds, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("thresholds must be a sequence of numbers") from None
    if t.ndim == 0:
        t = t.reshape(1)
    if t.ndim != 1:
        raise ValueError(f"thresholds must be 1-dimensional, got shape {t.shape}")
    if t.size and not ((t >= 0.0) & (t <= 1.0)).all():  # also rejects NaN
        raise ValueError("thresholds must all lie in [0, 1]")
    return np.round(t, THRESHOLD_DECIMALS)


def _validate_total(total_true_pairs: Any, candidate_true_pairs: int) -> int:
    if isinstance(total_true_pairs, (bool, np.bool_)) or not isinstance(
        total_true_pairs, (int, np.integer)
    ):
        if isinstance(total_true_pairs, (float, np.floating)) and float(total_true_pairs).is_integer():
            total_true_pairs = int(total_true_pairs)
        else:
            raise ValueError(f"total_true_pairs must be an integer, got {total_true_pairs!r}")
    total = int(total_true_pairs)
    if total < candidate_true_pairs:
        raise ValueError(
            f"total_true_pairs ({total}) is smaller than the number of true pairs among the "
            f"candidates ({candidate_true_pairs}); it must count ALL true duplicate pairs, "
            "including those missed by blocking"
        )
    return total


def _validate_counts(counts: Any, n: int) -> np.ndarray | None:
    if counts is None:
        return None
    w = np.asarray(counts)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"counts must be 1-D with one count per probability ({n}), got shape {w.shape}")
    if w.size and (not np.issubdtype(w.dtype, np.integer) or w.min() < 0):
        raise ValueError("counts must be non-negative integers")
    return w.astype(np.int64, copy=False)


def _validate_inputs(probabilities: Any, labels: Any, total_true_pairs: Any, counts: Any = None):
    p = _validate_probabilities(probabilities)
    y = _validate_labels(labels)
    if p.shape[0] != y.shape[0]:
        raise ValueError(
            f"probabilities and labels must have equal length, got {p.shape[0]} and {y.shape[0]}"
        )
    w = _validate_counts(counts, p.shape[0])
    candidate_true = int(np.count_nonzero(y)) if w is None else int(w[y].sum())
    total = _validate_total(total_true_pairs, candidate_true)
    return p, y, w, candidate_true, total


# --------------------------------------------------------------------------- core maths


def _rates(tp: np.ndarray, fp: np.ndarray, total_true: int):
    """Precision, recall, F1 from counts (vectorised; one code path for every caller).

    All counts are integers < 2**53, so the float sums below are exact and the results do
    not depend on how the counts were obtained.
    """
    tp = np.asarray(tp, dtype=np.float64)
    matches = tp + np.asarray(fp, dtype=np.float64)
    precision = np.divide(tp, matches, out=np.zeros_like(tp), where=matches > 0)
    recall = np.divide(tp, float(total_true), out=np.zeros_like(tp), where=total_true > 0)
    f1_den = matches + float(total_true)  # = 2 tp + fp + fn
    f1 = np.divide(2.0 * tp, f1_den, out=np.zeros_like(tp), where=f1_den > 0)
    return precision, recall, f1


@dataclass
class _Sorted:
    """Probabilities sorted ascending with cumulative positive counts (one sort)."""

    values: np.ndarray  # sorted ascending, float64
    cum_pos: np.ndarray  # cum_pos[i] = number of positives among values[:i]; len n + 1
    cum_n: np.ndarray | None = None  # with counts: cum_n[i] = pairs among values[:i] (else i)

    @property
    def n(self) -> int:
        return int(self.values.shape[0]) if self.cum_n is None else int(self.cum_n[-1])

    def before(self, index: np.ndarray) -> np.ndarray:
        """Pairs scored below ``values[index]`` (``index`` itself without counts)."""
        return index if self.cum_n is None else self.cum_n[index]

    @property
    def n_pos(self) -> int:
        return int(self.cum_pos[-1])

    @classmethod
    def build(cls, p: np.ndarray, y: np.ndarray) -> "_Sorted":
        # p: validated float64 in [0, 1] without -0.0; y: bool.  Non-negative doubles order
        # like their uint64 bit patterns (< 2**62 for values <= 1), so (bits << 1) | label
        # sorts by probability and carries the label along in a single np.sort.
        key = p.view(np.uint64).copy()
        key <<= np.uint64(1)
        key |= y.view(np.uint8)
        key.sort()
        cum_pos = np.empty(key.shape[0] + 1, dtype=np.int64)
        cum_pos[0] = 0
        body = cum_pos[1:]
        np.bitwise_and(key, np.uint64(1), out=body.view(np.uint64))
        np.cumsum(body, out=body)
        key >>= np.uint64(1)
        return cls(values=key.view(np.float64), cum_pos=cum_pos)

    @classmethod
    def build_counted(cls, p: np.ndarray, y: np.ndarray, w: np.ndarray) -> "_Sorted":
        """As :meth:`build`, each row standing for ``w`` pairs (rows with no pair are left out)."""
        keep = w > 0
        p, y, w = p[keep], y[keep], w[keep]
        key = p.view(np.uint64) << np.uint64(1) | y.view(np.uint8).astype(np.uint64)
        order = np.argsort(key, kind="stable")
        key, w = key[order], w[order]
        cum_n = np.concatenate(([0], np.cumsum(w))).astype(np.int64)
        cum_pos = np.concatenate(([0], np.cumsum(w * (key & np.uint64(1)).astype(np.int64)))).astype(np.int64)
        return cls(values=(key >> np.uint64(1)).view(np.float64), cum_pos=cum_pos, cum_n=cum_n)

    @classmethod
    def of(cls, p: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> "_Sorted":
        return cls.build(p, y) if w is None else cls.build_counted(p, y, w)

    def counts_at(self, thresholds: np.ndarray):
        """(match_pairs, tp) for ``p >= t`` at each threshold."""
        first = np.searchsorted(self.values, thresholds, side="left")
        matches = self.n - self.before(first)
        tp = self.n_pos - self.cum_pos[first]
        return matches.astype(np.int64), tp.astype(np.int64)

    def distinct_first_desc(self) -> np.ndarray:
        """Index (into ``values``) of the first occurrence of each distinct score,
        ordered by descending score."""
        v = self.values
        if v.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        is_first = np.empty(v.shape[0], dtype=bool)
        is_first[0] = True
        np.not_equal(v[1:], v[:-1], out=is_first[1:])
        return np.flatnonzero(is_first)[::-1]


def _pr_from_sorted(s: _Sorted, total_true: int):
    """PR curve, ROC curve, average precision and ROC AUC.

    Written with preallocated column blocks (no per-column copies) because with 10 million
    distinct scores every temporary costs ~80 MB.
    """
    first = s.distinct_first_desc()
    k = first.shape[0]
    n_pos, n_neg = s.n_pos, s.n - s.n_pos

    pr = np.empty((4, k))  # rows: threshold, precision, recall, f1
    roc = np.empty((3, k + 1))  # rows: threshold, fpr, tpr
    thr, prec, rec, f1 = pr
    np.take(s.values, first, out=thr)
    np.subtract(s.n, s.before(first), out=prec)  # prec <- matches (>= 1 for every distinct score)
    np.subtract(n_pos, s.cum_pos[first], out=rec)  # rec <- tp
    tp, matches = rec, prec

    roc[:, 0] = (np.inf, 0.0, 0.0)
    roc[0, 1:] = thr
    if n_neg > 0:
        np.subtract(matches, tp, out=roc[1, 1:])
        roc[1, 1:] /= n_neg
    else:
        roc[1, 1:] = np.nan
    if n_pos > 0:
        np.divide(tp, n_pos, out=roc[2, 1:])
    else:
        roc[2, 1:] = np.nan

    # Same values as _rates: counts are exact integers in float64 and 2 * (tp / den) is
    # bit-identical to (2 tp) / den.
    buf = np.empty(k)  # scratch, reused below
    np.add(matches, float(total_true), out=f1)
    np.divide(tp, f1, out=f1)  # denominator >= matches >= 1
    f1 *= 2.0
    np.divide(tp, matches, out=prec)
    if total_true > 0:
        np.divide(tp, float(total_true), out=rec)
        if k:
            buf[0] = rec[0]
            np.subtract(rec[1:], rec[:-1], out=buf[1:])
        ap = float(np.dot(buf, prec))  # sum_k (R_k - R_{k-1}) P_k
    else:
        rec[:] = 0.0
        ap = math.nan

    if n_pos > 0 and n_neg > 0:
        # Trapezoid rule over the k + 1 ROC points (k intervals).
        fpr, tpr = roc[1], roc[2]
        np.subtract(fpr[1:], fpr[:-1], out=buf)
        area = np.add(tpr[1:], tpr[:-1], out=np.empty(k))
        auc = float(np.dot(buf, area)) / 2.0
        del area
    else:
        auc = math.nan
    del buf

    pr_df = pd.DataFrame(pr.T, columns=PR_COLUMNS, copy=False)
    roc_df = pd.DataFrame(roc.T, columns=ROC_COLUMNS, copy=False)
    return pr_df, roc_df, ap, auc


# --------------------------------------------------------------------------- public API


def _json_number(x: Any) -> Any:
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else None


def _downsample_idx(n: int, max_points: int) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def _curve_to_dict(df: pd.DataFrame, max_points: int) -> dict[str, list]:
    idx = _downsample_idx(len(df), max_points)
    return {c: [_json_number(v) for v in df[c].to_numpy()[idx]] for c in df.columns}


@dataclass
class Evaluation:
    """Result of :func:`evaluate`.

    ``metrics`` holds floats and ints (counts are ints); it may contain NaN
    (``roc_auc``, ``average_precision``, ``reduction_ratio`` in degenerate cases).
    Use :meth:`to_dict` for strict JSON (NaN/inf become ``None``).
    """

    metrics: dict[str, float]
    confusion: dict[str, int]
    threshold: float
    pr_curve: pd.DataFrame = field(repr=False)
    roc_curve: pd.DataFrame = field(repr=False)

    def to_dict(self, max_curve_points: int = _MAX_CURVE_POINTS_IN_DICT) -> dict:
        """JSON-serialisable summary; curves down-sampled to <= ``max_curve_points`` rows
        (evenly spaced by row index, first and last rows kept).  NaN/inf -> ``None``."""
        return {
            "threshold": _json_number(self.threshold),
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "confusion": {k: int(v) for k, v in self.confusion.items()},
            "pr_curve": _curve_to_dict(self.pr_curve, max_curve_points),
            "roc_curve": _curve_to_dict(self.roc_curve, max_curve_points),
        }


def evaluate(
    probabilities: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    total_true_pairs: int,
    n_records: int,
    counts: np.ndarray | None = None,
) -> Evaluation:
    """Evaluate candidate-pair match probabilities against ground truth.

    Parameters
    ----------
    probabilities : match probability per candidate pair, in [0, 1].
    labels : bool-like per candidate pair, True for a true duplicate pair.
    threshold : classify a pair a match when ``probability >= threshold`` (see module
        docstring for the 12-decimal snapping).
    total_true_pairs : number of true duplicate pairs in the whole data set (including
        those blocking missed); ``>= labels.sum()``.
    n_records : number of records deduplicated (for the reduction ratio).
    counts : pairs per row (rows of distinct probability and label); None: one pair per row.
    """
    p, y, w, candidate_true, total = _validate_inputs(probabilities, labels, total_true_pairs, counts)
    t = _validate_threshold(threshold)
    if isinstance(n_records, (bool, np.bool_)) or not isinstance(n_records, (int, np.integer)):
        raise ValueError(f"n_records must be an integer, got {n_records!r}")
    n_records = int(n_records)
    if n_records < 0:
        raise ValueError(f"n_records must be >= 0, got {n_records}")
    n_candidates = int(p.shape[0]) if w is None else int(w.sum())
    possible_pairs = pairs_within([n_records])
    if n_candidates > possible_pairs and n_records >= 2:
        raise ValueError(
            f"{n_candidates} candidate pairs exceed the {possible_pairs} possible pairs "
            f"of {n_records} records"
        )
    if n_records < 2 and n_candidates > 0:
        raise ValueError(f"{n_candidates} candidate pairs but only {n_records} records")

    predicted = p >= t
    if w is None:
        match_pairs = int(np.count_nonzero(predicted))
        tp = int(np.count_nonzero(predicted & y))
    else:
        match_pairs, tp = int(w[predicted].sum()), int(w[predicted & y].sum())
    fp = match_pairs - tp
    fn = total - tp
    tn = (n_candidates - candidate_true) - fp

    precision, recall, f1 = (float(a[0]) for a in _rates(np.array([tp]), np.array([fp]), total))

    pr, roc, ap, auc = _pr_from_sorted(_Sorted.of(p, y, w), total)

    metrics: dict[str, float] = {
        "precision": precision,
        "recall": recall,
        "f1_score": f1,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "true_negatives": tn,
        "match_pairs": match_pairs,
        "training_pairs": n_candidates,
        "true_match_pairs": total,
        "candidate_true_pairs": candidate_true,
        "pairs_completeness": candidate_true / total if total > 0 else 1.0,
        "reduction_ratio": 1.0 - n_candidates / possible_pairs if possible_pairs > 0 else math.nan,
        "average_precision": ap,
        "roc_auc": auc,
    }
    confusion = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    return Evaluation(metrics=metrics, confusion=confusion, threshold=t, pr_curve=pr, roc_curve=roc)


def threshold_metrics(
    probabilities: np.ndarray,
    labels: np.ndarray,
    thresholds: Sequence[float],
    total_true_pairs: int,
    counts: np.ndarray | None = None,
) -> pd.DataFrame:
    """Metrics at many thresholds from one sort (same numbers as :func:`evaluate`).

    Returns one row per threshold (input order) with columns ``threshold, precision,
    recall, f1_score, match_pairs, true_positives, false_positives, false_negatives``.
    Recall is over all ``total_true_pairs``.
    """
    p, y, w, _, total = _validate_inputs(probabilities, labels, total_true_pairs, counts)
    t = _validate_thresholds(thresholds)
    s = _Sorted.of(p, y, w)
    matches, tp = s.counts_at(t)
    fp = matches - tp
    precision, recall, f1 = _rates(tp, fp, total)
    return pd.DataFrame(
        {
            "threshold": t,
            "precision": precision,
            "recall": recall,
            "f1_score": f1,
            "match_pairs": matches,
            "true_positives": tp,
            "false_positives": fp,
            "false_negatives": total - tp,
        },
        columns=THRESHOLD_TABLE_COLUMNS,
    )
