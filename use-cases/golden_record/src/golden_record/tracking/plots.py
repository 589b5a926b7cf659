"""Diagnostic figures for the golden-record model (Fellegi-Sunter) evaluation.

Every function returns a :class:`matplotlib.figure.Figure` and never shows or closes it;
use :func:`save_figure` (PNG, 110 dpi, tight bbox, closes the figure) or hand the figure
to e.g. ``mlflow.log_figure`` and close it yourself.  Figures are created with
``matplotlib.figure.Figure`` directly (not registered with pyplot), so forgetting to close
one does not leak through pyplot's figure manager.

Large inputs are cheap: histograms are computed with ``np.histogram``/``np.bincount`` and
drawn with ``Axes.stairs``/``Axes.bar``; curves are subsampled to at most
:data:`MAX_CURVE_POINTS` points before drawing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = [
    "MAX_CURVE_POINTS",
    "save_figure",
    "confusion_matrix_plot",
    "precision_recall_plot",
    "roc_plot",
    "weight_histogram_plot",
    "match_weights_plot",
    "m_u_plot",
    "threshold_sweep_plot",
    "cluster_size_plot",
    "reliability_plot",
]

#: Curves are subsampled to at most this many points before drawing.
MAX_CURVE_POINTS = 2_000

FIGSIZE = (7.0, 5.0)
SAVE_DPI = 110

_MATCH_COLOR = "#1f77b4"
_NONMATCH_COLOR = "#ff7f0e"
_F1_COLOR = "#2ca02c"
_MARK_COLOR = "#d62728"
_PRIOR_COLOR = "#7f7f7f"


# --------------------------------------------------------------------------- helpers


def _new_figure(figsize: tuple[float, float] = FIGSIZE) -> tuple[Figure, "matplotlib.axes.Axes"]:
    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    ax = fig.add_subplot()
    return fig, ax


def _subsample_idx(n: int, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """Evenly spaced row indices (first and last kept) for drawing a long curve."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def _subsample_curve(df: pd.DataFrame, max_points: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    return df.iloc[_subsample_idx(len(df), max_points)]


def _fmt_count(n: float) -> str:
    return f"{int(n):,}"


def _no_data(ax, message: str = "no data") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="grey")


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG (110 dpi, tight bounding box), close it and return the path.

    Parent directories are created as needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, format="png", dpi=SAVE_DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


# --------------------------------------------------------------------------- plots


def confusion_matrix_plot(confusion: Mapping[str, int], threshold: float) -> Figure:
    """2x2 confusion matrix (rows: truth, columns: prediction) with counts and row %.

    ``confusion`` has keys ``tp, fp, fn, tn`` (as :attr:`Evaluation.confusion`).  Cells are
    coloured by row share, since raw counts are dominated by non-matches.
    """
    tp, fp, fn, tn = (int(confusion[k]) for k in ("tp", "fp", "fn", "tn"))
    counts = np.array([[tp, fn], [fp, tn]], dtype=np.int64)
    row_tot = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, row_tot, out=np.zeros(counts.shape), where=row_tot > 0)

    fig, ax = _new_figure((6.5, 5.0))
    cmap = LinearSegmentedColormap.from_list("cm", ["#f7fbff", "#2171b5"])
    im = ax.imshow(share, cmap=cmap, vmin=0.0, vmax=1.0)
    for i in range(2):
        for j in range(2):
            ax.text(
                j,
                i,
                f"{_fmt_count(counts[i, j])}\n({100 * share[i, j]:.1f}% of row)",
                ha="center",
                va="center",
                fontsize=13,
                color="white" if share[i, j] > 0.6 else "black",
            )
    ax.set_xticks([0, 1], ["predicted match", "predicted non-match"])
    ax.set_yticks([0, 1], ["true match", "true non-match"])
    ax.set_xlabel(
        "Predicted class\n(FN include true pairs missed by blocking; TN count candidate pairs only)"
    )
    ax.set_ylabel("True class")
    ax.set_title(f"Confusion matrix at threshold {threshold:.3g}")
    ax.tick_params(length=0)
    fig.colorbar(im, ax=ax, label="share of row", fraction=0.046, pad=0.04)
    return fig


def precision_recall_plot(
    pr_curve: pd.DataFrame, threshold: float, at_threshold: Mapping[str, float]
) -> Figure:
    """Precision-recall curve with the chosen threshold marked.

    ``pr_curve`` has columns ``threshold, precision, recall`` (as
    :attr:`Evaluation.pr_curve`); ``at_threshold`` needs ``precision`` and ``recall`` (e.g.
    :attr:`Evaluation.metrics`), optionally ``f1_score``.  Recall is over all true pairs,
    so the curve ends at the blocking's pairs completeness, not at 1.
    """
    fig, ax = _new_figure()
    if len(pr_curve):
        curve = _subsample_curve(pr_curve)
        ax.plot(
            curve["recall"].to_numpy(),
            curve["precision"].to_numpy(),
            drawstyle="steps-post",
            color=_MATCH_COLOR,
            lw=1.8,
            label="precision-recall curve",
        )
        max_recall = float(pr_curve["recall"].max())
        ax.axvline(
            max_recall,
            color="grey",
            ls=":",
            lw=1.2,
            label=f"recall ceiling from blocking ({max_recall:.3f})",
        )
    else:
        _no_data(ax, "no candidate pairs")

    p = float(at_threshold["precision"])
    r = float(at_threshold["recall"])
    ax.scatter([r], [p], s=70, color=_MARK_COLOR, zorder=5, label=f"threshold {threshold:.3g}")
    text = f"threshold {threshold:.3g}\nP = {p:.3f}\nR = {r:.3f}"
    if "f1_score" in at_threshold and at_threshold["f1_score"] is not None:
        text += f"\nF1 = {float(at_threshold['f1_score']):.3f}"
    ax.annotate(
        text,
        xy=(r, p),
        xytext=(-20 if r > 0.5 else 20, -60 if p > 0.5 else 30),
        textcoords="offset points",
        ha="right" if r > 0.5 else "left",
        fontsize=10,
        bbox=dict(boxstyle="round", fc="white", ec="grey", alpha=0.9),
        arrowprops=dict(arrowstyle="->", color="grey"),
    )
    ax.set_xlim(0.0, 1.02)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("Recall (over all true pairs, incl. pairs missed by blocking)")
    ax.set_ylabel("Precision (over candidate pairs)")
    ax.set_title("Precision-recall curve (recall counts pairs missed by blocking)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return fig


def roc_plot(roc_curve: pd.DataFrame, auc: float, log_x: bool = False) -> Figure:
    """ROC curve over candidate pairs with the chance diagonal.

    ``roc_curve`` has columns ``fpr, tpr`` (as :attr:`Evaluation.roc_curve`).  With
    ``log_x=True`` the false-positive-rate axis is logarithmic (useful because candidate
    non-matches vastly outnumber matches); zero FPR points are then not drawn.
    """
    fig, ax = _new_figure()
    curve = _subsample_curve(roc_curve)
    fpr = curve["fpr"].to_numpy(dtype=float)
    tpr = curve["tpr"].to_numpy(dtype=float)
    auc_txt = "n/a" if auc is None or not math.isfinite(float(auc)) else f"{float(auc):.4f}"
    ok = np.isfinite(fpr) & np.isfinite(tpr)
    if log_x:
        ok &= fpr > 0
    if ok.any():
        ax.plot(fpr[ok], tpr[ok], color=_MATCH_COLOR, lw=1.8, label=f"model (AUC = {auc_txt})")
    else:
        _no_data(ax, "ROC undefined (candidates contain one class only)")
    if log_x:
        lo = float(fpr[ok].min()) if ok.any() else 1e-6
        grid = np.logspace(math.log10(lo), 0, 200)
        ax.plot(grid, grid, ls="--", color="grey", lw=1, label="chance")
        ax.set_xscale("log")
        ax.set_xlim(lo, 1.0)
    else:
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
        ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("False positive rate (candidate non-matches)" + (", log scale" if log_x else ""))
    ax.set_ylabel("True positive rate (candidate true pairs)")
    ax.set_title(f"ROC curve over candidate pairs (AUC = {auc_txt})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def weight_histogram_plot(
    weights: np.ndarray, labels: np.ndarray, threshold_weight: float | None, bins: int = 80,
    counts: np.ndarray | None = None,
) -> Figure:
    """Overlaid histograms (log-count) of match weight for true matches vs non-matches.

    Infinite weights (probability exactly 0 or 1) are clipped to the finite range for
    binning; NaN weights are dropped.  A vertical line marks ``threshold_weight``.
    ``counts``: pairs per row (aggregated distinct weights), else one pair a row.
    """
    w = np.asarray(weights, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    if w.shape != y.shape:
        raise ValueError(f"weights and labels must have equal length, got {w.size} and {y.size}")
    n = np.ones(w.shape, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64).ravel()
    keep = ~np.isnan(w)
    w, y, n = w[keep], y[keep], n[keep]
    finite = np.isfinite(w)
    fig, ax = _new_figure()
    if finite.any():
        lo, hi = float(w[finite].min()), float(w[finite].max())
        if threshold_weight is not None and math.isfinite(threshold_weight):
            lo, hi = min(lo, threshold_weight), max(hi, threshold_weight)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        w = np.clip(w, lo, hi)
        edges = np.linspace(lo, hi, bins + 1)
        top = 1.0
        for mask, colour, name in ((~y, _NONMATCH_COLOR, "non-matches"), (y, _MATCH_COLOR, "true matches")):
            counts, _ = np.histogram(w[mask], bins=edges, weights=n[mask])
            top = max(top, float(counts.max(initial=0)))
            ax.stairs(counts, edges, fill=True, alpha=0.45, color=colour,
                      label=f"{name} (n = {_fmt_count(n[mask].sum())})")
            ax.stairs(counts, edges, color=colour, lw=1.2)
        ax.set_yscale("log")
        ax.set_ylim(0.8, top * 30)  # head-room for the legend
    else:
        _no_data(ax)
    if threshold_weight is not None and math.isfinite(threshold_weight):
        ax.axvline(threshold_weight, color=_MARK_COLOR, ls="--", lw=1.5,
                   label=f"threshold weight = {threshold_weight:.2f}")
    ax.set_xlabel("Match weight (log2 Bayes factor)")
    ax.set_ylabel("Candidate pairs (log scale)")
    ax.set_title("Match weight distribution: true matches vs non-matches")
    ax.grid(alpha=0.3, which="major")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=9)
    return fig


def match_weights_plot(table: pd.DataFrame, prior_weight: float, match_classes: int = 1,
                       non_match_classes: int = 1) -> Figure:
    """The model in one picture: the match weight log2(m/u) of every comparison level, and the prior.

    ``table`` is ``model.m_u_table()`` (columns ``comparison, level, weight, at_floor``; rows in
    the given order, grouped by comparison); ``prior_weight`` is log2(λ / (1 − λ)) of the match
    share λ. One horizontal bar per level under its comparison's name, the prior as its own bar at
    the top, coloured by sign (for / against a match), with the value written beside each bar.
    A level whose m or u sits at the model's floor has a weight computed from the floor, a bound
    and not an estimate: its bar is hatched and its label says ``≤`` (m at the floor: the true
    weight is at most this) or ``≥`` (u at the floor); both at the floor weigh 0 (the level was
    seen in neither class).

    With one match and one non-match class a pair's log2 odds of a match is the prior plus the bar
    of its level on each comparison; with more classes (``match_classes``, ``non_match_classes``:
    FellegiSunter's related classes) m and u are the classes' mixtures and a pair's weight, computed
    per class, is not exactly that sum. The subtitle says which.
    """
    missing = {"comparison", "level", "weight", "at_floor"} - set(table.columns)
    if missing:
        raise ValueError(f"table is missing columns {sorted(missing)} (model.m_u_table() has them)")
    from matplotlib.patches import Patch

    prior = float(prior_weight)
    # rows top to bottom: the prior, then per comparison a heading row and its levels
    labels, weights, kinds, floored = ["prior"], [prior], ["prior"], [False]
    comps = table["comparison"].astype(str).to_numpy()
    for comp in pd.unique(comps):
        group = table[comps == comp]
        labels.append(comp)
        weights.append(np.nan)
        kinds.append("heading")
        floored.append(False)
        labels += [f"  {lv}" for lv in group["level"].astype(str)]
        weights += group["weight"].astype(float).tolist()
        kinds += ["level"] * len(group)
        floored += group["at_floor"].astype(bool).tolist()
    n = len(labels)
    w = np.asarray(weights, dtype=float)
    floored = np.asarray(floored, dtype=bool)
    pos = np.arange(n)[::-1].astype(float)            # first row at the top

    height = max(4.0, 1.9 + 0.27 * n)
    fig, ax = _new_figure((8.0, height))
    finite = np.isfinite(w)
    colours = np.where(w >= 0, _MATCH_COLOR, _NONMATCH_COLOR).astype(object)
    colours[0] = _PRIOR_COLOR
    bar = finite & ~floored
    ax.barh(pos[bar], w[bar], height=0.7, color=list(colours[bar]), edgecolor="none")
    bound = finite & floored
    if bound.any():
        ax.barh(pos[bound], w[bound], height=0.7, color="white", edgecolor=list(colours[bound]),
                hatch="////", lw=1.0)
    ax.axvline(0.0, color="black", lw=0.9)

    # the value beside each bar's end (a bound: <= or >=)
    lo = min(0.0, float(np.nanmin(w)) if finite.any() else 0.0)
    hi = max(0.0, float(np.nanmax(w)) if finite.any() else 0.0)
    span = max(hi - lo, 1.0)
    gap = 0.012 * span
    texts = []
    for y, value, kind, at_floor in zip(pos, w, kinds, floored):
        if kind == "heading":
            continue
        if not np.isfinite(value):
            texts.append(ax.text(gap, y, "n/a", va="center", ha="left", fontsize=8, color="grey"))
            continue
        text = f"{value:+.2f}".replace("-", "\u2212")
        if at_floor:
            text = "0 (level seen in neither class)" if value == 0 else ("\u2264 " if value < 0 else "\u2265 ") + text
        texts.append(ax.text(value + (gap if value >= 0 else -gap), y, text, va="center",
                             ha="left" if value >= 0 else "right", fontsize=8,
                             color="black" if kind == "level" else _PRIOR_COLOR,
                             fontweight="bold" if kind == "prior" else "normal"))

    share = 1.0 / (1.0 + 2.0 ** -prior) if math.isfinite(prior) else float("nan")
    labels[0] = f"prior (match share {100 * share:.2f}%)" if share == share else "prior"
    ax.set_yticks(pos, labels)
    for tick, kind in zip(ax.get_yticklabels(), kinds):
        if kind != "level":
            tick.set_fontweight("bold")
        tick.set_fontsize(9)
    for i, kind in enumerate(kinds):           # a line above each comparison's heading
        if kind == "heading":
            ax.axhline(pos[i] + 0.5, color="grey", lw=0.6)
    ax.set_ylim(-0.6, n - 0.4)
    ax.tick_params(axis="y", length=0)
    ax.grid(alpha=0.3, axis="x")
    ax.set_xlabel("Match weight log2(m / u), bits: > 0 evidence for a match, < 0 against")
    ax.set_ylabel("Comparison: level")
    if match_classes + non_match_classes <= 2:
        note = ("a pair's log2 odds of a match = prior + the bar of its level on each comparison\n"
                "(a level not drawn, such as a missing value, adds 0)")
    else:
        note = (f"m and u mix {match_classes} match and {non_match_classes} non-match classes: a pair's weight "
                "is computed\nper class and can differ from prior + the bars of its levels")
    ax.set_title("Match weights per comparison level, with the prior", fontsize=12, loc="center", pad=30)
    ax.text(0.5, 1.005, note, transform=ax.transAxes, ha="center", va="bottom", fontsize=9, color="#333333")
    handles = [Patch(color=_MATCH_COLOR, label="for a match (m > u)"),
               Patch(color=_NONMATCH_COLOR, label="against a match (m < u)"),
               Patch(color=_PRIOR_COLOR, label="prior: log2 odds of the match share")]
    if bound.any():
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="////",
                             label="estimate at floor: weight is a bound\n(\u2264: m at floor, \u2265: u at floor)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False, fontsize=9)
    _fit_x_to_texts(fig, ax, texts, lo - 0.04 * span, hi + 0.04 * span)
    return fig


def _fit_x_to_texts(fig: Figure, ax, texts: list, lo: float, hi: float, margin: float = 6.0,
                    rounds: int = 5) -> None:
    """Set the x limits to ``[lo, hi]`` widened until every text anchored in the axes lies inside
    them, ``margin`` pixels from the edge (measured on the laid-out figure: long labels beside long
    bars stay readable and clear of the tick labels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    ax.set_xlim(lo, hi)
    for _ in range(rounds):
        fig.draw_without_rendering()
        box = ax.get_window_extent(renderer)
        extents = [t.get_window_extent(renderer) for t in texts]
        left = max([box.x0 - e.x0 + margin for e in extents] + [0.0])
        right = max([e.x1 - box.x1 + margin for e in extents] + [0.0])
        if left < 0.5 and right < 0.5:
            return
        per_pixel = (hi - lo) / max(box.width, 1.0)
        lo, hi = lo - (left + 1) * per_pixel, hi + (right + 1) * per_pixel
        ax.set_xlim(lo, hi)


def m_u_plot(m_u: pd.DataFrame, floor: float = 1e-6) -> Figure:
    """Grouped horizontal bars of m and u probabilities per (comparison, level), log-x: how often
    each level occurs among matches and non-matches (what a weight alone does not show).

    ``m_u`` has columns ``comparison, level, m, u``; rows are drawn top to bottom in the
    given order and comparisons are separated by lines.  Values at or below ``floor`` (including
    0) are drawn at ``floor``, hatched, with a legend entry saying so.  Figure height grows with
    the number of rows.
    """
    missing = {"comparison", "level", "m", "u"} - set(m_u.columns)
    if missing:
        raise ValueError(f"m_u is missing columns {sorted(missing)}")
    n = len(m_u)
    height = max(3.5, 1.6 + 0.42 * n)
    fig, ax = _new_figure((7.0, height))
    if n == 0:
        _no_data(ax)
    else:
        pos = np.arange(n)[::-1].astype(float)  # first row at the top
        raw_m, raw_u = m_u["m"].to_numpy(dtype=float), m_u["u"].to_numpy(dtype=float)
        m, u = np.clip(raw_m, floor, None), np.clip(raw_u, floor, None)
        h = 0.38
        ax.barh(pos + h / 2, m, height=h, color=_MATCH_COLOR, label="m = P(level | match)")
        ax.barh(pos - h / 2, u, height=h, color=_NONMATCH_COLOR, label="u = P(level | non-match)")
        low_m, low_u = ~(raw_m > floor), ~(raw_u > floor)
        if low_m.any() or low_u.any():      # at the floor: drawn there, marked (a bound, not an estimate)
            ax.barh(np.r_[pos[low_m] + h / 2, pos[low_u] - h / 2], np.full(int(low_m.sum() + low_u.sum()), floor),
                    height=h, color="none", edgecolor="black", hatch="////", lw=0.0,
                    label=f"at or below the floor {floor:g}: drawn at it")
        comp = m_u["comparison"].astype(str).to_numpy()
        level = m_u["level"].astype(str).to_numpy()
        ax.set_yticks(pos, [f"{c}: {lv}" for c, lv in zip(comp, level)])
        # separators between comparisons
        for i in np.flatnonzero(comp[1:] != comp[:-1]):
            ax.axhline(pos[i] - 0.5, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlim(floor / 2, 1.5)
        ax.set_ylim(-0.6, n - 0.4)
        fig.legend(loc="outside lower center", ncol=2, frameon=False)
    ax.set_xlabel("Probability (log scale)")
    ax.set_ylabel("Comparison: level")
    ax.set_title("m and u per comparison level: how often each level occurs\namong matches (m) and non-matches (u)")
    ax.grid(alpha=0.3, axis="x")
    return fig


def threshold_sweep_plot(table: pd.DataFrame, best_threshold: float | None) -> Figure:
    """Precision, recall and F1 versus threshold (output of ``threshold_metrics``)."""
    fig, ax = _new_figure()
    t = _subsample_curve(table.sort_values("threshold", kind="stable"))
    x = t["threshold"].to_numpy(dtype=float)
    marker = "o" if len(t) <= 60 else None
    for col, colour, name in (
        ("precision", _MATCH_COLOR, "precision"),
        ("recall", _NONMATCH_COLOR, "recall (all true pairs)"),
        ("f1_score", _F1_COLOR, "F1"),
    ):
        ax.plot(x, t[col].to_numpy(dtype=float), color=colour, lw=1.8, marker=marker, ms=3,
                label=name)
    if best_threshold is not None and math.isfinite(best_threshold):
        label = f"chosen threshold {best_threshold:.3g}"
        row = table.loc[np.isclose(table["threshold"].to_numpy(dtype=float), best_threshold)]
        if len(row):
            label += f" (F1 = {float(row['f1_score'].iloc[0]):.3f})"
        ax.axvline(best_threshold, color=_MARK_COLOR, ls="--", lw=1.5, label=label)
    if len(t) == 0:
        _no_data(ax)
        ax.set_ylim(0.0, 1.02)
    else:
        # the y-axis fits the curves: a trade-off between 0.990 and 0.999 must not look flat
        values = t[["precision", "recall", "f1_score"]].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        pad = max(0.002, 0.08 * (hi - lo))
        ax.set_ylim(max(0.0, lo - pad), min(1.02, hi + pad))
    ax.set_xlabel("Match probability threshold")
    ax.set_ylabel("Metric value")
    ax.set_title("Precision, recall and F1 by threshold")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncol=2, frameon=False)
    return fig


def cluster_size_plot(sizes: np.ndarray, counts: np.ndarray | None = None) -> Figure:
    """Histogram of cluster sizes (number of records per golden record), log-y.

    One bar per size up to 50; beyond that, log-spaced bins on a log x axis. ``counts``: how many
    clusters have each size of ``sizes`` (the sizes are then distinct values, e.g. aggregated by
    the Spark engine); one cluster each when omitted.
    """
    s = np.asarray(sizes).ravel()
    w = np.ones(len(s), dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64).ravel()
    keep = s > 0
    s, w = s[keep].astype(np.int64), w[keep]
    fig, ax = _new_figure()
    if s.size == 0:
        _no_data(ax)
    else:
        max_size = int(s.max())
        if max_size <= 50:
            counts = np.bincount(s, weights=w, minlength=max_size + 1)[1:]
            xs = np.arange(1, max_size + 1)
            ax.bar(xs, counts, width=0.8, color=_MATCH_COLOR)
            ax.set_xticks(xs if max_size <= 20 else np.arange(1, max_size + 1, 5))
            ax.set_xlim(0.4, max_size + 0.6)
        else:
            edges = np.unique(np.round(np.logspace(0, math.log10(max_size + 1), 40)))
            edges = np.r_[edges, edges[-1] + 1] if edges[-1] <= max_size else edges
            counts, edges = np.histogram(s, bins=edges, weights=w)
            ax.stairs(counts, edges, fill=True, color=_MATCH_COLOR, alpha=0.8)
            ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.8)
        singletons = int(w[s == 1].sum())
        n_clusters = int(w.sum())
        ax.text(
            0.98,
            0.97,
            f"{_fmt_count(n_clusters)} clusters, {_fmt_count(int((s * w).sum()))} records\n"
            f"singletons: {_fmt_count(singletons)} ({100 * singletons / n_clusters:.1f}%)\n"
            f"largest cluster: {_fmt_count(max_size)}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=10,
            bbox=dict(boxstyle="round", fc="white", ec="grey", alpha=0.9),
        )
    ax.set_xlabel("Cluster size (records per golden record)")
    ax.set_ylabel("Number of clusters (log scale)")
    ax.set_title("Cluster size distribution")
    ax.grid(alpha=0.3, axis="y")
    return fig


def reliability_plot(table: pd.DataFrame, probabilities: np.ndarray, ece: float, brier: float,
                     threshold: float | None = None, hist_bins: int = 50, counts: np.ndarray | None = None) -> Figure:
    """Reliability diagram over a histogram of the predicted probabilities.

    ``table`` is :attr:`Calibration.table` (columns ``lower, upper, count, mean_predicted,
    observed_rate``). Upper panel: observed match rate against mean predicted probability per
    non-empty bin, point area growing with the bin's pair count (annotated), and the diagonal of
    perfect calibration. Lower panel: how many candidate pairs have each predicted probability
    (``hist_bins`` equal-width bins, log count), so a reader sees where the pairs are.
    """
    fig = Figure(figsize=(7.0, 7.5), dpi=100, layout="constrained")
    ax, hx = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    t = table[table["count"] > 0]
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    if len(t):
        x = t["mean_predicted"].to_numpy(dtype=float)
        y = t["observed_rate"].to_numpy(dtype=float)
        n = t["count"].to_numpy(dtype=float)
        ax.plot(x, y, color=_MATCH_COLOR, lw=1.2, alpha=0.7)
        # area from 20 to 400 points^2 on a log scale of the count
        size = 20 + 380 * np.log10(n) / max(float(np.log10(n.max())), 1.0)
        ax.scatter(x, y, s=size, color=_MATCH_COLOR, edgecolor="white", zorder=5, clip_on=False,
                   label="bin: observed vs predicted (area ~ log pairs)")
        for xi, yi, ni in zip(x, y, n):   # the pair count beside each point, inside the axes
            ax.annotate(_fmt_count(ni), (xi, yi), xytext=(-9 if xi > 0.8 else 9, -13 if yi > 0.9 else 7),
                        textcoords="offset points", ha="right" if xi > 0.8 else "left", fontsize=8,
                        color="#333333", bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    else:
        _no_data(ax, "no scored pairs")
    if threshold is not None and math.isfinite(threshold):
        for a in (ax, hx):
            a.axvline(threshold, color=_MARK_COLOR, ls=":", lw=1.3,
                      label=f"threshold {threshold:.3g}" if a is ax else None)
    fmt = lambda v: "n/a" if v is None or not math.isfinite(float(v)) else f"{float(v):.4f}"  # noqa: E731
    ax.set_title(f"Reliability of match probabilities (ECE = {fmt(ece)}, Brier = {fmt(brier)})\n"
                 "over the candidate pairs blocking produced", fontsize=11)
    ax.set_ylabel("Observed match rate (true duplicates in bin)")
    ax.set_xlim(-0.01, 1.01)   # a point at 0 or 1 is drawn whole
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)

    p = np.asarray(probabilities, dtype=np.float64).ravel()
    edges = np.linspace(0.0, 1.0, hist_bins + 1)
    counts, _ = np.histogram(p, bins=edges, weights=None if counts is None else np.asarray(counts).ravel())
    if counts.any():
        hx.stairs(counts, edges, fill=True, color=_MATCH_COLOR, alpha=0.6)
        hx.set_yscale("log")
        hx.set_ylim(0.8, float(counts.max()) * 3)
    else:
        _no_data(hx)
    hx.set_xlabel("Predicted match probability")
    hx.set_ylabel("Pairs (log scale)")
    hx.grid(alpha=0.3, which="major")
    return fig
