"""Comparison vectors: one graded level per (pair, comparison).

Levels are small integers, ``0`` = far (disagree) up to ``len(labels) - 1`` = exact; ``-1`` =
missing on either side, which the model treats as no evidence either way.

String similarity is computed once per *distinct pair of values* (pairs of factorize codes,
de-duplicated with ``np.unique``) with rapidfuzz's vectorised ``cpdist``; the result is scattered
back to all pairs. No Python loop runs over pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import distance, fuzz, process

from golden_record.config import Comparison
from golden_record.linkage.cleaning import date_parts, date_text

MISSING = -1
#: the levels of a ``date`` comparison, worst first (see :func:`_date_levels`)
DATE_LABELS = ("different", "one_digit_edit", "transposed_or_off_by_one", "exact")
#: what a date comparison had before ``one_digit_edit``: models fitted then are read with the level
#: added (:func:`golden_record.linkage.model.upgrade_date_levels`)
LEGACY_DATE_LABELS = ("different", "transposed_or_off_by_one", "exact")
#: distinct value pairs from which the similarity is computed on every core
_PARALLEL_FROM = 5_000

_SCORERS = {
    "jaro_winkler": distance.JaroWinkler.normalized_similarity,
    "levenshtein": distance.Levenshtein.normalized_similarity,
    "token_set": lambda a, b, **kw: fuzz.token_set_ratio(a, b, **kw) / 100.0,
    # token_sort: Indel similarity of the sorted distinct tokens (values are sorted once per
    # distinct value below): word order does not matter, and it is ~8x faster than token_set
    "token_sort": distance.Indel.normalized_similarity,
}


def level_labels(comp: Comparison) -> list[str]:
    """Human-readable labels, index = level number."""
    if comp.method == "exact":
        return ["different", "exact"]
    if comp.method == "date":
        return list(DATE_LABELS)
    labels = ["far"]
    if comp.initials:
        labels.append("initial")
    labels += [f">={t:g}" for t in reversed(comp.levels)]
    return labels + ["exact"]


@dataclass
class ComparisonVectors:
    levels: np.ndarray             # int8, shape (pairs, comparisons)
    names: list[str]
    labels: list[list[str]]
    #: per term-frequency-adjusted comparison: the value both records hold where they agree
    #: exactly (None elsewhere), for :meth:`FellegiSunter.score`
    agreed: dict[str, np.ndarray] | None = None

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.levels, columns=self.names)


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _pair_similarity(codes_a: np.ndarray, uniq_a: np.ndarray, codes_b: np.ndarray, uniq_b: np.ndarray,
                     scorer, **scorer_kwargs) -> np.ndarray:
    """Similarity (or distance: any rapidfuzz scorer) per pair, computed on distinct (a, b) value
    pairs only. Missing -> NaN."""
    sim = np.full(len(codes_a), np.nan)
    ok = (codes_a >= 0) & (codes_b >= 0)
    if not ok.any():
        return sim
    width = max(len(uniq_b), 1)
    pair_code = codes_a[ok] * width + codes_b[ok]
    distinct, inverse = np.unique(pair_code, return_inverse=True)
    ua, ub = np.divmod(distinct, width)
    # threads only pay off on many pairs: starting them costs more than a few thousand comparisons
    # (a one-record lookup: 50 -> 33 ms)
    workers = -1 if len(distinct) >= _PARALLEL_FROM else 1
    scores = process.cpdist(list(uniq_a[ua]), list(uniq_b[ub]), scorer=scorer, workers=workers,
                            dtype=np.float64, **scorer_kwargs)
    sim[ok] = np.asarray(scores, dtype=np.float64)[inverse]
    return sim


def _sorted_token_values(uniq: np.ndarray) -> np.ndarray:
    return np.array([" ".join(sorted(set(v.split()))) for v in uniq], dtype=object)


def _string_levels(comp: Comparison, prepared: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    codes, uniq = _codes(prepared[comp.field])
    if comp.method == "token_sort":
        uniq = _sorted_token_values(uniq)
    ca, cb = codes[left], codes[right]
    scorer = _SCORERS[comp.method]
    sim = _pair_similarity(ca, uniq, cb, uniq, scorer)
    if comp.swap_with:
        # first and last name swapped: both crossed comparisons must agree
        ocodes, ouniq = _codes(prepared[comp.swap_with])
        s1 = _pair_similarity(ca, uniq, ocodes[right], ouniq, scorer)
        s2 = _pair_similarity(ocodes[left], ouniq, cb, uniq, scorer)
        crossed = np.fmin(s1, s2)
        sim = np.where(np.isnan(sim), sim, np.fmax(sim, crossed))
    labels = level_labels(comp)
    out = np.zeros(len(left), dtype=np.int8)
    thresholds = list(reversed(comp.levels))  # ascending
    first_sim_level = 2 if comp.initials else 1
    for k, t in enumerate(thresholds):
        out[sim >= t] = first_sim_level + k
    out[sim >= 1.0] = len(labels) - 1
    if comp.initials:
        lengths = np.array([len(u) for u in uniq] + [0])
        firsts = np.array([u[:1] for u in uniq] + [""], dtype=object)
        la, lb = lengths[ca], lengths[cb]
        initial = ((la == 1) | (lb == 1)) & (firsts[ca] == firsts[cb]) & (ca >= 0) & (cb >= 0) & (out < first_sim_level)
        out[initial] = 1
    out[np.isnan(sim)] = MISSING
    return out


def _exact_levels(comp: Comparison, prepared: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    codes, _ = _codes(prepared[comp.field])
    ca, cb = codes[left], codes[right]
    out = (ca == cb).astype(np.int8)
    out[(ca < 0) | (cb < 0)] = MISSING
    return out


def _date_levels(comp: Comparison, prepared: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``exact`` (the same cleaned text), ``transposed_or_off_by_one`` (day and month swapped, or
    the year one apart with day and month equal: both sides shaped ``YYYY-MM-DD``, so a typo'd
    ``1835-13-02`` against ``1835-02-13`` is a swap too), ``one_digit_edit`` (the digits, YYYYMMDD
    for a date, a kept text's own otherwise, at least 7 on each side, one edit apart: one digit
    changed, added, dropped, or two neighbours transposed; Damerau-Levenshtein via rapidfuzz, on
    distinct value pairs), else ``different``. Cleaned dates are text (:func:`cleaning.clean_dates`):
    an ISO day or a value kept as text; the rules apply alike to both."""
    codes, uniq = _codes(pd.Series(date_text(prepared[comp.field]), dtype=object))
    parts = date_parts(uniq)
    y, m, d = (np.append(a, 0) for a in (parts.year, parts.month, parts.day))
    shaped = np.append(parts.shaped, False)
    ndigits = np.append(np.array([len(x) for x in parts.digits], dtype=np.int64), 0)
    ca, cb = codes[left], codes[right]
    ya, ma, da, yb, mb, db = y[ca], m[ca], d[ca], y[cb], m[cb], d[cb]
    both_shaped = shaped[ca] & shaped[cb]
    exact = ca == cb
    swapped = both_shaped & (ya == yb) & (ma == db) & (da == mb)
    year_off = both_shaped & (np.abs(ya - yb) == 1) & (ma == mb) & (da == db)
    out = np.where(exact, 3, np.where(swapped | year_off, 2, 0)).astype(np.int8)
    todo = (out == 0) & (ndigits[ca] >= 7) & (ndigits[cb] >= 7) & (ca >= 0) & (cb >= 0)
    if todo.any():
        near = np.zeros(len(out), dtype=bool)
        edits = _pair_similarity(ca[todo], parts.digits, cb[todo], parts.digits, distance.OSA.distance,
                                 score_cutoff=1)
        near[todo] = edits <= 1
        out[near] = 1
    out[(ca < 0) | (cb < 0)] = MISSING
    return out


_METHODS = {
    "exact": _exact_levels, "date": _date_levels,
    "jaro_winkler": _string_levels, "levenshtein": _string_levels, "token_set": _string_levels,
    "token_sort": _string_levels,
}


def compare(prepared: pd.DataFrame, left: np.ndarray, right: np.ndarray,
            comparisons: list[Comparison], progress=None, agreed: bool = True) -> ComparisonVectors:
    """Levels of every pair on every comparison; with ``agreed``, also the values the records
    agree on for the term-frequency-adjusted comparisons (not needed for u on random pairs)."""
    levels = np.empty((len(left), len(comparisons)), dtype=np.int8)
    values = {}
    for k, comp in enumerate(comparisons):
        levels[:, k] = _METHODS[comp.method](comp, prepared, left, right)
        if comp.tf_adjustment and agreed:
            values[comp.name] = agreed_values(prepared[comp.field], left, right)
        if progress:
            progress(comp.name)
    return ComparisonVectors(levels, [c.name for c in comparisons], [level_labels(c) for c in comparisons],
                             values or None)


def agreed_values(values: pd.Series, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The value of ``left`` where both records hold the same (cleaned) value, else None."""
    codes, uniq = _codes(values)
    ca, cb = codes[left], codes[right]
    same = (ca == cb) & (ca >= 0)
    out = np.full(len(left), None, dtype=object)
    out[same] = uniq[ca[same]]
    return out
