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


#: in the active queue, one slot in this many goes to a likely match blocking missed (a near-miss)
NEAR_MISS_EVERY = 10


#: in the active queue, one slot in this many audits a confident decision: the largest pattern no
#: label has checked yet. A confident pattern can be confidently wrong where comparisons are not
#: independent given the class (on sparse, 20,000 records, the largest error was a pattern of 231
#: pairs at probability 0.9999, 9 % of them matches), and uncertainty alone never asks about it
AUDIT_EVERY = 4


def active_order(scored, threshold: float, cap: int = CAP, labelled: np.ndarray | None = None) -> np.ndarray:
    """The candidate pairs whose labels teach the model most, best first (no ground truth needed).

    The model cannot tell apart pairs of one comparison pattern, and a label moves its whole
    pattern (:func:`golden_record.linkage.model.fixed_responsibilities`), so a pair is worth its
    pattern's expected wrong decisions: the pattern's unlabelled pairs times the chance the
    decision is wrong (p for a predicted non-match, 1 - p for a match), largest near the threshold;
    the k-th pair of a pattern (counting its labels) is worth 1/(k + 1)^2 of that (the variance of
    the pattern's labelled match rate, a Beta posterior, falls by about that much with one more
    label), so the queue spreads over patterns instead of asking about one pattern fifty times. One slot in
    :data:`AUDIT_EVERY` goes to the largest pattern not yet labelled, whatever its probability.
    ``labelled``: per candidate pair, 1 / 0 a label, -1 none; labelled pairs are left out."""
    from golden_record.linkage.model import encode_patterns

    probs = scored.probabilities
    n_levels = [len(lab) for lab in scored.vectors.labels]
    _, pattern, count = np.unique(encode_patterns(scored.vectors.levels, n_levels), return_inverse=True,
                                  return_counts=True)
    pattern = pattern.ravel()
    done = np.zeros(len(probs), dtype=bool) if labelled is None else np.asarray(labelled) >= 0
    known = np.bincount(pattern, weights=done, minlength=len(count))
    distance = np.abs(_logit2(probs) - _logit2(np.array([threshold]))[0])
    wrong = np.where(is_match(probs, threshold), 1.0 - probs, probs)
    open_ = np.flatnonzero(~done)
    # rank of each open pair within its pattern, the most uncertain first (ties by positions)
    order = open_[np.lexsort((scored.pairs.right[open_], scored.pairs.left[open_], distance[open_],
                              pattern[open_]))]
    if not len(order):
        return order
    starts = np.r_[0, np.flatnonzero(np.diff(pattern[order])) + 1]
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    p = pattern[order]
    value = (count[p] - known[p]) * wrong[order] / (1.0 + known[p] + rank) ** 2
    uncertain = _top(scored, order[value > 0], _scatter(len(probs), order, value), cap)
    first = order[(rank == 0) & (known[p] == 0)]                  # one pair of each pattern never labelled
    audits = _top(scored, first, _scatter(len(probs), first, count[pattern[first]].astype(float)),
                  cap // AUDIT_EVERY + 1)
    out, seen, a, u = [], set(), iter(audits.tolist()), iter(uncertain.tolist())
    while len(out) < cap:
        source = a if (len(out) + 1) % AUDIT_EVERY == 0 else u
        pick = next((i for i in source if i not in seen), None)
        if pick is None:
            pick = next((i for i in (u if source is a else a) if i not in seen), None)
            if pick is None:
                break
        seen.add(pick)
        out.append(pick)
    return np.asarray(out, dtype=np.int64)


def _scatter(n: int, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(n)
    out[idx] = values
    return out


def active_pairs(scored, threshold: float, cap: int = CAP, labelled: np.ndarray | None = None) -> pd.DataFrame:
    """``review/active_pairs.csv``: :func:`active_order`'s pairs, with one slot in
    :data:`NEAR_MISS_EVERY` given to a likely match blocking missed (a pair outside the candidates
    that shares a loose key, :attr:`golden_record.evaluation.outside.Missed.likely`; it has no
    score). ``reason`` says why each pair is there."""
    chosen = active_order(scored, threshold, cap, labelled)
    likely = getattr(getattr(scored, "outside", None), "likely", None)
    if likely is not None:      # a pair drawn twice (or both ways round) is asked once
        from golden_record.evaluation.outside import pair_keys

        _, once = np.unique(pair_keys(scored.n_records, np.asarray(likely[0]), np.asarray(likely[1])),
                            return_index=True)
        likely = tuple(np.asarray(x)[np.sort(once)] for x in likely)
    near = min(len(likely[0]) if likely is not None else 0, cap // NEAR_MISS_EVERY)
    chosen = chosen[:cap - near]
    frame = side_by_side(scored, scored.pairs.left[chosen], scored.pairs.right[chosen], chosen)
    frame["reason"] = [f"uncertain (pattern of {c:,} pairs)" for c in _pattern_sizes(scored, chosen)]
    if near:
        ml, mr, mp, names = (np.asarray(x)[:near] for x in likely)
        extra = side_by_side(scored, ml, mr, np.full(near, -1))
        extra["reason"] = [f"near-miss: shares {n} but no blocking pass; estimated match probability {q:.2f}"
                           for n, q in zip(names, mp)]
        slots = np.arange(near) * NEAR_MISS_EVERY + NEAR_MISS_EVERY - 1       # the 10th, 20th, ... row
        order = np.argsort(np.r_[np.setdiff1d(np.arange(len(frame) + near), slots)[:len(frame)], slots],
                           kind="stable")
        frame = pd.concat([frame, extra], ignore_index=True).iloc[order].reset_index(drop=True)
    frame["predicted_match"] = is_match(frame["match_probability"].fillna(0.0).to_numpy(), threshold)
    if scored.labels is not None:
        frame["true_match"] = _true_match(scored, frame)
    return frame


def _pattern_sizes(scored, idx: np.ndarray) -> np.ndarray:
    from golden_record.linkage.model import encode_patterns

    codes = encode_patterns(scored.vectors.levels, [len(lab) for lab in scored.vectors.labels])
    uniq, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()[idx]]


def _true_match(scored, frame: pd.DataFrame) -> np.ndarray:
    ids = scored.records["record_id"].to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    left, right = pos.reindex(frame["left_id"]).to_numpy(), pos.reindex(frame["right_id"]).to_numpy()
    return scored.entity[left] == scored.entity[right]


def pattern_counts(scored, patterns: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame | None:
    """``review/patterns.csv``: each distinct comparison pattern of the candidate pairs (level
    numbers ``cmp_<name>``, -1 missing) and its pairs, from which the review page refits the model
    with new labels (:class:`golden_record.web.queue.EstimateMover`); ``patterns``: (patterns, pair
    counts) counted elsewhere (the Spark engine), else counted on ``scored``'s pairs. None for a model
    type that cannot be refitted."""
    from golden_record.linkage.model import decode_patterns, encode_patterns

    if not hasattr(scored.model, "refit"):
        return None
    n_levels = [len(lab) for lab in scored.vectors.labels]
    if patterns is None:
        codes, counts = np.unique(encode_patterns(scored.vectors.levels, n_levels), return_counts=True)
        levels = decode_patterns(codes, n_levels)
    else:
        levels, counts = patterns
    out = pd.DataFrame(np.asarray(levels), columns=[f"cmp_{n}" for n in scored.vectors.names])
    out["pairs"] = np.asarray(counts, dtype=np.int64)
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
    files = {"uncertain_pairs": uncertain_pairs(scored, threshold, band_bits, cap),
             "active_pairs": active_pairs(scored, threshold, cap, getattr(scored, "pair_labels", None))}
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
