"""Tests for golden_record.evaluation.pairs and golden_record.tracking.plots (pure Python, no database)."""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "use-cases" / "golden_record" / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from golden_record.tracking import plots  # noqa: E402
from golden_record.evaluation.pairs import Evaluation, evaluate, threshold_metrics  # noqa: E402

# --------------------------------------------------------------------------- fixtures

# Six candidate pairs, hand-computed below.  Two further true pairs were missed by blocking.
P6 = np.array([0.95, 0.90, 0.80, 0.60, 0.30, 0.10])
Y6 = np.array([1, 0, 1, 1, 0, 0])
TOTAL6 = 5
N_RECORDS6 = 10  # 45 possible pairs


def random_data(n: int = 3000, seed: int = 0, decimals: int | None = 2):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.15
    p = np.clip(rng.normal(0.3 + 0.45 * y, 0.22), 0.0, 1.0)
    if decimals is not None:
        p = np.round(p, decimals)  # many ties
    return p, y


# --------------------------------------------------------------------------- evaluate


def test_hand_computed_example():
    ev = evaluate(P6, Y6, threshold=0.7, total_true_pairs=TOTAL6, n_records=N_RECORDS6)
    assert isinstance(ev, Evaluation)
    # predicted matches: 0.95 (T), 0.90 (F), 0.80 (T)
    assert ev.confusion == {"tp": 2, "fp": 1, "fn": 3, "tn": 2}
    m = ev.metrics
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 5)  # over ALL 5 true pairs, not the 3 candidates
    assert m["f1_score"] == pytest.approx(0.5)
    assert (m["true_positives"], m["false_positives"], m["false_negatives"], m["true_negatives"]) == (2, 1, 3, 2)
    assert m["match_pairs"] == 3
    assert m["training_pairs"] == 6
    assert m["true_match_pairs"] == 5
    assert m["candidate_true_pairs"] == 3
    assert m["pairs_completeness"] == pytest.approx(0.6)
    assert m["reduction_ratio"] == pytest.approx(1 - 6 / 45)
    # AP: recall steps 0.2 at P=1, 0.2 at P=2/3, 0.2 at P=3/4
    assert m["average_precision"] == pytest.approx(0.2 * (1 + 2 / 3 + 3 / 4))
    # AUC: 7 of 9 (positive, negative) candidate pairs correctly ordered
    assert m["roc_auc"] == pytest.approx(7 / 9)
    assert ev.threshold == 0.7


def test_threshold_is_inclusive_and_ties():
    ev = evaluate(P6, Y6, 0.80, TOTAL6, N_RECORDS6)  # 0.80 exactly -> match
    assert ev.confusion["tp"] == 2 and ev.confusion["fp"] == 1
    ev = evaluate(P6, Y6, 0.8000001, TOTAL6, N_RECORDS6)
    assert ev.confusion["tp"] == 1 and ev.confusion["fp"] == 1
    # tied scores with different labels are classified together
    p = np.array([0.5, 0.5, 0.5, 0.2])
    y = np.array([True, False, True, False])
    ev = evaluate(p, y, 0.5, 2, 4)
    assert ev.confusion == {"tp": 2, "fp": 1, "fn": 0, "tn": 1}
    assert len(ev.pr_curve) == 2  # one row per distinct score


def test_arange_threshold_snaps():
    t = np.arange(0.0, 1.0, 0.05)[19]
    assert t != 0.95  # 0.9500000000000001: the float problem this guards against
    ev = evaluate(P6, Y6, t, TOTAL6, N_RECORDS6)
    assert ev.confusion["tp"] == 1  # the pair scored exactly 0.95 is a match
    assert ev.threshold == 0.95
    tab = threshold_metrics(P6, Y6, np.arange(0.0, 1.0, 0.05), TOTAL6)
    assert tab["true_positives"].iloc[19] == 1
    assert tab["threshold"].iloc[19] == 0.95


def test_nothing_classified_and_single_class():
    ev = evaluate(P6, Y6, 1.0, TOTAL6, N_RECORDS6)
    assert ev.metrics["match_pairs"] == 0
    assert ev.metrics["precision"] == 0.0
    assert ev.metrics["recall"] == 0.0
    assert ev.metrics["f1_score"] == 0.0
    ev = evaluate(np.array([0.2, 0.9]), np.array([0, 0]), 0.5, 0, 3)
    assert math.isnan(ev.metrics["roc_auc"])
    assert math.isnan(ev.metrics["average_precision"])
    assert ev.metrics["pairs_completeness"] == 1.0
    assert ev.metrics["recall"] == 0.0
    json.dumps(ev.to_dict(), allow_nan=False)  # NaN -> None


def test_to_dict_is_json_and_downsampled():
    p, y = random_data(5000, seed=3, decimals=None)
    ev = evaluate(p, y, 0.5, int(y.sum()) + 10, 10_000)
    assert len(ev.pr_curve) > 200
    d = ev.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["metrics"]["precision"] == pytest.approx(ev.metrics["precision"])
    assert back["confusion"] == ev.confusion
    for curve in ("pr_curve", "roc_curve"):
        assert all(len(v) <= 200 for v in back[curve].values())


def test_curves_shape_and_consistency():
    p, y = random_data(2000, seed=1)
    total = int(y.sum()) + 25
    ev = evaluate(p, y, 0.5, total, 5000)
    pr = ev.pr_curve
    assert list(pr.columns) == ["threshold", "precision", "recall", "f1"]
    assert list(ev.roc_curve.columns) == ["threshold", "fpr", "tpr"]
    assert len(pr) == len(np.unique(p))
    assert (np.diff(pr["threshold"].to_numpy()) < 0).all()  # strictly descending
    assert pr["recall"].iloc[-1] == pytest.approx(ev.metrics["pairs_completeness"])
    for i in (0, 7, len(pr) // 2, len(pr) - 1):
        row = pr.iloc[i]
        e = evaluate(p, y, row["threshold"], total, 5000).metrics
        assert row["precision"] == e["precision"]
        assert row["recall"] == e["recall"]
        assert row["f1"] == e["f1_score"]


# --------------------------------------------------------------------------- threshold_metrics


def test_threshold_metrics_equals_evaluate_with_ties():
    p, y = random_data(3000, seed=7, decimals=2)
    total = int(y.sum()) + 41
    thresholds = np.r_[np.arange(0.0, 1.0, 0.01), 1.0, np.unique(p)]
    tab = threshold_metrics(p, y, thresholds, total)
    assert list(tab.columns) == [
        "threshold", "precision", "recall", "f1_score",
        "match_pairs", "true_positives", "false_positives", "false_negatives",
    ]
    assert len(tab) == len(thresholds)
    for row in tab.itertuples(index=False):
        m = evaluate(p, y, row.threshold, total, 4000).metrics
        assert row.true_positives == m["true_positives"]
        assert row.false_positives == m["false_positives"]
        assert row.false_negatives == m["false_negatives"]
        assert row.match_pairs == m["match_pairs"]
        # identical code path -> exactly equal floats
        assert row.precision == m["precision"]
        assert row.recall == m["recall"]
        assert row.f1_score == m["f1_score"]
    # brute force with >= semantics (thresholds here are already round)
    for t in (0.0, 0.25, 0.5, 0.73, 1.0):
        pred = p >= t
        r = tab.loc[tab["threshold"] == t].iloc[0]
        assert r["true_positives"] == np.sum(pred & y)
        assert r["match_pairs"] == np.sum(pred)


@pytest.mark.bench
def test_threshold_metrics_is_vectorised():
    # 200k pairs x 5k thresholds: one pass per threshold would take far longer than this.
    p, y = random_data(200_000, seed=2, decimals=None)
    thresholds = np.linspace(0, 1, 5001)
    start = time.perf_counter()
    tab = threshold_metrics(p, y, thresholds, int(y.sum()))
    assert time.perf_counter() - start < 3.0
    assert len(tab) == 5001


# --------------------------------------------------------------------------- sklearn


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_when_blocking_is_complete(seed):
    p, y = random_data(2500, seed=seed, decimals=3 if seed else None)
    total = int(y.sum())
    for t in (0.1, 0.35, 0.5, 0.62, 0.9):
        m = evaluate(p, y, t, total, 3000).metrics
        pred = p >= t
        assert m["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
        assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
        assert m["f1_score"] == pytest.approx(skm.f1_score(y, pred))
        tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
        assert (m["true_negatives"], m["false_positives"], m["false_negatives"], m["true_positives"]) == (
            tn, fp, fn, tp)
    m = evaluate(p, y, 0.5, total, 3000).metrics
    assert m["average_precision"] == pytest.approx(skm.average_precision_score(y, p), rel=1e-12)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), rel=1e-12)


def test_average_precision_scales_with_missed_pairs():
    p, y = random_data(2000, seed=5)
    ap_full = evaluate(p, y, 0.5, int(y.sum()), 3000).metrics["average_precision"]
    ap_missed = evaluate(p, y, 0.5, 2 * int(y.sum()), 3000).metrics["average_precision"]
    assert ap_missed == pytest.approx(ap_full / 2)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(probabilities=P6[:5]), "equal length"),
        (dict(labels=np.array([1, 0, 2, 1, 0, 0])), "boolean-like"),
        (dict(labels=np.array(["a", "b", "c", "d", "e", "f"])), "boolean-like"),
        (dict(probabilities=np.array([0.95, 0.9, 1.2, 0.6, 0.3, 0.1])), r"\[0, 1\]"),
        (dict(probabilities=np.array([0.95, 0.9, np.nan, 0.6, 0.3, 0.1])), "NaN"),
        (dict(probabilities=np.array([0.95, 0.9, -0.1, 0.6, 0.3, 0.1])), r"\[0, 1\]"),
        (dict(threshold=1.5), "threshold"),
        (dict(threshold=-0.1), "threshold"),
        (dict(threshold=float("nan")), "threshold"),
        (dict(total_true_pairs=2), "total_true_pairs"),
        (dict(n_records=3), "possible pairs"),
        (dict(n_records=-1), "n_records"),
    ],
)
def test_evaluate_validation(kwargs, message):
    args = dict(probabilities=P6, labels=Y6, threshold=0.5, total_true_pairs=TOTAL6, n_records=N_RECORDS6)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        evaluate(**args)


def test_threshold_metrics_validation():
    with pytest.raises(ValueError, match="thresholds"):
        threshold_metrics(P6, Y6, [0.5, 1.01], TOTAL6)
    with pytest.raises(ValueError, match="total_true_pairs"):
        threshold_metrics(P6, Y6, [0.5], 1)
    with pytest.raises(ValueError, match="equal length"):
        threshold_metrics(P6, Y6[:3], [0.5], TOTAL6)


def test_accepts_bool_like_inputs():
    a = evaluate(list(P6), [True, False, True, True, False, False], 0.7, TOTAL6, N_RECORDS6)
    b = evaluate(pd.Series(P6, dtype="float32"), pd.Series(Y6.astype(float)), 0.7, TOTAL6, N_RECORDS6)
    assert a.confusion == b.confusion == {"tp": 2, "fp": 1, "fn": 3, "tn": 2}


# --------------------------------------------------------------------------- plots


def _plot_cases():
    p, y = random_data(20_000, seed=11, decimals=None)
    total = int(y.sum()) + 100
    ev = evaluate(p, y, 0.6, total, 50_000)
    tab = threshold_metrics(p, y, np.round(np.arange(0.05, 1.0, 0.05), 2), total)
    weights = np.log2(np.clip(p, 1e-9, 1 - 1e-9) / np.clip(1 - p, 1e-9, None))
    m_u = pd.DataFrame(
        {
            "comparison": ["first_name"] * 3 + ["dob"] * 2,
            "level": ["exact", "close", "far", "exact", "else"],
            "m": [0.9, 0.07, 0.03, 0.97, 0.03],
            "u": [0.01, 0.05, 0.94, 0.0, 1.0],
        }
    )
    rng = np.random.default_rng(0)
    return {
        "confusion": lambda: plots.confusion_matrix_plot(ev.confusion, ev.threshold),
        "precision_recall": lambda: plots.precision_recall_plot(ev.pr_curve, ev.threshold, ev.metrics),
        "roc": lambda: plots.roc_plot(ev.roc_curve, ev.metrics["roc_auc"]),
        "roc_log": lambda: plots.roc_plot(ev.roc_curve, ev.metrics["roc_auc"], log_x=True),
        "weights": lambda: plots.weight_histogram_plot(weights, y, math.log2(0.6 / 0.4)),
        "m_u": lambda: plots.m_u_plot(m_u),
        "sweep": lambda: plots.threshold_sweep_plot(tab, 0.6),
        "clusters": lambda: plots.cluster_size_plot(np.r_[np.ones(900, int), rng.geometric(0.5, 200) + 1]),
        "clusters_large": lambda: plots.cluster_size_plot(np.r_[np.ones(900, int), [2] * 50, [120]]),
    }


PLOT_CASES = _plot_cases()


@pytest.mark.parametrize("name", sorted(PLOT_CASES))
def test_plot_saves_png(name, tmp_path):
    fig = PLOT_CASES[name]()
    ax = fig.axes[0]
    assert ax.get_title().strip()
    assert ax.get_xlabel().strip()
    assert ax.get_ylabel().strip()
    w, h = fig.get_size_inches()
    assert 5 <= w <= 8 and 3 <= h
    out = plots.save_figure(fig, tmp_path / "sub" / f"{name}.png")
    assert out.exists()
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000


def test_plot_legends_where_several_series():
    for name in ("precision_recall", "roc", "weights", "m_u", "sweep"):
        fig = PLOT_CASES[name]()
        assert fig.axes[0].get_legend() is not None or fig.legends, name


def test_plots_handle_degenerate_inputs(tmp_path):
    empty_pr = pd.DataFrame(columns=["threshold", "precision", "recall", "f1"], dtype=float)
    one_class = evaluate(np.array([0.2, 0.9]), np.array([0, 0]), 0.5, 0, 3)
    figs = [
        plots.precision_recall_plot(empty_pr, 0.5, {"precision": 0.0, "recall": 0.0}),
        plots.roc_plot(one_class.roc_curve, one_class.metrics["roc_auc"]),
        plots.weight_histogram_plot(np.array([]), np.array([], dtype=bool), None),
        plots.cluster_size_plot(np.array([], dtype=int)),
        plots.m_u_plot(pd.DataFrame(columns=["comparison", "level", "m", "u"])),
        plots.confusion_matrix_plot({"tp": 0, "fp": 0, "fn": 0, "tn": 0}, 0.5),
    ]
    for i, fig in enumerate(figs):
        plots.save_figure(fig, tmp_path / f"d{i}.png")
        assert (tmp_path / f"d{i}.png").stat().st_size > 0


def test_sweep_plot_y_axis_fits_the_curves():
    """A trade-off between 0.990 and 0.999 must show as one, not as a flat line at the top of 0..1."""
    thresholds = np.linspace(0.5, 0.99, 50)
    table = pd.DataFrame({"threshold": thresholds, "precision": 0.990 + 0.009 * (thresholds - 0.5) / 0.49,
                          "recall": 0.999 - 0.008 * (thresholds - 0.5) / 0.49})
    table["f1_score"] = 2 * table.precision * table.recall / (table.precision + table.recall)
    low, high = plots.threshold_sweep_plot(table, 0.9).axes[0].get_ylim()
    assert 0.985 < low < 0.990 and 0.999 < high < 1.003


def test_counted_rows_give_the_numbers_of_the_pairs_they_stand_for():
    """The Spark engine evaluates from (probability, label, pair count) aggregates: every metric,
    curve and threshold table is the one of the pairs expanded."""
    rng = np.random.default_rng(7)
    levels = rng.choice([0.01, 0.2, 0.5, 0.95, 0.999, 1.0], size=5_000)   # few distinct scores, as patterns give
    y = rng.random(5_000) < levels
    pairs = pd.DataFrame({"p": levels, "y": y})
    agg = pairs.groupby(["p", "y"]).size().reset_index(name="n").sample(frac=1.0, random_state=1)
    agg = pd.concat([agg, pd.DataFrame({"p": [0.3], "y": [True], "n": [0]})])   # a row with no pair counts nothing
    full = evaluate(levels, y, 0.95, total_true_pairs=int(y.sum()) + 40, n_records=4_000)
    counted = evaluate(agg["p"].to_numpy(), agg["y"].to_numpy(), 0.95, total_true_pairs=int(y.sum()) + 40,
                       n_records=4_000, counts=agg["n"].to_numpy())
    assert counted.metrics == full.metrics
    assert counted.metrics["training_pairs"] == 5_000
    pd.testing.assert_frame_equal(counted.pr_curve, full.pr_curve)
    pd.testing.assert_frame_equal(counted.roc_curve, full.roc_curve)
    grid = [0.1, 0.5, 0.95, 0.999]
    pd.testing.assert_frame_equal(
        threshold_metrics(agg["p"].to_numpy(), agg["y"].to_numpy(), grid, int(y.sum()) + 40, counts=agg["n"].to_numpy()),
        threshold_metrics(levels, y, grid, int(y.sum()) + 40))
    with pytest.raises(ValueError, match="counts"):
        evaluate(agg["p"].to_numpy(), agg["y"].to_numpy(), 0.95, int(y.sum()) + 40, 4_000, counts=-agg["n"].to_numpy())


def test_weight_histogram_of_counted_weights_draws_the_pairs_they_stand_for():
    """The Spark engine draws the histogram from distinct weights with their pair counts: the bars
    and the legend's n are those of the pairs expanded."""
    w = np.array([-8.0, -8.0, -8.0, 1.5, 9.0, 9.0])
    y = np.array([False, False, False, False, True, True])
    agg = pd.DataFrame({"w": w, "y": y}).groupby(["w", "y"]).size().reset_index(name="n")

    def drawn(fig):
        ax = fig.axes[0]
        return ([p.get_label() for p in ax.patches if not p.get_label().startswith("_")],
                [tuple(np.round(p.get_path().vertices.ravel(), 6)) for p in ax.patches])

    full = drawn(plots.weight_histogram_plot(w, y, 2.0))
    counted = drawn(plots.weight_histogram_plot(agg["w"].to_numpy(), agg["y"].to_numpy(), 2.0,
                                                counts=agg["n"].to_numpy()))
    assert counted == full
    assert "non-matches (n = 4)" in full[0] and "true matches (n = 2)" in full[0]
