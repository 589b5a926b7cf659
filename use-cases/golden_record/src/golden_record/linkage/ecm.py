"""A baseline model: the ``recordlinkage`` package's ECM classifier on our comparison levels.

``model.type: recordlinkage_ecm`` fits ``recordlinkage.ECMClassifier`` (two latent classes, m and
u both fitted by EM, a multivariate Bernoulli per class) on the same candidate pairs and the same
comparison levels as :class:`golden_record.linkage.model.FellegiSunter`, so the two can be
compared run against run on one table. It exposes the interface the pipeline, scoring, golden
records and MLflow logging use on ``FellegiSunter`` (``score``, ``match_share``, ``report``,
``m_u_table``, ``level_weights``, ``threshold_weight``, ``to_dict``/``from_dict``/``save``/``load``).

Binarisation
------------
ECM models binary agreement, so each comparison's graded level becomes one category per pair:

* ``agree``: any level above the last (disagreement) level: exact, every similarity level,
  "initial", a date one digit off, transposed or a year off;
* ``disagree``: level 0 (``far`` / ``different``);
* ``missing``: either value missing (level ``-1``), a category of its own.

recordlinkage's ECM has no notion of a missing value (NaN is refused; its ``binarize`` argument,
a single threshold for all columns, would map ``-1`` to disagreement). What it can do is treat a
column with three values as three categories (one-hot, via sklearn's ``LabelBinarizer``), each
with its own m and u. So missing is its own category: its weight log2(m/u) is learnt, and is
about 0 when missingness says nothing about a match (people: -0.2 to +0.7 bits). Mapped to
disagreement instead, missing dilutes the disagreement evidence: on people a differing social
security number weighs -6.1 bits with missing apart, -0.7 bits with missing counted as disagreement.

The three-valued columns need a starting point: recordlinkage's ``init='jaro'`` refuses more than
two values per column and ``init='random'`` is not reproducible and may swap the classes. The
kernel here starts from 'jaro''s values (match share ``initial_match_share``, default 0.1 as in
'jaro'; m(agree) = u(disagree) = 0.9) with missing at its observed share in both classes (no
evidence at the start); on binary columns this is exactly 'jaro'. recordlinkage computes the
E-step as ``X_bin @ log(p)``, which is NaN as soon as one probability reaches 0 (0 * log 0), and
then stops EM with a warning and leaves ``prob()`` NaN for every pair; the kernel here sums the
log-probabilities of the present categories only (0 * log 0 = 0), which is the same number
wherever recordlinkage's is defined. Everything else (the EM loop, its M-step, its stopping rule
``atol`` = ``model.em.tolerance``, ``max_iter`` = ``model.em.max_iterations``) is recordlinkage's.

Chosen by measurement: F1 at threshold 0.95 (the default) on the candidate pairs and levels of
the default configs, the seeded citizens (``scripts/seed_data.py``, ``model_config.yaml``) and the
people table (``people.generate(n, seed=5)``, ``config/examples/people.yaml``); "apart" = missing
is its own category, "=dis" = missing counted as disagreement:

=========================  ==========  ==========  ==========  ==========
binarisation               citizens    citizens    people      people
                           20k         100k        20k         100k
=========================  ==========  ==========  ==========  ==========
any level agrees, apart    **0.9988**  0.9980      0.8666      **0.8620**
any level agrees, =dis     0.9986      0.9979      **0.8753**  0.8615
top level only, apart      0.9732      0.9733      **0.8753**  0.8591
top level only, =dis       0.9648      0.9630      **0.8753**  0.8591
one-hot levels, apart      **0.9988**  0.9980      0.8658      0.8613
one-hot levels, =dis       0.9984      0.9978      **0.8753**  0.8606
FellegiSunter (defaults)   0.9988      0.9982      0.8833      0.5979
=========================  ==========  ==========  ==========  ==========

(45,138 / 238,757 / 8,830 / 48,231 candidate pairs.) "top level only" loses the near agreements
(typos) on citizens (recall 0.95 against 0.998); one-hot levels triple the parameters for no gain.
"any, apart" is the best ECM variant on citizens (both sizes) and on people at 100k, and 0.009 below
the best on people at 20k (precision 1.000, recall 0.765 against 0.979 / 0.791); its average
precision is the best or tied everywhere (0.9995 / 0.9994 / 0.9603 / 0.9563). On people every
variant is bound by the two-class model itself: its "match" class is "same address and postcode"
(match share 0.71-0.77 while 0.87-0.94 of the candidate pairs are true matches), so recall stays at
0.76-0.79 with precision 0.94-1.0. With stock recordlinkage (its E-step) on the 20k citizens,
"top, apart" left ``prob()`` NaN for 469 of 522 patterns and "one-hot, apart" stopped EM on NaN
(1,431 of 1,436 patterns NaN); "any, apart" reached probabilities of 1e-249 there, so the
NaN-free E-step matters. Fitting and scoring took 0.2-2.5 s at 100,000 records; at 2.5 million
pairs the fit takes about 12 s, most of it recordlinkage's ``np.unique(X, axis=0)`` over every
pair (it takes no pattern counts).

Scoring uses the stored parameters with numpy only (recordlinkage is needed to fit, not to score
a logged model): each distinct pattern once, probabilities floored at 1e-6 as in FellegiSunter,
and a category never seen in training (e.g. missing when no value was missing) counts as no
evidence. The m/u table has one row per category actually seen.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from golden_record.errors import ModelError
from golden_record.linkage.model import M_U_COLUMNS, FellegiSunter, at_floor, own_levels

MODEL_TYPE = "recordlinkage_ecm"
BINARISATION = "any_level_agrees_missing_apart"
#: category codes in the binarised matrix, and their names (m/u arrays are in this order)
DISAGREE, AGREE, MISSING_CAT = 0, 1, -1
CATEGORIES = ("disagree", "agree", "missing")
_INDEX = {DISAGREE: 0, AGREE: 1, MISSING_CAT: 2}
_FLOOR = 1e-6          # as FellegiSunter: no probability below this when scoring


@dataclass
class ECMReport:
    """What FellegiSunter's FitReport says, for the ECM fit."""
    iterations: int
    converged: bool
    match_share: float
    patterns: int                     # distinct binarised patterns ECM iterated over
    log_likelihood: list[float] = field(default_factory=list)
    binarisation: str = BINARISATION
    # as FitReport's: ECM has two classes, fixed
    selection: list[dict] = field(default_factory=list)
    related_classes: int = 0
    criterion: str = "fixed"


def binarise(levels: np.ndarray) -> np.ndarray:
    """int8 per (pair, comparison): 1 agree (any level >= 1), 0 disagree (level 0), -1 missing."""
    return np.minimum(np.asarray(levels), 1).astype(np.int8)


def _pattern_codes(X: np.ndarray) -> np.ndarray:
    """One int64 per row of a binarised matrix (base 3)."""
    if X.shape[1] > 39:
        raise ModelError(f"{X.shape[1]} comparisons: the ECM baseline encodes a pattern in 64 bits, at most 39",
                         "compare fewer fields, or use model.type: fellegi_sunter")
    codes = np.zeros(len(X), dtype=np.int64)
    for c in range(X.shape[1]):
        codes = codes * 3 + (X[:, c].astype(np.int64) + 1)
    return codes


def _kernel_class():
    """recordlinkage's ECM kernel with a reproducible start for three-valued columns and a NaN-free
    E-step (see the module docstring). Defined on first use: recordlinkage and scikit-learn are
    imported only to fit, never to score."""
    from recordlinkage.algorithms.nb_sklearn import ECM
    from sklearn.utils.validation import check_array

    class AgreementOrderedECM(ECM):
        def __init__(self, init="jaro", max_iter=100, binarize=None, atol=10e-5,
                     initial_match_share=0.1, missing_share=None):
            super().__init__(init=init, max_iter=max_iter, binarize=binarize, atol=atol)
            self.initial_match_share = initial_match_share
            self.missing_share = missing_share or {}

        def _init_parameters_jaro(self, X_bin):
            start = {AGREE: (0.9, 0.1), DISAGREE: (0.1, 0.9)}     # (m, u) as recordlinkage's 'jaro'
            m, u = [], []
            for col, binarizer in enumerate(self._binarizers):
                q = self.missing_share.get(col, 0.0)
                for value in binarizer.classes_:
                    if value == MISSING_CAT:
                        m.append(q)
                        u.append(q)
                    else:
                        m.append((1 - q) * start[int(value)][0])
                        u.append((1 - q) * start[int(value)][1])
            prior = np.log([1 - self.initial_match_share, self.initial_match_share])   # (non-match, match)
            with np.errstate(divide="ignore"):
                return prior, np.log(np.array([u, m]))

        def _joint_log_likelihood(self, X):
            X_bin = self._transform_data(check_array(X, accept_sparse="csr"))
            logp = self.feature_log_prob_
            present = np.asarray(X_bin) > 0
            jll = np.stack([np.where(present, logp[k][None, :], 0.0).sum(axis=1) for k in range(len(logp))],
                           axis=1)
            return jll + self.class_log_prior_

    return AgreementOrderedECM


@dataclass
class RecordLinkageECM:
    names: list[str]
    labels: list[list[str]]
    #: per comparison, P(category | match) in CATEGORIES order; NaN = category never seen in training
    m: list[np.ndarray] = field(default_factory=list)
    u: list[np.ndarray] = field(default_factory=list)
    match_share: float = 0.0
    report: ECMReport | None = None
    binarisation: str = BINARISATION

    # as FellegiSunter's: they read only labels, match_share and to_dict/from_dict
    n_levels = FellegiSunter.n_levels
    threshold_weight = FellegiSunter.threshold_weight
    save = FellegiSunter.save

    @property
    def class_shares(self) -> list[float]:
        """Match class first, then the one non-match class (ECM has no related classes)."""
        return [self.match_share, 1.0 - self.match_share]

    # ------------------------------------------------------------------ fitting
    def fit(self, levels: np.ndarray, max_iterations: int = 2000, tolerance: float = 1e-4,
            initial_match_share: float = 0.1) -> "RecordLinkageECM":
        """recordlinkage's ``ECMClassifier`` on the binarised levels (m, u and the match share by EM)."""
        from recordlinkage import ECMClassifier

        if len(levels) == 0:
            raise ModelError("no candidate pairs to fit the model on",
                             "check blocking_fields: blocking yielded no pairs")
        X = binarise(levels)
        missing_share = {c: float(share) for c, share in enumerate((X == MISSING_CAT).mean(axis=0)) if share > 0}
        classifier = ECMClassifier(init="jaro", max_iter=max_iterations, atol=tolerance)
        classifier.kernel = _kernel_class()(init="jaro", max_iter=max_iterations, binarize=None, atol=tolerance,
                                             initial_match_share=initial_match_share, missing_share=missing_share)
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")            # log(0) of a category one class never shows
            classifier.fit(pd.DataFrame(X, columns=self.names))
        kernel = classifier.kernel
        # classes: 0 = non-match, 1 = match (recordlinkage's convention)
        probs = np.exp(kernel.feature_log_prob_)
        self.m, self.u = [], []
        position = 0
        for binarizer in kernel._binarizers:
            m = np.full(len(CATEGORIES), np.nan)
            u = np.full(len(CATEGORIES), np.nan)
            for value in binarizer.classes_:
                m[_INDEX[int(value)]], u[_INDEX[int(value)]] = probs[1, position], probs[0, position]
                position += 1
            self.m.append(m)
            self.u.append(u)
        self.match_share = float(np.exp(kernel.class_log_prior_[1]))
        priors = np.exp(kernel._logging_class_log_prior)
        features = np.exp(kernel._logging_feature_log_prob)
        iterations = len(priors) - 1
        # recordlinkage's own stopping rule, read back from its parameter log
        converged = iterations > 0 and bool(
            np.allclose(priors[-1], priors[-2], atol=tolerance)
            and np.allclose(features[..., -1], features[..., -2], atol=tolerance))
        _, first, counts = np.unique(_pattern_codes(X), return_index=True, return_counts=True)
        uniq = X[first]
        X_bin = np.asarray(kernel._transform_data(uniq)) > 0
        history = []
        for t in range(1, iterations + 1):
            with np.errstate(divide="ignore"):
                logp = np.log(features[..., t])
            jll = np.stack([np.where(X_bin, logp[k][None, :], 0.0).sum(axis=1) for k in range(2)], axis=1)
            jll += np.log(priors[t])[None, :]
            history.append(float((counts * np.logaddexp(jll[:, 0], jll[:, 1])).sum()))
        self.report = ECMReport(iterations, converged, self.match_share, len(uniq), history)
        return self

    # ------------------------------------------------------------------ scoring
    def _log_ratios(self) -> np.ndarray:
        """ln(m/u) per (comparison, category), floored; 0 for a category never seen in training."""
        m = np.vstack(self.m)
        u = np.vstack(self.u)
        ratio = np.log(np.maximum(m, _FLOOR)) - np.log(np.maximum(u, _FLOOR))
        return np.where(np.isnan(m) | np.isnan(u), 0.0, ratio)

    def level_weights(self) -> list[np.ndarray]:
        """log2(m/u) per comparison level: every level >= 1 weighs as "agree", level 0 as "disagree"."""
        ratios = self._log_ratios() / np.log(2.0)
        return [np.where(np.arange(n) >= 1, ratios[c, _INDEX[AGREE]], ratios[c, _INDEX[DISAGREE]])
                for c, n in enumerate(self.n_levels)]

    def comparison_weights(self, levels: np.ndarray) -> np.ndarray:
        """Each comparison's weight per pair (log2 m/u of its agree, disagree or missing
        category); shape (pairs, comparisons). They sum to the pair's match weight."""
        X = binarise(own_levels(self, levels))
        index = np.where(X == MISSING_CAT, _INDEX[MISSING_CAT], X).astype(np.int64)
        ratios = self._log_ratios() / np.log(2.0)
        return ratios[np.arange(X.shape[1])[None, :], index]

    @property
    def match_classes(self) -> list[int]:
        return [0]

    def learn_term_frequencies(self, prepared, comparisons, value_counts=None) -> "RecordLinkageECM":
        """ECM has no term-frequency adjustment: it scores binary agreement only (said, not silent)."""
        self.ignored_tf = [c.name for c in comparisons if c.tf_adjustment]
        return self

    def fit_metrics(self) -> dict[str, float]:
        rep = self.report
        return {"em_iterations": rep.iterations, "em_converged": float(rep.converged),
                "em_match_share": self.match_share, "em_patterns": rep.patterns,
                "em_classes": 2, "em_match_classes": 1}

    def structure(self) -> dict:
        return {"criterion": "fixed (two classes)", "binarisation": self.report.binarisation if self.report else None,
                "classes": [{"class": 0, "share": self.match_share, "match": True},
                            {"class": 1, "share": 1.0 - self.match_share, "match": False}]}

    def score(self, levels: np.ndarray, agreed=None) -> tuple[np.ndarray, np.ndarray]:
        """(match weight, match probability) per row of ``levels``, each distinct pattern once.

        weight = log2 of the Bayes factor prod_c m/u of the pattern's categories; probability =
        the posterior of the match class with the fitted match share (recordlinkage's ``prob()``).
        """
        X = binarise(own_levels(self, levels))
        _, first, inverse = np.unique(_pattern_codes(X), return_index=True, return_inverse=True)
        index = np.where(X[first] == MISSING_CAT, _INDEX[MISSING_CAT], X[first]).astype(np.int64)
        logit_bf = self._log_ratios()[np.arange(X.shape[1])[None, :], index].sum(axis=1)
        prior = np.log(self.match_share / (1 - self.match_share))
        prob = 1.0 / (1.0 + np.exp(-np.clip(logit_bf + prior, -700, 700)))
        weight = logit_bf / np.log(2.0)
        return weight[inverse], prob[inverse]

    # ------------------------------------------------------------------ reporting & persistence
    def m_u_table(self) -> pd.DataFrame:
        """One row per (comparison, category seen in training); ``level`` names the levels a
        category stands for, ``level_index`` is the category's code (1 agree, 0 disagree, -1 missing);
        ``at_floor`` as FellegiSunter's (m or u at ``_FLOOR``: the weight is a bound)."""
        rows = []
        ratios = self._log_ratios() / np.log(2.0)
        for c, (name, labels) in enumerate(zip(self.names, self.labels)):
            for code, text in ((AGREE, f"agree ({', '.join(labels[1:])})"), (DISAGREE, f"disagree ({labels[0]})"),
                               (MISSING_CAT, "missing")):
                k = _INDEX[code]
                if np.isnan(self.m[c][k]):
                    continue
                rows.append({"comparison": name, "level": text, "level_index": code, "m": float(self.m[c][k]),
                             "u": float(self.u[c][k]), "weight": float(ratios[c, k]),
                             "at_floor": at_floor(self.m[c][k], self.u[c][k], _FLOOR)})
        return pd.DataFrame(rows, columns=M_U_COLUMNS)

    def to_dict(self) -> dict:
        def plain(a):
            return [None if np.isnan(x) else float(x) for x in a]

        return {"type": MODEL_TYPE, "names": self.names, "labels": self.labels, "binarisation": self.binarisation,
                "categories": list(CATEGORIES), "match_share": self.match_share,
                "m": [plain(x) for x in self.m], "u": [plain(x) for x in self.u]}

    @classmethod
    def from_dict(cls, data: dict) -> "RecordLinkageECM":
        if data.get("binarisation", BINARISATION) != BINARISATION:
            raise ModelError(f"this ECM model was saved with binarisation {data['binarisation']!r}; this version "
                             f"scores {BINARISATION!r} only", "train the model again with this version")

        def arrays(key):
            return [np.array([np.nan if x is None else x for x in row], float) for row in data[key]]

        return cls(names=list(data["names"]), labels=[list(x) for x in data["labels"]], m=arrays("m"), u=arrays("u"),
                   match_share=float(data["match_share"]))

    @classmethod
    def load(cls, path) -> "RecordLinkageECM":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))
