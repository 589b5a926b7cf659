"""The true pairs blocking left out, estimated without ground truth.

Blocking compares a small share of all record pairs; the true pairs it never produced have no
probability, so estimates made from the candidates alone (recall, F1) leave them out and look
better than the truth. This module counts them the way the model would: record pairs that are
*not* candidates are sampled, compared and scored by the fitted classes, and the share of the
match classes among them is fitted by EM with every class's level probabilities held fixed (only
the class shares move: among pairs outside the candidates far fewer are matches than among them).

A uniform sample alone would rarely hold a missed true pair (on 100,000 records, 500,000 random
pairs are 1 in 10,000 of all pairs), so the pairs outside the candidates are **stratified** by
*loose keys*, each a field's exact cleaned value or its sound (``phonetic``) or year: a true pair
that blocking missed nearly always still shares one of them. Stratum k holds the pairs sharing
key k but no earlier key (keys ordered from the most selective); a final stratum holds the pairs
sharing none, sampled by the uniform random pairs the u-probabilities are measured on. Each
stratum is sampled uniformly (a block drawn with probability proportional to its pairs, then two
of its records), samples falling in an earlier stratum or among the candidates are set aside, and
the expected matches among the kept ones are scaled by the stratum's size over the draws. Keys
coarser than :data:`COARSE_SHARE` of all pairs (a sex, a state) are left to the final stratum.

Each stratum's expected count is treated as a Poisson count (exact chi-square bounds, so a
stratum holding no likely match still says how many could hide there); the 95 % interval of the
total adds the strata's half-widths in quadrature.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
    #: the sampled outside pairs most likely to be matches: (left, right positions, match
    #: probability, stratum name), most likely first (the active review queue's near-misses)
    likely: tuple | None = field(default=None, compare=False, repr=False)

    def line(self) -> str:
        how = f"{self.sampled:,} sampled pairs of the {self.outside_pairs:,} outside the candidates scored"
        return (f"true pairs blocking missed, expected: {self.expected:,.0f} (95 % interval "
                f"{self.lower:,.0f}-{self.upper:,.0f}; {how}, {self.in_sample:.1f} likely matches among them)")


def pair_keys(n_records: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """One int64 per pair, whatever its order."""
    n = np.int64(max(n_records, 1))
    return np.minimum(left, right).astype(np.int64) * n + np.maximum(left, right)


def outside_mask(n_records: int, left: np.ndarray, right: np.ndarray, sorted_candidates: np.ndarray) -> np.ndarray:
    """True for each (left, right) pair of two records that is not a candidate pair;
    ``sorted_candidates``: the candidates' :func:`pair_keys`, sorted."""
    key = pair_keys(n_records, left, right)
    at = np.minimum(np.searchsorted(sorted_candidates, key), max(len(sorted_candidates) - 1, 0))
    found = sorted_candidates[at] == key if len(sorted_candidates) else np.zeros(len(key), dtype=bool)
    return ~found & (left != right)


def _poisson_interval(count: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) bounds of a Poisson mean seen as ``count``: chi2.ppf(q, 2k) / 2 is the
    inverse regularised incomplete gamma function at (k, q) (scipy.special, not scipy.stats)."""
    from scipy.special import gammaincinv

    a = (1.0 - level) / 2.0
    lower = 0.0 if count <= 0 else float(gammaincinv(count, a))
    upper = float(gammaincinv(count + 1.0, 1.0 - a))
    return lower, upper


def class_shares(class_ll: np.ndarray, weights: np.ndarray, max_iterations: int = 2000) -> np.ndarray:
    """The class shares among pairs whose per-class log-likelihoods are ``class_ll`` (patterns x
    classes, each pattern standing for ``weights`` pairs), fitted by EM with the classes fixed."""
    from golden_record.linkage.model import _logsumexp

    weights = np.asarray(weights, dtype=float)
    K = class_ll.shape[1]
    total = weights.sum()
    pi = np.full(K, 1e-3 / max(K - 1, 1))
    pi[-1] = 1.0 - pi[:-1].sum()           # the unrelated class (last) holds nearly every random pair
    if total <= 0:
        return pi
    for _ in range(max_iterations):
        logp = class_ll + np.log(np.maximum(pi, 1e-300))[None, :]
        resp = np.exp(logp - _logsumexp(logp)[:, None])
        new = (resp * weights[:, None]).sum(axis=0) / total
        moved = float(np.abs(new - pi).max())
        pi = new
        if moved < _TOLERANCE:
            break
    return pi


#: the sampled outside pairs kept as likely matches blocking missed (:attr:`Missed.likely`), at
#: least this likely
LIKELY, LIKELY_PROBABILITY = 200, 0.2
#: pairs drawn per loose-key stratum
STRATUM_DRAWS = 10_000
#: a loose key pairing more than this share of all record pairs is not a stratum of its own
COARSE_SHARE = 0.05


@dataclass(frozen=True)
class Stratum:
    name: str
    left: np.ndarray           # the kept sampled pairs (positions)
    right: np.ndarray
    scale: float               # pairs of the stratum's population each draw stands for
    #: the uniform stratum: which of the uniform pairs were kept (their levels are known already)
    rows: np.ndarray | None = None


def loose_keys(config) -> list[str]:
    """Blocking-key entries that a missed true pair likely still shares: each compared field's
    cleaned value, and its sound (names, text) or year (dates)."""
    from golden_record.linkage.keys import TRANSFORMS

    keys: list[str] = []
    for comp in config.comparisons or []:
        ftype = config.data.fields[comp.field].type
        for entry in (comp.field, *(f"{t}({comp.field})" for t in ("phonetic", "year") if ftype in TRANSFORMS[t])):
            if entry not in keys:
                keys.append(entry)
    return keys


def _draw_in_blocks(codes: np.ndarray, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """``draws`` uniform pairs among the pairs sharing a code (a block drawn with probability
    proportional to its pairs, then two of its records); and how many pairs share a code."""
    from golden_record.linkage.blocking import _blocks

    order, starts, sizes, _ = _blocks(codes, max_block_size=len(codes) + 1)
    pairs = sizes.astype(np.float64) * (sizes - 1) / 2
    total = int(pairs.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), 0
    block = rng.choice(len(sizes), size=draws, p=pairs / pairs.sum())
    b = sizes[block]
    i = rng.integers(0, b)
    j = rng.integers(0, b - 1)
    j = j + (j >= i)
    return order[starts[block] + i], order[starts[block] + j], total


def strata(prepared, config, cand_left: np.ndarray, cand_right: np.ndarray, uniform_left: np.ndarray,
           uniform_right: np.ndarray, draws: int = STRATUM_DRAWS, seed: int = 1) -> list[Stratum]:
    """The sampled pairs outside the candidates, stratum by stratum (see the module doc)."""
    from golden_record.linkage.blocking import key_codes
    from golden_record.linkage.decision import pairs_within

    n = len(prepared)
    all_pairs = pairs_within([n])
    rng = np.random.default_rng(seed)
    sized = []
    for entry in loose_keys(config):
        try:
            codes = key_codes(prepared, entry)
        except (KeyError, ValueError):
            continue
        counts = np.bincount(codes[codes >= 0]) if (codes >= 0).any() else np.zeros(0, np.int64)
        pairs = pairs_within(counts)
        if 0 < pairs <= COARSE_SHARE * all_pairs:
            sized.append((pairs, entry, codes))
    sized.sort(key=lambda t: t[0])
    out, earlier = [], []
    candidates = np.sort(pair_keys(n, cand_left, cand_right))

    def keep(left, right):
        ok = outside_mask(n, left, right, candidates)
        for codes in earlier:
            ok &= ~((codes[left] == codes[right]) & (codes[left] >= 0))
        return ok

    for pairs, entry, codes in sized:
        left, right, total = _draw_in_blocks(codes, draws, rng)
        ok = keep(left, right)
        out.append(Stratum(entry, left[ok], right[ok], total / max(len(left), 1)))
        earlier.append(codes)
    left, right = np.asarray(uniform_left), np.asarray(uniform_right)
    ok = keep(left, right)
    out.append(Stratum("no loose key shared", left[ok], right[ok], all_pairs / max(len(left), 1),
                       rows=np.flatnonzero(ok)))
    return out


def estimate_missed(model, stratum_levels: list[tuple[Stratum, np.ndarray]], outside_pairs: int) -> Missed | None:
    """:class:`Missed` from each stratum's kept pairs and their comparison levels; None when the
    model type has no latent classes to score them with. The class shares among the pairs outside
    the candidates are fitted once, on every stratum's pairs weighted by what each stands for (so
    the weighted sample is a uniform one of the outside pairs, and the classes' likelihoods need no
    correction for how the strata were drawn); each stratum's expected matches follow from them."""
    from golden_record.linkage.model import _logsumexp, encode_patterns

    class_ll = getattr(model, "class_log_likelihoods", None)
    if class_ll is None:
        return None
    kept = [(s, lv) for s, lv in stratum_levels if len(lv)]
    sampled = int(sum(len(lv) for _, lv in kept))
    if not kept:
        return Missed(0.0, 0.0, 0.0, 0.0, 0, max(outside_pairs, 0))
    levels = np.concatenate([lv for _, lv in kept])
    weights = np.concatenate([np.full(len(lv), s.scale) for s, lv in kept])
    ll, pattern_weights = class_ll(levels, weights)        # per distinct pattern, in code order
    _, inverse = np.unique(encode_patterns(levels, model.n_levels), return_inverse=True)
    shares = class_shares(ll, pattern_weights)
    logp = ll + np.log(np.maximum(shares, 1e-300))[None, :]
    side = np.isin(np.arange(ll.shape[1]), list(model.match_classes))
    posterior = np.exp(logp - _logsumexp(logp)[:, None])[:, side].sum(axis=1)[inverse.ravel()]
    stratum = np.repeat(np.arange(len(kept)), [len(lv) for _, lv in kept])
    masses = np.bincount(stratum, weights=posterior, minlength=len(kept))
    expected = in_sample = 0.0
    low2 = high2 = 0.0
    for (s, _), mass in zip(kept, masses.tolist()):
        lo, hi = _poisson_interval(mass)
        expected += mass * s.scale
        in_sample += mass
        low2 += ((mass - lo) * s.scale) ** 2
        high2 += ((hi - mass) * s.scale) ** 2
    top = np.argsort(-posterior, kind="stable")[:LIKELY]
    top = top[posterior[top] >= LIKELY_PROBABILITY]
    names = np.array([s.name for s, _ in kept], dtype=object)
    likely = (np.concatenate([s.left for s, _ in kept])[top], np.concatenate([s.right for s, _ in kept])[top],
              posterior[top], names[stratum[top]])
    return Missed(expected, max(expected - low2 ** 0.5, 0.0), expected + high2 ** 0.5, in_sample, sampled,
                  max(outside_pairs, 0), likely)
