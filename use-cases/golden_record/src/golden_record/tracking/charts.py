"""Interactive charts as self-contained HTML pages (Vega-Lite, written with Altair), logged next to
the PNGs of :mod:`golden_record.tracking.plots`: hovering a bar or a point shows its numbers.

The MLflow UI shows an ``.html`` artifact inline, in a sandboxed frame that runs scripts but loads
nothing from the network, so every page carries the Vega, Vega-Lite and vega-embed scripts itself
(the bundle of ``vl-convert-python``, about 0.9 MB a page; made once per version and kept in the
user's cache folder, a few seconds the first time). Charts render as SVG.

* :func:`match_weights_chart`: log2 m/u per comparison level, with m, u and the candidate pairs at
  the level on hover;
* :func:`waterfall_chart`: how a pair's score adds up (prior, one bar per comparison);
* :func:`threshold_sweep_chart`: precision, recall and F1 against the threshold, counts on hover;
* :func:`blocking_chart`: pairs, new pairs and cumulative pairs per blocking pass, and with a ground
  truth the cumulative pairs completeness;
* :func:`profile_chart`: per field, the share of records holding a value before and after cleaning.

:func:`write_page` writes one page of charts (and HTML tables) to a file.
"""
from __future__ import annotations

import html
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

_MATCH, _NONMATCH, _PRIOR, _F1 = "#1f77b4", "#ff7f0e", "#7f7f7f", "#2ca02c"
_UP, _DOWN, _TOTAL = "#2ca02c", "#d62728", "#1f77b4"
WIDTH = 640
_bundle: str | None = None


def _cache_file(vl_version: str, converter: str) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "golden-record" / f"vega-embed-vl{vl_version}-vlc{converter}.js"


def javascript_bundle() -> str:
    """The vega-embed script with Vega and Vega-Lite, for Altair's Vega-Lite version: from memory
    (a forked process inherits it), else the cache file, else made by vl-convert and cached."""
    global _bundle
    if _bundle is not None:
        return _bundle
    import vl_convert as vlc
    from altair.utils._importers import vl_version_for_vl_convert

    version = vl_version_for_vl_convert()
    path = _cache_file(version, getattr(vlc, "__version__", "0"))
    try:
        _bundle = path.read_text(encoding="utf-8")
        return _bundle
    except OSError:
        pass
    _bundle = vlc.javascript_bundle(vl_version=version)
    try:                                        # a cache that cannot be written costs time, not the chart
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(_bundle, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.debug(f"the chart script bundle was not cached at {path}: {exc}")
    return _bundle


def _spec(chart) -> str:
    return json.dumps(chart.to_dict(validate=True), default=str)


def write_page(path: str | Path, title: str, parts: list, intro: str = "") -> Path:
    """A self-contained HTML page: ``title``, ``intro`` (text) and ``parts`` in order, each an
    Altair chart or a string of HTML (a table). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body, scripts = [], []
    for i, part in enumerate(parts):
        if isinstance(part, str):
            body.append(part)
            continue
        body.append(f'<div class="chart" id="chart{i}"></div>')
        scripts.append(f"vegaEmbed('#chart{i}', {_spec(part)}, {{renderer: 'svg', actions: false}})"
                       ".catch(function (e) { document.getElementById('chart" + str(i) +
                       "').textContent = 'the chart could not be drawn: ' + e; });")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>{html.escape(title)}</title>
<style>
 body {{ font-family: sans-serif; margin: 16px; color: #222; }}
 table {{ border-collapse: collapse; font-size: 13px; margin: 8px 0 20px 0; }}
 th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; vertical-align: top; }}
 th {{ background: #f3f3f3; }} td.text {{ text-align: left; }}
 .chart {{ margin: 12px 0 24px 0; }} p.intro {{ max-width: 70em; }}
</style>
<script type="text/javascript">
{javascript_bundle()}
</script>
</head>
<body>
<h2>{html.escape(title)}</h2>
{f'<p class="intro">{html.escape(intro)}</p>' if intro else ''}
{chr(10).join(body)}
<script type="text/javascript">
{chr(10).join(scripts)}
</script>
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def table_html(frame: pd.DataFrame, text_columns: tuple[str, ...] = ()) -> str:
    """A plain HTML table of ``frame`` (numbers right-aligned, ``text_columns`` left)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, values):
            if isinstance(value, float) and not np.isfinite(value):
                text = ""
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                text = f"{int(value):,}"
            else:
                text = str(value)
            cls = ' class="text"' if column in text_columns else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# --------------------------------------------------------------------------- the model
def level_counts(levels: np.ndarray, n_levels: list[int]) -> list[np.ndarray]:
    """Per comparison, the candidate pairs at each level (a missing value, -1, is not counted)."""
    return [np.bincount(levels[:, k][levels[:, k] >= 0].astype(np.int64), minlength=n)
            for k, n in enumerate(n_levels)]


def match_weights_chart(m_u: pd.DataFrame, prior_weight: float, pairs: list[np.ndarray] | None = None):
    """log2 m/u of every comparison level (``model.m_u_table()``), the prior on top; m, u, the
    weight and (``pairs``: :func:`level_counts`) the candidate pairs at the level on hover."""
    import altair as alt

    rows = m_u.copy()
    rows["row"] = rows["comparison"].astype(str) + ": " + rows["level"].astype(str)
    if pairs is not None:
        rows["pairs"] = [int(pairs[k][i]) for k, i in
                         zip(pd.factorize(rows["comparison"])[0], rows["level_index"].astype(int))]
    rows["kind"] = np.where(rows["weight"] >= 0, "for a match (m > u)", "against a match (m < u)")
    share = 1.0 / (1.0 + 2.0 ** -prior_weight)
    prior = pd.DataFrame([{"row": f"prior (match share {share:.2%})", "comparison": "prior", "level": "match share",
                           "weight": prior_weight, "m": np.nan, "u": np.nan, "kind": "prior: log2 odds of the match share",
                           "at_floor": False, **({"pairs": np.nan} if pairs is not None else {})}])
    data = pd.concat([prior, rows[prior.columns]], ignore_index=True)
    order = data["row"].tolist()
    tooltip = [alt.Tooltip("comparison:N"), alt.Tooltip("level:N"), alt.Tooltip("weight:Q", format="+.3f"),
               alt.Tooltip("m:Q", format=".5f"), alt.Tooltip("u:Q", format=".6f"),
               alt.Tooltip("at_floor:N", title="m or u at the floor (a bound)")]
    if pairs is not None:
        tooltip.insert(3, alt.Tooltip("pairs:Q", format=",", title="candidate pairs at this level"))
    bars = alt.Chart(data).mark_bar().encode(
        y=alt.Y("row:N", sort=order, title="comparison: level", axis=alt.Axis(labelLimit=260)),
        x=alt.X("weight:Q", title="match weight log2(m / u), bits: > 0 for a match, < 0 against"),
        color=alt.Color("kind:N", title=None, scale=alt.Scale(
            domain=["for a match (m > u)", "against a match (m < u)", "prior: log2 odds of the match share"],
            range=[_MATCH, _NONMATCH, _PRIOR]), legend=alt.Legend(orient="bottom", columns=1)),
        tooltip=tooltip)
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="black").encode(x="x:Q")
    return (bars + zero).properties(width=WIDTH, height=max(200, 17 * len(data)), title=alt.Title(
        "Match weights per comparison level, with the prior",
        subtitle="hover a bar: m, u" + (" and the candidate pairs at the level" if pairs is not None else "")))


def waterfall_chart(explanations: list, titles: list[str] | None = None):
    """One waterfall per :class:`~golden_record.linkage.explain.Explanation`, stacked: the prior,
    one bar per comparison (green raises the odds, red lowers them), the total; the threshold as a
    dashed line. Hover a bar: the two values, the level, the weight and the running total."""
    import altair as alt

    charts = []
    for k, expl in enumerate(explanations):
        level_of = dict(zip(expl.table["comparison"], expl.table["level"]))
        values_of = {r.comparison: (r.left, r.right) for r in expl.table.itertuples(index=False)}
        rows, running = [], 0.0
        for name, w in expl.steps():
            left, right = values_of.get(name, ("", ""))
            start = 0.0 if name == "prior" else running
            running += w
            rows.append({"step": name, "start": start, "end": start + w, "weight": w, "total": running,
                         "level": level_of.get(name, "match share" if name == "prior" else ""),
                         "left": "∅" if left is None else str(left), "right": "∅" if right is None else str(right),
                         "kind": "prior" if name == "prior" else "raises the odds" if w >= 0 else "lowers the odds"})
        rows.append({"step": "total", "start": 0.0, "end": expl.log2_odds, "weight": expl.log2_odds,
                     "total": expl.log2_odds, "level": f"probability {expl.probability:.4f}", "left": "", "right": "",
                     "kind": "total (match)" if expl.is_match else "total (not a match)"})
        data = pd.DataFrame(rows)
        threshold = float(np.log2(max(expl.threshold, 1e-15) / max(1 - expl.threshold, 1e-15)))
        bars = alt.Chart(data).mark_bar(stroke="black", strokeWidth=0.5).encode(
            x=alt.X("step:N", sort=data["step"].tolist(), title=None, axis=alt.Axis(labelAngle=-40, labelLimit=160)),
            y=alt.Y("start:Q", title="log2 odds of a match (bits)"), y2="end:Q",
            color=alt.Color("kind:N", title=None, scale=alt.Scale(
                domain=["prior", "raises the odds", "lowers the odds", "total (match)", "total (not a match)"],
                range=[_PRIOR, _UP, _DOWN, _TOTAL, _NONMATCH])),
            tooltip=[alt.Tooltip("step:N", title="comparison"), alt.Tooltip("left:N"), alt.Tooltip("right:N"),
                     alt.Tooltip("level:N"), alt.Tooltip("weight:Q", format="+.2f", title="weight (bits)"),
                     alt.Tooltip("total:Q", format="+.2f", title="running total (bits)")])
        rule = alt.Chart(pd.DataFrame({"y": [threshold], "label": [f"threshold {expl.threshold:g}"]})).mark_rule(
            strokeDash=[6, 4], color="black").encode(y="y:Q", tooltip=["label:N"])
        title = titles[k] if titles else (f"Pair {expl.left_id} – {expl.right_id}: probability {expl.probability:.4f} "
                                          f"at threshold {expl.threshold:g}")
        charts.append((bars + rule).properties(width=WIDTH, height=260, title=title))
    if not charts:
        return None
    return alt.vconcat(*charts).resolve_scale(color="shared")


def threshold_sweep_chart(table: pd.DataFrame, threshold: float | None, title: str, recall_label: str = "recall"):
    """Precision, recall and F1 (columns ``precision``, ``recall``, ``f1_score``) against
    ``threshold``; hover a point for the counts the table holds (``match_pairs``,
    ``true_positives``, ...). The y axis fits the curves; the run's threshold is a red rule."""
    import altair as alt

    names = {"precision": "precision", "recall": recall_label, "f1_score": "F1"}
    counts = [c for c in ("match_pairs", "true_positives", "false_positives", "false_negatives",
                          "expected_true_positives") if c in table.columns]
    long = table.melt(id_vars=["threshold"] + counts, value_vars=list(names), var_name="metric", value_name="value")
    long["metric"] = long["metric"].map(names)
    long = long[np.isfinite(long["value"].astype(float))]
    lo, hi = (float(long["value"].min()), float(long["value"].max())) if len(long) else (0.0, 1.0)
    pad = max(0.002, 0.08 * (hi - lo))
    tooltip = [alt.Tooltip("threshold:Q", format=".3f"), alt.Tooltip("metric:N"), alt.Tooltip("value:Q", format=".4f")]
    tooltip += [alt.Tooltip(f"{c}:Q", format=",.0f", title=c.replace("_", " ")) for c in counts]
    base = alt.Chart(long).encode(
        x=alt.X("threshold:Q", title="match probability threshold", scale=alt.Scale(zero=False)),
        y=alt.Y("value:Q", title="metric value", scale=alt.Scale(domain=[max(0.0, lo - pad), min(1.0, hi + pad)],
                                                                  zero=False)),
        color=alt.Color("metric:N", title=None, scale=alt.Scale(domain=list(names.values()),
                                                                range=[_MATCH, _NONMATCH, _F1])))
    layers = [base.mark_line(clip=True), base.mark_circle(size=28, clip=True).encode(tooltip=tooltip)]
    if threshold is not None:
        layers.append(alt.Chart(pd.DataFrame({"t": [threshold], "label": [f"the run's threshold {threshold:g}"]}))
                      .mark_rule(color="#d62728", strokeDash=[6, 4]).encode(x="t:Q", tooltip=["label:N"]))
    return alt.layer(*layers).properties(width=WIDTH, height=360, title=alt.Title(
        title, subtitle="hover a point: the counts at that threshold"))


# --------------------------------------------------------------------------- data and blocking
def blocking_chart(table: pd.DataFrame, records: int | None = None):
    """Per pass in order (:func:`golden_record.linkage.pass_table.pass_table`): its pairs and the
    new pairs it adds (bars), the cumulative pairs (line); with a ground truth a second panel, the
    cumulative pairs completeness. Hover for every number of the row."""
    import altair as alt

    data = table.copy()
    data["order"] = np.arange(1, len(data) + 1)
    data["label"] = [f"{i}. {p}" for i, p in zip(data["order"], data["pass"])]
    order = data["label"].tolist()
    tooltip = [alt.Tooltip("pass:N"), alt.Tooltip("pairs:Q", format=","),
               alt.Tooltip("new_pairs:Q", format=",", title="new pairs"),
               alt.Tooltip("cumulative_pairs:Q", format=",", title="cumulative pairs"),
               alt.Tooltip("blocks:Q", format=","), alt.Tooltip("largest_block:Q", format=",", title="largest block"),
               alt.Tooltip("largest_block_key:N", title="its key"),
               alt.Tooltip("skipped_blocks:Q", format=",", title="blocks skipped (too large)")]
    truth = "pairs_completeness" in data.columns
    if truth:
        data["true_pairs"] = data["true_pairs"].astype("float")
        tooltip += [alt.Tooltip("true_pairs:Q", format=",", title="true pairs in the pass"),
                    alt.Tooltip("new_true_pairs:Q", format=",", title="new true pairs"),
                    alt.Tooltip("pairs_completeness:Q", format=".4f", title="cumulative pairs completeness")]
    if records:
        data["pairs_per_record"] = data["cumulative_pairs"] / records
        tooltip.append(alt.Tooltip("pairs_per_record:Q", format=".2f", title="cumulative pairs per record"))
    long = data[["label", "pairs", "new_pairs"]].melt(id_vars=["label"], var_name="what", value_name="count")
    long = long.merge(data, on="label")           # every number of the row, for the tooltip
    long["what"] = long["what"].map({"pairs": "pairs of the pass", "new_pairs": "new pairs (no earlier pass)"})
    x = alt.X("label:N", sort=order, title="blocking pass, in order", axis=alt.Axis(labelAngle=-30, labelLimit=240))
    bars = alt.Chart(long).mark_bar().encode(
        x=x, xOffset=alt.XOffset("what:N"), y=alt.Y("count:Q", title="candidate pairs"),
        color=alt.Color("what:N", title=None, scale=alt.Scale(range=[_MATCH, _NONMATCH])), tooltip=tooltip)
    line = alt.Chart(data).mark_line(point=True, color="black").encode(
        x=x, y=alt.Y("cumulative_pairs:Q", title="candidate pairs"), tooltip=tooltip)
    top = (bars + line).properties(width=WIDTH, height=300, title=alt.Title(
        "Candidate pairs per blocking pass", subtitle="bars: the pass's pairs and those it adds; line: cumulative "
        "pairs after the pass (hover for the numbers)"))
    if not truth:
        return top
    low, high = float(data["pairs_completeness"].min()), float(data["pairs_completeness"].max())
    pad = max(0.005, 0.1 * (high - low))
    completeness = alt.Chart(data).mark_line(point=True, color=_F1).encode(
        x=x, y=alt.Y("pairs_completeness:Q", title="cumulative pairs completeness",
                     scale=alt.Scale(domain=[max(0.0, low - pad), min(1.0, high + pad)], zero=False)),
        tooltip=tooltip).properties(width=WIDTH, height=220, title=alt.Title(
            "Share of the true pairs the passes so far reach", subtitle="against the ground truth (data.truth)"))
    return alt.vconcat(top, completeness)


def profile_chart(summaries: list):
    """Per field (:class:`~golden_record.linkage.profiling.FieldSummary`), the share of records
    holding a value before and after cleaning; hover for the counts and the distinct values."""
    import altair as alt

    rows = []
    for s in summaries:
        for when, count in (("before cleaning", s.present_before), ("after cleaning", s.present_after)):
            rows.append({"field": s.field, "type": s.type, "when": when, "share": s.share(count), "records": count,
                         "distinct": s.distinct, "dropped": s.dropped})
    data = pd.DataFrame(rows)
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("field:N", sort=[s.field for s in summaries], title="field"), yOffset="when:N",
        x=alt.X("share:Q", title="share of records holding a value", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("when:N", title=None, sort=["before cleaning", "after cleaning"],
                        scale=alt.Scale(range=[_PRIOR, _MATCH])),
        tooltip=[alt.Tooltip("field:N"), alt.Tooltip("type:N"), alt.Tooltip("when:N"),
                 alt.Tooltip("share:Q", format=".2%"), alt.Tooltip("records:Q", format=","),
                 alt.Tooltip("distinct:Q", format=",", title="distinct after cleaning"),
                 alt.Tooltip("dropped:Q", format=",", title="dropped by cleaning")]
    ).properties(width=WIDTH, height=max(160, 34 * len(summaries)), title=alt.Title(
        "Values present before and after cleaning", subtitle="hover a bar for the counts"))


# --------------------------------------------------------------------------- pages
def profile_page(path: str | Path, summaries: list, title: str, intro: str = "") -> Path:
    """The profile of a table's fields (:mod:`golden_record.linkage.profiling`): the chart of the
    values present, and one table row per field with its most frequent values."""
    rows = []
    for s in summaries:
        top = "; ".join(f"{value} ({s.share(count):.2%})" for value, count in s.top)
        rows.append({"field": s.field, "type": s.type, "present before": f"{s.share(s.present_before):.2%}",
                     "present after": f"{s.share(s.present_after):.2%}", "dropped by cleaning": s.dropped,
                     "distinct": s.distinct,
                     "length median / p95 / max": "" if s.length_median is None else
                     f"{s.length_median:g} / {s.length_p95:g} / {s.length_max:g}",
                     "tokens median / max": "" if s.tokens_median is None else f"{s.tokens_median:g} / {s.tokens_max:g}",
                     "pairs/record blocking on it alone": f"{s.pairs_per_record:.2f}",
                     "most frequent values (share of records)": top})
    frame = pd.DataFrame(rows)
    return write_page(path, title, [profile_chart(summaries),
                                    table_html(frame, ("field", "type", "most frequent values (share of records)"))],
                      intro)


def blocking_page(path: str | Path, table: pd.DataFrame, title: str, intro: str = "",
                  records: int | None = None) -> Path:
    """The blocking passes in order (:func:`golden_record.linkage.pass_table.pass_table`): the
    chart and the table."""
    return write_page(path, title, [blocking_chart(table, records), table_html(table, ("pass", "largest_block_key"))],
                      intro)
