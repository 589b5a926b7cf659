"""Fellegi–Sunter model fitted by EM on the counts of distinct comparison patterns.

The likelihood of the latent-class model only depends on how many pairs show each comparison
pattern, so millions of pairs collapse to a few thousand ``(pattern, count)`` rows and EM runs
on those. Missing levels contribute nothing (m = u = 1 for that comparison), as in the
classic treatment of missing values.

* ``m[c][l]`` = P(level l on comparison c | same person), ``u[c][l]`` = P(... | different people)
* match weight = log2 of the Bayes factor  prod_c m/u;
* match probability = posterior P(match | pattern) with the fitted match share λ.

By default u is estimated on *random* record pairs (almost all of them different people) and
kept fixed, while EM fits m and λ on the candidate pairs; ``u_from_random_pairs: false`` fits u by
EM too (the textbook ECM, as recordlinkage's ``ECMClassifier`` does for binary vectors).
The ground truth is never seen here.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits
import pandas as pd

from golden_record.errors import ModelError

_EPS = 1e-6
#: The least probability a fitted class gives any level of any comparison (its level shares are
#: mixed with this much of a uniform share). EM on candidate pairs sees a biased sample: blocking
#: chose them for agreeing, so a field a pass blocks on almost never disagrees among them, and a
#: change the fitted classes happened not to hold (a move, a new phone) would get m near 0, a
#: weight of -20 bits that vetoes agreement on everything else. At 0.01 one disagreement weighs at
#: most about log2(0.01 / u) = -6.6 bits, the evidence of one agreeing name.
LEVEL_FLOOR = 0.01
#: the columns of ``m_u_table`` (both model types), as written to ``m_u_parameters.csv``
M_U_COLUMNS = ["comparison", "level", "level_index", "m", "u", "weight", "at_floor"]


def at_floor(m: float, u: float, floor: float = _EPS) -> bool:
    """True when m or u is at or below the floor that scoring clamps probabilities to: the level's
    weight log2(m/u) is then computed from the floor, a bound rather than an estimate (m at the
    floor: the true weight is at most the one shown; u at the floor: at least; both: the level was
    seen in neither class and weighs 0)."""
    return bool(m <= floor or u <= floor)


@dataclass
class FitReport:
    iterations: int
    converged: bool
    match_share: float
    patterns: int
    log_likelihood: list[float] = field(default_factory=list)
    #: one entry per number of related classes tried: k, log_likelihood, parameters, bic,
    #: iterations, converged, match_classes (the chosen k is ``related_classes``)
    selection: list[dict] = field(default_factory=list)
    related_classes: int = 0
    criterion: str = "fixed"


def encode_patterns(levels: np.ndarray, n_levels: list[int]) -> np.ndarray:
    """One int64 code per row (mixed radix, missing shifted to 0)."""
    code = np.zeros(len(levels), dtype=np.int64)
    for k, n in enumerate(n_levels):
        code = code * (n + 1) + (levels[:, k].astype(np.int64) + 1)
    return code


def decode_patterns(codes: np.ndarray, n_levels: list[int]) -> np.ndarray:
    out = np.empty((len(codes), len(n_levels)), dtype=np.int8)
    rest = codes.copy()
    for k in range(len(n_levels) - 1, -1, -1):
        rest, digit = np.divmod(rest, n_levels[k] + 1)
        out[:, k] = digit - 1
    return out


def level_frequencies(levels: np.ndarray, n_levels: list[int], weights: np.ndarray | None = None) -> list[np.ndarray]:
    """Share of each level among non-missing values, per comparison (smoothed); ``weights``: how
    many pairs each row stands for (rows of distinct patterns with their counts)."""
    out = []
    for k, n in enumerate(n_levels):
        col = levels[:, k]
        present = col >= 0
        w = None if weights is None else np.asarray(weights, dtype=float)[present]
        counts = np.bincount(col[present].astype(np.int64), weights=w, minlength=n).astype(float) + 0.5
        out.append(counts / counts.sum())
    return out


def _logsumexp(a: np.ndarray) -> np.ndarray:
    """log(sum(exp(a), axis=1)), stable; rows of -inf give -inf."""
    mx = a.max(axis=1)
    safe = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(a - safe[:, None]).sum(axis=1))


@dataclass
class _Patterns:
    """The distinct comparison patterns of the candidate pairs, how often each occurs, and their
    one-hot design matrix (a column per comparison level, all-zero where a value is missing), so
    that an EM step is two matrix products."""
    patterns: np.ndarray
    counts: np.ndarray
    design: np.ndarray            # (patterns, total levels)
    offsets: np.ndarray           # first column of each comparison
    inverse: np.ndarray           # the pattern of each input row

    @classmethod
    def of(cls, levels: np.ndarray, n_levels: list[int], weights: np.ndarray | None = None) -> "_Patterns":
        """``weights``: how many pairs each row of ``levels`` stands for (default one each), so that
        pattern counts aggregated elsewhere (the Spark engine) give the very same EM."""
        uniq, inverse, counts = np.unique(encode_patterns(levels, n_levels), return_inverse=True, return_counts=True)
        if weights is not None:
            counts = np.bincount(inverse.ravel(), weights=np.asarray(weights, dtype=float), minlength=len(uniq))
        patterns = decode_patterns(uniq, n_levels)
        offsets = np.concatenate([[0], np.cumsum(n_levels)[:-1]]).astype(np.int64)
        design = np.zeros((len(uniq), int(sum(n_levels))))
        rows = np.arange(len(uniq))
        for c in range(len(n_levels)):
            present = patterns[:, c] >= 0
            design[rows[present], offsets[c] + patterns[present, c]] = 1.0
        return cls(patterns, counts.astype(float), design, offsets, inverse)

    def sample(self, size: int, seed: int = 0) -> "_Patterns":
        """At most about ``size`` patterns standing for all of them: a pattern seen ``c`` times is
        kept with probability ``min(1, c / c*)`` and then counts ``c / p`` (unbiased for every sum
        over patterns, so for the log-likelihood of any parameters), ``c*`` chosen so that about
        ``size`` are kept. Frequent patterns, which carry the fit, are all kept; the rare ones,
        most of the patterns but few of the pairs, are thinned."""
        if len(self.counts) <= size:
            return self
        lo, hi = 1.0, float(self.counts.max())
        for _ in range(60):                          # the c* that keeps ~size patterns
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.minimum(1.0, self.counts / mid).sum() > size else (lo, mid)
        keep_p = np.minimum(1.0, self.counts / hi)
        keep = np.random.default_rng(seed).random(len(self.counts)) < keep_p
        return _Patterns(self.patterns[keep], self.counts[keep] / keep_p[keep], self.design[keep], self.offsets,
                         np.empty(0, dtype=np.int64))

    def class_log_likelihoods(self, thetas: list[list[np.ndarray]]) -> np.ndarray:
        """(patterns, classes): each pattern's log-likelihood under each class, summed comparison by
        comparison in one fixed order. Not a matrix product: BLAS may sum a row in an order that
        depends on how many rows there are, so a pattern scored in a batch (the Spark engine) could
        differ in its last bits from the same pattern scored with all pairs, and ties split."""
        log_theta = np.log(np.stack([np.concatenate(theta) for theta in thetas])).T   # (levels, classes)
        out = np.zeros((len(self.patterns), log_theta.shape[1]))
        for c, offset in enumerate(self.offsets.tolist()):
            level = self.patterns[:, c]
            present = level >= 0                       # a missing value adds nothing
            out[present] += log_theta[offset + level[present]]
        return out

    def normalise(self, sums: np.ndarray) -> list[np.ndarray]:
        """Per-comparison shares from one class's weighted level counts (a row of W^T X)."""
        ends = list(self.offsets[1:]) + [sums.shape[-1]]
        return [sums[a:b] / sums[a:b].sum() for a, b in zip(self.offsets, ends)]


#: agreement (the top level) on one comparison goes with agreement on another among
#: random pairs when it is at least this many times as likely as by chance (seen in >= 5 pairs)
DEPENDENT_LIFT = 4.0


@dataclass
class RandomPairStats:
    """What random record pairs (almost all of different people) say: the level shares of each
    comparison (u), and which comparisons agree together beyond chance (``dependent``: a street,
    its postcode and its state; a household's phone and its address), so describe one fact."""
    u: list[np.ndarray]
    dependent: np.ndarray          # (comparisons, comparisons) bool, symmetric, False on the diagonal

    @classmethod
    def of(cls, levels: np.ndarray, n_levels: list[int], counts: np.ndarray | None = None) -> "RandomPairStats":
        levels = np.asarray(levels)
        w = np.ones(len(levels)) if counts is None else np.asarray(counts, dtype=float)
        agree = (levels == np.asarray(n_levels)[None, :] - 1).astype(float)       # the top level: equal
        present = (levels >= 0).astype(float)
        # a random pair agreeing on most comparisons is one person drawn twice: it would make every
        # field look dependent on every other (its email, phone and date agree together). (Keeping
        # only pairs agreeing on at most 3 was tried: it made a household class a match on 100,000
        # citizens with derived blocking, F1 0.36.)
        w = w * (agree.sum(axis=1) <= present.sum(axis=1) / 2)
        C = len(n_levels)
        dependent = np.zeros((C, C), dtype=bool)
        for a in range(C):
            for b in range(a + 1, C):
                both = present[:, a] * present[:, b] * w
                n = both.sum()
                if n <= 0:
                    continue
                pa, pb = (agree[:, a] * both).sum() / n, (agree[:, b] * both).sum() / n
                joint = (agree[:, a] * agree[:, b] * both).sum()
                if joint >= 5 and pa > 0 and pb > 0 and joint / n >= DEPENDENT_LIFT * pa * pb:
                    dependent[a, b] = dependent[b, a] = True
        return cls(level_frequencies(levels, n_levels, counts), dependent)


def _components(n: int, dependent: np.ndarray) -> list[list[int]]:
    """The comparisons 0..n-1 in groups of mutually dependent ones (connected components)."""
    left, out = set(range(n)), []
    while left:
        todo, group = [left.pop()], []
        while todo:
            a = todo.pop()
            group.append(a)
            linked = {b for b in left if dependent[a, b]}
            left -= linked
            todo.extend(linked)
        out.append(sorted(group))
    return out


def match_side(thetas: list[list[np.ndarray]], u: list[np.ndarray], free: int,
               min_agreement: float = 0.5, dependent: np.ndarray | None = None) -> list[int]:
    """Which of the first ``free`` classes hold pairs of the same person.

    The clearest class (the one that disagrees least, summed over comparisons) is a match class. Its
    agreement weights ``w_c = log2 m_c(exact) / u_c(exact)`` say how much identifying evidence each
    comparison carries. Comparisons that agree together among random pairs (``dependent``, from
    :class:`RandomPairStats`: a street, its postcode and its state) describe one fact, so a group
    of them counts once: its members' weights are scaled to sum to the group's largest. Another
    class is a match class too when its pairs mostly agree (far level below one half) on
    comparisons carrying at least ``min_agreement`` (a majority) of that evidence. Records of one
    person who moved or changed a phone disagree on one fact (the place fields together, a
    contact), keeping the names, the date of birth and the ids; members of one household or
    namesakes disagree on several independent personal fields (given name, date of birth, ids,
    contacts). Measured on the seeder's five profiles: movers' classes agree on 0.60-0.93 of the
    grouped evidence, households' and namesakes' on 0.07-0.44 (ungrouped, movers on a contact table
    had 0.51 and namesakes 0.48: counting the place three times let a move outweigh the person).
    Classes EM split off the matches (clean vs typo-ridden copies) agree everywhere and stay matches.
    """
    far = np.array([[theta[c][0] for c in range(len(u))] for theta in thetas[:free]])
    seed = int(np.argmin(far.sum(axis=1)))
    weights = np.array([max(np.log2(max(thetas[seed][c][-1], _EPS) / max(u[c][-1], _EPS)), 0.0)
                        for c in range(len(u))])
    if dependent is not None:
        for group in _components(len(u), dependent):
            total = weights[group].sum()
            if total > 0:
                weights[group] = weights[group] * weights[group].max() / total
    agreed = (weights * (1.0 - far)).sum(axis=1) / max(weights.sum(), _EPS)
    return sorted(k for k in range(free) if k == seed or agreed[k] >= min_agreement)


@dataclass
class _ClassFit:
    thetas: list[list[np.ndarray]]
    shares: np.ndarray
    history: list[float]
    iterations: int
    converged: bool
    parameters: int


def _split_starts(previous: "_ClassFit", data: "_Patterns", n_levels: list[int], fixed_last: bool
                  ) -> list[tuple[list, np.ndarray]]:
    """Starts for one class more: each class of ``previous`` whose comparisons still depend on each
    other inside it, split in two by agreement on one of them (most dependent class first).

    Within a class, comparisons are assumed independent. When two of them still agree together in
    one class (its pairs that agree on the date of birth also keep the e-mail), that class holds two
    sub-populations (records of one person who moved, and strangers born the same day; or clean and
    typo-ridden copies of one person, and namesakes who agree on the name alone), and EM from a
    plain start often keeps them together. Per class, the pair of comparisons with the largest
    bivariate residual (chi-square of their 2x2 agreement table, weighted by the class's
    responsibilities) is found, and the class is split into its pairs agreeing on the more balanced
    comparison of the two and the rest, each starting from its own level shares. Every class is
    tried (:meth:`FellegiSunter.fit` keeps the start of the highest likelihood): the largest
    residual belongs to the largest classes, not always to the class whose split matters (crm at
    100,000 records: the movers shared the fourth-largest class with strangers born the same day)."""
    thetas = [list(t) for t in previous.thetas]
    pi = previous.shares.copy()
    theta = np.stack([np.concatenate(th) for th in thetas])
    logp = data.design @ np.log(theta).T + np.log(pi)[None, :]
    resp = np.exp(logp - _logsumexp(logp)[:, None]) * data.counts[:, None]
    top = np.zeros((len(data.patterns), len(n_levels)))
    seen = data.patterns >= 0
    for c, n in enumerate(n_levels):
        top[:, c] = data.patterns[:, c] == n - 1
    free = len(thetas) - (1 if fixed_last else 0)
    agree, present = top, seen.astype(float)
    upper = np.triu(np.ones((len(n_levels), len(n_levels)), dtype=bool), 1)
    candidates = []
    for k in range(free):
        # the 2x2 agreement tables of every pair of comparisons (a, b) at once, over the pairs
        # where both are present, weighted by the class's responsibilities
        wa, wp = agree * resp[:, k, None], present * resp[:, k, None]
        n = wp.T @ present                     # both present
        t1_ = wa.T @ present                   # a agrees (b present)
        t_1 = t1_.T                            # b agrees (a present)
        t11 = wa.T @ agree
        t10, t01 = t1_ - t11, t_1 - t11
        t00 = n - t11 - t10 - t01
        denom = t1_ * (n - t1_) * t_1 * (n - t_1)
        ok = upper & (n >= 10) & (denom > 0) & (t11 * t00 > t10 * t01)    # only agreement that goes together
        if not ok.any():
            continue
        chi2 = np.where(ok, n * (t11 * t00 - t10 * t01) ** 2 / np.where(ok, denom, 1.0), 0.0)
        a, b = np.unravel_index(int(np.argmax(chi2)), chi2.shape)
        by = a if abs(t1_[a, b] / n[a, b] - 0.5) <= abs(t_1[a, b] / n[a, b] - 0.5) else b
        candidates.append((float(chi2[a, b]), k, int(by)))
    starts = []
    last = len(thetas) - 1
    for _, k, by in sorted(candidates, reverse=True):
        w = resp[:, k]
        parts = [data.normalise((w * mask) @ data.design + _EPS) for mask in (top[:, by] == 1, top[:, by] == 0)]
        share = (w * (top[:, by] == 1)).sum() / max(w.sum(), _EPS)
        # the new class goes before the last one (the unrelated class); when the last class is the
        # one split (free when no u is fixed), its disagreeing part stays last
        agree_part, rest_part = (parts[0], parts[1]) if k != last else (parts[1], parts[0])
        new_share = pi[k] * ((1 - share) if k != last else share)
        split = list(thetas)
        split[k] = agree_part
        split.insert(last, rest_part)
        shares = pi.copy()
        shares[k] -= new_share
        shares = np.clip(np.insert(shares, last, new_share), _EPS, None)
        starts.append((split, shares / shares.sum()))
    return starts


#: the class-count search runs on at most about this many distinct patterns (:meth:`_Patterns.sample`);
#: the two best counts are then refined on all of them
SCREEN_PATTERNS = 8000
#: EM steps each start of a class count runs before the best one goes on (:meth:`FellegiSunter.fit`)
SHORT_STEPS = 60
#: see :func:`_em`: log-likelihood (nats) an EM step may still gain at convergence
LL_TOLERANCE = 0.1


def _em(data: _Patterns, n_levels: list[int], related: int, u_fixed, freqs, max_iterations: int,
        tolerance: float, initial_match_share: float, start: tuple[list, np.ndarray] | None = None,
        labelled: "_Labelled | None" = None) -> _ClassFit:
    """EM for one match class, ``related`` free non-match classes and the unrelated class (fixed
    to ``u_fixed`` when given). Class 0 starts as the match class; the related classes start from
    the candidates' level shares, tilted apart so they can specialise (or from ``start``).
    ``labelled``: reviewed pairs whose side is fixed (:func:`fixed_responsibilities`)."""
    if start is not None:
        thetas, pi = [[np.asarray(t, float) for t in th] for th in start[0]], np.asarray(start[1], float)
    else:
        m0 = []
        for n in n_levels:
            init = np.geomspace(0.02, 1.0, n)
            m0.append(init / init.sum())
        thetas = [m0]
        for r in range(related):
            # tilted by 0.2 per class, and never to zero (a level no class may show is a log of 0)
            t = 0.2 * r if r <= 3 else 0.9 - 0.3 * 0.5 ** (r - 3)
            tilt = [(f * np.linspace(1.0 + t, 1.0 - t, len(f))) for f in freqs]
            thetas.append([t / t.sum() for t in tilt])
        thetas.append([np.asarray(x, float) for x in u_fixed] if u_fixed is not None else [f.copy() for f in freqs])
    fixed = np.array([False] * (len(thetas) - 1) + [u_fixed is not None])
    K = len(thetas)
    if start is None:
        pi = np.full(K, (1 - initial_match_share) / (K - 1))
        pi[0] = initial_match_share
    # one (classes, levels) matrix: an EM step is two matrix products and a per-comparison
    # normalisation (np.add.reduceat over each comparison's columns)
    theta = np.stack([np.concatenate(th) for th in thetas])
    widths = np.asarray(n_levels)
    counts = data.counts
    total = counts.sum()

    def step(theta: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """One EM step from (theta, pi): the next parameters, and the log-likelihood at (theta, pi)."""
        logp = data.design @ np.log(theta).T + np.log(pi)[None, :]
        log_total = _logsumexp(logp)
        resp = np.exp(logp - log_total[:, None])
        if labelled is not None:
            resp = fixed_responsibilities(logp, resp, labelled)
        w = resp * counts[:, None]
        new_pi = np.clip(w.sum(axis=0) / total, _EPS, 1.0)
        sums = w.T @ data.design + _EPS                       # (classes, levels)
        new_theta = sums / np.repeat(np.add.reduceat(sums, data.offsets, axis=1), widths, axis=1)
        new_theta[fixed] = theta[fixed]
        return new_theta, new_pi / new_pi.sum(), float((counts * log_total).sum())

    # SQUAREM (Varadhan & Roland 2008, scheme S3): two EM steps give the direction of travel and its
    # curvature, the parameters jump along it (the step length backtracked until every probability
    # stays positive) and one more EM step stabilises the jump, which is kept only when it does not
    # lower the likelihood. The same fixed point as plain EM, in a fraction of the steps where EM
    # crawls (a class splitting in two moves a little per step for hundreds of steps).
    # Converged when no parameter moves by more than ``tolerance`` in an EM step *and* the
    # likelihood gains less than ``LL_TOLERANCE`` per step: a start next to a saddle (a class just
    # split in two) moves its parameters little per step while its likelihood still climbs by
    # thousands (sparse, 100,000 records: screened fits stopped after one step, 2,000 below where
    # they went on to).
    history: list[float] = []
    converged = False
    it = 0
    last = (-np.inf, 0)                                   # (log-likelihood, step) at the last cycle's start
    while it < max_iterations:
        t1, p1, ll0 = step(theta, pi)
        it += 1
        history.append(ll0)
        gain = (ll0 - last[0]) / max(it - 1 - last[1], 1)
        last = (ll0, it - 1)
        if (max(float(np.abs(p1 - pi).max()), float(np.abs(t1 - theta).max())) < tolerance
                and gain < LL_TOLERANCE):
            theta, pi, converged = t1, p1, True
            break
        if it + 2 > max_iterations:
            theta, pi = t1, p1
            continue
        t2, p2, ll1 = step(t1, p1)
        it += 1
        r_t, r_p = t1 - theta, p1 - pi
        v_t, v_p = t2 - 2 * t1 + theta, p2 - 2 * p1 + pi
        norm_v = np.sqrt((v_t ** 2).sum() + (v_p ** 2).sum())
        alpha = -np.sqrt((r_t ** 2).sum() + (r_p ** 2).sum()) / norm_v if norm_v > 0 else -1.0
        alpha = min(alpha, -1.0)
        while alpha < -1.0:
            tx = theta - 2 * alpha * r_t + alpha ** 2 * v_t
            px = pi - 2 * alpha * r_p + alpha ** 2 * v_p
            if (tx > 0).all() and (px > 0).all():
                break
            alpha = (alpha - 1.0) / 2.0 if alpha < -1.01 else -1.0
        if alpha >= -1.0:                       # no jump: the second EM step
            theta, pi = t2, p2
            continue
        tx[fixed] = theta[fixed]
        t3, p3, llx = step(tx, px)
        it += 1
        theta, pi = (t3, p3) if np.isfinite(llx) and llx >= ll1 else (t2, p2)
    # the log-likelihood at the final parameters
    history.append(float((counts * _logsumexp(data.design @ np.log(theta).T + np.log(pi)[None, :])).sum()))
    thetas = [data.normalise(row) for row in theta]
    free_classes = int((~fixed).sum())
    parameters = free_classes * sum(n - 1 for n in n_levels) + (K - 1)
    return _ClassFit(thetas, pi, history, it, converged, parameters)


def _log_odds(sums: np.ndarray, log_pi: np.ndarray, side: np.ndarray) -> np.ndarray:
    """log odds of the match side from per-class log likelihoods ``sums`` (..., K), in bits."""
    ll = sums + log_pi
    return (_logsumexp(ll[..., side].reshape(-1, side.sum())) -
            _logsumexp(ll[..., ~side].reshape(-1, (~side).sum()))).reshape(sums.shape[:-1]) / np.log(2.0)


def _shapley(log_theta: np.ndarray, log_pi: np.ndarray, side: np.ndarray, exact_up_to: int = 12,
             orders: int = 512) -> np.ndarray:
    """Shapley values of the comparisons to the log odds of a latent-class model, per pattern.
    ``log_theta``: (patterns, comparisons, classes) log likelihood of each pattern's level (0 where
    missing). The value of a set S of comparisons is the log odds given those comparisons alone."""
    P, C, _ = log_theta.shape
    if C <= exact_up_to:
        masks = ((np.arange(2 ** C)[:, None] >> np.arange(C)[None, :]) & 1).astype(float)    # (S, C)
        value = _log_odds(masks @ log_theta, log_pi, side)          # (P, S): log odds given S alone
        size = masks.sum(axis=1).astype(int)
        fact = np.array([math.factorial(k) for k in range(C + 1)], float)
        out = np.zeros((P, C))
        subsets = np.arange(2 ** C)
        for c in range(C):
            without = subsets[(subsets >> c) & 1 == 0]
            weight = fact[size[without]] * fact[C - size[without] - 1] / fact[C]
            out[:, c] = (value[:, without | (1 << c)] - value[:, without]) @ weight
        return out
    rng = np.random.default_rng(0)
    out = np.zeros((P, C))
    for _ in range(orders):
        order = rng.permutation(C)
        running = np.zeros((P, log_theta.shape[2]))
        before = _log_odds(running, log_pi, side)
        for c in order:
            running = running + log_theta[:, c, :]
            after = _log_odds(running, log_pi, side)
            out[:, c] += after - before
            before = after
    return out / orders


#: comparisons whose levels changed since models were logged: the labels a model fitted before has,
#: the labels compared now, and each current level's level in the old model. A date comparison
#: gained ``one_digit_edit`` (between ``different`` and ``transposed_or_off_by_one``): an old model
#: scores it as it scored those pairs then, ``different`` (a kept-text date was missing then)
_LEGACY_LEVELS = {("different", "transposed_or_off_by_one", "exact"):
                  (("different", "one_digit_edit", "transposed_or_off_by_one", "exact"), (0, 0, 1, 2))}


def own_levels(model, levels: np.ndarray) -> np.ndarray:
    """``levels`` as computed now (:func:`golden_record.linkage.comparisons.compare`) in the level
    numbering of ``model``: the same, but for a model fitted before a comparison's levels changed
    (:data:`_LEGACY_LEVELS`), whose levels are mapped to the ones it has. A level the model does not
    have is a :class:`ModelError` naming the comparison, never a wrong weight."""
    levels = np.asarray(levels)
    if levels.ndim != 2 or not len(levels):
        return levels
    mapped = None
    for c, labels in enumerate(model.labels):
        legacy = _LEGACY_LEVELS.get(tuple(labels))
        if legacy is not None:
            column = levels[:, c].astype(np.int64)
            if column.max() >= len(legacy[1]):
                continue                                  # said below
            mapped = levels.copy() if mapped is None else mapped
            table = np.append(np.asarray(legacy[1], dtype=levels.dtype), -1)     # -1 stays missing
            mapped[:, c] = table[column]
    out = levels if mapped is None else mapped
    top = out.max(axis=0)
    for c, labels in enumerate(model.labels):
        if c < len(top) and top[c] >= len(labels):
            raise ModelError(f"comparison {model.names[c]} has level {int(top[c])}, which the model does not have "
                             f"(it was fitted with {len(labels)} levels: {list(labels)}); the model was trained "
                             "by another version whose comparison levels differ",
                             "train the model again with this version")
    return out


def _lookup_weights(weights: list[np.ndarray], levels: np.ndarray) -> np.ndarray:
    """``weights[c][level]`` per pair and comparison; a missing level (-1) weighs 0."""
    levels = np.asarray(levels)
    out = np.zeros(levels.shape, dtype=float)
    for c, w in enumerate(weights):
        table = np.append(np.asarray(w, float), 0.0)          # index -1 picks the 0 appended
        out[:, c] = table[levels[:, c].astype(np.int64)]
    return out


#: a labelled pattern's match rate is shrunk towards the model's posterior with the weight of this
#: many labels (a Beta prior centred on the posterior): one label moves its pattern 91 % of the way.
#: The posterior of a pattern is worth little where comparisons are not independent given the class.
#: Measured with bench/bench_active.py (20,000 records, 100 active labels): 0.1 against 1.0 gave F1
#: 0.706 against 0.701 on historical, 0.966 on sparse and 0.977 on crm with either
LABEL_PRIOR = 0.1


@dataclass
class _Labelled:
    """Reviewed pairs on the rows of a :class:`_Patterns`: labelled matches and non-matches per
    pattern, and which classes are the match side."""
    matches: np.ndarray            # (patterns,) labelled matches among the pattern's pairs
    non_matches: np.ndarray        # (patterns,)
    side: np.ndarray               # (classes,) bool: the match classes

    @classmethod
    def of(cls, data: "_Patterns", labels: np.ndarray, weights: np.ndarray | None, side: np.ndarray) -> "_Labelled":
        labels = np.asarray(labels)
        w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
        inverse = data.inverse.ravel()
        n = len(data.counts)
        return cls(np.bincount(inverse, weights=w * (labels == 1), minlength=n),
                   np.bincount(inverse, weights=w * (labels == 0), minlength=n), np.asarray(side, dtype=bool))


def fixed_responsibilities(logp: np.ndarray, resp: np.ndarray, labelled: _Labelled,
                           prior: float | None = None) -> np.ndarray:
    """The E-step's responsibilities with the reviewers' labels applied: the one place labels enter EM.

    The model cannot tell two pairs of one comparison pattern apart, so a label is evidence about
    its pattern's match rate: a pattern with ``a`` labelled matches and ``b`` non-matches gets the
    match-side responsibility ``(prior * r + a) / (prior + a + b)`` (``r``: the model's posterior;
    the posterior mean of a Beta prior of ``prior`` labels centred on ``r``), spread over the match
    classes, and the rest over the non-match classes, in the proportions the model gives within
    each side. A pattern whose every pair is labelled is fixed to the labels (semi-supervised EM
    with the labelled pairs' class fixed); unlabelled patterns keep the model's posterior."""
    prior = LABEL_PRIOR if prior is None else prior
    a, b, side = labelled.matches, labelled.non_matches, labelled.side
    n = a + b
    hit = n > 0
    if not hit.any():
        return resp
    lp = logp[hit]
    within_m = np.exp(lp[:, side] - _logsumexp(lp[:, side])[:, None])
    within_n = np.exp(lp[:, ~side] - _logsumexp(lp[:, ~side])[:, None])
    r = resp[hit][:, side].sum(axis=1)
    target = (prior * r + a[hit]) / (prior + n[hit])
    out = resp.copy()
    rows = out[hit]
    rows[:, side] = target[:, None] * within_m
    rows[:, ~side] = (1.0 - target)[:, None] * within_n
    out[hit] = rows
    return out


def with_labelled_rows(patterns: np.ndarray, counts: np.ndarray, levels: np.ndarray, labels: np.ndarray,
                       n_levels: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(levels, labels, counts) for :meth:`FellegiSunter.refit` from distinct ``patterns`` with their
    pair ``counts`` and labelled pairs (their ``levels`` and ``labels``, 1 match / 0 not): every
    pattern a row of its unlabelled pairs, every labelled pair a row of its own (its pattern's
    count less one). The same fit as on the pairs, on a few thousand rows instead of millions."""
    codes = encode_patterns(patterns, n_levels)
    at = pd.Series(np.arange(len(codes)), index=codes).reindex(encode_patterns(levels, n_levels)).to_numpy()
    rest = np.asarray(counts, dtype=float).copy()
    found = ~np.isnan(at)
    np.subtract.at(rest, at[found].astype(np.int64), 1.0)
    return (np.vstack([patterns, levels]), np.r_[np.full(len(rest), -1, np.int8), np.asarray(labels, np.int8)],
            np.r_[np.maximum(rest, 0.0), np.ones(len(levels))])


@dataclass
class FellegiSunter:
    names: list[str]
    labels: list[list[str]]
    m: list[np.ndarray] = field(default_factory=list)
    u: list[np.ndarray] = field(default_factory=list)
    match_share: float = 0.0
    report: FitReport | None = None
    class_shares: list[float] | None = None          # every class, the unrelated one last
    class_thetas: list[list[list[float]]] | None = None
    match_classes: list[int] = field(default_factory=lambda: [0])   # the classes of same-person pairs
    #: per term-frequency-adjusted comparison: {"floor": 1/N, "values": {value: share of records}}
    term_frequencies: dict[str, dict] = field(default_factory=dict)
    #: the unrelated class's level shares were measured on random pairs and held fixed in EM
    unrelated_fixed: bool = True
    #: labelled pairs EM used (``matches``, ``non_matches``), empty when none
    labels_used: dict[str, float] = field(default_factory=dict)
    #: after a fit that chose the class count: the count of the second-lowest BIC, how much higher
    #: its BIC is, and its model (not saved): how much the estimates depend on that choice
    runner_up: "tuple[int, float, FellegiSunter] | None" = field(default=None, repr=False, compare=False)

    @property
    def n_levels(self) -> list[int]:
        return [len(lab) for lab in self.labels]

    # ------------------------------------------------------------------ fitting
    # EM multiplies small matrices (patterns x levels by levels x classes) hundreds of times: BLAS
    # threads cost more than they give there, and on a busy machine many times more
    @threadpool_limits.wrap(limits=1, user_api="blas")
    def fit(self, levels: np.ndarray, u_fixed: list[np.ndarray] | None = None, max_iterations: int = 200,
            tolerance: float = 1e-6, initial_match_share: float = 0.1,
            related_classes: int | str = 1, max_related_classes: int = 6,
            match_class_agreement: float = 0.5, counts: np.ndarray | None = None,
            dependent: np.ndarray | None = None, labels: np.ndarray | None = None) -> "FellegiSunter":
        """EM over distinct patterns with match classes and several non-match classes.

        Classes: ``related_classes`` free classes besides the match class (pairs that agree on some
        fields for a reason: members of one household, namesakes; or matches EM splits off, such as
        records of people who moved) plus one "unrelated" class whose level shares are ``u_fixed``
        (measured on random pairs) and stay fixed; without ``u_fixed`` it is free too.
        ``related_classes=0`` without ``u_fixed`` is the textbook two-class ECM.

        ``related_classes="auto"`` lets the data choose: every count from 0 to
        ``max_related_classes`` is fitted (from several starts each, see :func:`_split_starts`) and the
        one with the lowest BIC
        (``-2 log L + parameters * log(pairs)``) is kept; the values are in ``report.selection``.
        Which fitted classes are matches is decided by :func:`match_side` (``match_class_agreement``).
        ``counts``: ``levels`` are distinct patterns and these their pair counts (same fit as the
        pairs themselves). ``labels`` (per row of ``levels``: 1 a reviewed match, 0 a reviewed
        non-match, -1 none): after the unlabelled fit, EM goes on with the labelled pairs' side
        fixed (:meth:`_learn_labels`).
        """
        if len(levels) == 0:
            raise ModelError("no candidate pairs to fit the model on",
                             "check blocking_fields: blocking yielded no pairs")
        n_levels = self.n_levels
        data = _Patterns.of(levels, n_levels, counts)
        freqs = level_frequencies(levels, n_levels, counts)
        auto = related_classes == "auto"
        tries = range(0, max_related_classes + 1) if auto else [int(related_classes)]
        n_pairs = float(data.counts.sum())
        fits, selection = {}, []
        # screening: with several counts to compare, each is fitted to a looser tolerance (the
        # log-likelihoods of different counts differ by far more than what the last iterations
        # add); the chosen one is then refined from where it stopped, to ``tolerance``
        screen = max(tolerance, 1e-3) if auto else tolerance
        # the search runs on a sample of the patterns when they are many (the rare ones thinned)
        sample = data.sample(SCREEN_PATTERNS) if auto else data
        previous = None
        for k in tries:
            if auto and previous is not None:
                # several starts from k = 1 on: the plain one and the previous fit with one of its
                # classes split (EM only finds a local maximum). Each runs a few steps; the one of
                # the highest likelihood then runs on ("short EM", Biernacki, Celeux & Govaert 2003)
                starts = [None] + _split_starts(previous, sample, n_levels, u_fixed is not None)
                shorts = [_em(sample, n_levels, k, u_fixed, freqs, min(SHORT_STEPS, max_iterations), screen,
                              initial_match_share, start=start) for start in starts]
                best = max(shorts, key=lambda f: f.history[-1])
                fit = best if best.converged else _em(sample, n_levels, k, u_fixed, freqs, max_iterations, screen,
                                                      initial_match_share, start=(best.thetas, best.shares))
                fit.iterations = sum(f.iterations for f in shorts) + (fit.iterations if fit is not best else 0)
            else:
                fit = _em(sample, n_levels, k, u_fixed, freqs, max_iterations, screen, initial_match_share)
            previous = fit
            fits[k] = fit
            selection.append({"related_classes": k, "log_likelihood": fit.history[-1],
                              "parameters": fit.parameters,
                              "bic": -2.0 * fit.history[-1] + fit.parameters * np.log(n_pairs),
                              "iterations": fit.iterations, "converged": fit.converged})
        if auto and (screen != tolerance or sample is not data):
            # a screened fit may have stopped early where EM moves slowly (a split start), and was
            # fitted on a sample of the patterns: the two counts with the lowest screened BIC are
            # refined on every pattern to ``tolerance`` and compared again
            finalists = sorted(selection, key=lambda s: s["bic"])[:2]
            for entry in finalists:
                k = entry["related_classes"]
                refined = _em(data, n_levels, k, u_fixed, freqs, max_iterations, tolerance, initial_match_share,
                              start=(fits[k].thetas, fits[k].shares))
                refined.iterations += fits[k].iterations
                fits[k] = refined
                entry.update(log_likelihood=refined.history[-1], iterations=refined.iterations,
                             converged=refined.converged,
                             bic=-2.0 * refined.history[-1] + refined.parameters * np.log(n_pairs))
            chosen = min(finalists, key=lambda s: s["bic"])["related_classes"]
        else:
            chosen = min(selection, key=lambda s: s["bic"])["related_classes"] if auto else tries[0]
        fit = fits[chosen]
        for entry in selection:
            f = fit if entry["related_classes"] == chosen else fits[entry["related_classes"]]
            u_ref = u_fixed if u_fixed is not None else f.thetas[-1]
            entry["match_classes"] = len(match_side(f.thetas, u_ref, len(f.thetas) - 1, match_class_agreement,
                                                    dependent))
        u_ref = u_fixed if u_fixed is not None else fit.thetas[-1]
        side = match_side(fit.thetas, u_ref, len(fit.thetas) - 1, match_class_agreement, dependent)
        self.unrelated_fixed = u_fixed is not None
        self._set_classes(fit.thetas, fit.shares, side)
        self.runner_up = None
        if auto and len(selection) > 1:
            # the runner-up count: the estimates are only as sure as the choice between the two
            second = sorted(selection, key=lambda s: s["bic"])[1]
            f2 = fits[second["related_classes"]]
            alt = FellegiSunter(self.names, self.labels, term_frequencies=self.term_frequencies,
                                unrelated_fixed=self.unrelated_fixed)
            alt._set_classes(f2.thetas, f2.shares, match_side(f2.thetas, u_fixed if u_fixed is not None else f2.thetas[-1],
                                                             len(f2.thetas) - 1, match_class_agreement, dependent))
            self.runner_up = (second["related_classes"], second["bic"] - min(e["bic"] for e in selection), alt)
        self.report = FitReport(fit.iterations, fit.converged, self.match_share, len(data.counts), fit.history,
                                selection, chosen, "bic" if auto else "fixed")
        if labels is not None:
            self._learn_labels(data, labels, counts, max_iterations, tolerance)
        return self

    def _set_classes(self, thetas: list, pi: np.ndarray, side: list[int]) -> None:
        """Keep fitted classes: the match classes' level shares floored (:data:`LEVEL_FLOOR`), m and
        u as the match and non-match sides' mixtures."""
        n_levels = self.n_levels
        thetas = [[t * (1.0 - LEVEL_FLOOR * len(t)) + LEVEL_FLOOR for t in th] if k in side else th
                  for k, th in enumerate(thetas)]
        K = len(thetas)
        non = [k for k in range(K) if k not in side]
        self.class_shares = pi.tolist()
        self.class_thetas = [[t.tolist() for t in th] for th in thetas]
        self.match_classes = side
        self.match_share = float(pi[side].sum())
        m_w, u_w = pi[side] / pi[side].sum(), pi[non] / pi[non].sum()
        self.m = [sum(w * thetas[k][c] for w, k in zip(m_w, side)) for c in range(len(n_levels))]
        self.u = [sum(w * thetas[k][c] for w, k in zip(u_w, non)) for c in range(len(n_levels))]

    def _learn_labels(self, data: "_Patterns", labels: np.ndarray, weights: np.ndarray | None,
                      max_iterations: int, tolerance: float) -> None:
        """Semi-supervised EM from the fitted classes: the labelled pairs' side is fixed
        (:func:`fixed_responsibilities`); the class count and which classes are matches stay. (Letting
        labels move a whole class to the other side was tried: the active queue's labels are not a
        random sample of a class, and 25 of them turned a class of non-matches into matches on crm,
        F1 0.98 -> 0.60.) ``labels``: per row of the fitted levels, 1 a labelled match, 0 a labelled
        non-match, -1 none."""
        labels = np.asarray(labels)
        thetas = [[np.maximum(np.asarray(t, float), _EPS) for t in th] for th in self.class_thetas]
        pi = np.asarray(self.class_shares, float)
        K = len(thetas)
        side_mask = np.isin(np.arange(K), self.match_classes)
        labelled = _Labelled.of(data, labels, weights, side_mask)
        u_fixed = thetas[-1] if self.unrelated_fixed else None
        fit = _em(data, self.n_levels, K - 2 if self.unrelated_fixed else K - 1, u_fixed, None, max_iterations,
                  tolerance, self.match_share, start=(thetas, pi), labelled=labelled)
        self._set_classes(fit.thetas, fit.shares, list(self.match_classes))
        rep = self.report or FitReport(0, True, self.match_share, len(data.counts))    # a loaded model has none
        self.labels_used = {"matches": float(labelled.matches.sum()), "non_matches": float(labelled.non_matches.sum())}
        self.report = FitReport(rep.iterations + fit.iterations, fit.converged, self.match_share, rep.patterns,
                                rep.log_likelihood + fit.history, rep.selection, rep.related_classes, rep.criterion)

    def refit(self, levels: np.ndarray, labels: np.ndarray, counts: np.ndarray | None = None,
              max_iterations: int = 200, tolerance: float = 1e-6) -> "FellegiSunter":
        """A copy of this fitted model taught by ``labels`` (per row of ``levels``: 1 match, 0 not a
        match, -1 unlabelled; ``counts``: pairs per row): EM from this model's classes with the
        labelled pairs' side fixed. This model is unchanged (cross-fitting refits one unlabelled
        model on several label sets)."""
        import copy

        if self.class_thetas is None:
            raise ModelError("refit needs a fitted model with latent classes", "fit the model first")
        out = copy.deepcopy(self)
        data = _Patterns.of(own_levels(self, levels), self.n_levels, counts)
        with threadpool_limits(limits=1, user_api="blas"):
            out._learn_labels(data, labels, counts, max_iterations, tolerance)
        return out

    def learn_term_frequencies(self, prepared: pd.DataFrame | None, comparisons,
                               value_counts=None) -> "FellegiSunter":
        """The share of records holding each value of the term-frequency-adjusted comparisons'
        fields (values held by one record only are not stored: they score at the floor 1/N).
        ``value_counts(field)``, when given, returns (records per value held by 2 or more, records
        holding a value) instead of counting ``prepared`` (the Spark engine counts in Spark)."""
        self.term_frequencies = {}
        for comp in comparisons:
            if not comp.tf_adjustment:
                continue
            if value_counts is None:
                counts = prepared[comp.field].value_counts(dropna=True)
                kept, present = counts[counts >= 2], int(counts.sum())
            else:
                kept, present = value_counts(comp.field)
            n = max(present, 1)
            self.term_frequencies[comp.name] = {"floor": 1.0 / n,
                                                "values": {str(k): float(v) / n for k, v in kept.items()}}
        return self

    def _tf_log_adjustment(self, agreed: dict[str, np.ndarray] | None, n: int) -> np.ndarray | None:
        """Per pair, log(f_v / u_exact) summed over the adjusted comparisons where the records agree
        on value v: added to the unrelated class, whose chance of agreeing on v is f_v squared."""
        if not agreed or not self.term_frequencies:
            return None
        thetas = self.class_thetas or [[m.tolist() for m in self.m], [u.tolist() for u in self.u]]
        unrelated = thetas[-1]
        out = np.zeros(n)
        for name, values in agreed.items():
            tf = self.term_frequencies.get(name)
            if tf is None or name not in self.names:
                continue
            u_exact = max(float(unrelated[self.names.index(name)][-1]), _EPS)
            hit = np.flatnonzero(pd.notna(values))
            if not len(hit):
                continue
            freq = pd.Series(values[hit]).map(tf["values"]).fillna(tf["floor"]).to_numpy(float)
            out[hit] += np.log(np.maximum(freq, _EPS) / u_exact)
        return out

    def fit_metrics(self) -> dict[str, float]:
        """What EM did, as run metrics: iterations, match share, classes, and the chosen count."""
        rep = self.report
        out = {"em_iterations": rep.iterations, "em_converged": float(rep.converged),
               "em_match_share": self.match_share, "em_patterns": rep.patterns,
               "em_related_classes_chosen": rep.related_classes,
               "em_classes": len(self.class_shares or [0, 1]), "em_match_classes": len(self.match_classes)}
        for s in rep.selection:
            out[f"em_bic_related_{s['related_classes']}"] = s["bic"]
        if self.labels_used:
            out.update({"em_labelled_matches": self.labels_used["matches"],
                        "em_labelled_non_matches": self.labels_used["non_matches"],
                        "em_labelled_pairs": self.labels_used["matches"] + self.labels_used["non_matches"]})
        return out

    def structure(self) -> dict:
        """The fitted classes (share, match or not, far-level probability per comparison) and the
        class-count selection: the model/class_selection.json artifact."""
        thetas = self.class_thetas or []
        return {"criterion": self.report.criterion if self.report else "fixed",
                "related_classes_chosen": self.report.related_classes if self.report else None,
                "selection": self.report.selection if self.report else [],
                "classes": [{"class": k, "share": share, "match": k in self.match_classes,
                             "unrelated": k == len(thetas) - 1,
                             "p_far": {n: theta[c][0] for c, n in enumerate(self.names)}}
                            for k, (share, theta) in enumerate(zip(self.class_shares or [], thetas))]}

    # ------------------------------------------------------------------ scoring
    def level_weights(self) -> list[np.ndarray]:
        """log2(m/u) per comparison level (u: the non-match classes' mixture marginal)."""
        return [np.log2(np.maximum(m, _EPS) / np.maximum(u, _EPS)) for m, u in zip(self.m, self.u)]

    def comparison_weights(self, levels: np.ndarray) -> np.ndarray:
        """Each comparison's share of each pair's match weight, in bits; shape (pairs,
        comparisons); a missing comparison gets 0. They sum to the match weight (term-frequency
        adjustments aside).

        With one non-match class this is log2 m/u of the pair's level, the textbook weight. With
        several classes the model weighs the pattern jointly (agreeing on surname and address is
        expected of relatives, so together they count for less than apart): a comparison's share
        is then its Shapley value, the change in the log odds it brings, averaged over every order
        in which the comparisons could be added (exact up to 12 comparisons, else over 512 random
        orders), computed once per distinct pattern.
        """
        levels = own_levels(self, levels)
        if not self.class_thetas or len(self.class_thetas) <= 2 or len(levels) == 0:
            return _lookup_weights(self.level_weights(), levels)
        uniq, inverse = np.unique(encode_patterns(levels, self.n_levels), return_inverse=True)
        patterns = decode_patterns(uniq, self.n_levels)
        K, C = len(self.class_thetas), len(self.names)
        log_theta = np.zeros((len(patterns), C, K))
        for c in range(C):
            present = patterns[:, c] >= 0
            table = np.log(np.maximum(np.array([theta[c] for theta in self.class_thetas], float), _EPS))  # (K, levels)
            log_theta[present, c, :] = table[:, patterns[present, c]].T
        log_pi = np.log(np.asarray(self.class_shares, float))
        side = np.isin(np.arange(K), self.match_classes)
        out = np.empty((len(patterns), C))
        for start in range(0, len(patterns), 256):
            out[start:start + 256] = _shapley(log_theta[start:start + 256], log_pi, side)
        return out[inverse.ravel()]

    def class_log_likelihoods(self, levels: np.ndarray, weights: np.ndarray | None = None
                              ) -> tuple[np.ndarray, np.ndarray]:
        """(log-likelihood of each distinct pattern of ``levels`` under each fitted class, the
        unrelated class last; how many rows show each pattern, or their summed ``weights``): what
        an EM over other pairs' class shares needs (:mod:`golden_record.evaluation.outside`)."""
        data = _Patterns.of(levels, self.n_levels, weights)
        thetas = self.class_thetas or [[m.tolist() for m in self.m], [u.tolist() for u in self.u]]
        return data.class_log_likelihoods([[np.maximum(np.asarray(t, float), _EPS) for t in theta]
                                           for theta in thetas]), data.counts

    def score(self, levels: np.ndarray, agreed: dict[str, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """(match weight, match probability) per row of ``levels``.

        weight = log2 P(pattern | match) / P(pattern | non-match); probability = posterior of the
        match classes. Computed once per distinct pattern, then scattered back to the pairs; with
        term frequencies (``agreed``: :attr:`ComparisonVectors.agreed`) the unrelated class's
        likelihood is adjusted per pair for the values the records agree on.
        """
        levels = own_levels(self, levels)
        data = _Patterns.of(levels, self.n_levels)       # the same likelihood path as fitting
        thetas = self.class_thetas or [[m.tolist() for m in self.m], [u.tolist() for u in self.u]]
        shares = self.class_shares or [self.match_share, 1 - self.match_share]
        ll = data.class_log_likelihoods([[np.maximum(np.asarray(t, float), _EPS) for t in theta] for theta in thetas])
        ll += np.log(np.asarray(shares))[None, :]
        inverse = data.inverse
        adjust = self._tf_log_adjustment(agreed, len(levels))
        if adjust is not None:
            ll = ll[inverse]
            ll[:, -1] += adjust
            inverse = np.arange(len(levels))
        side = list(self.match_classes) if self.class_thetas else [0]
        non = [k for k in range(ll.shape[1]) if k not in side]
        logit = _logsumexp(ll[:, side]) - _logsumexp(ll[:, non])
        prob = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        prior = np.log(self.match_share / (1 - self.match_share))
        weight = (logit - prior) / np.log(2.0)
        return weight[inverse], prob[inverse]

    def threshold_weight(self, probability: float) -> float:
        """The match weight at which the probability equals ``probability``."""
        p = min(max(probability, 1e-12), 1 - 1e-12)
        return float(np.log2(p / (1 - p)) - np.log2(self.match_share / (1 - self.match_share)))

    # ------------------------------------------------------------------ reporting & persistence
    def m_u_table(self) -> pd.DataFrame:
        """One row per (comparison, level): m, u, weight = log2(m/u) and ``at_floor`` (see
        :func:`at_floor`: the weight is then a bound, not an estimate)."""
        rows = []
        for name, labels, m, u, w in zip(self.names, self.labels, self.m, self.u, self.level_weights()):
            for lvl, label in enumerate(labels):
                rows.append({"comparison": name, "level": label, "level_index": lvl,
                             "m": float(m[lvl]), "u": float(u[lvl]), "weight": float(w[lvl]),
                             "at_floor": at_floor(m[lvl], u[lvl])})
        return pd.DataFrame(rows, columns=M_U_COLUMNS)

    def to_dict(self) -> dict:
        return {"names": self.names, "labels": self.labels, "match_share": self.match_share,
                "m": [x.tolist() for x in self.m], "u": [x.tolist() for x in self.u],
                "class_shares": self.class_shares, "class_thetas": self.class_thetas,
                "match_classes": self.match_classes, "term_frequencies": self.term_frequencies,
                "unrelated_fixed": self.unrelated_fixed}

    @classmethod
    def from_dict(cls, data: dict) -> "FellegiSunter":
        return cls(names=list(data["names"]), labels=[list(x) for x in data["labels"]],
                   m=[np.asarray(x, float) for x in data["m"]], u=[np.asarray(x, float) for x in data["u"]],
                   match_share=float(data["match_share"]), class_shares=data.get("class_shares"),
                   class_thetas=data.get("class_thetas"), match_classes=list(data.get("match_classes", [0])),
                   term_frequencies=dict(data.get("term_frequencies") or {}),
                   unrelated_fixed=bool(data.get("unrelated_fixed", True)))

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=2)

    @classmethod
    def load(cls, path) -> "FellegiSunter":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))
