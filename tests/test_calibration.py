"""Calibration (reliability table, ECE, Brier) and the truth-free estimates of precision, recall and
F1, checked against hand computations and against data whose calibration is known."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from golden_record.evaluation.calibration import calibrate, estimate, estimates_at
from golden_record.evaluation.pairs import evaluate, threshold_metrics
from golden_record.tracking import plots

# Eight scored pairs, all inside a bin (none on an edge), 10 bins of width 0.1:
#   p: 0.02  0.12  0.18  0.35  0.75  0.85  0.95  1.00
#   y:  0     0     1     0     1     1     0     1
#   bin  0     1     1     3     7     8     9     9      (1.0 goes to the last bin)
P = np.array([0.02, 0.12, 0.18, 0.35, 0.75, 0.85, 0.95, 1.0])
Y = np.array([0, 0, 1, 0, 1, 1, 0, 1], dtype=bool)


def test_reliability_table_by_hand():
    cal = calibrate(P, Y)
    t = cal.table
    assert list(t.columns) == ["bin", "lower", "upper", "count", "true_matches", "mean_predicted", "observed_rate"]
    assert len(t) == 10 and t["lower"].iloc[0] == 0.0 and t["upper"].iloc[-1] == 1.0
    assert t["count"].tolist() == [1, 2, 0, 1, 0, 0, 0, 1, 1, 2]
    assert t["true_matches"].tolist() == [0, 1, 0, 0, 0, 0, 0, 1, 1, 1]
    # bin 1: (0.12 + 0.18) / 2 = 0.15, one of two true; bin 9: (0.95 + 1.0) / 2 = 0.975, one of two
    filled = t[t["count"] > 0]
    assert filled["mean_predicted"].tolist() == pytest.approx([0.02, 0.15, 0.35, 0.75, 0.85, 0.975])
    assert filled["observed_rate"].tolist() == pytest.approx([0.0, 0.5, 0.0, 1.0, 1.0, 0.5])
    # empty bins: count 0, no mean (NaN), never a made-up 0
    assert t.loc[t["count"] == 0, ["mean_predicted", "observed_rate"]].isna().all().all()
    assert cal.pairs == 8


def test_ece_and_brier_by_hand():
    cal = calibrate(P, Y)
    # ECE = sum over filled bins of count * |observed - predicted| / 8
    #     = (1*0.02 + 2*0.35 + 1*0.35 + 1*0.25 + 1*0.15 + 2*0.475) / 8 = 2.42 / 8 = 0.3025
    assert cal.ece == pytest.approx(0.3025)
    # Brier = mean (p - y)^2 = (0.0004 + 0.0144 + 0.6724 + 0.1225 + 0.0625 + 0.0225 + 0.9025 + 0) / 8
    #       = 1.7972 / 8 = 0.22465
    assert cal.brier == pytest.approx(0.22465)
    assert cal.metrics() == pytest.approx({"calibration_ece": 0.3025, "calibration_brier": 0.22465})


def test_fewer_bins_and_values_on_edges():
    # 4 bins [0, .25) [.25, .5) [.5, .75) [.75, 1]: an edge value belongs to the bin it opens
    cal = calibrate(np.array([0.0, 0.25, 0.5, 0.75, 1.0]), np.array([0, 0, 1, 1, 1]), bins=4)
    assert cal.table["count"].tolist() == [1, 1, 1, 2]
    # per bin |observed - predicted|: 0, 0.25, 0.5, |1 - 0.875| = 0.125 (x2) -> (0 + .25 + .5 + .25) / 5
    assert cal.ece == pytest.approx(0.2)
    # ten bins: 0.1 and 0.5 open bins 1 and 5
    counts = calibrate(np.array([0.1, 0.5]), np.array([0, 1])).table["count"].tolist()
    assert counts == [0, 1, 0, 0, 0, 1, 0, 0, 0, 0]


def test_perfect_and_worst_calibration():
    sure = calibrate(np.array([0.0, 0.0, 1.0]), np.array([0, 0, 1]))
    assert sure.ece == 0.0 and sure.brier == 0.0
    wrong = calibrate(np.array([0.0, 1.0]), np.array([1, 0]))
    assert wrong.ece == 1.0 and wrong.brier == 1.0


def test_known_calibration_on_simulated_pairs():
    """Labels drawn with exactly the stated probability: ECE near 0 and Brier near E[p(1-p)] = 1/6;
    labels drawn with probability p^2 (an over-confident model): ECE near the integral of p - p^2
    = 1/6 (with 10 bins of centre c: sum of (c - c^2 - 0.01/12) / 10 = 0.1667 as well)."""
    rng = np.random.default_rng(3)
    p = rng.random(400_000)
    good = calibrate(p, rng.random(p.size) < p)
    assert good.ece < 0.005
    assert good.brier == pytest.approx(1 / 6, abs=0.003)
    over = calibrate(p, rng.random(p.size) < p ** 2)
    assert over.ece == pytest.approx(1 / 6, abs=0.005)
    t = over.table
    assert (t["observed_rate"] < t["mean_predicted"]).iloc[1:-1].all()   # observed below predicted inside


def test_calibration_input_errors_and_empty():
    empty = calibrate(np.array([]), np.array([], dtype=bool))
    assert math.isnan(empty.ece) and math.isnan(empty.brier) and empty.metrics() == {}
    assert empty.table["count"].sum() == 0
    with pytest.raises(ValueError, match="equal length"):
        calibrate(P, Y[:3])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibrate(np.array([0.5, 1.5]), np.array([0, 1]))
    with pytest.raises(ValueError, match="bins"):
        calibrate(P, Y, bins=0)


# --------------------------------------------------------------------------- estimates


def test_estimates_by_hand():
    # threshold 0.8: predicted matches 0.85, 0.95, 1.0 -> 3 pairs, expected true positives 2.8;
    # all probabilities sum to 0.02+0.12+0.18+0.35+0.75+0.85+0.95+1.0 = 4.22
    est = estimate(P, 0.8)
    assert est.predicted_matches == 3
    assert est.expected_true_positives == pytest.approx(2.8) and est.expected_true_pairs == pytest.approx(4.22)
    assert est.precision == pytest.approx(2.8 / 3)                  # 0.9333
    assert est.recall == pytest.approx(2.8 / 4.22)                  # 0.6635
    assert est.f1 == pytest.approx(2 * 2.8 / (3 + 4.22))            # 0.7756 = 2PR / (P + R)
    p, r = 2.8 / 3, 2.8 / 4.22
    assert est.f1 == pytest.approx(2 * p * r / (p + r))
    assert est.undefined is None
    assert est.metrics() == pytest.approx({"estimated_precision": p, "estimated_recall": r,
                                           "estimated_f1": 2 * p * r / (p + r)})
    # the project's rule: probability >= threshold, so 0.75 is a match at 0.75
    at = estimate(P, 0.75)
    assert at.predicted_matches == 4 and at.expected_true_positives == pytest.approx(3.55)


def test_no_predicted_match_leaves_precision_undefined():
    est = estimate(P, 1.0 - 1e-13)      # snapped to 1.0: only the pair at exactly 1.0
    assert est.predicted_matches == 1
    none = estimate(P[:-1], 0.99)         # nothing reaches 0.99
    assert none.predicted_matches == 0 and math.isnan(none.precision)
    # no match found: the model expects to find none of the 3.22 expected true pairs
    assert none.recall == 0.0 and none.f1 == 0.0
    assert "estimated_precision" not in none.metrics() and set(none.metrics()) == {"estimated_recall", "estimated_f1"}
    assert "estimated_precision" in none.undefined and "0.99" in none.undefined and "7 candidate" in none.undefined


def test_zero_probability_mass_and_no_pairs():
    zero = estimate(np.zeros(5), 0.5)
    assert math.isnan(zero.precision) and math.isnan(zero.recall) and math.isnan(zero.f1)
    assert zero.metrics() == {} and "sum to 0" in zero.undefined
    empty = estimate(np.array([]), 0.5)
    assert empty.metrics() == {} and empty.candidate_pairs == 0 and "estimated_f1" in empty.undefined


def test_estimates_at_many_thresholds_equal_one_at_a_time():
    rng = np.random.default_rng(5)
    p = np.round(rng.beta(0.3, 0.3, 50_000), 3)          # ties and values on the thresholds
    thresholds = [0.05, 0.5, 0.95, 0.9500000000000001, 0.999, 1.0]
    tab = estimates_at(p, thresholds)
    assert tab["threshold"].tolist() == [0.05, 0.5, 0.95, 0.95, 0.999, 1.0]
    for row in tab.itertuples():
        one = estimate(p, row.threshold)
        assert row.predicted_matches == one.predicted_matches
        for a, b in ((row.estimated_precision, one.precision), (row.estimated_recall, one.recall),
                     (row.estimated_f1, one.f1)):
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9)
    # nothing at 1.0 (Beta samples rounded to 3 decimals may reach 1.0: then it is defined)
    assert (tab["predicted_matches"].iloc[-1] == 0) == math.isnan(tab["estimated_precision"].iloc[-1])


def test_estimates_recover_the_truth_when_probabilities_are_calibrated():
    """Labels drawn with the stated probabilities: the estimates are the truth among the pairs."""
    rng = np.random.default_rng(9)
    p = np.concatenate([rng.beta(0.2, 8, 300_000), rng.beta(8, 0.3, 20_000)])   # mostly non-matches
    y = rng.random(p.size) < p
    est = estimate(p, 0.9)
    truth = evaluate(p, y, 0.9, int(y.sum()), 1_000_000).metrics
    assert est.precision == pytest.approx(truth["precision"], abs=0.005)
    assert est.recall == pytest.approx(truth["recall"], abs=0.01)
    assert est.f1 == pytest.approx(truth["f1_score"], abs=0.01)


# --------------------------------------------------------------------------- the plot


def _png(fig, path):
    out = plots.save_figure(fig, path)
    with Image.open(out) as img:
        img.verify()
    with Image.open(out) as img:
        return img.size, out.stat().st_size


def test_reliability_plot(tmp_path):
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.beta(0.3, 6, 50_000), rng.beta(6, 0.3, 2_000)])
    cal = calibrate(p, rng.random(p.size) < p)
    fig = plots.reliability_plot(cal.table, p, cal.ece, cal.brier, threshold=0.95)
    top, hist = fig.axes[:2]
    assert f"ECE = {cal.ece:.4f}" in top.get_title() and f"Brier = {cal.brier:.4f}" in top.get_title()
    assert top.get_xlim() == pytest.approx((-0.01, 1.01)) and top.get_ylabel() and hist.get_xlabel() and hist.get_yscale() == "log"
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert "perfect calibration" in legend and any("threshold 0.95" in t for t in legend)
    # every non-empty bin annotated with its pair count
    notes = {t.get_text() for t in top.texts}
    assert {f"{int(n):,}" for n in cal.table["count"] if n > 0} <= notes
    (w, h), size = _png(fig, tmp_path / "reliability.png")
    assert 500 < w < 1200 and 500 < h < 1200 and size > 20_000


def test_reliability_plot_degenerate(tmp_path):
    empty = calibrate(np.array([]), np.array([], dtype=bool))
    fig = plots.reliability_plot(empty.table, np.array([]), empty.ece, empty.brier)
    assert "ECE = n/a" in fig.axes[0].get_title()
    _png(fig, tmp_path / "empty.png")
    one = calibrate(np.array([0.97]), np.array([True]))
    _png(plots.reliability_plot(one.table, np.array([0.97]), one.ece, one.brier, 0.95), tmp_path / "one.png")


def test_progress_line_says_undefined_not_zero():
    from golden_record.jobs.train import estimate_line

    none = estimate(P[:-1], 0.99)
    assert estimate_line(none).startswith("estimated precision n/a, recall 0.000, F1 0.000")
    truth = {"precision": 0.9, "recall": 0.45, "f1_score": 0.6, "pairs_completeness": 0.9}
    cal = calibrate(P, Y)
    line = estimate_line(estimate(P, 0.8), truth, cal)
    assert "precision 0.933 (true 0.900)" in line and "among candidate pairs 0.500" in line
    # the Brier score is 0.22465 by hand: which way its 4th digit rounds depends on the summation order
    assert abs(cal.brier - 0.22465) < 1e-12
    assert "F1 0.776 (true 0.600)" in line and f"ECE 0.3025, Brier {cal.brier:.4f}" in line


def test_counted_probabilities_give_the_numbers_of_the_pairs_they_stand_for():
    """The Spark engine calibrates and estimates from (probability, label, pair count) aggregates."""
    rng = np.random.default_rng(3)
    p = rng.choice([0.0, 0.02, 0.3, 0.55, 0.9, 0.97, 1.0], size=4_000)
    y = rng.random(4_000) < p
    agg = pd.DataFrame({"p": p, "y": y}).groupby(["p", "y"]).size().reset_index(name="n")
    full, counted = calibrate(p, y), calibrate(agg["p"].to_numpy(), agg["y"].to_numpy(), counts=agg["n"].to_numpy())
    pd.testing.assert_frame_equal(counted.table, full.table, check_exact=False, rtol=1e-12)
    assert counted.pairs == full.pairs == 4_000
    assert counted.ece == pytest.approx(full.ece, rel=1e-12) and counted.brier == pytest.approx(full.brier, rel=1e-12)
    for t in (0.5, 0.95):
        a, b = estimate(p, t), estimate(agg["p"].to_numpy(), t, counts=agg["n"].to_numpy())
        assert (a.predicted_matches, a.candidate_pairs) == (b.predicted_matches, b.candidate_pairs)
        assert b.precision == pytest.approx(a.precision, rel=1e-12) and b.f1 == pytest.approx(a.f1, rel=1e-12)
    pd.testing.assert_frame_equal(estimates_at(agg["p"].to_numpy(), [0.1, 0.5, 0.95], counts=agg["n"].to_numpy()),
                                  estimates_at(p, [0.1, 0.5, 0.95]), check_exact=False, rtol=1e-12)


# --------------------------------------------------------------------------- match_threshold: auto
def test_auto_threshold_is_near_the_best_true_f1_when_probabilities_are_calibrated():
    """Labels drawn with the stated probabilities: the threshold of the best estimated F1 gives a
    true F1 within 0.01 of the best threshold's, on two differently shaped score distributions."""
    from golden_record.evaluation.calibration import AUTO_THRESHOLDS, choose_threshold

    rng = np.random.default_rng(3)
    shapes = {"clean": np.concatenate([rng.beta(0.2, 8, 200_000), rng.beta(8, 0.3, 20_000)]),
              "hard": np.concatenate([rng.beta(0.5, 6, 200_000), rng.beta(2, 1.2, 20_000)])}
    for name, p in shapes.items():
        y = rng.random(p.size) < p
        choice = choose_threshold(p)
        true = threshold_metrics(p, y, list(AUTO_THRESHOLDS), int(y.sum()))
        best = float(true["f1_score"].max())
        at_choice = float(true.loc[np.isclose(true["threshold"], choice.threshold), "f1_score"].iloc[0])
        assert at_choice >= best - 0.01, (name, choice, best, at_choice)
        assert choice.threshold in AUTO_THRESHOLDS and "estimated F1" in choice.note


def test_auto_threshold_keeps_one_half_when_it_is_as_good_and_moves_when_it_is_not():
    from golden_record.evaluation.calibration import choose_threshold

    # clear cases only: every threshold between the two modes gives the same F1, so 0.5 is kept
    p = np.concatenate([np.full(1000, 0.001), np.full(100, 0.999)])
    assert choose_threshold(p).threshold == 0.5
    # many pairs at 0.4: calibrated, F1 is higher with them (the F1-optimal threshold is F1 / 2 = 0.31)
    p = np.concatenate([np.full(1000, 0.001), np.full(200, 0.999), np.full(2000, 0.4)])
    assert choose_threshold(p).threshold == 0.4
    # ... and at 0.2 it is higher without them: 0.5 is as good as any threshold above 0.2
    p = np.concatenate([np.full(1000, 0.001), np.full(200, 0.999), np.full(2000, 0.2)])
    assert choose_threshold(p).threshold == 0.5
    # nothing looks like a match: 0.5, never a crash
    assert choose_threshold(np.zeros(10)).threshold == 0.5


def test_missed_pairs_count_in_the_estimated_recall():
    from golden_record.evaluation.outside import Missed

    p = np.array([0.9, 0.9, 0.1, 0.1])
    missed = Missed(expected=2.0, lower=1.0, upper=4.0, in_sample=2.0, sampled=100, outside_pairs=1000)
    est = estimate(p, 0.5, missed=missed)
    assert est.recall == pytest.approx(1.8 / 4.0)              # 1.8 expected true positives of 2.0 + 2.0
    assert est.pairs_completeness == pytest.approx(0.5)
    lo, hi = est.recall_interval()
    assert lo == pytest.approx(1.8 / 6.0) and hi == pytest.approx(1.8 / 3.0)
    m = est.metrics()
    assert m["estimated_missed_pairs"] == 2.0 and m["estimated_recall_lower"] < m["estimated_recall"] < \
        m["estimated_recall_upper"]
    assert "estimated_missed_pairs" not in estimate(p, 0.5).metrics()     # not estimated: not logged
