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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from golden_record.linkage.comparisons import MISSING
from golden_record.errors import ModelError

_EPS = 1e-6


@dataclass
class FitReport:
    iterations: int
    converged: bool
    match_share: float
    patterns: int
    log_likelihood: list[float] = field(default_factory=list)


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


def level_frequencies(levels: np.ndarray, n_levels: list[int]) -> list[np.ndarray]:
    """Share of each level among non-missing values, per comparison (smoothed)."""
    out = []
    for k, n in enumerate(n_levels):
        col = levels[:, k]
        counts = np.bincount(col[col >= 0].astype(np.int64), minlength=n).astype(float) + 0.5
        out.append(counts / counts.sum())
    return out


@dataclass
class FellegiSunter:
    names: list[str]
    labels: list[list[str]]
    m: list[np.ndarray] = field(default_factory=list)
    u: list[np.ndarray] = field(default_factory=list)
    match_share: float = 0.0
    report: FitReport | None = None
    class_shares: list[float] | None = None          # match class first, then the non-match classes
    class_thetas: list[list[list[float]]] | None = None

    @property
    def n_levels(self) -> list[int]:
        return [len(lab) for lab in self.labels]

    # ------------------------------------------------------------------ fitting
    def fit(self, levels: np.ndarray, u_fixed: list[np.ndarray] | None = None, max_iterations: int = 200,
            tolerance: float = 1e-6, initial_match_share: float = 0.1,
            related_classes: int = 1) -> "FellegiSunter":
        """EM over distinct patterns with one match class and several non-match classes.

        Non-match classes: ``related_classes`` free classes (pairs that agree on some fields for a
        reason: members of one household, namesakes...) plus one "unrelated" class whose level
        shares are ``u_fixed`` (measured on random pairs) and stay fixed; without ``u_fixed`` it is
        free too. ``related_classes=0`` without ``u_fixed`` is the textbook two-class ECM.
        """
        if len(levels) == 0:
            raise ModelError("no candidate pairs to fit the model on",
                             "check blocking_fields: blocking yielded no pairs")
        n_levels = self.n_levels
        codes = encode_patterns(levels, n_levels)
        uniq, counts = np.unique(codes, return_counts=True)
        patterns = decode_patterns(uniq, n_levels)
        counts = counts.astype(float)
        present = [patterns[:, k] >= 0 for k in range(len(n_levels))]
        index = [np.where(present[k], patterns[:, k], 0) for k in range(len(n_levels))]
        onehots = [np.stack([patterns[:, k] == lvl for lvl in range(n)], axis=1).astype(float)
                   for k, n in enumerate(n_levels)]

        freqs = level_frequencies(levels, n_levels)
        m0 = []
        for n in n_levels:
            init = np.geomspace(0.02, 1.0, n)
            m0.append(init / init.sum())
        # class 0: match; 1..R: related non-matches (start from the candidates' level shares,
        # tilted apart so they can specialise); last: unrelated (random pairs)
        thetas = [m0]
        for r in range(related_classes):
            tilt = [(f * np.linspace(1.0 + 0.2 * r, 1.0 - 0.2 * r, len(f))) for f in freqs]
            thetas.append([t / t.sum() for t in tilt])
        thetas.append([np.asarray(x, float) for x in u_fixed] if u_fixed is not None else [f.copy() for f in freqs])
        fixed = [False] * (len(thetas) - 1) + [u_fixed is not None]
        K = len(thetas)
        pi = np.full(K, (1 - initial_match_share) / (K - 1))
        pi[0] = initial_match_share
        history: list[float] = []
        converged = False
        it = 0
        for it in range(1, max_iterations + 1):
            logp = np.zeros((len(uniq), K))
            for k in range(K):
                for c in range(len(n_levels)):
                    logp[:, k] += np.where(present[c], np.log(thetas[k][c][index[c]]), 0.0)
            logp += np.log(pi)[None, :]
            mx = logp.max(axis=1, keepdims=True)
            log_total = mx[:, 0] + np.log(np.exp(logp - mx).sum(axis=1))
            resp = np.exp(logp - log_total[:, None])
            history.append(float((counts * log_total).sum()))
            w = resp * counts[:, None]
            new_pi = np.clip(w.sum(axis=0) / counts.sum(), _EPS, 1.0)
            new_pi /= new_pi.sum()
            new_thetas = []
            delta = float(np.abs(new_pi - pi).max())
            for k in range(K):
                if fixed[k]:
                    new_thetas.append(thetas[k])
                    continue
                cls = []
                for c in range(len(n_levels)):
                    s = w[:, k] @ onehots[c] + _EPS
                    cls.append(s / s.sum())
                    delta = max(delta, float(np.abs(cls[-1] - thetas[k][c]).max()))
                new_thetas.append(cls)
            thetas, pi = new_thetas, new_pi
            if delta < tolerance:
                converged = True
                break
        self.class_shares = pi.tolist()
        self.class_thetas = [[t.tolist() for t in th] for th in thetas]
        self.m = thetas[0]
        non = pi[1:] / pi[1:].sum()
        self.u = [sum(non[k - 1] * thetas[k][c] for k in range(1, K)) for c in range(len(n_levels))]
        self.match_share = float(pi[0])
        self.report = FitReport(it, converged, float(pi[0]), len(uniq), history)
        return self

    # ------------------------------------------------------------------ scoring
    def level_weights(self) -> list[np.ndarray]:
        """log2(m/u) per comparison level (u: the non-match classes' mixture marginal)."""
        return [np.log2(np.maximum(m, _EPS) / np.maximum(u, _EPS)) for m, u in zip(self.m, self.u)]

    def _class_log_likelihoods(self, levels: np.ndarray) -> np.ndarray:
        thetas = self.class_thetas or [[m.tolist() for m in self.m], [u.tolist() for u in self.u]]
        shares = self.class_shares or [self.match_share, 1 - self.match_share]
        out = np.zeros((len(levels), len(thetas)))
        for k, theta in enumerate(thetas):
            for c in range(levels.shape[1]):
                lvl = levels[:, c].astype(np.int64)
                present = lvl != MISSING
                t = np.log(np.maximum(np.asarray(theta[c]), _EPS))
                out[:, k] += np.where(present, t[np.where(present, lvl, 0)], 0.0)
        return out + np.log(np.asarray(shares))[None, :]

    def score(self, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(match weight, match probability) per row of ``levels``.

        weight = log2 P(pattern | match) / P(pattern | non-match); probability = posterior of the
        match class. Computed once per distinct pattern, then scattered back to the pairs.
        """
        codes = encode_patterns(levels, self.n_levels)
        uniq, inverse = np.unique(codes, return_inverse=True)
        ll = self._class_log_likelihoods(decode_patterns(uniq, self.n_levels))
        non = ll[:, 1:]
        mx = non.max(axis=1)
        log_non = mx + np.log(np.exp(non - mx[:, None]).sum(axis=1))
        logit = ll[:, 0] - log_non
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
        rows = []
        for name, labels, m, u, w in zip(self.names, self.labels, self.m, self.u, self.level_weights()):
            for lvl, label in enumerate(labels):
                rows.append({"comparison": name, "level": label, "level_index": lvl,
                             "m": float(m[lvl]), "u": float(u[lvl]), "weight": float(w[lvl])})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return {"names": self.names, "labels": self.labels, "match_share": self.match_share,
                "m": [x.tolist() for x in self.m], "u": [x.tolist() for x in self.u],
                "class_shares": self.class_shares, "class_thetas": self.class_thetas}

    @classmethod
    def from_dict(cls, data: dict) -> "FellegiSunter":
        return cls(names=list(data["names"]), labels=[list(x) for x in data["labels"]],
                   m=[np.asarray(x, float) for x in data["m"]], u=[np.asarray(x, float) for x in data["u"]],
                   match_share=float(data["match_share"]), class_shares=data.get("class_shares"),
                   class_thetas=data.get("class_thetas"))

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=2)

    @classmethod
    def load(cls, path) -> "FellegiSunter":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))
