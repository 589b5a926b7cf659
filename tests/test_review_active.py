"""The review page's active queue (issue 28), driven in headless Chromium as tests/test_review_page.py
drives the uncertain queue: a warehouse of its own (3,000 seeded citizens), a training run that logs
``review/active_pairs.csv`` and ``review/patterns.csv``, ``golden-record review --queue active`` as a
user starts it; a clerk labels one batch from the truth, and the page says how the estimate moved;
the next training run is taught the labels (``labels_used_in_fit``) and scores them out of sample.
"""
from __future__ import annotations

import os

import pandas as pd
import pytest

from conftest import SRC, headless_chromium, serving
from golden_record.web.queue import BATCH
from test_review_page import CHROMEDRIVER, CHROMIUM, KEY, Page, _pair_labels, _train, browser_missing

REVIEWER = "Ravi Iyer"


@pytest.fixture(scope="module")
def active_run(seeded_copy, mlflow_store, tmp_path_factory):
    url = seeded_copy("review_active")
    env = {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": mlflow_store}
    client, run_ = _train(env, "active_first")
    folder = tmp_path_factory.mktemp("active_queue")
    queue = pd.read_csv(client.download_artifacts(run_.info.run_id, "review/active_pairs.csv", str(folder)),
                        dtype=str, keep_default_na=False)
    patterns = pd.read_csv(client.download_artifacts(run_.info.run_id, "review/patterns.csv", str(folder)))
    return {"env": env, "url": url, "client": client, "run": run_, "queue": queue, "patterns": patterns}


@pytest.fixture(scope="module")
def active_page(active_run):
    """``golden-record review --queue active`` as a user starts it (conftest's ``serving``), and one
    Chromium session on it."""

    args = ["review", "--run-id", active_run["run"].info.run_id, "--queue", "active", "--reviewer", REVIEWER]
    env = {**active_run["env"], "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)}
    with serving(args, env) as service:
        assert service.status is not None, "golden-record review did not answer"
        driver = headless_chromium("1400,1450")
        try:
            driver.get(service.base + "/")
            yield Page(driver, service.base + "/")
        finally:
            driver.quit()


def test_run_logs_the_active_queue_and_its_patterns(active_run):
    queue, patterns, run_ = active_run["queue"], active_run["patterns"], active_run["run"]
    assert len(queue) > BATCH and "reason" in queue.columns
    assert queue["reason"].str.startswith("uncertain").any()
    # the patterns the page refits on hold every candidate pair
    assert patterns["pairs"].sum() == run_.data.metrics["training_pairs"]
    assert run_.data.metrics["labels_used_in_fit"] == 0


@browser_missing
def test_a_batch_of_labels_says_how_the_estimate_moved(active_run, active_page):
    page = active_page
    queue = active_run["queue"]
    page.wait_ready()
    assert "active learning" in page.text("review") or "active learning" in page.driver.title
    assert not page.shown("moved")
    for i in range(BATCH):
        row = queue.iloc[i]
        assert page.pair_ids() == (row["left_id"], row["right_id"]), f"pair {i}"
        page.press(KEY["match" if row["true_match"] == "True" else "not_match"])
        assert not page.error(), page.error()
        if i < BATCH - 1:
            assert not page.shown("moved"), f"a batch message after {i + 1} labels"
    page.wait_for("return !document.getElementById('moved').hidden")
    moved = page.text("moved")
    assert moved.startswith("Batch done: after ") and "estimated F1" in moved and "->" in moved, moved
    assert "Train again to apply the labels" in moved
    page.screenshot("review_active.png")
    assert len(_pair_labels(active_run["url"])) == BATCH


@browser_missing
def test_next_training_is_taught_the_labels_out_of_sample(active_run, active_page):
    rows = _pair_labels(active_run["url"])
    assert len(rows) == BATCH, "the batch test did not leave its labels"
    queue = active_run["queue"].set_index(["left_id", "right_id"])
    candidates = sum(queue.loc[(a, b) if (a, b) in queue.index else (b, a), "candidate"] == "True"
                     for _, a, b, *_ in rows)
    _, second = _train(active_run["env"], "active_second")
    m = second.data.metrics
    assert m["labels_used_in_fit"] == candidates and m["labels_not_candidates"] == BATCH - candidates
    assert m["labelled_pairs"] == BATCH and m["labels_cross_fit_folds"] == 5
    assert second.data.tags["labelled.scored"].startswith("out of sample")
    assert m["em_labelled_pairs"] == candidates
