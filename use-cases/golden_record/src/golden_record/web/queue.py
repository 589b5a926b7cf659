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

import pandas as pd

from golden_record.errors import DataError
from golden_record.io.labels import ordered
from golden_record.linkage.explain import Explanation, explain_row

#: the queues a run logs (review/<name>.csv); the default is the first
QUEUES = ("uncertain_pairs", "false_positives", "false_negatives")
QUEUE_TITLES = {"uncertain_pairs": "uncertain pairs (most uncertain first)",
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
