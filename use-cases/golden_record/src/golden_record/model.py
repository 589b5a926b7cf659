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

from .comparisons import MISSING
from .errors import ModelError

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

    @property
    def n_levels(self) -> list[int]:
        return [len(lab) for lab in self.labels]

    # ------------------------------------------------------------------ fitting
    def fit(self, levels: np.ndarray, u_fixed: list[np.ndarray] | None = None, max_iterations: int = 200,
            tolerance: float = 1e-6, initial_match_share: float = 0.1) -> "FellegiSunter":
        if len(levels) == 0:
            raise ModelError("no candidate pairs to fit the model on",
                             "check blocking_fields: blocking yielded no pairs")
        n_levels = self.n_levels
        codes = encode_patterns(levels, n_levels)
        uniq, counts = np.unique(codes, return_counts=True)
        patterns = decode_patterns(uniq, n_levels)
        counts = counts.astype(float)
        onehots = [[(patterns[:, k] == lvl) for lvl in range(n)] for k, n in enumerate(n_levels)]

        # initial values: agreement likely for matches, u from the observed level shares
        freqs = level_frequencies(levels, n_levels)
        m = []
        for n in n_levels:
            init = np.geomspace(0.02, 1.0, n)
            m.append(init / init.sum())
        u = [f.copy() for f in freqs] if u_fixed is None else [np.asarray(x, float) for x in u_fixed]
        lam = initial_match_share
        history: list[float] = []
        converged = False
        it = 0
        for it in range(1, max_iterations + 1):
            log_m = np.zeros(len(uniq))
            log_u = np.zeros(len(uniq))
            for k in range(len(n_levels)):
                lvl = patterns[:, k]
                present = lvl >= 0
                idx = np.where(present, lvl, 0)
                log_m += np.where(present, np.log(m[k][idx]), 0.0)
                log_u += np.where(present, np.log(u[k][idx]), 0.0)
            a = np.log(lam) + log_m
            b = np.log1p(-lam) + log_u
            mx = np.maximum(a, b)
            log_total = mx + np.log(np.exp(a - mx) + np.exp(b - mx))
            post = np.exp(a - log_total)
            history.append(float((counts * log_total).sum()))
            wm = counts * post
            wu = counts * (1 - post)
            new_lam = float(np.clip(wm.sum() / counts.sum(), _EPS, 1 - _EPS))
            new_m, new_u = [], []
            for k, n in enumerate(n_levels):
                sm = np.array([wm[onehots[k][lvl]].sum() for lvl in range(n)]) + _EPS
                new_m.append(sm / sm.sum())
                if u_fixed is None:
                    su = np.array([wu[onehots[k][lvl]].sum() for lvl in range(n)]) + _EPS
                    new_u.append(su / su.sum())
                else:
                    new_u.append(u[k])
            delta = max([abs(new_lam - lam)] + [float(np.abs(a_ - b_).max()) for a_, b_ in zip(new_m, m)]
                        + [float(np.abs(a_ - b_).max()) for a_, b_ in zip(new_u, u)])
            m, u, lam = new_m, new_u, new_lam
            if delta < tolerance:
                converged = True
                break
        self.m, self.u, self.match_share = m, u, lam
        self.report = FitReport(it, converged, lam, len(uniq), history)
        return self

    # ------------------------------------------------------------------ scoring
    def level_weights(self) -> list[np.ndarray]:
        """log2(m/u) per comparison level."""
        return [np.log2(np.maximum(m, _EPS) / np.maximum(u, _EPS)) for m, u in zip(self.m, self.u)]

    def score(self, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(match weight, match probability) per row of ``levels``."""
        weights = np.zeros(len(levels))
        for k, w in enumerate(self.level_weights()):
            lvl = levels[:, k].astype(np.int64)
            present = lvl != MISSING
            weights += np.where(present, w[np.where(present, lvl, 0)], 0.0)
        prior = np.log2(self.match_share / (1 - self.match_share))
        logit = (weights + prior) * np.log(2.0)
        prob = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        return weights, prob

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
                "m": [x.tolist() for x in self.m], "u": [x.tolist() for x in self.u]}

    @classmethod
    def from_dict(cls, data: dict) -> "FellegiSunter":
        return cls(names=list(data["names"]), labels=[list(x) for x in data["labels"]],
                   m=[np.asarray(x, float) for x in data["m"]], u=[np.asarray(x, float) for x in data["u"]],
                   match_share=float(data["match_share"]))

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=2)

    @classmethod
    def load(cls, path) -> "FellegiSunter":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))
