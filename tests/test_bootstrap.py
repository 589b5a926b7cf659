"""Bootstrap intervals with people as the resampling unit (pure numpy, no database, no MLflow)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from golden_record.evaluation.bootstrap import SAMPLE_COLUMNS, bootstrap_intervals
from golden_record.evaluation.pairs import evaluate

KEYS = ["precision_ci_low", "precision_ci_high", "recall_ci_low", "recall_ci_high", "f1_score_ci_low",
        "f1_score_ci_high"]


def synthetic(n_entities: int, n_records: int, false_pairs: int, seed: int = 1, missed: float = 0.05):
    """Entities with 1-4 records; candidate pairs = most true pairs (some missed by 'blocking') plus
    random pairs of different people; match probabilities noisy but informative."""
    rng = np.random.default_rng(seed)
    entity = np.sort(np.concatenate([np.arange(n_entities), rng.choice(n_entities, n_records - n_entities)]))
    # every within-entity pair, vectorised: for each record, pair it with the later records of its entity
    starts = np.searchsorted(entity, entity, side="left")
    ends = np.searchsorted(entity, entity, side="right")
    pos = np.arange(len(entity))
    later = ends - pos - 1
    left = np.repeat(pos, later)
    offsets = np.arange(len(left)) - np.repeat(np.cumsum(later) - later, later)
    right = left + 1 + offsets
    assert np.all(entity[left] == entity[right]) and np.all(starts <= pos)
    keep = rng.random(len(left)) >= missed
    left, right = left[keep], right[keep]
    fl, fr = rng.integers(0, len(entity), false_pairs), rng.integers(0, len(entity), false_pairs)
    ok = entity[fl] != entity[fr]
    left, right = np.concatenate([left, fl[ok]]), np.concatenate([right, fr[ok]])
    labels = entity[left] == entity[right]
    noise = rng.random(len(labels)) < 0.02
    p = np.where(labels, rng.beta(30, 1, len(labels)), np.where(noise, rng.beta(6, 1, len(labels)),
                                                                 rng.beta(1, 100, len(labels))))
    return p, labels, entity[left], entity[right], entity


def _total_true(entity):
    _, k = np.unique(entity, return_counts=True)
    return int((k * (k - 1) // 2).sum())


@pytest.fixture(scope="module")
def data():
    return synthetic(3_000, 4_000, 30_000)


def test_point_estimate_equals_evaluation_and_lies_inside_the_interval(data):
    p, y, le, re_, ent = data
    res = bootstrap_intervals(p, y, le, re_, ent, 0.9, iterations=1000, seed=3)
    ev = evaluate(p, y, 0.9, _total_true(ent), len(ent)).metrics
    assert set(res.metrics) == set(KEYS)
    for m in ("precision", "recall", "f1_score"):
        assert res.point[m] == pytest.approx(ev[m], abs=1e-12)  # missed true pairs count in recall
        assert res.metrics[f"{m}_ci_low"] <= res.point[m] <= res.metrics[f"{m}_ci_high"]
        assert res.metrics[f"{m}_ci_low"] < res.metrics[f"{m}_ci_high"]
        # the resampled values centre on the point estimate
        assert abs(res.samples[m].mean() - res.point[m]) < (res.metrics[f"{m}_ci_high"] - res.metrics[f"{m}_ci_low"])
    assert list(res.samples.columns) == SAMPLE_COLUMNS
    assert len(res.samples) == 1000 and res.samples["iteration"].tolist() == list(range(1000))
    assert res.entities == len(np.unique(ent))


def test_deterministic_with_seed(data):
    a = bootstrap_intervals(*data, 0.9, iterations=300, seed=7)
    b = bootstrap_intervals(*data, 0.9, iterations=300, seed=7)
    c = bootstrap_intervals(*data, 0.9, iterations=300, seed=8)
    assert a.metrics == b.metrics
    assert a.samples.equals(b.samples)
    assert not a.samples.equals(c.samples)


def test_narrower_with_more_entities():
    small = bootstrap_intervals(*synthetic(400, 540, 4_000, seed=2), 0.9, iterations=500, seed=0)
    large = bootstrap_intervals(*synthetic(20_000, 27_000, 200_000, seed=2), 0.9, iterations=500, seed=0)
    for m in ("precision", "recall", "f1_score"):
        w_small = small.metrics[f"{m}_ci_high"] - small.metrics[f"{m}_ci_low"]
        w_large = large.metrics[f"{m}_ci_high"] - large.metrics[f"{m}_ci_low"]
        assert w_large < w_small / 2, (m, w_small, w_large)


def test_same_distribution_as_explicit_resampling_of_people():
    """The profile-group multinomial is exactly 'draw N people with replacement': compare with a
    slow explicit implementation (index draws, per-pair weights) on small data."""
    p, y, le, re_, ent = synthetic(300, 420, 3_000, seed=5)
    fast = bootstrap_intervals(p, y, le, re_, ent, 0.9, iterations=4000, seed=1).samples
    uniq, k = np.unique(ent, return_counts=True)
    li, ri = np.searchsorted(uniq, le), np.searchsorted(uniq, re_)
    pred = p >= 0.9
    rng = np.random.default_rng(99)
    rows = []
    for _ in range(1500):
        w = np.bincount(rng.integers(0, len(uniq), len(uniq)), minlength=len(uniq)).astype(float)
        tp = w[li][pred & y].sum()
        fp = (0.5 * (w[li] + w[ri]))[pred & ~y].sum()
        t = (w * (k * (k - 1) / 2)).sum()
        rows.append((tp / (tp + fp), tp / t, 2 * tp / (tp + fp + t)))
    slow = np.array(rows)
    for j, m in enumerate(("precision", "recall", "f1_score")):
        assert fast[m].mean() == pytest.approx(slow[:, j].mean(), abs=3 * slow[:, j].std() / np.sqrt(1500) + 1e-4)
        assert fast[m].std() == pytest.approx(slow[:, j].std(), rel=0.12)


def test_edge_cases_and_validation():
    ent = np.array([1, 1, 2, 3])
    # nothing classified a match: precision 0 by convention, recall 0
    r = bootstrap_intervals([0.1], [True], [1], [1], ent, 0.5, iterations=50)
    assert r.metrics["precision_ci_high"] == 0.0 and r.metrics["recall_ci_low"] == 0.0
    # a perfect classifier: every interval is [1, 1]
    r = bootstrap_intervals([0.99, 0.01], [True, False], [1, 2], [1, 3], ent, 0.5, iterations=50)
    assert r.point == {"precision": 1.0, "recall": 1.0, "f1_score": 1.0}
    with pytest.raises(ValueError, match="labels disagree"):
        bootstrap_intervals([0.9], [False], [1], [1], ent, 0.5)
    with pytest.raises(ValueError, match="entity_all lacks"):
        bootstrap_intervals([0.9], [True], [7], [7], ent, 0.5)
    with pytest.raises(ValueError, match="equal length"):
        bootstrap_intervals([0.9, 0.1], [True], [1], [1], ent, 0.5)
    with pytest.raises(ValueError, match="iterations"):
        bootstrap_intervals([0.9], [True], [1], [1], ent, 0.5, iterations=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_intervals([0.9], [True], [1], [1], ent, 0.5, level=1.0)


@pytest.mark.bench
def test_fast_enough_for_a_100k_record_run():
    """~78k people, 100k records, ~1.2M candidate pairs: 1,000 iterations well under a second
    (typically ~0.02 s); the bound is loose for slow CI machines."""
    p, y, le, re_, ent = synthetic(78_000, 100_000, 1_170_000, seed=4)
    assert len(p) > 1_100_000
    started = time.perf_counter()
    res = bootstrap_intervals(p, y, le, re_, ent, 0.95, iterations=1000, seed=0)
    seconds = time.perf_counter() - started
    assert seconds < 3.0, seconds
    assert len(res.samples) == 1000
