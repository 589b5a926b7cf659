"""An interactive HTML chart (tracking/charts.py) opened in the MLflow UI's artifact view, in headless
Chromium: the UI shows it inline (a sandboxed frame that loads nothing from the network), Vega draws
it from the scripts the page carries, and hovering a bar shows its numbers.

Reuses the MLflow server and the selenium browser of tests/test_ui.py (its ``ui`` and ``browser``
fixtures: a server over a fresh store), with one more run holding ``plots/blocking.html`` as a
training run logs it. Screenshot: test-artifacts/mlflow_ui_blocking_chart.png.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from golden_record.config import CandidateSettings
from golden_record.linkage.blocking import generate
from golden_record.linkage.pass_table import pass_table
from golden_record.tracking import charts
from golden_record.tracking import ui as tracking_ui
from test_ui import browser, click, needs_driver, shot, ui, wait_for  # noqa: F401 - fixtures used by name

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chart_run(ui, tmp_path_factory):
    """A run holding plots/blocking.html of 400 records in 100 households: two passes."""
    rng = np.random.default_rng(0)
    person = np.repeat(np.arange(100), 4)
    frame = pd.DataFrame({"record_id": np.arange(400), "household": person // 2,
                          "phone": np.where(rng.random(400) < 0.8, person, -1 - np.arange(400))})
    frame["phone"] = frame["phone"].astype(str)
    pairs = generate(frame, ["household", "phone"], CandidateSettings(), entity=person)
    table = pass_table(pairs.passes, person[pairs.left] == person[pairs.right], 100 * 6)
    folder = tmp_path_factory.mktemp("chart_run")
    charts.blocking_page(folder / "plots" / "blocking.html", table, "Blocking passes of the run", records=400)
    client = MlflowClient(ui["uri"])
    run = client.create_run(ui["experiment_id"], run_name="charts")
    client.log_artifacts(run.info.run_id, str(folder / "plots"), "plots")
    client.set_terminated(run.info.run_id, "FINISHED")
    return {"run_id": run.info.run_id, "table": table}


@needs_driver
def test_blocking_chart_is_drawn_in_the_artifact_view_and_shows_numbers_on_hover(ui, browser, chart_run):
    driver = browser
    driver.get(ui["base"] + f"/#/experiments/{ui['experiment_id']}/runs/{chart_run['run_id']}?"
               f"{tracking_ui.WORKFLOW_QUERY}")
    click(driver, "the Artifacts tab", "//*[@role='tab' and normalize-space()='Artifacts']")
    click(driver, "the folder plots/", "//*[@data-testid='artifact-tree-node' and @artifact-name='plots']")
    click(driver, "the file plots/blocking.html", "//*[@data-testid='artifact-tree-node' and @artifact-name='blocking.html']")
    frame = wait_for(driver, "the chart's frame", lambda d: next(
        (f for f in d.find_elements(By.CSS_SELECTOR, "iframe.mlflow-html-iframe") if f.is_displayed()), None))
    driver.switch_to.frame(frame)
    try:
        wait_for(driver, "the chart drawn by Vega", lambda d: "Candidate pairs per blocking pass" in " ".join(
            t.text for t in d.find_elements(By.CSS_SELECTOR, "svg text")))
        texts = " ".join(t.text for t in driver.find_elements(By.CSS_SELECTOR, "svg text"))
        assert "1. household" in texts and "2. phone" in texts and "cumulative pairs completeness" in texts
        first = chart_run["table"].iloc[0]
        bar = wait_for(driver, "a bar of the first pass", lambda d: next(
            (b for b in d.find_elements(By.CSS_SELECTOR, "path[aria-roledescription='bar']")
             if "1. household" in (b.get_attribute("aria-label") or "")), None))
        ActionChains(driver).move_to_element(bar).perform()
        tip = wait_for(driver, "the tooltip", lambda d: next(
            (t.text for t in d.find_elements(By.ID, "vg-tooltip-element") if t.is_displayed() and t.text), None))
        assert "new pairs" in tip and f"{int(first['pairs']):,}" in tip, tip
        assert "cumulative pairs completeness" in tip and f"{first['pairs_completeness']:.4f}" in tip, tip
    finally:
        driver.switch_to.default_content()
    shot(driver, "mlflow_ui_blocking_chart.png")
