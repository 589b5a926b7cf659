"""Why a pair scored as it did: the prior, one weight per comparison, and the total.

A pair's log2 odds of being a match = the prior (log2 of the match share's odds) + its match
weight, and the match weight is split over the comparisons: each comparison's weight is its share
(:meth:`FellegiSunter.comparison_weights`). With one non-match class that is log2 m/u of the
pair's level, the textbook weight. With several latent classes (pairs of relatives, of
neighbours...) the model weighs the pattern jointly, and a comparison's share is its Shapley value:
what it adds to the log odds, averaged over the orders the comparisons could come in. Either way
the shares add up to the match weight exactly; a missing value gets 0. Only a term-frequency
adjustment (a rare value agreed on) is left over: it is shown as its own term, never spread.

One source for every explanation: :func:`comparison_frame` gives the per-comparison columns
(``cmp_<name>`` = level, ``w_<name>`` = weight) of the review files, the pyfunc model's output and
the explanations; :func:`explain_row` reads such a row back. (Scoring two records and explaining
them is :func:`golden_record.linkage.scoring.explain_records`: scoring uses this module, never the
other way round.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

MISSING_LABEL = "missing"
JOINT = "term frequencies"


def prior_weight(model) -> float:
    """log2 of the prior odds of a match (the fitted match share)."""
    share = float(model.match_share)
    return float(np.log2(share / (1 - share)))


def comparison_frame(model, vectors, rows: np.ndarray | None = None) -> pd.DataFrame:
    """``cmp_<name>`` (the level's label, ``missing``) and ``w_<name>`` (its weight in bits) per
    pair, for the pairs ``rows`` of ``vectors`` (all when None)."""
    levels = vectors.levels if rows is None else vectors.levels[np.asarray(rows, dtype=np.int64)]
    weights = model.comparison_weights(levels) if len(levels) else np.zeros((0, len(vectors.names)))
    out = {}
    for k, name in enumerate(vectors.names):
        labels = np.array(list(vectors.labels[k]) + [MISSING_LABEL], dtype=object)
        out[f"cmp_{name}"] = labels[levels[:, k].astype(np.int64)]          # -1 picks "missing"
        out[f"w_{name}"] = np.round(weights[:, k], 4)
    return pd.DataFrame(out)


def weights_note(model) -> str:
    """One line saying what a comparison's weight is for this model."""
    if getattr(model, "class_thetas", None) and len(model.class_thetas) > 2:
        return (f"The model has {len(model.class_thetas) - 1} non-match classes and weighs the comparisons jointly: "
                "each bar is the comparison's Shapley value (what it adds to the log odds, averaged over the orders "
                "the comparisons could come in); the bars add up to the match weight.")
    return "Each bar is log2 m/u of the comparison's level; the bars add up to the match weight."


def comparison_fields(config) -> dict[str, list[str]]:
    """comparison name -> the fields it reads (its field, and the swap partner if any)."""
    return {c.name: [c.field] + ([c.swap_with] if c.swap_with else []) for c in config.comparisons}


@dataclass
class Explanation:
    """One pair: the prior, per comparison the two values, the level and its weight, the
    joint-classes term, the match weight and probability, and the threshold it was judged at."""
    left_id: str | None
    right_id: str | None
    table: pd.DataFrame          # comparison, left, right, level, weight
    prior: float
    match_weight: float
    probability: float
    threshold: float
    note: str = ""               # how the per-comparison weights were computed (:func:`weights_note`)

    @property
    def joint(self) -> float:
        """match weight − the sum of the per-comparison weights: the term-frequency adjustment
        (0 without one, up to the weights' rounding)."""
        return float(self.match_weight - self.table["weight"].sum())

    @property
    def log2_odds(self) -> float:
        return self.prior + self.match_weight

    @property
    def is_match(self) -> bool:
        return bool(self.probability >= self.threshold)

    def steps(self, joint_tolerance: float = 0.005) -> list[tuple[str, float]]:
        """The waterfall's bars in order: prior, each comparison, the term-frequency term (when not ~0)."""
        out = [("prior", self.prior)] + list(zip(self.table["comparison"], self.table["weight"].astype(float)))
        if abs(self.joint) > joint_tolerance:
            out.append((JOINT, self.joint))
        return out

    def text(self) -> str:
        """The table a person reads in a terminal."""
        def cell(v) -> str:
            return "∅" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)

        rows = [("comparison", "left", "right", "level", "weight")]
        rows.append(("prior", "", "", "match share", f"{self.prior:+.2f}"))
        for r in self.table.itertuples(index=False):
            rows.append((r.comparison, cell(r.left), cell(r.right), r.level, f"{r.weight:+.2f}"))
        if abs(self.joint) > 0.005:
            rows.append((JOINT, "", "", "rare values agreed on", f"{self.joint:+.2f}"))
        rows.append(("total", "", "", "log2 odds", f"{self.log2_odds:+.2f}"))
        widths = [min(max(len(str(r[i])) for r in rows), 28) for i in range(5)]

        def fmt(r) -> str:
            return "  ".join(str(v)[:28].ljust(w) if i < 4 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths)))

        lines = [fmt(rows[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows[1:]]
        verdict = "match" if self.is_match else "not a match"
        lines.append(f"match weight {self.match_weight:+.2f} bits (prior excluded), probability "
                     f"{self.probability:.4f}: {verdict} at threshold {self.threshold:g}")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"left_id": self.left_id, "right_id": self.right_id, "prior": self.prior,
                "comparisons": self.table.to_dict(orient="records"), "joint": self.joint,
                "match_weight": self.match_weight, "probability": self.probability,
                "threshold": self.threshold, "is_match": self.is_match, "note": self.note}


def _value(row: Mapping, key: str):
    v = row.get(key)
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    return v


def explain_row(row: Mapping, fields_of: dict[str, list[str]], prior: float, threshold: float,
                left: str = "left_{}", right: str = "right_{}", note: str = "") -> Explanation:
    """An :class:`Explanation` from a side-by-side row (``left_<field>``, ``right_<field>``,
    ``cmp_<name>``, ``w_<name>``, ``match_weight``, ``match_probability``, ids): the review
    files' rows, or a pyfunc input row joined with its output (``left="{}_l"``)."""
    rows = []
    for name, fields in fields_of.items():
        if f"cmp_{name}" not in row:
            continue
        lv = " / ".join(str(_value(row, left.format(f))) for f in fields if _value(row, left.format(f)) is not None)
        rv = " / ".join(str(_value(row, right.format(f))) for f in fields if _value(row, right.format(f)) is not None)
        rows.append({"comparison": name, "left": lv or None, "right": rv or None,
                     "level": str(row[f"cmp_{name}"]), "weight": float(row[f"w_{name}"])})
    table = pd.DataFrame(rows, columns=["comparison", "left", "right", "level", "weight"])
    ids = [_value(row, k) for k in ("left_id", "right_id")]
    return Explanation(None if ids[0] is None else str(ids[0]), None if ids[1] is None else str(ids[1]), table,
                       float(prior), float(row["match_weight"]), float(row["match_probability"]), float(threshold), note)
