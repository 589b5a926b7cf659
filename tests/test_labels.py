"""Clerical review labels count: labelled precision/recall/F1 on a training run, a sweep choosing
its threshold by labelled F1, and golden records that obey the labels (must-link, cannot-link)."""
from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import psycopg
import pytest
from mlflow import MlflowClient

from conftest import run
from golden_record.config import ConfigError, load_model_config
from golden_record.evaluation import labelled
from golden_record.golden.clustering import cluster_pairs
from golden_record.io import labels as labels_io
from golden_record.jobs import sweep
from golden_record.linkage import pipeline
from golden_record.linkage.decision import is_match
from test_train import USE_CASE, train


def _labels(rows: list[tuple]) -> pd.DataFrame:
    """A frame shaped like ``read_labels``: (left, right, reviewer, label) per row, ids ordered."""
    out = []
    for left, right, reviewer, label in rows:
        a, b = labels_io.ordered(left, right)
        out.append({"left_id": a, "right_id": b, "reviewer": reviewer, "label": label, "run_id": "r",
                     "labelled_at": pd.Timestamp("2024-01-01")})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- metric math, by hand
# records 10..15 (integer ids, positions 0..5); candidate pairs by position with probabilities
IDS = np.array([10, 11, 12, 13, 14, 15])
CAND_L = np.array([0, 0, 1, 3, 2])
CAND_R = np.array([1, 2, 2, 4, 5])
PROBS = np.array([0.99, 0.97, 0.50, 0.96, 0.10])
HAND = _labels([
    (10, 11, "ann", "match"),          # p 0.99  -> tp
    (12, 10, "ann", "not_match"),      # p 0.97  -> fp (given in the other order)
    (11, 12, "ann", "match"),          # p 0.50  -> fn
    (13, 14, "ann", "match"),          # p 0.96  -> tp
    (12, 15, "ann", "not_match"),      # p 0.10  -> tn
    (13, 15, "ann", "match"),          # not a candidate: probability 0 -> fn
    (14, 15, "ann", "not_match"),      # not a candidate -> tn
    (10, 99, "ann", "match"),          # record 99 is not in the table: left out
    (11, 13, "ann", "unsure"),         # unsure only: left out
    (11, 14, "ann", "match"), (11, 14, "bob", "not_match"),   # conflicting: left out
    (12, 13, "ann", "unsure"), (12, 13, "bob", "not_match"),  # unsure + a verdict: the verdict counts -> tn
])


def test_labelled_figures_counted_by_hand():
    verdicts = labels_io.pair_verdicts(HAND)
    ev = labelled.evaluate_labelled(IDS, CAND_L, CAND_R, PROBS, verdicts, 0.95, "people")
    # tp: 10-11, 13-14; fp: 10-12; fn: 11-12, 13-15 (never a candidate); tn: 12-15, 14-15, 12-13
    assert (ev.tp, ev.fp, ev.fn, ev.tn) == (2, 1, 2, 3)
    m = ev.metrics()
    assert m["labelled_precision"] == pytest.approx(2 / 3)
    assert m["labelled_recall"] == pytest.approx(2 / 4)
    assert m["labelled_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    assert (m["labelled_pairs"], m["labelled_matches"], m["labelled_non_matches"]) == (8, 4, 4)
    # 13-15, 14-15 and 12-13 were never candidate pairs; 13-15 is a labelled match
    assert (m["labelled_not_candidates"], m["labelled_matches_not_candidates"]) == (3, 1)
    assert (m["labelled_left_out_unknown_ids"], m["labelled_left_out_unsure"],
            m["labelled_left_out_conflicting"]) == (1, 1, 1)
    for name in labelled.METRICS:
        assert m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"]
    assert ev.undefined is None and ev.tags()["labels"].startswith("8 labelled pairs (4 match, 4 not a match)")
    # the same ids as text (a text id column) give the same figures
    text = labelled.evaluate_labelled(IDS.astype(str).astype(object), CAND_L, CAND_R, PROBS, verdicts, 0.95)
    assert (text.tp, text.fp, text.fn, text.tn) == (2, 1, 2, 3)


def test_undefined_figures_are_said_not_logged_as_zero():
    verdicts = labels_io.pair_verdicts(_labels([(10, 11, "ann", "not_match"), (11, 12, "ann", "not_match")]))
    ev = labelled.evaluate_labelled(IDS, CAND_L, CAND_R, PROBS, verdicts, 0.995)   # nothing reaches 0.995
    m = ev.metrics()
    assert not {"labelled_precision", "labelled_recall", "labelled_f1"} & set(m)
    assert not any(k.endswith("_ci_low") for k in m)
    assert "labelled_precision (none of the 2 labelled pairs is predicted a match" in ev.undefined
    assert "labelled_recall (none of the 2 labelled pairs is labelled a match)" in ev.undefined
    assert ev.tags()["labelled.undefined"] == ev.undefined
    assert any("undefined, not logged" in line for line in ev.summary_lines())
    # no labels at all: nothing logged, the tag says none
    none = labelled.evaluate_labelled(IDS, CAND_L, CAND_R, PROBS, None, 0.95, "people")
    assert none.metrics() == {} and none.tags() == {"labels": "none"}
    assert "none" in none.summary_lines()[0] and "people" in none.summary_lines()[0]


def test_bootstrap_resamples_the_labelled_pairs():
    rng = np.random.default_rng(3)
    n = 60
    ids = np.arange(2 * n)
    probs = rng.uniform(size=n)
    match = rng.uniform(size=n) < probs             # better-than-chance labels
    verdicts = labels_io.pair_verdicts(_labels([(2 * i, 2 * i + 1, "ann", "match" if y else "not_match")
                                                for i, y in enumerate(match)]))
    ev = labelled.evaluate_labelled(ids, 2 * np.arange(n), 2 * np.arange(n) + 1, probs, verdicts, 0.5,
                                    iterations=4000, seed=1)
    # a plain loop over resampled pairs gives the same intervals (within Monte Carlo error)
    pred = probs >= 0.5
    draws = np.random.default_rng(2).integers(0, n, size=(4000, n))
    tp = (pred & match)[draws].sum(1)
    fp = (pred & ~match)[draws].sum(1)
    fn = (~pred & match)[draws].sum(1)
    for name, values in (("labelled_precision", tp / (tp + fp)), ("labelled_recall", tp / (tp + fn)),
                         ("labelled_f1", 2 * tp / (2 * tp + fp + fn))):
        lo, hi = np.quantile(values, [0.025, 0.975])
        assert ev.intervals[f"{name}_ci_low"] == pytest.approx(lo, abs=0.03)
        assert ev.intervals[f"{name}_ci_high"] == pytest.approx(hi, abs=0.03)
        assert hi - lo > 0.1                        # 60 pairs: a wide interval, not a point


def test_labelled_figures_at_many_thresholds():
    verdicts = labels_io.pair_verdicts(HAND)
    loc = labelled.locate(IDS, verdicts)
    prob, candidate = labelled.located_probabilities(loc, CAND_L, CAND_R, PROBS, len(IDS))
    table = labelled.labelled_at(prob, loc.match, [0.05, 0.4, 0.95, 0.999])
    # at 0.05 every candidate labelled pair is predicted: tp 3 (10-11, 11-12, 13-14), fp 2 (10-12, 12-15)
    assert table["labelled_true_positives"].tolist() == [3, 3, 2, 0]
    assert table["labelled_false_positives"].tolist() == [2, 1, 1, 0]
    assert table["labelled_recall"].tolist() == pytest.approx([3 / 4, 3 / 4, 2 / 4, 0.0])
    assert math.isnan(table["labelled_precision"].iloc[3])        # nothing predicted at 0.999
    single = labelled.evaluate_labelled(IDS, CAND_L, CAND_R, PROBS, verdicts, 0.95)
    assert table["labelled_f1"].iloc[2] == pytest.approx(single.f1)


# --------------------------------------------------------------------------- constrained clustering
def test_not_match_label_splits_a_chain_and_match_label_links_a_non_candidate():
    # chain A-B-C (records 0-1-2) with A-C labelled not a match: A and C end apart, B with A (stronger)
    c = cluster_pairs(5, [0, 1], [1, 2], [0.99, 0.98], 0.95, 0.5, 10, cannot_link=([0], [2]))
    assert c.labels[0] == c.labels[1] != c.labels[2]
    assert c.stats["golden_clusters_split_labels"] == 1 and c.stats["golden_edges_dropped_labels"] == 1
    # without the label they are one cluster
    assert len(set(cluster_pairs(5, [0, 1], [1, 2], [0.99, 0.98], 0.95, 0.5, 10).labels[:3])) == 1
    # a match label on a pair blocking never produced (3, 4) and on one below the threshold (1, 2)
    c = cluster_pairs(5, [0, 1], [1, 2], [0.99, 0.40], 0.95, 0.5, 10, must_link=([4, 2], [3, 1]))
    assert c.labels[3] == c.labels[4] and c.labels[0] == c.labels[1] == c.labels[2]
    assert c.stats["golden_links_forced"] == 2
    # a link a person confirmed counts as probability 1; the cluster's weakest link is the model's 0.99
    assert c.link_probability[3] == c.link_probability[2] == 1.0 and c.confidence[c.labels[0]] == 0.99


def test_labels_survive_the_chaining_guards_and_contradictions_are_counted():
    # weak-edge guard and size cap never remove a labelled match
    left, right = np.arange(0, 7), np.arange(1, 8)          # a chain of 8 records
    prob = np.full(7, 0.999)
    c = cluster_pairs(8, left, right, prob, 0.95, 0.99, 3, must_link=(left, right))
    assert c.n_clusters == 1
    # match labels chaining A-B, B-C with A-C labelled not a match: the not_match label wins
    c = cluster_pairs(3, [], [], [], 0.95, 0.5, 10, must_link=([0, 1], [1, 2]), cannot_link=([0], [2]))
    assert c.labels[0] != c.labels[2] and c.stats["golden_label_contradictions"] == 1
    assert c.contradictions == [(1, 2)]


def test_labels_constrain_the_auto_guards_too():
    # a chain of strong links, A-C not scored: the auto guard keeps it; a not_match label on A-C splits it
    assert cluster_pairs(3, [0, 1], [1, 2], [0.9999, 0.999], 0.5).n_clusters == 1
    c = cluster_pairs(3, [0, 1], [1, 2], [0.9999, 0.999], 0.5, cannot_link=([0], [2]))
    assert c.labels[0] == c.labels[1] != c.labels[2] and c.stats["golden_clusters_split_labels"] == 1
    # two groups of four joined by one weak link: the auto guard cuts it; a match label on it, or on
    # a pair blocking never produced, joins them (and is never cut)
    left, right, prob = [], [], []
    for base in (0, 4):
        for a in range(base, base + 4):
            for b in range(a + 1, base + 4):
                left.append(a), right.append(b), prob.append(0.9999)
    left.append(3), right.append(4), prob.append(0.97)
    assert cluster_pairs(8, left, right, prob, 0.5).n_clusters == 2
    for must in (([3], [4]), ([0], [7])):
        c = cluster_pairs(8, left, right, prob, 0.5, must_link=must)
        assert c.n_clusters == 1, must
    # a labelled match and a labelled non-match chaining: the not_match label wins, as with numbers
    c = cluster_pairs(3, [], [], [], 0.5, must_link=([0, 1], [1, 2]), cannot_link=([0], [2]))
    assert c.labels[0] != c.labels[2] and c.stats["golden_label_contradictions"] == 1


def test_components_without_a_not_match_pair_keep_the_vectorised_clusters():
    rng = np.random.default_rng(0)
    n = 2000
    left = rng.integers(0, n, 3000)
    right = rng.integers(0, n, 3000)
    keep = left < right
    left, right = left[keep], right[keep]
    prob = rng.uniform(0.9, 1.0, len(left))
    plain = cluster_pairs(n, left, right, prob, 0.95, 0.97, 50)
    # one not-match label inside one multi-record cluster
    big = np.flatnonzero(plain.sizes > 2)[0]
    members = np.flatnonzero(plain.labels == big)
    c = cluster_pairs(n, left, right, prob, 0.95, 0.97, 50, cannot_link=([members[0]], [members[-1]]))
    assert c.labels[members[0]] != c.labels[members[-1]]
    others = plain.labels != big
    # every other cluster is exactly as before (same partition)
    pairs = pd.crosstab(plain.labels[others], c.labels[others])
    assert ((pairs > 0).sum(axis=1) == 1).all() and ((pairs > 0).sum(axis=0) == 1).all()
    assert c.n_clusters == plain.n_clusters + c.stats["golden_clusters_split_labels"] >= plain.n_clusters + 1


# --------------------------------------------------------------------------- sweep option, validated first
def test_sweep_selection_is_validated_before_any_run():
    some = labels_io.pair_verdicts(_labels([(1, 2, "ann", "match"), (1, 3, "ann", "not_match")]))
    only_no = labels_io.pair_verdicts(_labels([(1, 3, "ann", "not_match")]))
    assert sweep.choose_selection(None, True, some, "t") == "f1_score"          # the current behaviour
    assert sweep.choose_selection(None, False, some, "t") == "labelled_f1"      # no truth: the labels
    assert sweep.choose_selection("labelled_f1", True, some, "t") == "labelled_f1"
    with pytest.raises(ConfigError, match=r"--select-by labelled_f1: no clerical review labels.*--select-by f1_score"):
        sweep.choose_selection("labelled_f1", True, None, "t")
    with pytest.raises(ConfigError, match="no pair labelled match"):
        sweep.choose_selection("labelled_f1", True, only_no, "t")
    with pytest.raises(ConfigError, match=r"--select-by f1_score needs the ground truth.*--select-by labelled_f1"):
        sweep.choose_selection("f1_score", False, some, "t")
    with pytest.raises(ConfigError, match="has neither"):
        sweep.choose_selection(None, False, None, "t")


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def labelled_warehouse(seeded_copy, mlflow_store):
    """A seeded warehouse of its own (labels in the shared one would change other tests' runs), a
    sweep refused for want of labels, ~20 labels chosen from the model's own scores, then a
    training run with --write-golden and a sweep without ground truth, as a user would run them."""
    url = seeded_copy("labels")                 # 3,000 records, seed 7, as seeded_small
    env = {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": mlflow_store}
    refused = train(env, "--experiment", "labels_refused", "--sweep", "match_threshold=0.5,0.95",
                    "--select-by", "labelled_f1", "--quiet")

    # the model's scores, computed here (the run fits the same model on the same data); the labels are
    # chosen around a fixed threshold, which the training run below uses too
    config = load_model_config(overrides=["model.params.match_threshold=0.95"])
    progress = pipeline.Progress(quiet=True)
    with psycopg.connect(url) as conn:
        records, entity = pipeline.load(conn, config, progress)
    scored = pipeline.fit_and_score(records, entity, config, progress)
    ids = scored.records["record_id"].to_numpy()
    left, right, p = scored.pairs.left, scored.pairs.right, scored.probabilities
    used: set[int] = set()

    def take(mask, k):
        """k candidate pairs from mask, no record used twice (labels do not chain into each other)."""
        out = []
        for i in np.flatnonzero(mask):
            a, b = int(left[i]), int(right[i])
            if a not in used and b not in used:
                used.update((a, b))
                out.append((a, b))
                if len(out) == k:
                    break
        assert len(out) == k
        return out

    same = entity[left] == entity[right]
    match_edge = is_match(p, config.threshold)
    degree = np.bincount(np.concatenate([left[match_edge], right[match_edge]]), minlength=len(ids))
    alone = (degree[left] == 1) & (degree[right] == 1)          # a pair the model merges, nothing else
    tp = take(same & (p >= 0.999), 6)
    fn = take(same & ~match_edge, 2)
    fp = take(match_edge & alone & same, 2)                 # the model merges them; a reviewer says no
    tn = take(~same & (p < 0.01), 4)
    lonely = np.flatnonzero(degree == 0)
    lonely = [int(x) for x in lonely if int(x) not in used][:4]
    used.update(lonely)
    outside_match = (lonely[0], lonely[1])                    # never a candidate pair: model cannot link
    outside_not = (lonely[2], lonely[3])
    assert labelled.candidate_index(left, right, np.array(lonely[0:4:2]), np.array(lonely[1:4:2]),
                                    len(ids)).tolist() == [-1, -1]
    verdict = {**{pr: "match" for pr in tp + fn + [outside_match]},
               **{pr: "not_match" for pr in fp + tn + [outside_not]}}
    extra = take(same & match_edge, 2)
    with psycopg.connect(url) as conn:
        labels_io.ensure_table(conn)
        for (a, b), label in verdict.items():
            labels_io.record_label(conn, data_table="citizens", run_id="seed", left_id=ids[a], right_id=ids[b],
                                   label=label, reviewer="ann")
        a, b = extra[0]
        labels_io.record_label(conn, data_table="citizens", run_id="seed", left_id=ids[a], right_id=ids[b],
                               label="unsure", reviewer="ann")
        a, b = extra[1]
        for reviewer, label in (("ann", "match"), ("bob", "not_match")):
            labels_io.record_label(conn, data_table="citizens", run_id="seed", left_id=ids[a], right_id=ids[b],
                                   label=label, reviewer=reviewer)
        labels_io.record_label(conn, data_table="citizens", run_id="seed", left_id=ids[0], right_id=10 ** 9,
                               label="match", reviewer="ann")                  # no such record
        labels_io.record_label(conn, data_table="other_table", run_id="seed", left_id=ids[0], right_id=ids[1],
                               label="match", reviewer="ann")                  # another table's label
    # the labels teach the run's model (issue 28) and each labelled pair is scored by the model refitted
    # without its fold of labels: the probabilities the run's labelled figures use, computed the same way
    with psycopg.connect(url) as conn:
        taught = pipeline.fit_and_score(records, entity, load_model_config(
            overrides=["model.params.match_threshold=0.95"]), progress, labelled.read_verdicts(conn, "citizens"))
    held = taught.probabilities.copy()
    held[taught.held_out[0]] = taught.held_out[1]
    trained = train(env, "--experiment", "labels_e2e", "--run-name", "labelled_run", "--write-golden",
                    "--set", "model.params.match_threshold=0.95")
    swept = train(env, "--experiment", "labels_sweep", "--sweep", "match_threshold=0.3,0.6,0.9,0.99",
                  "--set", "data.truth=null", "--quiet")
    return SimpleNamespace(url=url, env=env, refused=refused, trained=trained, swept=swept, ids=ids,
                           verdict=verdict, fp=fp, fn=fn, outside_match=outside_match, outside_not=outside_not,
                           prob={(int(a), int(b)): float(q) for a, b, q in zip(left, right, held)},
                           threshold=config.threshold, client=MlflowClient(mlflow_store))


def _count(verdict: dict, prob: dict, threshold: float) -> dict:
    """tp/fp/fn/tn counted the plain way, pair by pair."""
    out = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for (a, b), label in verdict.items():
        predicted = prob.get((min(a, b), max(a, b)), 0.0) >= threshold
        out[("t" if predicted == (label == "match") else "f") + ("p" if predicted else "n")] += 1
    return out


def test_sweep_by_labelled_f1_without_labels_stops_before_any_run(labelled_warehouse):
    done = labelled_warehouse.refused
    assert done.returncode == 2, done.stderr
    assert "--select-by labelled_f1: no clerical review labels" in done.stderr
    assert "--select-by f1_score" in done.stderr
    assert labelled_warehouse.client.get_experiment_by_name("labels_refused") is None or not \
        labelled_warehouse.client.search_runs([labelled_warehouse.client.get_experiment_by_name(
            "labels_refused").experiment_id])


def test_training_run_logs_the_labelled_figures(labelled_warehouse, tmp_path):
    w = labelled_warehouse
    assert w.trained.returncode == 0, w.trained.stderr[-3000:]
    client = w.client
    (r,) = client.search_runs([client.get_experiment_by_name("labels_e2e").experiment_id])
    m, tags = r.data.metrics, r.data.tags
    c = _count(w.verdict, w.prob, w.threshold)
    assert c == {"tp": 6, "fp": 2, "fn": 3, "tn": 5}     # as chosen: the two FN + the non-candidate match
    assert (m["labelled_pairs"], m["labelled_matches"], m["labelled_non_matches"]) == (16, 9, 7)
    assert (m["labelled_true_positives"], m["labelled_false_positives"], m["labelled_false_negatives"],
            m["labelled_true_negatives"]) == (c["tp"], c["fp"], c["fn"], c["tn"])
    assert m["labelled_precision"] == pytest.approx(c["tp"] / (c["tp"] + c["fp"]))
    assert m["labelled_recall"] == pytest.approx(c["tp"] / (c["tp"] + c["fn"]))
    assert m["labelled_f1"] == pytest.approx(2 * c["tp"] / (2 * c["tp"] + c["fp"] + c["fn"]))
    assert (m["labelled_not_candidates"], m["labelled_matches_not_candidates"]) == (2, 1)
    assert (m["labelled_left_out_unsure"], m["labelled_left_out_conflicting"],
            m["labelled_left_out_unknown_ids"]) == (1, 1, 1)
    for name in labelled.METRICS:
        assert 0 <= m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"] <= 1
    assert tags["labels"].startswith("16 labelled pairs (9 match, 7 not a match)")
    assert "labelled_precision" in w.trained.stderr and "labelled sample: 16 pairs" in w.trained.stdout
    # the file a reviewer reads: every labelled pair, its label, probability and outcome
    frame = pd.read_csv(client.download_artifacts(r.info.run_id, "review/labelled_pairs.csv", str(tmp_path)))
    assert len(frame) == 16 and (frame["outcome"] == "false_positive").sum() == c["fp"]
    pos = {int(v): i for i, v in enumerate(w.ids)}
    for row in frame.itertuples():
        a, b = pos[row.left_id], pos[row.right_id]
        assert row.label == w.verdict.get((a, b), w.verdict.get((b, a)))
        assert row.match_probability == pytest.approx(w.prob.get((min(a, b), max(a, b)), 0.0))
        assert row.predicted_match == (row.match_probability >= w.threshold)
    summary = open(client.download_artifacts(r.info.run_id, "evaluation_summary.txt", str(tmp_path))).read()
    assert "Labelled sample (clerical review, pair_labels): 16 pairs" in summary


def test_golden_records_obey_the_labels(labelled_warehouse):
    w = labelled_warehouse
    assert w.trained.returncode == 0, w.trained.stderr[-3000:]
    with psycopg.connect(w.url) as conn:
        golden = dict(conn.execute("SELECT citizen_id, golden_id FROM citizen_golden_map").fetchall())
    ids = w.ids
    for a, b in w.fp:                     # the model merges them, a reviewer said no: two golden records
        assert golden[ids[a]] != golden[ids[b]]
    for a, b in [*w.fn, w.outside_match]:  # the model does not link them, a reviewer said match: one
        assert golden[ids[a]] == golden[ids[b]]
    a, b = w.outside_not
    assert golden[ids[a]] != golden[ids[b]]
    (r,) = w.client.search_runs([w.client.get_experiment_by_name("labels_e2e").experiment_id])
    m = r.data.metrics
    assert (m["golden_links_forced"], m["golden_clusters_split_labels"], m["golden_label_contradictions"]) == (3, 2, 0)
    assert m["golden_labels_match"] == 9 and m["golden_labels_not_match"] == 7
    assert "3 links forced" in w.trained.stderr and "2 clusters split" in w.trained.stderr


def test_sweep_without_ground_truth_chooses_by_labelled_f1(labelled_warehouse):
    w = labelled_warehouse
    assert w.swept.returncode == 0, w.swept.stderr[-3000:]
    client = w.client
    runs = client.search_runs([client.get_experiment_by_name("labels_sweep").experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.data.params["sweep.select_by"] == "labelled_f1"
    # labelled F1 per threshold, counted pair by pair from the model's scores
    f1 = {}
    for t in (0.3, 0.6, 0.9, 0.99):
        c = _count(w.verdict, w.prob, t)
        f1[t] = 2 * c["tp"] / (2 * c["tp"] + c["fp"] + c["fn"])
    for child in children:
        t = float(child.data.params["model.params.match_threshold"])
        assert child.data.metrics["labelled_f1"] == pytest.approx(f1[t])
        assert "f1_score" not in child.data.metrics          # no ground truth: no truth-based F1
    best = min(f1, key=lambda t: (-f1[t], t))
    assert parent.data.metrics["best_threshold"] == best
    assert parent.data.metrics["best_labelled_f1"] == pytest.approx(f1[best])
    assert "threshold chosen by labelled_f1 (F1 on the clerical review labels)" in w.swept.stdout
