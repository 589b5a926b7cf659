"""Blocking passes chosen for the data: a pair budget from how many records a person has, and the
passes that find the most likely duplicate pairs within it (:func:`choose`).

The candidate passes come from :mod:`golden_record.linkage.defaults` (keys of the identifiers,
names, dates and places the schema and the profile of the data point at); which of them block,
and how many pairs a record may cost, is measured here, on the data, without ground truth:

1. every candidate's cost (pairs per record; records in blocks larger than
   ``candidates.max_block_size``, which no pass compares) is counted from its block sizes, for
   the whole table when the records are a sample (pairs / share², blocks of size / share);
   a candidate leaving more than :data:`MAX_SKIPPED_SHARE` of the records in such blocks is
   too coarse;
2. the candidates' pairs among a uniform sample of the records (as many records as
   :data:`SCORE_PAIRS` compared pairs allow) are compared with the run's comparisons and scored
   by :class:`Scorer`, a latent-class model of all the sample's pairs (u from random pairs): its
   match probabilities say how many of each candidate's pairs are duplicates;
3. the duplicates per record (the *true partners*: a person with k records gives each of them
   k - 1) set the budget of the passes' union, :data:`BASE_BUDGET` + :data:`PAIRS_PER_PARTNER`
   per partner pairs per record, at most ``candidates.max_pairs`` for the whole table; the first
   round scores the candidates within :data:`BASE_BUDGET`, the next ones those the grown budget
   admits (at most :data:`MAX_ROUNDS`);
4. passes are taken greedily, the one whose *new* pairs (those no chosen pass makes) hold the
   most likely duplicates per new pair first, while the union stays within the budget and the
   passes' own pairs (which blocking allocates before their union) within ``max_pairs``; a pass
   adding too few likely duplicates for its new pairs (:data:`FREE_GAIN`, :data:`MIN_GAIN`) is
   left out, with its numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from golden_record.config import CandidateSettings, Comparison
from golden_record.linkage.blocking import _blocks, _expand, block_cost
from golden_record.linkage.comparisons import compare, level_labels
from golden_record.linkage.keys import parse_key, part_codes
from golden_record.linkage.model import RandomPairStats, _Patterns, match_side

#: pairs per record every table may spend, duplicates or not (chance agreements of a good key)
BASE_BUDGET = 3.0
#: candidate pairs per record a true partner is worth: a person's other records, found by keys
#: that agree by chance too (a table where a person has ~10 records needs ~100 pairs per record)
PAIRS_PER_PARTNER = 7.0
#: a pass must add at least this share of the likely duplicate pairs for every BASE_BUDGET new
#: pairs per record it costs (at least this share, however cheap it is) to be kept
MIN_GAIN = 0.001
#: ... and within the first BASE_BUDGET pairs per record, this share (the sample's estimate of a
#: cheap pass's few new duplicates is noisy: a pass that finds any is worth its few pairs)
FREE_GAIN = 0.0001
#: share of the records a pass may leave in blocks larger than candidates.max_block_size
MAX_SKIPPED_SHARE = 0.5
#: candidate pairs compared to score the candidates (the sample of records is sized for it)
SCORE_PAIRS = 150_000
#: random pairs for the u-probabilities of the scoring model, among at most RANDOM_ROWS records
RANDOM_PAIRS = 50_000
RANDOM_ROWS = 20_000
#: classes of related non-matches in the scoring model (households, namesakes)
RELATED_CLASSES = 2
#: tilts of the related classes' starting shares (one fit from each, the best likelihood kept)
START_TILTS = (0.2, 0.5)
#: share of candidates.max_pairs the passes may make when their counts are a sample's estimates
SAMPLE_MARGIN = 0.9
#: block codes kept in memory between the costing and the scoring (int32 values, all candidates)
KEPT_CODES = 50_000_000
#: rounds of scoring at most (the budget grows with the duplicates found, and admits more keys)
MAX_ROUNDS = 3


class KeyCodes:
    """Block codes of blocking entries on one frame, each key part computed once."""

    def __init__(self, prepared: pd.DataFrame, keep: int = 0):
        self.prepared = prepared
        self._parts: dict[str, np.ndarray] = {}
        self._entries: dict[str, np.ndarray] = {}
        self._keep = keep          # entries whose codes are kept (int32), to be asked again

    def codes(self, entry: str) -> np.ndarray:
        """int64 block code per record (-1: a part is missing), as blocking.key_codes."""
        if entry in self._entries:
            return self._entries[entry]
        codes = self._codes(entry)
        if len(self._entries) < self._keep:
            self._entries[entry] = codes.astype(np.int32) if len(codes) < 2**31 else codes
        return codes

    def part(self, part) -> np.ndarray:
        label = part.label()
        if label not in self._parts:
            self._parts[label] = part_codes(self.prepared, part)
        return self._parts[label]

    def _codes(self, entry: str) -> np.ndarray:
        codes = None
        for part in parse_key(entry):
            c = self.part(part)
            if codes is None:
                codes = c
                continue
            missing = (codes < 0) | (c < 0)
            combined = codes * (int(c.max()) + 2) + c
            combined[missing] = -1
            codes = pd.factorize(combined)[0].astype(np.int64)
            codes[missing] = -1
        return codes


@dataclass(eq=False)
class Candidate:
    entry: str
    why: str
    pairs: int = 0                     # whole-table estimate
    skipped: int = 0                   # records in blocks too large (whole-table estimate)
    sample: np.ndarray | None = None   # indices into the scored union of sample pairs


@dataclass
class Choice:
    passes: list[str]
    reasons: dict[str, str] = field(default_factory=dict)     # chosen entry -> why, with numbers
    #: left-out entry -> (why, shared by a group of them; its own numbers): no group, its own line
    dropped: dict[str, tuple[str, str]] = field(default_factory=dict)
    budget_line: str = ""
    partners: float = 0.0
    budget: float = BASE_BUDGET


def _usable_sample_pairs(codes: np.ndarray, max_block_size: int, share: float, sample: np.ndarray) -> np.ndarray:
    """A pass's pairs among the ``sample`` positions (``left * len(sample) + right``, positions in
    the sample), in the blocks the whole table can use."""
    valid = codes >= 0
    sizes = np.bincount(codes[valid]) if valid.any() else np.zeros(0, np.int64)
    usable = np.append(sizes / share <= max_block_size, False)       # index -1: a missing key
    c = codes[sample]
    c = np.where(usable[c], c, -1)
    order, starts, lens, _ = _blocks(c, len(c) + 1)
    left, right = _expand(order, starts, lens)
    return np.minimum(left, right) * len(sample) + np.maximum(left, right)


class Scorer:
    """P(same person) of candidate pairs, without ground truth.

    A latent-class model of *all* the record pairs of a sample: one match class, a few classes of
    related non-matches (members of a family, namesakes, copies of a place) and the unrelated
    class, whose level shares are those of random pairs and stay fixed. Only the candidate pairs
    are seen; every other pair counts as unrelated. The classes' shares are shares of all the
    pairs, so a pair that agrees on a key by chance is explained by the unrelated class (random
    pairs agree on a birthday that often), whichever keys brought it: the estimate neither grows
    with the pairs scored nor needs a class per key. It is fitted once, on the first candidates
    scored; later sets of pairs are scored with its classes, their shares fitted again."""

    def __init__(self, comparisons: list[Comparison], random: RandomPairStats):
        self.comparisons = comparisons
        self.n_levels = [len(level_labels(c)) for c in comparisons]
        self.u = [np.maximum(np.asarray(x, float), 1e-6) for x in random.u]
        self.dependent = random.dependent
        self.thetas: list[list[np.ndarray]] | None = None
        self.shares: np.ndarray | None = None
        self.match: list[int] = [0]

    def levels(self, prepared: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return compare(prepared, left, right, self.comparisons, agreed=False).levels

    def probabilities(self, levels: np.ndarray, all_pairs: float) -> np.ndarray:
        """P(match) per row of ``levels``, the candidate pairs among ``all_pairs`` pairs of a sample."""
        if len(levels) == 0:
            return np.zeros(0)
        data = _Patterns.of(levels, self.n_levels)
        total = max(float(all_pairs), float(data.counts.sum()) + 1.0)
        if self.thetas is None:
            self.thetas, self.shares = _fit_all_pairs(data, self.n_levels, self.u, total)
            # the training model's rule: a majority of the evidence, fields that agree together counted once
            self.match = match_side(self.thetas, self.u, len(self.thetas) - 1, dependent=self.dependent)
            post = _all_pairs_em(data, self.thetas, self.shares, total, fit_thetas=False)[2]
        else:
            post = _all_pairs_em(data, self.thetas, self.shares * 0 + self.shares, total, fit_thetas=False)[2]
        return post[:, self.match].sum(axis=1)[data.inverse]


def _all_pairs_em(data: _Patterns, thetas: list[list[np.ndarray]], shares: np.ndarray, total: float,
                  fit_thetas: bool = True, iterations: int = 500, tolerance: float = 1e-7):
    """EM over all ``total`` pairs of which ``data`` are the candidates (the rest unrelated, the
    last class, whose thetas stay fixed). Returns (thetas, shares, posteriors, log-likelihood)."""
    counts = data.counts
    widths = np.asarray([len(t) for t in thetas[0]])
    theta = np.stack([np.concatenate(th) for th in thetas])
    pi = np.asarray(shares, float).copy()
    rest = total - counts.sum()                  # pairs no candidate makes: unrelated
    for _ in range(iterations):
        logp = data.design @ np.log(theta).T + np.log(np.maximum(pi, 1e-300))[None, :]
        log_total = logp.max(axis=1, keepdims=True)
        resp = np.exp(logp - log_total)
        resp /= resp.sum(axis=1, keepdims=True)
        w = resp * counts[:, None]
        new_pi = w.sum(axis=0) / total
        new_pi[-1] = (w[:, -1].sum() + rest) / total
        delta = float(np.abs(new_pi - pi).max() / max(pi[:-1].max(), 1e-12))
        if fit_thetas:
            sums = w[:, :-1].T @ data.design + 1e-6
            new_theta = sums / np.repeat(np.add.reduceat(sums, data.offsets, axis=1), widths, axis=1)
            delta = max(delta, float(np.abs(new_theta - theta[:-1]).max()))
            theta[:-1] = new_theta
        pi = new_pi
        if delta < tolerance:
            break
    logp = data.design @ np.log(theta).T + np.log(np.maximum(pi, 1e-300))[None, :]
    mx = logp.max(axis=1, keepdims=True)
    resp = np.exp(logp - mx)
    norm = resp.sum(axis=1, keepdims=True)
    loglik = float((counts * (mx[:, 0] + np.log(norm[:, 0]))).sum() + rest * np.log(max(pi[-1], 1e-300)))
    return [data.normalise(row) for row in theta], pi, resp / norm, loglik


def _fit_all_pairs(data: _Patterns, n_levels: list[int], u: list[np.ndarray], total: float
                   ) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """The match class and RELATED_CLASSES related ones, from a few starts: the best likelihood."""
    freqs = [data.normalise(row) for row in (data.counts @ data.design + 1e-6)[None, :]][0]
    best = None
    for tilt in START_TILTS:
        m0 = []
        for n in n_levels:
            init = np.geomspace(0.02, 1.0, n)
            m0.append(init / init.sum())
        thetas = [m0]
        for r in range(RELATED_CLASSES):
            sign = 1.0 + tilt * (r + 1)
            thetas.append([f * np.linspace(sign, 2.0 - sign, len(f)) for f in freqs])
            thetas[-1] = [np.maximum(t, 1e-6) / np.maximum(t, 1e-6).sum() for t in thetas[-1]]
        thetas.append(u)
        share = float(data.counts.sum()) / total / (RELATED_CLASSES + 1)
        shares = np.array([share] * (RELATED_CLASSES + 1) + [1.0 - share * (RELATED_CLASSES + 1)])
        fit = _all_pairs_em(data, thetas, shares, total)
        if best is None or fit[3] > best[3]:
            best = fit
    return best[0], best[1]


def random_stats(prepared: pd.DataFrame, comparisons: list[Comparison], seed: int = 0) -> RandomPairStats:
    """What random pairs say (level shares, which comparisons agree together), drawn among at most
    :data:`RANDOM_ROWS` records (each comparison factorises the frame it is given)."""
    rng = np.random.default_rng(seed)
    if len(prepared) > RANDOM_ROWS:
        prepared = prepared.iloc[np.sort(rng.choice(len(prepared), RANDOM_ROWS, replace=False))]
    n = len(prepared)
    k = int(min(RANDOM_PAIRS, max(n * (n - 1) // 2, 1)))
    left, right = rng.integers(0, n, k), rng.integers(0, n, k)
    keep = left != right
    levels = compare(prepared, left[keep], right[keep], comparisons, agreed=False).levels
    return RandomPairStats.of(levels, [len(level_labels(c)) for c in comparisons])


def budget_for(partners: float, n_records: int, settings: CandidateSettings) -> float:
    """Pairs per record the union of the passes may yield: BASE_BUDGET + PAIRS_PER_PARTNER per
    true partner, at most max_pairs for the whole table."""
    return min(BASE_BUDGET + PAIRS_PER_PARTNER * partners, settings.max_pairs / max(n_records, 1))


def _sizes(codes: np.ndarray) -> np.ndarray:
    valid = codes >= 0
    return np.bincount(codes[valid]) if valid.any() else np.zeros(0, np.int64)


def choose(prepared: pd.DataFrame, candidates: list[tuple[str, str]], comparisons: list[Comparison],
           settings: CandidateSettings, share: float = 1.0, seed: int = 0) -> Choice:
    """The passes among ``candidates`` ((entry, why) in order of preference) for ``prepared`` (the
    cleaned records, or a uniform sample holding ``share`` of them). See the module doc."""
    n_given = len(prepared)
    n_records = max(round(n_given / share), 1)
    max_block = settings.max_block_size
    keys = KeyCodes(prepared, keep=int(KEPT_CODES // max(n_given, 1)))
    cands: list[Candidate] = []
    for entry, why in _unique(candidates):
        pairs, skipped = block_cost(_sizes(keys.codes(entry)), max_block, share)
        cands.append(Candidate(entry, why, pairs, skipped))
    out = Choice([])
    usable = []
    for c in cands:
        if c.skipped > MAX_SKIPPED_SHARE * n_records:
            out.dropped[c.entry] = (f"too coarse (more than {MAX_SKIPPED_SHARE:.0%} of the records in blocks of more "
                                    f"than {max_block}, which are never compared; pairs/record, records in those "
                                    "blocks)", f"{c.pairs / n_records:.1f}, {c.skipped / n_records:.0%}")
        elif c.pairs == 0:
            out.dropped[c.entry] = ("no two records share a key", "")
        else:
            usable.append(c)
    rng = np.random.default_rng(seed)
    scorer = Scorer(comparisons, random_stats(prepared, comparisons, seed)) if usable else None
    # the first round scores the finest candidates (the budget of a table without duplicates; the
    # cheapest ones when every candidate costs more), each next one those the budget then admits
    cap = budget_for(0.0, n_records, settings)
    cheapest = min((c.pairs for c in usable), default=0) / n_records
    cap = max(cap, min(2 * cheapest, settings.max_pairs / n_records))
    scored: list[Candidate] = []
    probs = np.zeros(0)
    partners, budget, scale, rows, sample = 0.0, cap, 1.0, 0, None
    levels_cache: tuple[np.ndarray, np.ndarray] | None = None        # (pair codes, levels) on ``sample``
    for _ in range(MAX_ROUNDS):
        pool = [c for c in usable if c.pairs <= cap * n_records]
        if not pool or (scored and len(pool) == len(scored)):
            break
        given_pairs = sum(c.pairs for c in pool) * share ** 2          # their pairs among the given records
        s1 = min(1.0, math.sqrt(SCORE_PAIRS / given_pairs))
        if sample is None or s1 < 0.5 * len(sample) / n_given:        # a new sample (the first, or far smaller)
            sample = (np.sort(rng.choice(n_given, max(int(round(n_given * s1)), 2), replace=False)) if s1 < 1
                      else np.arange(n_given))
            levels_cache = None
        frame = prepared.iloc[sample].reset_index(drop=True)
        per = [_usable_sample_pairs(keys.codes(c.entry), max_block, share, sample) for c in pool]
        union = np.unique(np.concatenate(per))
        for c, p in zip(pool, per):
            c.sample = np.searchsorted(union, p)
        levels = np.empty((len(union), len(comparisons)), dtype=np.int8)
        known = np.zeros(len(union), dtype=bool)
        if levels_cache is not None:
            pos = np.searchsorted(levels_cache[0], union).clip(max=max(len(levels_cache[0]) - 1, 0))
            known = levels_cache[0][pos] == union if len(levels_cache[0]) else known
            levels[known] = levels_cache[1][pos[known]]
        left, right = np.divmod(union[~known], len(sample))
        levels[~known] = scorer.levels(frame, left, right)
        levels_cache = (union, levels)
        probs = scorer.probabilities(levels, len(sample) * (len(sample) - 1) / 2)
        scale = (share * len(sample) / n_given) ** 2        # a whole-table pair is among the sample's with this chance
        rows = len(sample)
        partners = 2 * float(probs.sum()) / scale / n_records
        budget = budget_for(partners, n_records, settings)
        scored = pool
        if budget <= cap:
            break
        cap = budget
    out.partners, out.budget = partners, budget
    likely = float(probs.sum())
    for c in usable:
        if c not in scored:
            out.dropped[c.entry] = (f"more pairs per record alone than the budget of {budget:.1f}",
                                    f"{c.pairs / n_records:.1f}")
    covered = np.zeros(len(probs), dtype=bool)
    chosen_pairs = 0.0                      # the union's pairs, whole-table estimate
    made = 0                                # the passes' pairs, before the union (what generate allocates)
    # a sample's counts are estimates: the passes keep a margin under max_pairs
    max_made = settings.max_pairs * (1.0 if share >= 1 else SAMPLE_MARGIN)

    def marginal(c: Candidate) -> tuple[float, float, int]:
        """(new pairs in the whole table, likely duplicates among the new sample pairs, new sample pairs)"""
        if c.sample is None or not len(c.sample):
            return 0.0, 0.0, 0
        new = ~covered[c.sample]
        k = int(new.sum())
        return c.pairs * k / len(c.sample), float(probs[c.sample[new]].sum()), k

    remaining = list(scored)

    def worth(gain: float, new_pairs: float) -> bool:
        """Within the first BASE_BUDGET pairs per record, a pass adding FREE_GAIN of the likely
        duplicates; past them, MIN_GAIN of them for every BASE_BUDGET new pairs per record."""
        if chosen_pairs + new_pairs <= BASE_BUDGET * n_records:
            return gain > 0 and gain >= FREE_GAIN * likely
        return gain > 0 and gain >= MIN_GAIN * likely * max(1.0, new_pairs / n_records / BASE_BUDGET)
    if likely < 1.0:        # no duplicates found: the cheapest candidates, within the budget, as listed
        for c in sorted(remaining, key=lambda c: c.pairs):
            new_pairs, _, _ = marginal(c)
            if chosen_pairs + new_pairs <= budget * n_records and made + c.pairs <= max_made:
                covered[c.sample] = True
                chosen_pairs += new_pairs
                made += c.pairs
                out.passes.append(c.entry)
                out.reasons[c.entry] = (f"{c.pairs / n_records:.2f} pairs/record, {new_pairs / n_records:.2f} new; "
                                        f"{c.why} (no likely duplicates among the candidates' pairs: the finest "
                                        "keys within the budget)")
        remaining = [c for c in remaining if c.entry not in out.passes]
    while remaining and likely >= 1.0:
        best, best_key = None, -1.0
        for c in remaining:
            new_pairs, gain, k = marginal(c)
            key = gain / max(k, 1)             # likely duplicates per new pair
            if (not worth(gain, new_pairs) or chosen_pairs + new_pairs > budget * n_records
                    or made + c.pairs > max_made):
                continue
            if key > best_key:
                best, best_key = c, key
        if best is None:
            break
        new_pairs, gain, k = marginal(best)
        covered[best.sample] = True
        chosen_pairs += new_pairs
        made += best.pairs
        out.passes.append(best.entry)
        out.reasons[best.entry] = (f"{best.pairs / n_records:.2f} pairs/record, {new_pairs / n_records:.2f} new; "
                                   f"+{gain / likely:.1%} of the likely duplicate pairs ({gain / max(k, 1):.0%} of "
                                   f"its new pairs); {best.why}")
        remaining.remove(best)
    for c in remaining:
        new_pairs, gain, k = marginal(c)
        if worth(gain, new_pairs) and chosen_pairs + new_pairs > budget * n_records:
            out.dropped[c.entry] = ("", f"+{gain / likely:.2%} of the likely duplicate pairs, but its "
                                        f"{new_pairs / n_records:.2f} new pairs/record would pass the budget of "
                                        f"{budget:.1f} ({chosen_pairs / n_records:.2f} taken)")
        elif worth(gain, new_pairs):
            out.dropped[c.entry] = ("", f"+{gain / likely:.2%} of the likely duplicate pairs, but its {c.pairs:,} "
                                        f"pairs would pass candidates.max_pairs={settings.max_pairs:,} with the "
                                        f"passes' {made:,}")
        else:
            out.dropped[c.entry] = (f"adding too little: fewer than {FREE_GAIN:.2%} of the likely duplicate pairs "
                                    f"within the first {BASE_BUDGET:g} pairs per record, fewer than {MIN_GAIN:.1%} for "
                                    f"every {BASE_BUDGET:g} new pairs per record past them (likely duplicates "
                                    "added, new pairs/record, share of them likely)",
                                    f"+{gain / max(likely, 1.0):.2%}, {new_pairs / n_records:.2f}, "
                                    f"{gain / max(k, 1):.2%}")
    out.budget_line = (f"budget {budget:.1f} pairs/record: about {partners:.2f} true partners per record "
                       f"({likely:,.0f} likely duplicate pairs among {len(probs):,} candidate pairs of "
                       f"{rows:,} records, scored by EM), {BASE_BUDGET:g} + {PAIRS_PER_PARTNER:g} per partner, "
                       f"at most {settings.max_pairs / n_records:,.1f} (candidates.max_pairs); the passes make about "
                       f"{chosen_pairs / n_records:.2f} after their union, {made:,} pairs before it")
    return out


def _unique(candidates: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for entry, why in candidates:
        seen.setdefault(entry, why)
    return list(seen.items())
