"""What each declared field of a table holds, before anything is trained (``golden-record profile``).

Per field: the share of records holding a value before and after cleaning (the cleaners of
:mod:`golden_record.linkage.cleaning`, whose :class:`~golden_record.linkage.cleaning.FieldQuality`
counts are reused), the distinct cleaned values, the most frequent ones with their share of the
records, the length and token count of the values (median, 95th percentile, longest) and what a
blocking pass on the field alone would cost (:func:`golden_record.linkage.defaults.profile_field`,
the profile the derived config is built from). Everything runs on the distinct values.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from golden_record.linkage.cleaning import FieldQuality
from golden_record.linkage.defaults import profile_field

#: the most frequent values a summary names
TOP_VALUES = 5


@dataclass
class FieldSummary:
    quality: FieldQuality              # what cleaning did to the field (present before / after, drops)
    distinct: int
    #: the most frequent cleaned values, [value, records] each, most frequent first
    top: list = field(default_factory=list)
    length_median: float | None = None
    length_p95: float | None = None
    length_max: float | None = None
    tokens_median: float | None = None
    tokens_max: float | None = None
    #: candidate pairs per record a blocking pass on the field alone makes, and the share of the
    #: records in blocks larger than candidates.max_block_size (never compared by such a pass)
    pairs_per_record: float = 0.0
    oversized_share: float = 0.0

    field = property(lambda self: self.quality.field)
    type = property(lambda self: self.quality.type)
    rows = property(lambda self: self.quality.rows)
    present_before = property(lambda self: self.quality.present_before)
    present_after = property(lambda self: self.quality.present_after)
    dropped = property(lambda self: self.quality.dropped)

    def share(self, count: int) -> float:
        return count / self.rows if self.rows else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "present_before_share": self.share(self.present_before),
                "present_after_share": self.share(self.present_after)}

    def line(self) -> str:
        top = ", ".join(f"{_short(v)} {self.share(c):.2%}" for v, c in self.top[:3]) or "-"
        size = ("-" if self.length_median is None else
                f"{self.length_median:g}/{self.length_p95:g}/{self.length_max:g}")
        tokens = "-" if self.tokens_median is None else f"{self.tokens_median:g}/{self.tokens_max:g}"
        pairs = f"{self.pairs_per_record:.2f}" + (f" ({self.oversized_share:.0%} in blocks too large)"
                                                  if self.oversized_share >= 0.005 else "")
        return (f"  {self.field:<16} {self.type:<10} {self.share(self.present_before):7.2%} -> "
                f"{self.share(self.present_after):7.2%} {self.distinct:>10,}  {size:<12} {tokens:<6} {pairs:<10}  "
                f"{top}") + self.quality.notes()


HEADER = ("  field            type       present before -> after   distinct  length       tokens pairs/rec   "
          "most frequent values (share of records)\n"
          "                                                              med/p95/max  med/max alone")


def _short(value, width: int = 24) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cum, q * cum[-1]), len(cum) - 1)])


def _text(values: np.ndarray) -> pd.Series:
    """Distinct values as text (a timestamp as ISO text)."""
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m-%dT%H:%M:%S").str.replace("T00:00:00", "", regex=False)
    return series.astype(str)


def summarise_field(quality: FieldQuality, values: pd.Series, max_block_size: int) -> FieldSummary:
    """One field's summary from its cleaned ``values`` and what cleaning reported."""
    prof = profile_field(quality.field, quality.type, values, max_block_size)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    out = FieldSummary(quality, int(len(uniques)), pairs_per_record=prof.pairs_per_record,
                       oversized_share=prof.skipped)
    if not len(uniques):
        return out
    text = _text(np.asarray(uniques))
    top = np.argsort(-counts, kind="stable")[:TOP_VALUES]
    out.top = [[text.iloc[i], int(counts[i])] for i in top]
    lengths = text.str.len().to_numpy(dtype=float)
    tokens = text.str.split().str.len().to_numpy(dtype=float)
    w = counts.astype(float)
    out.length_median, out.length_p95 = _weighted_quantile(lengths, w, 0.5), _weighted_quantile(lengths, w, 0.95)
    out.length_max = float(lengths.max())
    out.tokens_median, out.tokens_max = _weighted_quantile(tokens, w, 0.5), float(tokens.max())
    return out


def summarise(prepared: pd.DataFrame, quality: list[FieldQuality], max_block_size: int) -> list[FieldSummary]:
    """Every field cleaning reported on, in its order."""
    return [summarise_field(q, prepared[q.field], max_block_size) for q in quality]


def lines(summaries: list[FieldSummary]) -> list[str]:
    return [HEADER] + [s.line() for s in summaries]
