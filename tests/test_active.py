"""Labels that teach the model (issue 28): semi-supervised EM, the active review queue, labelled
figures out of sample.

Fast: EM on pairs simulated from known latent classes (as tests/test_model_em.py), and the Linker
in memory on small seeder tables. The review page's active queue and its per-batch message are
driven in Chromium in tests/test_review_page.py's way (end-to-end lane).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from golden_record.evaluation import labelled
from golden_record.evaluation.review import active_order, active_pairs
from golden_record.io.labels import ordered, verdicts_of
from golden_record.linkage.model import FellegiSunter, encode_patterns
from golden_record.linker import Linker
from golden_record.synthetic import profiles
from test_model_em import HOUSEHOLD, MATCH, UNRELATED, fit, floored, simulate


def _m_error(model) -> float:
    return max(float(np.abs(got - floored(want)).max()) for got, want in zip(model.m, MATCH))


def _labels(truth: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    out = np.full(len(truth), -1, dtype=np.int8)
    idx = np.random.default_rng(seed).choice(len(truth), n, replace=False)
    out[idx] = truth[idx]
    return out


# --------------------------------------------------------------------------- semi-supervised EM
def test_labels_pull_a_misspecified_em_towards_the_true_parameters():
    """Two classes for three kinds of pairs: unlabelled EM calls households people (match share
    0.46, true 0.135); 200 labels of 37,000 pairs bring the share and m a good way back."""
    levels, cls = simulate([(MATCH, 5_000), (HOUSEHOLD, 12_000), (UNRELATED, 20_000)], seed=3)
    truth = cls == 0
    unlabelled = fit(levels, related_classes=0)
    taught = unlabelled.refit(levels, _labels(truth, 200))
    true_share = 5_000 / 37_000
    assert abs(unlabelled.match_share - true_share) > 0.3
    assert abs(taught.match_share - true_share) < 0.6 * abs(unlabelled.match_share - true_share)
    assert _m_error(taught) < 0.75 * _m_error(unlabelled), (_m_error(taught), _m_error(unlabelled))
    assert taught.fit_metrics()["em_labelled_pairs"] == 200
    assert unlabelled.labels_used == {}            # refit leaves the model it starts from as it was


def test_labels_keep_a_right_model_right_and_fix_their_pattern():
    levels, cls = simulate([(MATCH, 5_000), (HOUSEHOLD, 12_000), (UNRELATED, 20_000)], seed=3)
    truth = cls == 0
    model = fit(levels)
    taught = model.refit(levels, _labels(truth, 200, seed=1))
    assert _m_error(taught) <= _m_error(model) + 0.005
    p0, p1 = model.score(levels)[1] >= 0.5, taught.score(levels)[1] >= 0.5
    assert (p1 == truth).mean() >= (p0 == truth).mean() - 0.001
    # a pattern labelled against the model moves towards its labels
    codes = encode_patterns(levels, model.n_levels)
    wrong = np.flatnonzero(p0 & ~truth)
    code = pd.Series(codes[wrong]).value_counts().index[0]     # the largest pattern of false matches
    rows = np.flatnonzero((codes == code) & ~truth)[:5]
    labels = np.full(len(levels), -1, np.int8)
    labels[rows] = 0
    before = model.score(levels[rows[:1]])[1][0]
    after = model.refit(levels, labels).score(levels[rows[:1]])[1][0]
    assert after < before - 0.1, (before, after)


def test_saved_model_keeps_whether_its_unrelated_class_was_fixed(tmp_path):
    levels, _ = simulate([(MATCH, 2_000), (UNRELATED, 8_000)])
    model = FellegiSunter(fit(levels).names, fit(levels).labels).fit(levels, related_classes=0)
    assert model.unrelated_fixed is False
    model.save(tmp_path / "m.json")
    assert FellegiSunter.load(tmp_path / "m.json").unrelated_fixed is False


# --------------------------------------------------------------------------- the active queue
@pytest.fixture(scope="module")
def sparse_small():
    p = profiles.get("sparse")
    data = p.generate(3000, p.default_duplicate_rate or 0.2, 7)
    cfg = p.config()
    truth = data.truth.set_index(cfg.data.truth.id_column)[cfg.data.truth.entity_column]
    return p, data, truth


def test_active_queue_without_truth_spreads_over_patterns_and_asks_about_near_misses(sparse_small):
    p, data, _ = sparse_small
    lk = Linker(p.config_path).fit(data.records)          # no ground truth
    s = lk.scored
    queue = active_pairs(s, lk.config.threshold, 200)
    assert "true_match" not in queue.columns and len(queue) == 200
    near = queue["reason"].str.startswith("near-miss")
    assert near.sum() >= 5 and not queue.loc[near, "candidate"].any()
    assert queue.loc[near, "reason"].str.contains("no blocking pass").all()
    first = active_order(s, lk.config.threshold, 50)
    codes = encode_patterns(s.vectors.levels[first], [len(x) for x in s.vectors.labels])
    _, per_pattern = np.unique(codes, return_counts=True)
    assert len(per_pattern) >= 15 and per_pattern.max() <= 10, per_pattern
    # uncertainty near the decision: most of the first 50 lie within 4 bits of the threshold
    logit = np.log2(np.clip(s.probabilities[first], 1e-12, 1 - 1e-12) / np.clip(1 - s.probabilities[first], 1e-12, 1))
    t = np.log2(lk.config.threshold / (1 - lk.config.threshold))
    assert (np.abs(logit - t) <= 4).mean() >= 0.5
    # a labelled pair leaves the queue
    labels = np.full(len(s.pairs), -1, np.int8)
    labels[first[:10]] = 1
    again = active_order(s, lk.config.threshold, 50, labels)
    assert not set(first[:10]) & set(again)


# --------------------------------------------------------------------------- out of sample
def test_labelled_figures_score_each_label_with_a_model_that_did_not_see_it(sparse_small):
    p, data, truth = sparse_small
    lk = Linker(p.config_path).fit(data.records, truth)
    s0 = lk.scored
    ids = s0.records["record_id"].to_numpy()
    # the model's mistakes, one pair of each pattern, labelled with the truth
    codes = encode_patterns(s0.vectors.levels, [len(x) for x in s0.vectors.labels])
    wrong = np.flatnonzero((s0.probabilities >= lk.config.threshold) != s0.labels)
    _, first = np.unique(codes[wrong], return_index=True)
    rows = wrong[first][:40]
    assert len(rows) >= 10
    frame = pd.DataFrame({"left_id": ids[s0.pairs.left[rows]], "right_id": ids[s0.pairs.right[rows]],
                          "match": s0.labels[rows]})
    lk.learn(frame)
    s = lk.scored
    assert (s.pair_labels >= 0).sum() == len(rows) and s.taught.metrics()["labels_used_in_fit"] == len(rows)
    assert s.taught.metrics()["labels_cross_fit_folds"] == 5
    idx, held = s.held_out
    assert sorted(idx) == sorted(rows)
    truth_of = s.labels[idx].astype(float)
    in_sample = s.probabilities[idx]
    # in sample, a label pulls its own pair towards it: the figures would flatter the model
    closer = np.abs(truth_of - in_sample) < np.abs(truth_of - held) - 0.02
    assert closer.sum() >= 3, (truth_of, in_sample, held)
    result = labelled.evaluate_run(s, verdicts_of(frame), lk.config.threshold, "records", iterations=0)
    scored_as = {ordered(a, b): q for a, b, q in zip(result.pairs["left_id"], result.pairs["right_id"],
                                                     result.pairs["match_probability"])}
    got = np.array([scored_as[ordered(ids[s.pairs.left[i]], ids[s.pairs.right[i]])] for i in idx])
    assert np.allclose(got, held)                              # scored out of sample, never in sample
    in_f1 = labelled.evaluate_labelled(ids, s.pairs.left, s.pairs.right, s.probabilities, verdicts_of(frame),
                                       lk.config.threshold, iterations=0).f1
    assert not result.f1 > in_f1, (result.f1, in_f1)
