"""Quality on the clerical review labels: precision, recall and F1 on the labelled sample.

A real warehouse has no ground truth; the pairs reviewers labelled (table ``pair_labels``, see
:mod:`golden_record.io.labels`) are the only honest check of the model there. This module puts
the labels on a run's records and pairs and counts, at the run's threshold:

* the labelled pairs: one verdict per pair (:func:`io.labels.pair_verdicts`: ``unsure`` counts
  neither way, pairs reviewers disagree on are left out), whose two record ids are both among the
  loaded records. Left out and counted: ``unsure`` pairs, ``conflicting`` pairs, and pairs with a
  record id the loaded table does not hold (``unknown_ids``). Ids are compared as text (labels
  store them as text; the table's id may be an integer): ``str(record_id)``.
* a labelled pair's probability is its candidate pair's, **out of sample** when the labels taught
  the model (:func:`golden_record.linkage.pipeline.learn_from_labels`: the probability of the
  model refitted without the pair's fold of labels, so a label never scores the model it taught);
  a labelled pair blocking never produced
  has none and is a **predicted non-match (probability 0)**, so a labelled match blocking missed
  is a false negative and lowers ``labelled_recall`` (``labelled_matches_not_candidates`` says
  how many);
* ``tp`` labelled match predicted a match, ``fp`` labelled not a match predicted a match, ``fn``
  labelled match predicted a non-match: ``labelled_precision = tp / (tp + fp)``,
  ``labelled_recall = tp / (tp + fn)``, ``labelled_f1 = 2 tp / (2 tp + fp + fn)``.

Undefined figures are never 0: precision is undefined when no labelled pair is predicted a match,
recall when no labelled pair is a match, F1 when neither; they are left out of the metrics and
:attr:`LabelledEvaluation.undefined` says which and why (as :mod:`evaluation.calibration` does
for the estimates).

Intervals: percentile bootstrap resampling the labelled pairs (the sample a reviewer drew), 1,000
times. A pair enters the statistic only through its cell (tp, fp, fn, tn), so drawing ``n`` pairs
with replacement is exactly a multinomial over the four cells (the trick of
:mod:`evaluation.bootstrap`): one ``rng.multinomial`` call for every iteration, no loop. Resamples
where a figure is undefined (e.g. no predicted match drawn) are left out of that figure's interval
and counted. The labelled sample is whatever reviewers chose to look at (often the uncertain
pairs), not a random sample of all pairs: the figures say how the model does on those pairs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from golden_record.io import labels as labels_io
from golden_record.linkage.decision import is_match, snap

__all__ = ["Located", "LabelledEvaluation", "read_verdicts", "locate", "candidate_index", "located_probabilities",
           "evaluate_labelled", "evaluate_run", "labelled_at", "console_line", "METRICS"]

METRICS = ("labelled_precision", "labelled_recall", "labelled_f1")
LABELLED_TABLE_COLUMNS = ["threshold", *METRICS, "labelled_true_positives", "labelled_false_positives",
                          "labelled_false_negatives"]


def read_verdicts(conn, data_table: str) -> labels_io.Verdicts | None:
    """The verdicts on ``data_table``'s pairs; None when there is no ``pair_labels`` table or it
    holds no label of that table."""
    labels = labels_io.read_labels(conn, data_table)
    if labels.empty:
        return None
    return labels_io.pair_verdicts(labels)


# --------------------------------------------------------------------------- labels on records
@dataclass
class Located:
    """The decided verdicts whose two records are both among the loaded ones, and what was left out."""
    left_id: np.ndarray          # text, as stored (left_id < right_id)
    right_id: np.ndarray
    left: np.ndarray             # record positions (int64)
    right: np.ndarray
    match: np.ndarray            # bool: labelled match (else labelled not a match)
    unknown_ids: int             # decided pairs with a record id the loaded records lack
    unsure: int
    conflicting: int

    def __len__(self) -> int:
        return len(self.left)

    @property
    def matches(self) -> int:
        return int(self.match.sum())

    @property
    def non_matches(self) -> int:
        return int((~self.match).sum())

    def left_out(self) -> str:
        return (f"{self.unsure:,} unsure, {self.conflicting:,} with conflicting labels, "
                f"{self.unknown_ids:,} with a record id not in the loaded table")


def locate(record_ids, verdicts: labels_io.Verdicts) -> Located:
    """Place the verdicts on record positions (ids compared as text)."""
    pairs = verdicts.pairs
    index = pd.Index(pd.Series(np.asarray(record_ids)).astype(str).to_numpy())
    positions = np.arange(len(index), dtype=np.int64)
    if not index.is_unique:                     # the loader refuses duplicate ids; be safe anyway
        first = ~index.duplicated(keep="first")
        index, positions = index[first], positions[first]

    def where(ids: pd.Series) -> np.ndarray:
        found = index.get_indexer(ids.astype(str).to_numpy())
        return np.where(found >= 0, positions[np.maximum(found, 0)] if len(positions) else -1, -1)

    lpos, rpos = where(pairs["left_id"]), where(pairs["right_id"])
    known = (lpos >= 0) & (rpos >= 0)
    return Located(left_id=pairs["left_id"].to_numpy(dtype=object)[known],
                   right_id=pairs["right_id"].to_numpy(dtype=object)[known],
                   left=lpos[known].astype(np.int64), right=rpos[known].astype(np.int64),
                   match=(pairs["label"].to_numpy() == labels_io.MATCH)[known],
                   unknown_ids=int((~known).sum()), unsure=int(verdicts.unsure),
                   conflicting=int(verdicts.conflicting))


def candidate_index(cand_left, cand_right, left, right, n_records: int) -> np.ndarray:
    """Index of each pair (``left``, ``right``: record positions, either order) among the candidate
    pairs (``cand_left`` < ``cand_right``), -1 where blocking never produced it."""
    cl = np.asarray(cand_left, dtype=np.int64)
    cr = np.asarray(cand_right, dtype=np.int64)
    a = np.minimum(left, right).astype(np.int64)
    b = np.maximum(left, right).astype(np.int64)
    n = np.int64(max(int(n_records), 1))
    ckey = cl * n + cr
    key = a * n + b
    if ckey.size == 0 or key.size == 0:
        return np.full(key.shape, -1, dtype=np.int64)
    if ckey.size > 1 and bool(np.all(ckey[1:] > ckey[:-1])):
        order, sorted_key = None, ckey           # blocking unions by sorted codes: usually sorted already
    else:
        order = np.argsort(ckey, kind="stable")
        sorted_key = ckey[order]
    pos = np.minimum(np.searchsorted(sorted_key, key), sorted_key.size - 1)
    found = sorted_key[pos] == key
    idx = pos if order is None else order[pos]
    return np.where(found, idx, -1).astype(np.int64)


def located_probabilities(loc: Located, cand_left, cand_right, probabilities, n_records: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(probability, is a candidate) per labelled pair: the candidate pair's probability, 0 where
    blocking never produced the pair."""
    probs = np.asarray(probabilities, dtype=np.float64)
    idx = candidate_index(cand_left, cand_right, loc.left, loc.right, n_records)
    candidate = idx >= 0
    return np.where(candidate, probs[np.maximum(idx, 0)] if probs.size else 0.0, 0.0), candidate


# --------------------------------------------------------------------------- the figures
def _rates(tp, fp, fn):
    """Precision, recall, F1 from counts (arrays), NaN where undefined."""
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    pred, true, den = tp + fp, tp + fn, 2.0 * tp + fp + fn
    precision = np.divide(tp, pred, out=np.full(tp.shape, np.nan), where=pred > 0)
    recall = np.divide(tp, true, out=np.full(tp.shape, np.nan), where=true > 0)
    f1 = np.divide(2.0 * tp, den, out=np.full(tp.shape, np.nan), where=den > 0)
    return precision, recall, f1


def labelled_at(probability, match, thresholds: Sequence[float]) -> pd.DataFrame:
    """Labelled precision, recall and F1 at many thresholds (columns :data:`LABELLED_TABLE_COLUMNS`,
    NaN where undefined): ``probability`` per labelled pair (0 where blocking never produced it),
    ``match`` its label."""
    p = np.asarray(probability, dtype=np.float64)
    y = np.asarray(match, dtype=bool)
    t = np.array([snap(x) for x in np.atleast_1d(np.asarray(thresholds, dtype=np.float64))])
    predicted = p[None, :] >= t[:, None]              # thresholds x labelled pairs (a few hundred)
    tp = (predicted & y).sum(axis=1)
    fp = (predicted & ~y).sum(axis=1)
    fn = int(y.sum()) - tp
    precision, recall, f1 = _rates(tp, fp, fn)
    return pd.DataFrame({"threshold": t, "labelled_precision": precision, "labelled_recall": recall,
                         "labelled_f1": f1, "labelled_true_positives": tp.astype(np.int64),
                         "labelled_false_positives": fp.astype(np.int64),
                         "labelled_false_negatives": np.asarray(fn, dtype=np.int64)},
                        columns=LABELLED_TABLE_COLUMNS)


def _fmt(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4f}"


@dataclass
class LabelledEvaluation:
    """The run's figures on the labelled sample (or, with ``located`` None, the news that there
    are no labels)."""
    data_table: str
    threshold: float
    located: Located | None = None
    probability: np.ndarray = field(default_factory=lambda: np.empty(0))   # per labelled pair, 0: not a candidate
    candidate: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    precision: float = math.nan
    recall: float = math.nan
    f1: float = math.nan
    intervals: dict[str, float] = field(default_factory=dict)     # <metric>_ci_low / _ci_high
    undefined_resamples: dict[str, int] = field(default_factory=dict)
    iterations: int = 0
    level: float = 0.95
    pairs: pd.DataFrame | None = field(default=None, repr=False)  # review/labelled_pairs.csv

    @property
    def has_labels(self) -> bool:
        return self.located is not None

    @property
    def n(self) -> int:
        return 0 if self.located is None else len(self.located)

    @property
    def not_candidates(self) -> int:
        return int((~self.candidate).sum())

    @property
    def matches_not_candidates(self) -> int:
        return 0 if self.located is None else int((~self.candidate & self.located.match).sum())

    @property
    def undefined(self) -> str | None:
        """Which labelled figures are undefined and why (None when all three are defined or
        there are no labels at all)."""
        if self.located is None:
            return None
        loc = self.located
        if self.n == 0:
            return (f"labelled_precision, labelled_recall, labelled_f1 (no labelled pair left: "
                    f"{loc.left_out()})")
        reasons = []
        if not math.isfinite(self.precision):
            reasons.append(f"labelled_precision (none of the {self.n:,} labelled pairs is predicted a match at "
                           f"threshold {self.threshold:g})")
        if not math.isfinite(self.recall):
            reasons.append(f"labelled_recall (none of the {self.n:,} labelled pairs is labelled a match)")
        if not math.isfinite(self.f1):
            reasons.append("labelled_f1 (no labelled match and no predicted match among the labelled pairs)")
        return "; ".join(reasons) or None

    def metrics(self) -> dict[str, float]:
        """Counts, and the figures and their intervals where defined (ready for ``log_metrics``)."""
        if self.located is None:
            return {}
        loc = self.located
        out = {"labelled_pairs": self.n, "labelled_matches": loc.matches, "labelled_non_matches": loc.non_matches,
               "labelled_true_positives": self.tp, "labelled_false_positives": self.fp,
               "labelled_false_negatives": self.fn, "labelled_true_negatives": self.tn,
               "labelled_not_candidates": self.not_candidates,
               "labelled_matches_not_candidates": self.matches_not_candidates,
               "labelled_left_out_unsure": loc.unsure, "labelled_left_out_conflicting": loc.conflicting,
               "labelled_left_out_unknown_ids": loc.unknown_ids}
        for name, value in zip(METRICS, (self.precision, self.recall, self.f1)):
            if math.isfinite(value):
                out[name] = value
        out.update({k: v for k, v in self.intervals.items() if math.isfinite(v)})
        return {k: float(v) for k, v in out.items()}

    def tags(self) -> dict[str, str]:
        if self.located is None:
            return {"labels": "none"}
        loc = self.located
        tags = {"labels": (f"{self.n:,} labelled pairs ({loc.matches:,} match, {loc.non_matches:,} not a match); "
                           f"left out: {loc.left_out()}")}
        if self.undefined:
            tags["labelled.undefined"] = self.undefined
        return tags

    def summary_lines(self) -> list[str]:
        """The labelled figures for people: the progress line, the console and evaluation_summary.txt."""
        if self.located is None:
            return [f"Labelled sample: none (no clerical review labels of table {self.data_table} in pair_labels)"]
        loc = self.located
        lines = [f"Labelled sample (clerical review, pair_labels): {self.n:,} pairs ({loc.matches:,} match, "
                 f"{loc.non_matches:,} not a match); left out: {loc.left_out()}"]
        if self.n:
            def fig(name: str, value: float) -> str:
                lo, hi = self.intervals.get(f"{name}_ci_low"), self.intervals.get(f"{name}_ci_high")
                ci = f" [{lo:.4f}, {hi:.4f}]" if lo is not None and hi is not None else ""
                return f"{name} {_fmt(value)}{ci}"
            lines.append(f"  at threshold {self.threshold:g}: " + ", ".join(
                fig(n, v) for n, v in zip(METRICS, (self.precision, self.recall, self.f1)))
                + (f" ({self.level:.0%} bootstrap intervals over the labelled pairs)" if self.intervals else ""))
            lines.append(f"  tp {self.tp:,}, fp {self.fp:,}, fn {self.fn:,}, tn {self.tn:,}; "
                         f"{self.not_candidates:,} labelled pairs blocking never produced (predicted non-matches, "
                         f"probability 0), {self.matches_not_candidates:,} of them labelled a match")
            dropped = {k: v for k, v in self.undefined_resamples.items() if v}
            if dropped:
                lines.append("  resamples where a figure is undefined, left out of its interval: "
                             + ", ".join(f"{k} {v:,} of {self.iterations:,}" for k, v in dropped.items()))
        if self.undefined:
            lines.append(f"  undefined, not logged: {self.undefined}")
        return lines

    def write(self, folder: Path) -> None:
        """``review/labelled_pairs.csv`` and the labelled lines appended to ``evaluation_summary.txt``."""
        folder = Path(folder)
        if self.pairs is not None:
            (folder / "review").mkdir(exist_ok=True)
            self.pairs.to_csv(folder / "review" / "labelled_pairs.csv", index=False)
        summary = folder / "evaluation_summary.txt"
        if summary.exists():
            with summary.open("a") as out:
                out.write("\n" + "\n".join(self.summary_lines()) + "\n")


def evaluate_labelled(records_ids, cand_left, cand_right, probabilities, verdicts: labels_io.Verdicts | None,
                      threshold: float, data_table: str = "", iterations: int = 1000, seed: int = 0,
                      level: float = 0.95) -> LabelledEvaluation:
    """The labelled figures at ``threshold`` (see the module doc) from the run's record ids, its
    candidate pairs (positions) and their probabilities."""
    t = snap(threshold)
    if verdicts is None:
        return LabelledEvaluation(data_table, t)
    ids = np.asarray(records_ids)
    loc = locate(ids, verdicts)
    probability, candidate = located_probabilities(loc, cand_left, cand_right, probabilities, len(ids))
    predicted = is_match(probability, t)
    y = loc.match
    cells = np.array([(predicted & y).sum(), (predicted & ~y).sum(), (~predicted & y).sum(),
                      (~predicted & ~y).sum()], dtype=np.int64)
    tp, fp, fn, tn = (int(c) for c in cells)
    precision, recall, f1 = (float(a[0]) for a in _rates([tp], [fp], [fn]))
    out = LabelledEvaluation(data_table, t, loc, probability, candidate, tp, fp, fn, tn, precision, recall, f1,
                             iterations=int(iterations), level=float(level))
    n = len(loc)
    if n and iterations > 0:
        rng = np.random.default_rng(seed)
        # n labelled pairs drawn with replacement = a multinomial over the four cells
        draws = rng.multinomial(n, cells / n, size=int(iterations))
        alpha = (1.0 - float(level)) / 2.0
        for name, values, point in zip(METRICS, _rates(draws[:, 0], draws[:, 1], draws[:, 2]),
                                       (precision, recall, f1)):
            defined = np.isfinite(values)
            out.undefined_resamples[name] = int((~defined).sum())
            if math.isfinite(point) and defined.any():
                lo, hi = np.quantile(values[defined], [alpha, 1.0 - alpha])
                out.intervals[f"{name}_ci_low"], out.intervals[f"{name}_ci_high"] = float(lo), float(hi)
    return out


def evaluate_run(scored, verdicts: labels_io.Verdicts | None, threshold: float, data_table: str,
                 iterations: int = 1000, seed: int = 0) -> LabelledEvaluation:
    """:func:`evaluate_labelled` on a :class:`pipeline.Scored`, with the rows of
    ``review/labelled_pairs.csv``: each labelled pair, both records side by side, its label,
    probability (0 where blocking never produced it; out of sample for a label that taught the
    model, ``scored.held_out``), predicted match and outcome."""
    from golden_record.evaluation import review

    probabilities = scored.probabilities
    held_out = getattr(scored, "held_out", None)
    if held_out is not None:          # a label that taught the model is scored by a model fitted without it
        probabilities = probabilities.copy()
        probabilities[held_out[0]] = held_out[1]
    result = evaluate_labelled(scored.records["record_id"].to_numpy(), scored.pairs.left, scored.pairs.right,
                               probabilities, verdicts, threshold, data_table, iterations, seed)
    if result.located is None:
        return result
    loc = result.located
    idx = candidate_index(scored.pairs.left, scored.pairs.right, loc.left, loc.right, scored.n_records)
    frame = review.side_by_side(scored, loc.left, loc.right, idx)
    predicted = is_match(result.probability, result.threshold)
    outcome = np.select([predicted & loc.match, predicted & ~loc.match, ~predicted & loc.match],
                        ["true_positive", "false_positive", "false_negative"], "true_negative")
    frame.insert(2, "label", np.where(loc.match, labels_io.MATCH, labels_io.NOT_MATCH))
    frame.insert(3, "predicted_match", predicted)
    frame.insert(4, "outcome", outcome)
    frame["match_probability"] = result.probability
    frame = frame.rename(columns={"candidate": "candidate_pair"})
    result.pairs = frame
    return result


def console_line(metrics: dict) -> str:
    """The labelled figures of a finished run in one line, from its logged metrics."""
    if "labelled_pairs" not in metrics:
        return "labelled sample: none (no clerical review labels in pair_labels for this table)"
    m = metrics

    def fig(name: str) -> str:
        if name not in m:
            return "n/a (undefined)"
        lo, hi = m.get(f"{name}_ci_low"), m.get(f"{name}_ci_high")
        return f"{m[name]:.4f}" + (f" [{lo:.4f}, {hi:.4f}]" if lo is not None and hi is not None else "")
    return (f"labelled sample: {int(m['labelled_pairs']):,} pairs ({int(m['labelled_matches']):,} match, "
            f"{int(m['labelled_non_matches']):,} not a match): precision {fig('labelled_precision')}, recall "
            f"{fig('labelled_recall')}, F1 {fig('labelled_f1')}; left out {int(m['labelled_left_out_unsure']):,} "
            f"unsure, {int(m['labelled_left_out_conflicting']):,} conflicting, "
            f"{int(m['labelled_left_out_unknown_ids']):,} unknown ids")
