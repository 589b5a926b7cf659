"""The true pairs blocking left out, estimated without ground truth.

Blocking compares a small share of all record pairs; the true pairs it never produced have no
probability, so estimates made from the candidates alone (recall, F1) leave them out and look
better than the truth. This module counts them the way the model would: a uniform sample of
random record pairs (the one the u-probabilities are measured on) is cut to the pairs that are
*not* candidates, each is compared and scored by the fitted classes, and the share of the match
classes among those pairs is fitted by EM with every class's level probabilities held fixed (only
the class shares move: among random pairs nearly all are unrelated, far fewer than among the
candidates). The expected number of true pairs in the sample, scaled to all the pairs outside the
candidates, is the estimate; its 95 % interval treats that number as a Poisson count (exact
chi-square bounds), so a sample holding no likely match still says how many could hide there
("rule of three").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: EM over the class shares stops when no share moves by more than this (relative to the largest)
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Missed:
    """Expected true pairs outside the candidates, and how they were estimated."""
    expected: float          # expected true pairs among all pairs outside the candidates
    lower: float             # 95 % interval of ``expected``
    upper: float
    in_sample: float         # expected true pairs among the sampled outside pairs
    sampled: int             # outside pairs scored
    outside_pairs: int       # all record pairs that are not candidates

    def line(self) -> str:
        how = f"{self.sampled:,} random pairs of the {self.outside_pairs:,} outside the candidates scored"
        return (f"true pairs blocking missed, expected: {self.expected:,.0f} (95 % interval "
                f"{self.lower:,.0f}-{self.upper:,.0f}; {how}, {self.in_sample:.1f} likely matches among them)")


def outside_mask(n_records: int, left: np.ndarray, right: np.ndarray, cand_left: np.ndarray,
                 cand_right: np.ndarray) -> np.ndarray:
    """True for each (left, right) pair that is not a candidate pair (order does not matter)."""
    n = np.int64(max(n_records, 1))
    key = np.minimum(left, right).astype(np.int64) * n + np.maximum(left, right)
    cand = np.minimum(cand_left, cand_right).astype(np.int64) * n + np.maximum(cand_left, cand_right)
    return ~np.isin(key, cand) & (left != right)


def _poisson_interval(count: float, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import chi2

    a = (1.0 - level) / 2.0
    lower = 0.0 if count <= 0 else float(chi2.ppf(a, 2.0 * count) / 2.0)
    upper = float(chi2.ppf(1.0 - a, 2.0 * count + 2.0) / 2.0)
    return lower, upper


def match_mass(class_ll: np.ndarray, counts: np.ndarray, match_classes: list[int], max_iterations: int = 2000
               ) -> float:
    """Expected matches among pairs whose per-class log-likelihoods are ``class_ll`` (patterns x
    classes, with ``counts`` pairs each): the class shares fitted by EM, the classes held fixed."""
    from golden_record.linkage.model import _logsumexp

    counts = np.asarray(counts, dtype=float)
    K = class_ll.shape[1]
    total = counts.sum()
    if total <= 0:
        return 0.0
    pi = np.full(K, 1e-3 / max(K - 1, 1))
    pi[-1] = 1.0 - pi[:-1].sum()           # the unrelated class (last) holds nearly every random pair
    side = np.isin(np.arange(K), match_classes)
    resp = None
    for _ in range(max_iterations):
        logp = class_ll + np.log(np.maximum(pi, 1e-300))[None, :]
        resp = np.exp(logp - _logsumexp(logp)[:, None])
        new = (resp * counts[:, None]).sum(axis=0) / total
        moved = float(np.abs(new - pi).max())
        pi = new
        if moved < _TOLERANCE:
            break
    return float((resp[:, side].sum(axis=1) * counts).sum())


def estimate_missed(model, levels: np.ndarray, outside_pairs: int) -> Missed | None:
    """:class:`Missed` from the comparison ``levels`` of sampled outside pairs; None when the model
    type has no latent classes to score them with."""
    class_ll = getattr(model, "class_log_likelihoods", None)
    if class_ll is None:
        return None
    sampled = int(len(levels))
    if sampled == 0 or outside_pairs <= 0:
        return Missed(0.0, 0.0, 0.0, 0.0, sampled, max(outside_pairs, 0))
    ll, counts = class_ll(levels)
    in_sample = match_mass(ll, counts, list(model.match_classes))
    scale = outside_pairs / sampled
    lo, hi = _poisson_interval(in_sample)
    return Missed(in_sample * scale, lo * scale, hi * scale, in_sample, sampled, outside_pairs)
