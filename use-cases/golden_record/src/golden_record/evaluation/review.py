"""Review files of a run: the pairs a person should look at, each with both records side by side.

* ``uncertain_pairs``: every candidate pair whose match probability lies within ``band_bits`` of
  the threshold on the log-odds scale (at the default 4 bits and threshold 0.95: 0.54 to 0.997),
  most uncertain first (closest to the threshold), at most ``cap``;
* ``false_positives`` / ``false_negatives`` (with a ground truth): predicted matches of two
  people, most confident first; true pairs scored below the threshold, most confident first, then
  the true pairs blocking never produced (no score: ``candidate`` is false), at most ``cap`` each.

Each row: both record ids, every loaded field of both records (``left_<field>``,
``right_<field>``), per comparison its level (``cmp_<name>``) and its weight ``w_<name>`` (log2
m/u of the level; a missing value weighs 0), then the pair's match weight and probability: the
columns of :func:`golden_record.linkage.explain.comparison_frame`, as in the pyfunc model's output.
With several latent classes the pair's match weight is computed on the classes jointly, so it
need not equal the sum of the per-comparison weights (an explanation shows the difference).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from golden_record.linkage.blocking import group_pairs
from golden_record.linkage.decision import is_match
from golden_record.linkage.explain import comparison_frame

#: probability band around the threshold, in bits of log-odds, and rows per file
BAND_BITS = 4.0
CAP = 1000


def side_by_side(scored, left: np.ndarray, right: np.ndarray, candidate: np.ndarray | None = None,
                 fields: list[str] | None = None) -> pd.DataFrame:
    """One row per pair of record positions: ids, the fields of both records, and (for candidate
    pairs: ``candidate`` holds each pair's index among the scored pairs, -1 for none) the
    comparison levels, their weights, the match weight and probability."""
    rec = scored.records
    ids = rec["record_id"].to_numpy()
    out = pd.DataFrame({"left_id": ids[left], "right_id": ids[right]})
    for col in fields if fields is not None else [c for c in rec.columns if c != "record_id"]:
        values = rec[col].to_numpy()
        out[f"left_{col}"], out[f"right_{col}"] = values[left], values[right]
    idx = np.arange(len(left)) if candidate is None else np.asarray(candidate)
    scored_row = idx >= 0
    safe = np.where(scored_row, idx, 0)
    per_comparison = comparison_frame(scored.model, scored.vectors, safe)
    for col in per_comparison.columns:
        out[col] = per_comparison[col].where(scored_row, None if col.startswith("cmp_") else np.nan).to_numpy()
    out["match_weight"] = np.where(scored_row, scored.weights[safe].round(4), np.nan)
    out["match_probability"] = np.where(scored_row, scored.probabilities[safe], np.nan)
    out["candidate"] = scored_row
    return out


def _ranked(scored, idx: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``idx`` (pair indices) by ``key`` ascending, ties by the pair's positions: one order whatever
    order the pairs came in (the Spark engine's view ranks the same way)."""
    idx = np.asarray(idx)
    return idx[np.lexsort((scored.pairs.right[idx], scored.pairs.left[idx], key[idx]))]


def _logit2(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log2(p / (1 - p))


def uncertain_pairs(scored, threshold: float, band_bits: float = BAND_BITS, cap: int = CAP) -> pd.DataFrame:
    distance = np.abs(_logit2(scored.probabilities) - _logit2(np.array([threshold]))[0])
    inside = np.flatnonzero(distance <= band_bits)
    chosen = _ranked(scored, inside, distance)[:cap]
    out = side_by_side(scored, scored.pairs.left[chosen], scored.pairs.right[chosen], chosen)
    out["predicted_match"] = is_match(scored.probabilities[chosen], threshold)
    if scored.labels is not None:
        out["true_match"] = scored.labels[chosen]
    return out


def missed_true_pairs(scored) -> tuple[np.ndarray, np.ndarray]:
    """The true pairs (left < right positions) that blocking never produced, by position."""
    if getattr(scored, "missed", None) is not None:     # a view: found where the pairs are
        return scored.missed
    left, right = group_pairs(scored.entity)
    n = len(scored.entity)
    # only the candidates that are true pairs can match one: a small sorted set to look codes up in
    kept = np.sort(scored.pairs.left[scored.labels].astype(np.int64) * n + scored.pairs.right[scored.labels])
    codes = left * n + right
    at = np.minimum(np.searchsorted(kept, codes), max(len(kept) - 1, 0))
    found = (kept[at] == codes) if len(kept) else np.zeros(len(codes), dtype=bool)
    left, right = left[~found], right[~found]
    order = np.lexsort((right, left))        # by position: one order for both engines
    return left[order], right[order]


def errors(scored, threshold: float, cap: int = CAP) -> dict[str, pd.DataFrame]:
    """False positives and false negatives (needs the ground truth)."""
    probs, labels = scored.probabilities, scored.labels
    predicted = is_match(probs, threshold)
    fp = _ranked(scored, np.flatnonzero(predicted & ~labels), -probs)[:cap]
    fn = _ranked(scored, np.flatnonzero(~predicted & labels), -probs)[:cap]
    false_positives = side_by_side(scored, scored.pairs.left[fp], scored.pairs.right[fp], fp)
    scored_fn = side_by_side(scored, scored.pairs.left[fn], scored.pairs.right[fn], fn)
    room = max(cap - len(fn), 0)
    ml, mr = missed_true_pairs(scored)
    missed = side_by_side(scored, ml[:room], mr[:room], np.full(min(room, len(ml)), -1))
    return {"false_positives": false_positives,
            "false_negatives": pd.concat([scored_fn, missed], ignore_index=True)}


def review_files(scored, threshold: float, band_bits: float = BAND_BITS, cap: int = CAP) -> dict[str, pd.DataFrame]:
    """``review/<name>.csv`` of a run: uncertain pairs, and with a ground truth the errors."""
    files = {"uncertain_pairs": uncertain_pairs(scored, threshold, band_bits, cap)}
    if scored.labels is not None and scored.entity is not None:
        files.update(errors(scored, threshold, cap))
    return files


def _top(scored, candidates: np.ndarray, key: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` pairs of ``candidates`` with the largest ``key``, largest first (ties by positions)."""
    if len(candidates) > n:     # the n largest and their ties, without sorting every pair
        k = key[candidates]
        candidates = candidates[k >= -np.partition(-k, n - 1)[n - 1]]
    return _ranked(scored, candidates, -key)[:n]


def explanation_pairs(scored, threshold: float, per_kind: int = 3) -> dict[str, pd.DataFrame]:
    """The scored pairs a run explains with a waterfall chart: the ``per_kind`` pairs nearest the
    threshold, and with a ground truth the most confident false positives and false negatives
    (side-by-side rows, as in the review files)."""
    probs = scored.probabilities
    distance = np.abs(_logit2(probs) - _logit2(np.array([threshold]))[0])
    chosen = {"near_threshold": _top(scored, np.arange(len(probs)), -distance, per_kind)}
    if scored.labels is not None:
        predicted = is_match(probs, threshold)
        chosen["false_positive"] = _top(scored, np.flatnonzero(predicted & ~scored.labels), probs, per_kind)
        chosen["false_negative"] = _top(scored, np.flatnonzero(~predicted & scored.labels), probs, per_kind)
    return {kind: side_by_side(scored, scored.pairs.left[idx], scored.pairs.right[idx], idx)
            for kind, idx in chosen.items()}
