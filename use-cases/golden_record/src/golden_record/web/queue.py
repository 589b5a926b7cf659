"""The pairs a reviewer labels: one of a run's review files, in its order (most uncertain first).

A queue is read from ``review/<name>.csv`` of a training run (:mod:`golden_record.evaluation.review`):
ids, ``left_<field>`` / ``right_<field>`` for every loaded field, ``cmp_<name>`` / ``w_<name>`` per
comparison, ``match_weight``, ``match_probability``, ``predicted_match`` and, with a ground truth,
``true_match``. Values are read as the text the file holds (a phone number stays ``6638101734``, not
``6638101734.0``); only the weights and the probability are numbers.

:meth:`ReviewQueue.pair` is what the page shows of one pair: every field of both records with
whether they differ (and which characters), the model's score, verdict, level and weight per
comparison, and the ground truth, unless ``blind``: then only the records.
"""
from __future__ import annotations

import difflib
import io
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from golden_record.errors import DataError
from golden_record.io.labels import ordered
from golden_record.linkage.explain import Explanation, explain_row

#: the queues a run logs (review/<name>.csv); the default is the first
QUEUES = ("uncertain_pairs", "active_pairs", "false_positives", "false_negatives")
QUEUE_TITLES = {"uncertain_pairs": "uncertain pairs (most uncertain first)",
                "active_pairs": "active learning (the pairs that teach the model most first)",
                "false_positives": "false positives (most confident first)",
                "false_negatives": "false negatives (most confident first)"}
#: what blind mode leaves out of a pair: the score and anything derived from it or from the truth
SCORE_KEYS = ("probability", "match_weight", "predicted_match", "true_match", "comparisons", "threshold",
              "has_waterfall", "scored")


def _text(value) -> str | None:
    """A cell as the page shows it: None for a missing value, else the text, stripped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _number(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _flag(value) -> bool | None:
    text = _text(value)
    if text is None:
        return None
    return text.lower() in ("true", "1", "yes")


def segments(left: str, right: str) -> tuple[list[list], list[list]]:
    """Both values cut into ``[text, differs]`` pieces: the characters one has and the other lacks
    or has otherwise are marked (difflib's matching blocks, case kept)."""
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    out_l: list[list] = []
    out_r: list[list] = []

    def add(out, text, differs):
        if not text:
            return
        if out and out[-1][1] == differs:
            out[-1][0] += text
        else:
            out.append([text, differs])

    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        add(out_l, left[i1:i2], op != "equal")
        add(out_r, right[j1:j2], op != "equal")
    return out_l, out_r


@dataclass
class ReviewQueue:
    """One review file of a run, ready to show and label."""
    run_id: str
    name: str                         # uncertain_pairs | false_positives | false_negatives
    data_table: str                   # the records table (labels are kept per table)
    frame: pd.DataFrame               # the file's rows, as text
    fields: list[str]                 # the fields shown side by side, in the file's order
    fields_of: dict[str, list[str]]   # comparison name -> the fields it reads
    prior: float
    threshold: float
    note: str = ""
    _png: dict[int, bytes] = field(default_factory=dict, repr=False)
    _keys: list[tuple[str, str]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_csv(cls, path: Path, *, run_id: str, name: str, data_table: str, fields_of: dict[str, list[str]],
                 prior: float, threshold: float, note: str = "") -> "ReviewQueue":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        missing = [c for c in ("left_id", "right_id", "match_probability") if c not in frame.columns]
        if missing:
            raise DataError(f"review/{name}.csv of run {run_id} lacks the column(s) {', '.join(missing)}",
                            "train a new run (golden-record train) and review its pairs")
        fields = [c[len("left_"):] for c in frame.columns
                  if c.startswith("left_") and c != "left_id" and f"right_{c[len('left_'):]}" in frame.columns]
        return cls(run_id, name, data_table, frame.reset_index(drop=True), fields, fields_of, prior, threshold, note)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def title(self) -> str:
        return QUEUE_TITLES.get(self.name, self.name)

    def key(self, index: int) -> tuple[str, str]:
        """The pair at ``index`` as the labels store keeps it (ids as text, smaller first)."""
        row = self.frame.iloc[index]
        return ordered(row["left_id"], row["right_id"])

    def keys(self) -> list[tuple[str, str]]:
        """Every pair of the queue as the labels store keeps it, in the queue's order."""
        if self._keys is None:
            self._keys = [ordered(a, b) for a, b in zip(self.frame["left_id"], self.frame["right_id"])]
        return self._keys

    @property
    def key_set(self) -> set[tuple[str, str]]:
        return set(self.keys())

    def progress(self, labelled: set[tuple[str, str]]) -> tuple[int, int | None]:
        """(pairs of the queue among ``labelled``, index of the first pair not among them or None)."""
        done, first = 0, None
        for i, key in enumerate(self.keys()):
            if key in labelled:
                done += 1
            elif first is None:
                first = i
        return done, first

    def _row(self, index: int) -> dict:
        row = self.frame.iloc[index].to_dict()
        for col in ("match_weight", "match_probability", *(c for c in row if c.startswith("w_"))):
            row[col] = _number(row.get(col))
        return row

    def scored(self, index: int) -> bool:
        """False for a true pair blocking never produced (a false negative without a score)."""
        return self._row(index)["match_probability"] is not None

    def explanation(self, index: int) -> Explanation:
        row = self._row(index)
        if row["match_probability"] is None:
            raise DataError(f"pair {row['left_id']} – {row['right_id']} has no score",
                            "blocking never made it a candidate pair, so there is no waterfall")
        for col in [c for c in row if c.startswith("w_")]:
            row[col] = 0.0 if row[col] is None else row[col]
        return explain_row(row, self.fields_of, self.prior, self.threshold, note=self.note)

    def waterfall_png(self, index: int) -> bytes:
        """The pair's waterfall chart as PNG bytes (drawn once per pair, then kept)."""
        with self._lock:
            if index not in self._png:
                from golden_record.tracking.waterfall import waterfall_plot

                fig = waterfall_plot(self.explanation(index))
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
                self._png[index] = buffer.getvalue()
            return self._png[index]

    def pair(self, index: int, blind: bool = False) -> dict:
        """What the page shows of the pair at ``index`` (``blind``: the records only)."""
        row = self._row(index)
        compared_by = {fs[0]: name for name, fs in self.fields_of.items() if fs}   # a field's own comparison
        for name, fs in self.fields_of.items():
            for f in fs[1:]:
                compared_by.setdefault(f, name)                                        # else one it is swapped with
        rows = []
        for f in self.fields:
            left, right = _text(row.get(f"left_{f}")), _text(row.get(f"right_{f}"))
            if left is None or right is None:
                status = "missing" if left is None and right is None else "one_missing"
                seg_l = [[left, False]] if left is not None else []
                seg_r = [[right, False]] if right is not None else []
            elif left == right:
                status, seg_l, seg_r = "same", [[left, False]], [[right, False]]
            else:
                status = "differs"
                seg_l, seg_r = segments(left, right)
            item = {"field": f, "left": left, "right": right, "status": status, "left_parts": seg_l,
                    "right_parts": seg_r}
            comparison = compared_by.get(f)
            if not blind and comparison and f"cmp_{comparison}" in row:
                item["level"] = _text(row.get(f"cmp_{comparison}"))
                item["weight"] = row.get(f"w_{comparison}")
                item["comparison"] = comparison
            rows.append(item)
        out = {"index": index, "position": index + 1, "left_id": str(row["left_id"]), "right_id": str(row["right_id"]),
               "rows": rows, "differing": sum(r["status"] == "differs" for r in rows)}
        if not blind and _text(row.get("reason")):
            out["reason"] = _text(row.get("reason"))        # why the active queue asks about the pair
        if blind:
            return out
        probability = row["match_probability"]
        out.update({
            "scored": probability is not None,
            "probability": probability,
            "match_weight": row["match_weight"],
            "threshold": self.threshold,
            "predicted_match": _flag(row.get("predicted_match")),
            "true_match": _flag(row.get("true_match")) if "true_match" in row else None,
            "has_waterfall": probability is not None,
            "comparisons": [{"name": name, "level": _text(row.get(f"cmp_{name}")), "weight": row.get(f"w_{name}")}
                            for name in self.fields_of if f"cmp_{name}" in row],
        })
        return out


# --------------------------------------------------------------------------- the active queue's batches
#: the review page says how the estimate moved after every this many labels of a queue
BATCH = 25


@dataclass
class EstimateMover:
    """How the run's labels move its model's estimates, without a new training run: the model
    logged by the run, refitted (semi-supervised EM, :meth:`FellegiSunter.refit`) on the run's
    comparison patterns and their pair counts (``review/patterns.csv``) with the labelled pairs of
    the queue fixed to their labels, then the estimated precision, recall and F1 at the run's
    threshold before and after (from the probabilities, over the candidate pairs)."""
    model: object
    patterns: np.ndarray          # (patterns, comparisons) levels in the model's numbering
    counts: np.ndarray            # pairs per pattern (integers)
    threshold: float

    @classmethod
    def from_csv(cls, path: Path, model, threshold: float) -> "EstimateMover":
        frame = pd.read_csv(path)
        missing = [n for n in model.names if f"cmp_{n}" not in frame.columns]
        if missing or "pairs" not in frame.columns:
            raise DataError(f"{path.name} lacks the column(s) {', '.join([f'cmp_{n}' for n in missing] or ['pairs'])}",
                            "train a new run (golden-record train) and review its pairs")
        return cls(model, frame[[f"cmp_{n}" for n in model.names]].to_numpy(np.int8),
                   frame["pairs"].to_numpy(np.int64), threshold)

    def levels_of(self, queue: ReviewQueue, indices: list[int]) -> np.ndarray:
        """The comparison levels of queue rows (their ``cmp_<name>`` labels as level numbers; a
        pair blocking never produced has none and is left out by the caller)."""
        out = np.full((len(indices), len(self.model.names)), -1, dtype=np.int8)
        for c, (name, levels) in enumerate(zip(self.model.names, self.model.labels)):
            where = {label: k for k, label in enumerate(levels)}
            column = queue.frame[f"cmp_{name}"] if f"cmp_{name}" in queue.frame.columns else None
            for i, index in enumerate(indices):
                value = None if column is None else _text(column.iloc[index])
                out[i, c] = where.get(value, -1)
        return out

    def _estimate(self, model) -> tuple:
        from golden_record.evaluation.calibration import estimate

        _, probs = model.score(self.patterns)
        return estimate(probs, self.threshold, counts=self.counts), probs

    def moved(self, queue: ReviewQueue, verdicts: dict[tuple[str, str], bool]) -> dict:
        """What the labelled pairs of ``queue`` (``verdicts``: its key -> labelled a match) change:
        the estimates before and after, and a sentence for the page."""
        keys = queue.keys()
        rows = [i for i, key in enumerate(keys) if key in verdicts and queue.scored(i)]
        before, p0 = self._estimate(self.model)
        if not rows:
            return {"labels": 0, "text": "no labelled candidate pair in this queue yet: the estimate has not moved"}
        levels = self.levels_of(queue, rows)
        labels = np.array([1 if verdicts[keys[i]] else 0 for i in rows], dtype=np.int8)
        from golden_record.linkage.model import with_labelled_rows

        taught = self.model.refit(*with_labelled_rows(self.patterns, self.counts, levels, labels, self.model.n_levels))
        after, p1 = self._estimate(taught)
        flipped = float(self.counts[(p0 >= self.threshold) != (p1 >= self.threshold)].sum())
        matches = int(labels.sum())
        text = (f"after {len(rows):,} labelled pairs of this queue ({matches:,} match, {len(rows) - matches:,} not): "
                f"estimated F1 {before.f1:.3f} -> {after.f1:.3f} (precision {before.precision:.3f} -> "
                f"{after.precision:.3f}, recall {before.recall:.3f} -> {after.recall:.3f}); the decision on "
                f"{flipped:,.0f} of the {self.counts.sum():,.0f} candidate pairs changes; match share "
                f"{self.model.match_share:.4f} -> {taught.match_share:.4f}. Train again to apply the labels "
                "(estimates over the candidate pairs, the pairs blocking missed not counted)")
        return {"labels": len(rows), "matches": matches, "f1_before": before.f1, "f1_after": after.f1,
                "precision_before": before.precision, "precision_after": after.precision,
                "recall_before": before.recall, "recall_after": after.recall, "decisions_changed": flipped,
                "text": text}
