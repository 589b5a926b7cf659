"""Review files of a run: the pairs a person should look at, each with both records side by side.

* ``uncertain_pairs``: every candidate pair whose match probability lies within ``band_bits`` of
  the threshold on the log-odds scale (at the default 4 bits and threshold 0.95: 0.54 to 0.997),
  most uncertain first (closest to the threshold), at most ``cap``;
* ``false_positives`` / ``false_negatives`` (with a ground truth): predicted matches of two
  people, most confident first; true pairs scored below the threshold, most confident first, then
  the true pairs blocking never produced (no score: ``candidate`` is false), at most ``cap`` each.

Each row: both record ids, every loaded field of both records (``left_<field>``,
``right_<field>``), per comparison its level (``cmp_<name>``) and the level's weight
``w_<name>`` = log2 m/u of the fitted model's match and non-match sides (missing: empty), then
the pair's match weight and probability. The per-comparison weights say which comparisons pulled
the pair up or down; with several latent classes the pair's match weight is computed on the
classes jointly, so it need not equal their sum.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from golden_record.linkage.blocking import group_pairs
from golden_record.linkage.decision import is_match

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
    weights = scored.model.level_weights()
    for k, name in enumerate(scored.vectors.names):
        level = scored.vectors.levels[safe, k].astype(np.int64)
        labels = np.array(scored.vectors.labels[k] + ["missing"], dtype=object)
        out[f"cmp_{name}"] = np.where(scored_row, labels[level], None)       # -1 picks "missing"
        w = np.append(np.asarray(weights[k], float), np.nan)[level]
        out[f"w_{name}"] = np.where(scored_row, np.round(w, 3), np.nan)
    out["match_weight"] = np.where(scored_row, scored.weights[safe].round(4), np.nan)
    out["match_probability"] = np.where(scored_row, scored.probabilities[safe], np.nan)
    out["candidate"] = scored_row
    return out


def _logit2(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log2(p / (1 - p))


def uncertain_pairs(scored, threshold: float, band_bits: float = BAND_BITS, cap: int = CAP) -> pd.DataFrame:
    distance = np.abs(_logit2(scored.probabilities) - _logit2(np.array([threshold]))[0])
    inside = np.flatnonzero(distance <= band_bits)
    chosen = inside[np.argsort(distance[inside], kind="stable")[:cap]]
    out = side_by_side(scored, scored.pairs.left[chosen], scored.pairs.right[chosen], chosen)
    out["predicted_match"] = is_match(scored.probabilities[chosen], threshold)
    if scored.labels is not None:
        out["true_match"] = scored.labels[chosen]
    return out


def missed_true_pairs(scored) -> tuple[np.ndarray, np.ndarray]:
    """The true pairs (left < right positions) that blocking never produced."""
    left, right = group_pairs(scored.entity)
    n = len(scored.entity)
    # only the candidates that are true pairs can match one: a small sorted set to look codes up in
    kept = np.sort(scored.pairs.left[scored.labels].astype(np.int64) * n + scored.pairs.right[scored.labels])
    codes = left * n + right
    at = np.minimum(np.searchsorted(kept, codes), max(len(kept) - 1, 0))
    found = (kept[at] == codes) if len(kept) else np.zeros(len(codes), dtype=bool)
    return left[~found], right[~found]


def errors(scored, threshold: float, cap: int = CAP) -> dict[str, pd.DataFrame]:
    """False positives and false negatives (needs the ground truth)."""
    probs, labels = scored.probabilities, scored.labels
    predicted = is_match(probs, threshold)
    fp = np.flatnonzero(predicted & ~labels)
    fp = fp[np.argsort(-probs[fp], kind="stable")[:cap]]
    fn = np.flatnonzero(~predicted & labels)
    fn = fn[np.argsort(-probs[fn], kind="stable")[:cap]]
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
