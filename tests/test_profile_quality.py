"""Quality on every seeder profile, in seconds: a change that helps one shape and hurts another fails.

Each profile's generator makes a few thousand records with their truth; the library
(:class:`golden_record.Linker`, the pipeline every job runs) fits the profile's
``config/examples/NAME.yaml`` at the default threshold (``auto``) and builds its golden records.
The bounds are issue 25's targets where the product meets them at this size; where it does not
yet, the bound is today's figure with a small margin and the gap is named (``make bench-quality``
measures every profile at 100,000 records).
"""
from __future__ import annotations

import numpy as np
import pytest

from golden_record.evaluation.calibration import AUTO_THRESHOLDS, MODEL_CHOICE_TOLERANCE, estimate, model_choice
from golden_record.evaluation.clusters import cluster_metrics
from golden_record.evaluation.pairs import threshold_metrics
from golden_record.linker import Linker
from golden_record.synthetic import profiles

#: profile -> (records, F1 at least, pairs completeness at least, |estimated - true| at most for
#: precision, recall, F1)
BOUNDS = {
    "citizens": (3_000, 0.98, 0.97, (0.03, 0.03, 0.03)),
    "people": (3_000, 0.98, 0.97, (0.03, 0.03, 0.03)),
    # a name, a date and a postcode only: movers and namesakes born the same day look alike, and the
    # model is over-confident about the class that holds both (precision estimated ~0.06 too high)
    "sparse": (3_000, 0.93, 0.97, (0.08, 0.03, 0.04)),
    # movers (new phone and new place): at 3,000 records EM kept them in one class with namesakes
    # until the split start followed the dependence inside a class (F1 0.82 before, 0.98 after)
    "crm": (3_000, 0.97, 0.96, (0.03, 0.03, 0.03)),
}


#: how far below the best threshold's F1 the default may be (target 0.01); sparse at 3,000 records:
#: its over-confident class puts the estimated optimum at 0.5 where the truth's is 0.8 (0.015 below)
THRESHOLD_GAP = {"sparse": 0.02}


@pytest.fixture(scope="module", params=sorted(BOUNDS))
def fitted(request):
    name = request.param
    rows = BOUNDS[name][0]
    profile = profiles.get(name)
    data = profile.generate(rows, profile.default_duplicate_rate or 0.2, 7)
    config = profile.config()
    truth = data.truth.set_index(config.data.truth.id_column)[config.data.truth.entity_column]
    linker = Linker(profile.config_path).fit(data.records, truth)
    return name, linker


def test_pairs_f1_completeness_and_threshold(fitted):
    name, linker = fitted
    _, min_f1, min_completeness, _ = BOUNDS[name]
    scored = linker.scored
    assert linker.config.threshold_source == "auto"
    metrics = linker.evaluate().metrics
    assert metrics["f1_score"] >= min_f1, (name, metrics)
    assert metrics["pairs_completeness"] >= min_completeness, (name, metrics)
    table = threshold_metrics(scored.probabilities, scored.labels, list(AUTO_THRESHOLDS), scored.total_true_pairs)
    below = float(table["f1_score"].max()) - metrics["f1_score"]
    assert below <= THRESHOLD_GAP.get(name, 0.01), (name, below, table.loc[table.f1_score.idxmax()])


def test_estimates_hold_against_the_truth(fitted):
    name, linker = fitted
    bounds = BOUNDS[name][3]
    scored = linker.scored
    metrics = linker.evaluate().metrics
    est = estimate(scored.probabilities, linker.config.threshold, missed=scored.outside)
    for key, got, bound in zip(("precision", "recall", "f1_score"), (est.precision, est.recall, est.f1), bounds):
        assert abs(got - metrics[key]) <= bound, (name, key, got, metrics[key])
    assert abs(est.pairs_completeness - metrics["pairs_completeness"]) <= 0.03, (name, est.pairs_completeness)


def test_golden_records_keep_what_the_pairs_found(fitted):
    name, linker = fitted
    scored = linker.scored
    labels = linker.cluster().clusters.labels
    clusters = cluster_metrics(labels, scored.entity)
    assert clusters["cluster_f1"] >= linker.evaluate().metrics["f1_score"] - 0.01, (name, clusters)
    people = np.unique(scored.entity).size
    # crm: the movers the model does not link at this size (see BOUNDS) stay golden records of their own
    assert abs(np.unique(labels).size - people) <= (0.1 if name == "crm" else 0.05) * people, \
        (name, np.unique(labels).size, people)


def test_an_estimate_off_by_more_than_the_bound_says_it_hangs_on_the_model_choice(fitted):
    """Never overconfident: where the estimates miss the truth by more than 0.03 (the sparse profile:
    namesakes and movers in one class), the runner-up class count must disagree by more than that
    too, which the run reports (tag estimated.model_choice, the interval in its progress line)."""
    name, linker = fitted
    scored = linker.scored
    metrics = linker.evaluate().metrics
    threshold = linker.config.threshold
    est = estimate(scored.probabilities, threshold, missed=scored.outside)
    choice = model_choice(scored.model, scored.vectors.levels, scored.vectors.agreed, scored.probabilities,
                          threshold, scored.outside, est)
    assert choice is not None
    off = max(abs(est.precision - metrics["precision"]), abs(est.recall - metrics["recall"]),
              abs(est.f1 - metrics["f1_score"]))
    if off > MODEL_CHOICE_TOLERANCE:
        assert choice.unsure, (name, off, choice)
        assert "hang on the class count" in choice.line(est)
    if name in ("citizens", "people"):             # clear profiles: both counts see the same
        assert choice.spread <= 0.01, (name, choice)
