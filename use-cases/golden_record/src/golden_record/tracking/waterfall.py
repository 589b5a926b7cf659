"""The waterfall chart of one pair's score: the prior, one bar per comparison (its share of the
match weight), the term-frequency adjustment when there is one, and the total, on the log2-odds scale with the probability scale
beside it and the threshold marked. Built from a :class:`golden_record.linkage.explain.Explanation`."""
from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from golden_record.linkage.explain import JOINT, Explanation
from golden_record.tracking.plots import save_figure  # noqa: F401 - callers save with it

_UP, _DOWN, _PRIOR, _JOINT, _TOTAL_MATCH, _TOTAL_NON = "#2ca02c", "#d62728", "#7f7f7f", "#9467bd", "#1f77b4", "#ff7f0e"
_PROB_TICKS = (1e-6, 1e-4, 0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1 - 1e-6)


def _log2_odds(p: float) -> float:
    p = min(max(p, 1e-15), 1 - 1e-15)
    return float(np.log2(p / (1 - p)))


def _short(value, width: int = 18) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def waterfall_plot(expl: Explanation, title: str | None = None) -> Figure:
    """One pair's waterfall. Bars start where the previous one ended; green raises the odds of a
    match, red lowers them; the last bar is the total (log2 odds = prior + match weight)."""
    steps = expl.steps()
    labels, starts, heights, colors, hatches = [], [], [], [], []
    level_of = dict(zip(expl.table["comparison"], expl.table["level"]))
    values_of = {r.comparison: (r.left, r.right) for r in expl.table.itertuples(index=False)}
    running = 0.0
    for name, w in steps:
        if name == "prior":
            labels.append("prior\n(match share)")
            starts.append(0.0)
            colors.append(_PRIOR)
            hatches.append("")
        elif name == JOINT:
            labels.append("term\nfrequencies")
            starts.append(running)
            colors.append(_JOINT)
            hatches.append("//")
        else:
            left, right = values_of[name]
            labels.append(f"{name}\n{level_of[name]}\n{_short(left)}\n{_short(right)}")
            starts.append(running)
            colors.append(_UP if w >= 0 else _DOWN)
            hatches.append("")
        heights.append(w)
        running += w
    total = expl.log2_odds
    labels.append("total")
    starts.append(0.0)
    heights.append(total)
    colors.append(_TOTAL_MATCH if expl.is_match else _TOTAL_NON)
    hatches.append("")

    n = len(heights)
    fig = Figure(figsize=(max(7.0, 1.05 * n + 2.0), 5.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(n)
    bars = ax.bar(x, heights, bottom=starts, color=colors, edgecolor="black", linewidth=0.6, width=0.7)
    for bar, hatch in zip(bars, hatches):
        bar.set_hatch(hatch)
    for i in range(n - 1):         # connectors: where each bar ends, the next one starts
        end = starts[i] + heights[i]
        ax.plot([x[i] + 0.35, x[i + 1] - 0.35], [end, end], color="grey", linewidth=0.7, linestyle=":")
    tops = np.array(starts) + np.array(heights)
    span = max(float(np.max(np.maximum(starts, tops))) - float(np.min(np.minimum(starts, tops))), 1.0)
    for xi, s, h in zip(x, starts, heights):
        y = s + h
        ax.annotate(f"{h:+.1f}", (xi, y), xytext=(0, 3 if h >= 0 else -3), textcoords="offset points",
                    ha="center", va="bottom" if h >= 0 else "top", fontsize=8)
    threshold = _log2_odds(expl.threshold)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axhline(threshold, color="black", linestyle="--", linewidth=1.0)
    low = min(float(np.min(np.minimum(starts, tops))), threshold, 0.0) - 0.08 * span
    high = max(float(np.max(np.maximum(starts, tops))), threshold, 0.0) + 0.12 * span
    ax.set_ylim(low, high)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_xticks(x, labels, fontsize=7.5)
    ax.set_ylabel("log2 odds of a match (bits)")
    ax.grid(axis="y", alpha=0.3)

    right = ax.twinx()            # the probability scale, at the log-odds it stands for
    right.set_ylim(low, high)
    ticks = [(t, _log2_odds(t)) for t in _PROB_TICKS if low <= _log2_odds(t) <= high]
    right.set_yticks([y for _, y in ticks], [f"{t:g}" for t, _ in ticks])
    right.set_ylabel("match probability")

    pair = f"{expl.left_id} – {expl.right_id}" if expl.left_id is not None else "pair"
    verdict = "match" if expl.is_match else "not a match"
    ax.set_title(title or f"Why {pair} scores {expl.probability:.4f} ({verdict} at threshold {expl.threshold:g})",
                 fontsize=11)
    handles = [Patch(color=_PRIOR, label="prior"), Patch(color=_UP, label="raises the odds"),
               Patch(color=_DOWN, label="lowers the odds"),
               Patch(facecolor=_TOTAL_MATCH if expl.is_match else _TOTAL_NON, label=f"total ({verdict})"),
               ax.get_lines()[-1]]
    handles[-1].set_label(f"threshold {expl.threshold:g}")
    if any(name == JOINT for name, _ in steps):
        handles.insert(3, Patch(facecolor=_JOINT, hatch="//", label="term frequencies"))
    if getattr(expl, "note", None):
        fig.text(0.01, -0.02, "\n".join(textwrap.wrap(expl.note, 150)), fontsize=7.5, va="top")
    ax.legend(handles=handles, loc="upper left", fontsize=7.5, framealpha=0.9)
    return fig
