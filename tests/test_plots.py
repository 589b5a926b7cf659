"""The match-weights chart (the model picture a person reads first) and the floor flag of the m/u
table it reads: fitted models of both types, and what the drawn figure shows (bars, hatching,
labels inside the axes, legend)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from golden_record.linkage.ecm import RecordLinkageECM
from golden_record.linkage.model import LEVEL_FLOOR, M_U_COLUMNS, FellegiSunter
from golden_record.tracking import plots

FLOOR = 1e-6
NAMES = ["name", "dob", "id"]
LABELS = [["far", "close", "exact"], ["different", "exact"], ["different", "exact"]]


def _levels(n: int = 20_000, share: float = 0.2, seed: int = 0) -> np.ndarray:
    """Pairs where a true match always agrees on ``id`` and two different people never do: EM can
    only put m(id: different) and u(id: exact) at the floor."""
    rng = np.random.default_rng(seed)
    match = rng.random(n) < share
    name = np.where(match, rng.choice(3, n, p=[0.05, 0.15, 0.8]), rng.choice(3, n, p=[0.8, 0.15, 0.05]))
    dob = np.where(match, rng.random(n) < 0.9, rng.random(n) < 0.05).astype(int)
    idf = match.astype(int)
    levels = np.stack([name, dob, idf], axis=1).astype(np.int8)
    levels[rng.random(n) < 0.1, 1] = -1                     # some missing dates
    return levels


@pytest.fixture(scope="module")
def fitted():
    levels = _levels()
    u_fixed = [np.array([0.8, 0.15, 0.05]), np.array([0.95, 0.05]), np.array([1.0 - 1e-10, 1e-10])]
    # EM run to a tight tolerance, so that the id levels reach the floor
    fs = FellegiSunter(NAMES, LABELS).fit(levels, u_fixed=u_fixed, related_classes=0, tolerance=1e-10,
                                          max_iterations=1000)
    ecm = RecordLinkageECM(NAMES, LABELS).fit(levels, tolerance=1e-9)
    return {"fellegi_sunter": fs, "recordlinkage_ecm": ecm}


@pytest.mark.parametrize("kind", ["fellegi_sunter", "recordlinkage_ecm"])
def test_m_u_table_flags_the_levels_at_the_floor(fitted, kind):
    """``at_floor`` is exactly the rows whose m or u is at the floor scoring clamps to (the csv and
    the chart read this one column); those are the id levels EM could only push to the floor."""
    table = fitted[kind].m_u_table()
    assert list(table.columns) == M_U_COLUMNS
    assert table["at_floor"].dtype == bool
    expected = (table["m"] <= FLOOR) | (table["u"] <= FLOOR)
    assert table["at_floor"].tolist() == expected.tolist()
    flagged = table[table["at_floor"]]
    assert set(flagged["comparison"]) == {"id"}, flagged
    id_rows = table[table["comparison"] == "id"].set_index("level")
    disagree = [lv for lv in id_rows.index if "different" in lv][0]
    if kind == "recordlinkage_ecm":          # EM pushes m(id: different) to the floor: a veto
        assert id_rows.loc[disagree, "at_floor"] and id_rows.loc[disagree, "weight"] < -15
    else:                                    # a match class keeps every level at LEVEL_FLOOR or more
        assert id_rows.loc[disagree, "m"] >= LEVEL_FLOOR and id_rows.loc[disagree, "weight"] > -7.5
        assert id_rows.loc[[lv for lv in id_rows.index if lv != disagree][0], "at_floor"]   # u(exact) ~ 0
    # an estimated level is not flagged: name exact is strong evidence the data really show
    name = table[(table["comparison"] == "name")]
    assert not name["at_floor"].any() and name["weight"].max() > 2


def _drawn(fig):
    """Lay the figure out as it is saved; returns the renderer."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw_without_rendering()
    return renderer


@pytest.mark.parametrize("kind", ["fellegi_sunter", "recordlinkage_ecm"])
def test_match_weights_plot_shows_every_level_the_prior_and_the_bounds(fitted, kind, tmp_path):
    model = fitted[kind]
    table = model.m_u_table()
    prior = float(np.log2(model.match_share / (1 - model.match_share)))
    fig = plots.match_weights_plot(table, prior)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    # the prior on top, then each comparison as a heading followed by its levels, in table order
    assert ticks[0].startswith("prior (match share ")
    expected = []
    for comp, group in table.groupby("comparison", sort=False):
        expected += [comp, *(f"  {lv}" for lv in group["level"])]
    assert ticks[1:] == expected
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)     # one bar per level, and the prior
    assert widths == sorted(round(w, 6) for w in [prior, *table["weight"]])
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == int(table["at_floor"].sum()) > 0
    # the values beside the bars: a bound says which way (m at the floor: at most; u: at least)
    texts = [t.get_text() for t in ax.texts]
    for row in table[table["at_floor"]].itertuples():
        sign = "\u2264 " if row.weight < 0 else "\u2265 "
        assert sign + f"{row.weight:+.2f}".replace("-", "\u2212") in texts
    assert f"{prior:+.2f}".replace("-", "\u2212") in texts
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any(t.startswith("estimate at floor: weight is a bound") for t in legend)
    assert {"for a match (m > u)", "against a match (m < u)"} <= set(legend)
    # every bar and every value label lies inside the axes (labels that fit, axes that fit the data)
    renderer = _drawn(fig)
    box = ax.get_window_extent(renderer)
    for t in ax.texts[:-1]:                     # the last text is the subtitle above the axes
        e = t.get_window_extent(renderer)
        assert box.x0 <= e.x0 and e.x1 <= box.x1, t.get_text()
    lo, hi = ax.get_xlim()
    assert lo < min(prior, table["weight"].min()) and hi > max(prior, table["weight"].max())
    assert ax.get_title() and ax.get_xlabel()
    out = plots.save_figure(fig, tmp_path / "match_weights.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_match_weights_plot_says_when_weights_do_not_add_up():
    """Two classes: prior + the bars is a pair's log odds; with related classes it is not, and the
    chart says so. No level at the floor: no bound in the legend."""
    table = pd.DataFrame({"comparison": ["a", "a"], "level": ["far", "exact"], "level_index": [0, 1],
                          "m": [0.1, 0.9], "u": [0.9, 0.1], "weight": [-3.17, 3.17], "at_floor": [False, False]})
    two = plots.match_weights_plot(table, -2.0)
    many = plots.match_weights_plot(table, -2.0, match_classes=2, non_match_classes=3)
    note = lambda fig: fig.axes[0].texts[-1].get_text()  # noqa: E731
    assert "= prior + the bar of its level" in note(two)
    assert "2 match and 3 non-match classes" in note(many) and "can differ" in note(many)
    legend = [t.get_text() for leg in two.legends for t in leg.get_texts()]
    assert not any("floor" in t for t in legend)
    assert not [p for p in two.axes[0].patches if p.get_hatch()]


def test_match_weights_plot_refuses_a_table_without_the_floor_flag():
    with pytest.raises(ValueError, match="at_floor"):
        plots.match_weights_plot(pd.DataFrame(columns=["comparison", "level", "weight"]), 0.0)


def test_m_u_plot_marks_values_below_the_floor():
    table = pd.DataFrame({"comparison": ["a", "a"], "level": ["far", "exact"], "m": [0.0, 1.0], "u": [1.0, 1e-9]})
    fig = plots.m_u_plot(table)
    assert len([p for p in fig.axes[0].patches if p.get_hatch()]) == 2
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any("floor" in t for t in legend)
