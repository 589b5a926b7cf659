"""The MLflow UI, rendered in a real headless browser, shows what a person needs from this project.

The runs are written straight into a fresh SQLite store with MlflowClient (no database, no
training), in the shape ``train.py`` and ``sweep.py`` log them, through the project's own code
for what the UI shows: the experiment is made by ``tracking.ensure_experiment`` (the experiment
kind and the saved view "Key metrics", :mod:`golden_record.tracking.ui`), the run descriptions
by ``tracking.ui``, and the addresses opened are the ones ``tracking.ui_hint`` prints after a
run. One training run (precision, recall, F1 with intervals, ~60 other metrics, PNGs under
``plots/`` and a waterfall chart under ``explanations/``) and one sweep: a parent
``threshold_sweep_YYYYMMDD_HHMMSS`` and one nested child per threshold (tag ``mlflow.parentRunId``).
``mlflow server`` serves the store; Debian's Chromium renders the pages, driven by selenium with
Debian's chromedriver (clicks, as a person would) or with ``--dump-dom``.

What MLflow 3.17 renders, and so what is checked (screenshots in test-artifacts/):
- the printed runs address opens the model-training view (sidebar Runs / Models, none of the
  GenAI pages: Judges, Sessions, Prompts, Playground) with F1, precision, recall and the threshold as
  the runs table's first columns, without the user adding columns (mlflow_ui_key_metrics.png);
- the sweep's children are nested under their parent, collapsed; the expander beside the parent
  shows them with their F1 (mlflow_ui_sweep_children.png); the parent's page names the best threshold;
- the printed run address opens the run's Overview with the description holding the key figures
  above the metrics table (mlflow_ui_run_description.png); its Artifacts tab shows a PNG of
  ``plots/`` (mlflow_ui_run_plots.png) and the waterfall chart under ``explanations/``
  (mlflow_ui_waterfall.png), the image the browser decoded being the logged file;
- sorted by a metric (``?orderByKey=metrics.`f1_score```) the table is flat, best first
  (mlflow_ui_runs.png); the compare page over the three children shows their names, the swept
  param values and the metric names and values (mlflow_ui_compare.png).
"""
from __future__ import annotations

import html
import json
import logging
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import CHROMEDRIVER, CHROMIUM, free_port, headless_chromium
from golden_record.tracking import store as tracking
from golden_record.tracking import ui as tracking_ui

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
MLFLOW = str(Path(sys.executable).with_name("mlflow"))
THRESHOLD_KEY = "model.params.match_threshold"
# threshold -> child metrics; values have at most 3 decimals because the compare page rounds to 3
SWEEP = {
    0.90: {"precision": 0.941, "recall": 0.989, "f1_score": 0.962, "match_pairs": 1517.0},
    0.95: {"precision": 0.966, "recall": 0.981, "f1_score": 0.973, "match_pairs": 1483.0},
    0.98: {"precision": 0.988, "recall": 0.942, "f1_score": 0.957, "match_pairs": 1391.0},
}
# the training run, full-precision figures as a run logs them (1,425 of 1,467 matches true, of 1,560
# true pairs); its F1 is below every child's
TRAINING = {"precision": 1425 / 1467, "recall": 1425 / 1560, "f1_score": 2 * 1425 / (1467 + 1560),
            "precision_ci_low": 0.9633, "precision_ci_high": 0.9781, "recall_ci_low": 0.9012,
            "recall_ci_high": 0.9247, "f1_score_ci_low": 0.9331, "f1_score_ci_high": 0.9492,
            "estimated_precision": 0.9655, "estimated_recall": 0.9221, "estimated_f1": 0.9433,
            "training_pairs": 48213.0, "match_pairs": 1467.0, "true_match_pairs": 1560.0,
            "pairs_completeness": 0.9821, "true_positives": 1425.0, "false_positives": 42.0,
            "false_negatives": 135.0, "records": 3000.0, "people": 1500.0}
TRAINING_THRESHOLD = 0.95
PLOTS = ("confusion_matrix.png", "precision_recall_curve.png", "match_weight_histogram.png")
WATERFALL = "explanations/waterfall_pair_0001.png"
GENAI_PAGES = ("Judges", "Sessions", "Playground", "Prompts", "Agent versions", "Overview")

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="chromium not installed: apt-get install -y chromium")
needs_driver = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                  reason="chromium or chromedriver not installed: "
                                         "apt-get install -y chromium chromium-driver")


def _kill_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """Stop a process started with start_new_session=True, with everything it started."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace)
        except ProcessLookupError:
            pass


def _png(path: Path, title: str, width_in: float) -> int:
    """A small readable PNG (a bar chart titled ``title``); returns its width in pixels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width_in, 3), dpi=100)
    ax.barh(["first_name", "date_of_birth", "mobile"], [4.1, 2.7, -1.9])
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    with open(path, "rb") as f:
        return struct.unpack(">I", f.read(24)[16:20])[0]


def _log_runs(uri: str, tmp: Path) -> dict:
    """One training run and one sweep (a parent, three nested children), shaped like what
    train.py and sweep.py log, in an experiment made by tracking.ensure_experiment."""
    client = MlflowClient(uri)
    exp_id = tracking.ensure_experiment("ui-golden-record", uri)
    now = int(time.time() * 1000)
    stamp = f"{datetime.now():%Y%m%d_%H%M%S}"

    train_name = f"deduplication_training_{stamp}_a1b2"
    run = client.create_run(exp_id, run_name=train_name, tags={"model_type": "splink"})
    rid = run.info.run_id
    metrics = dict(TRAINING)
    # the rest of what a training run logs: a person would otherwise meet these first
    metrics.update({f"quality_present_{f}": 0.99 for f in ("first_name", "last_name", "mobile", "email",
                                                            "address", "date_of_birth", "gender")})
    metrics.update({f"seconds_{s}": 1.5 for s in ("load", "prepare", "candidates", "compare", "fit",
                                                   "evaluate", "log", "total")})
    metrics.update({f"m_u_{i:02d}": i / 100 for i in range(30)})
    client.log_batch(rid, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                     params=[Param(THRESHOLD_KEY, f"{TRAINING_THRESHOLD:g}"), Param("model.type", "splink")])
    widths = {}
    for name in PLOTS:
        widths[f"plots/{name}"] = _png(tmp / "plots" / name, name, 6)
    widths[WATERFALL] = _png(tmp / WATERFALL, "why pair 1 matched", 7)
    client.log_artifacts(rid, str(tmp / "plots"), "plots")
    client.log_artifacts(rid, str(tmp / "explanations"), "explanations")
    tracking_ui.describe_training_run(rid, metrics, TRAINING_THRESHOLD, client=client)
    client.set_terminated(rid, "FINISHED")

    name = f"threshold_sweep_{stamp}"
    parent = client.create_run(exp_id, run_name=name, tags={"model_type": "splink", "run_kind": "sweep"})
    pid = parent.info.run_id
    children = {}
    for threshold, figures in SWEEP.items():
        child_metrics = {**figures, "training_pairs": 48213.0, "false_positives": 60.0, "false_negatives": 25.0,
                         "estimated_f1": figures["f1_score"] - 0.01}
        child_name = f"{name}_t{threshold:.3f}"
        child = client.create_run(exp_id, run_name=child_name,
                                  tags={"mlflow.parentRunId": pid, "run_kind": "sweep_child"})
        client.log_batch(child.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in child_metrics.items()],
                         params=[Param(THRESHOLD_KEY, f"{threshold:g}")],
                         tags=[RunTag("sweep.combination", "0"),
                               RunTag(tracking_ui.NOTE_TAG, tracking_ui.child_description(child_metrics, threshold))])
        client.set_terminated(child.info.run_id, "FINISHED")
        children[child_name] = child.info.run_id
    best = max(SWEEP, key=lambda t: SWEEP[t]["f1_score"])
    summary = {"best_threshold": best, "best_f1_score": SWEEP[best]["f1_score"],
               "best_precision": SWEEP[best]["precision"], "best_recall": SWEEP[best]["recall"],
               "thresholds_evaluated": float(len(SWEEP)), "combinations": 1.0}
    client.log_batch(pid, metrics=[Metric(k, v, now, 0) for k, v in summary.items()],
                     params=[Param("sweep.thresholds", ",".join(f"{t:g}" for t in SWEEP))])
    _png(tmp / "sweep" / "threshold_sweep.png", "threshold sweep", 6)
    client.log_artifacts(pid, str(tmp / "sweep"), "plots")
    tracking_ui.describe_sweep_run(pid, summary, f"{name}_t{best:.3f}", 0.99, len(SWEEP), client=client)
    client.set_terminated(pid, "FINISHED")
    return {"experiment_id": exp_id, "parent_name": name, "parent_id": pid, "children": children,
            "train_name": train_name, "train_id": rid, "widths": widths, "best": best,
            "hint": tracking.ui_hint(exp_id, rid)}


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """An `mlflow server` over a fresh SQLite store holding a training run and a sweep; stopped at the end."""
    folder = tmp_path_factory.mktemp("mlflow_ui")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    done = subprocess.run([MLFLOW, "db", "upgrade", uri], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = _log_runs(uri, folder / "files")

    port = free_port()
    log = open(folder / "server.log", "w")
    server = subprocess.Popen([MLFLOW, "server", "--backend-store-uri", uri,
                               "--artifacts-destination", str(folder / "served_artifacts"),
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"mlflow server did not answer on {base}/health within 60 s:\n"
                            + (folder / "server.log").read_text()[-3000:])
            time.sleep(0.25)
        yield {**sweep, "base": base, "folder": folder, "uri": uri}
    finally:
        _kill_group(server, grace=5)
        log.close()


def _chromium(folder: Path, url: str, *extra: str, size: str = "1600,1000", timeout: float = 60) -> str:
    """Run headless Chromium once on url with a fresh profile; returns its stdout."""
    profile = folder / f"profile_{time.monotonic_ns()}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--window-size={size}", "--virtual-time-budget=15000",
           *extra, url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {timeout} s on {url}")
    finally:
        _kill_group(proc, grace=5)
        shutil.rmtree(profile, ignore_errors=True)
    return out


def render(folder: Path, url: str, expect: list[str], screenshot: str | None = None,
           size: str = "1600,1000") -> str:
    """The DOM of url once the app has loaded its data (and, if named, a PNG of the page in
    test-artifacts/, from the same Chromium run). One retry if an expected text is missing:
    a first request to a just-started server can be slow."""
    extra = ["--dump-dom"]
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / screenshot
        path.unlink(missing_ok=True)
        extra.append(f"--screenshot={path}")
    for _ in range(2):
        dom = _chromium(folder, url, *extra, size=size)
        if all(e in dom for e in expect):
            break
    if screenshot:
        assert path.exists() and path.stat().st_size > 10_000, f"no screenshot written to {path}"
    return dom


def cell_texts(dom: str) -> list[str]:
    """The non-empty texts between tags of a rendered page (scripts, styles and icons dropped)."""
    dom = re.sub(r"<(script|style|svg)\b[^>]*>.*?</\1>", "", dom, flags=re.S)
    return [t for t in (html.unescape(s).strip() for s in re.split(r"<[^>]+>", dom)) if t]




@pytest.fixture(scope="module")
def browser(ui):
    """Chromium driven by selenium through Debian's chromedriver (nothing downloaded), a fresh
    profile: what a person sees on a first visit."""
    driver = headless_chromium("1920,1200")
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def printed(ui, which: str) -> str:
    """The address ``tracking.ui_hint`` printed (the run's page or all runs), on the test's server."""
    urls = re.findall(r"http://127\.0\.0\.1:\d+(/#/\S+)", ui["hint"])
    assert len(urls) == 2, ui["hint"]
    return ui["base"] + urls[0 if which == "run" else 1].rstrip(")")


def wait_for(driver, what: str, check, timeout: float = 30):
    """``check(driver)``'s truthy value, retried until ``timeout``; the failure names ``what`` and
    what the page showed."""
    def attempt(d):
        try:
            return check(d)
        except (StaleElementReferenceException, WebDriverException):
            return False
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(attempt)
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text
        pytest.fail(f"{what} not shown within {timeout} s on {driver.current_url}; the page showed:\n{body[:2000]}")


def click(driver, what: str, xpath: str) -> None:
    """Click the first displayed element at ``xpath`` once it can be clicked (retried until then)."""
    def attempt(d):
        element = next((e for e in d.find_elements(By.XPATH, xpath) if e.is_displayed()), None)
        if element is None:
            return False
        element.click()
        return True
    wait_for(driver, what, attempt)


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    driver.save_screenshot(str(path))
    assert path.exists() and path.stat().st_size > 10_000, f"no screenshot written to {path}"


def cell(driver, run_id: str, col_id: str) -> str | None:
    """The text of a runs-table cell (row = run, column = ``col_id``), None when not rendered."""
    found = driver.find_elements(By.XPATH, f"//div[@role='row' and @row-id='{run_id}']"
                                           f"//div[@role='gridcell' and @col-id='{col_id}']")
    return found[0].text.strip() if found else None


def cut_off(driver, run_id: str, col_id: str) -> bool:
    """Whether the cell's text overflows its box (shown cut off, with an ellipsis)."""
    element = driver.find_element(By.XPATH, f"//div[@role='row' and @row-id='{run_id}']"
                                            f"//div[@role='gridcell' and @col-id='{col_id}']")
    return driver.execute_script("return [arguments[0], ...arguments[0].querySelectorAll('*')]"
                                 ".some(e => e.scrollWidth > e.clientWidth + 1)", element)


def header_order(driver) -> list[str]:
    """The runs table's column ids, left to right."""
    heads = driver.find_elements(By.XPATH, "//div[@role='columnheader' and @col-id]")
    return [h.get_attribute("col-id") for h in sorted(heads, key=lambda h: int(h.get_attribute("aria-colindex") or 0))]


def sidebar_items(driver) -> list[str]:
    return [line.strip() for nav in driver.find_elements(By.TAG_NAME, "nav") for line in nav.text.splitlines()]


def open_runs_page(driver, ui) -> None:
    driver.get(printed(ui, "runs"))
    wait_for(driver, "the runs table with the training run's F1",
             lambda d: cell(d, ui["train_id"], "metrics.`f1_score`"))


def open_artifact(driver, ui, run_id: str, folder: str, file: str) -> dict:
    """Artifacts tab of the run (from its page, as a person clicks), the folder, then the file;
    returns the decoded preview image's size."""
    driver.get(ui["base"] + f"/#/experiments/{ui['experiment_id']}/runs/{run_id}?{tracking_ui.WORKFLOW_QUERY}")
    click(driver, "the Artifacts tab", "//*[@role='tab' and normalize-space()='Artifacts']")
    click(driver, f"the folder {folder}/", f"//*[@data-testid='artifact-tree-node' and @artifact-name='{folder}']")
    click(driver, f"the file {folder}/{file}", f"//*[@data-testid='artifact-tree-node' and @artifact-name='{file}']")
    title = f"{folder}/{file}"
    wait_for(driver, f"the preview title {title}", lambda d: title in d.find_element(By.TAG_NAME, "body").text)
    return wait_for(driver, f"the image {title}", lambda d: next((
        size for img in d.find_elements(By.TAG_NAME, "img") if img.is_displayed()
        for size in [d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)]
        if size and size == ui["widths"].get(title, -1)), None))


@needs_driver
def test_printed_runs_address_opens_model_training_view_with_key_metrics(ui, browser):
    assert MlflowClient(ui["uri"]).get_experiment(ui["experiment_id"]).tags.get(tracking_ui.EXPERIMENT_KIND_TAG) \
        == tracking_ui.MODEL_TRAINING_KIND
    open_runs_page(browser, ui)
    assert re.search(rf"#/experiments/{ui['experiment_id']}/runs\?", browser.current_url), \
        f"left the runs page for {browser.current_url}"
    items = sidebar_items(browser)
    assert "Runs" in items and "Models" in items, f"not the model-training sidebar: {items}"
    genai = [p for p in GENAI_PAGES if p in items]
    assert not genai, f"the GenAI view's pages are shown: {genai} (sidebar {items})"
    # the key columns are there without the user adding any, first after the run's name and date
    order = header_order(browser)
    key = ["metrics.`f1_score`", "metrics.`precision`", "metrics.`recall`", f"params.`{THRESHOLD_KEY}`"]
    values = [c for c in order if c.startswith(("metrics.`", "params.`"))]
    assert values[:4] == key, f"the first metric and param columns are not F1, precision, recall, threshold: {order}"
    row = {k: cell(browser, ui["train_id"], k) for k in key}
    assert row == {**{f"metrics.`{m}`": repr(TRAINING[m]) for m in ("f1_score", "precision", "recall")},
                   f"params.`{THRESHOLD_KEY}`": "0.95"}, row
    assert cell(browser, ui["train_id"], "metrics.`estimated_f1`") == "0.9433"
    cut = [k for k in key if cut_off(browser, ui["train_id"], k)]
    assert not cut, f"values cut off with an ellipsis in columns {cut}"
    assert "Key metrics" in browser.find_element(By.TAG_NAME, "body").text   # the saved view's name
    shot(browser, "mlflow_ui_key_metrics.png")


@needs_driver
def test_sweep_children_expand_under_their_parent(ui, browser):
    open_runs_page(browser, ui)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert re.search(r"\b5\s+matching runs", body), "the table does not count 5 runs"
    for child_id in ui["children"].values():            # nested, collapsed
        assert cell(browser, child_id, "metrics.`f1_score`") is None
    name_cell = browser.find_element(By.XPATH, f"//div[@role='row' and @row-id='{ui['parent_id']}']"
                                               "//div[@col-id='attributes.`Run Name`']")
    assert ui["parent_name"] in name_cell.text
    name_cell.find_element(By.TAG_NAME, "button").click()          # the expander beside the parent
    for child_name, child_id in ui["children"].items():
        t = float(child_name.rsplit("_t", 1)[1])
        shown = wait_for(browser, f"child {child_name}", lambda d: cell(d, child_id, "metrics.`f1_score`"))
        assert shown == f"{SWEEP[t]['f1_score']:g}", (child_name, shown)
        assert cell(browser, child_id, f"params.`{THRESHOLD_KEY}`") == f"{t:g}"
    shot(browser, "mlflow_ui_sweep_children.png")
    # the parent's page names the best threshold and its F1; a child's its own figures
    browser.get(ui["base"] + f"/#/experiments/{ui['experiment_id']}/runs/{ui['parent_id']}?{tracking_ui.WORKFLOW_QUERY}")
    wait_for(browser, "the sweep's description", lambda d: f"Best threshold by F1: {ui['best']:g}, F1 "
             f"{SWEEP[ui['best']]['f1_score']:.4f}" in d.find_element(By.TAG_NAME, "body").text)
    child = ui["children"][f"{ui['parent_name']}_t0.900"]
    browser.get(ui["base"] + f"/#/experiments/{ui['experiment_id']}/runs/{child}?{tracking_ui.WORKFLOW_QUERY}")
    wait_for(browser, "the child's description", lambda d: "F1 0.9620 · precision 0.9410 · recall 0.9890 at match "
             "threshold 0.9" in d.find_element(By.TAG_NAME, "body").text)


@needs_driver
def test_printed_run_address_shows_description_first_and_plots(ui, browser):
    browser.get(printed(ui, "run"))
    t = TRAINING
    head = " · ".join(f"{label} {t[m]:.4f} ({t[m + '_ci_low']:.4f} – {t[m + '_ci_high']:.4f})"
                      for m, label in (("f1_score", "F1"), ("precision", "precision"), ("recall", "recall")))
    desc = wait_for(browser, "the run description", lambda d: next((
        e for e in d.find_elements(By.XPATH, f"//*[starts-with(normalize-space(), 'F1 {t['f1_score']:.4f}')]")
        if e.is_displayed()), None))
    text = " ".join(desc.text.split())
    assert text.startswith(head) and "at match threshold 0.95" in text, text
    body = browser.find_element(By.TAG_NAME, "body").text
    for words in ("estimated F1 0.9433", "Plots: Artifacts tab → plots/ (confusion_matrix", "explanations/ (1 file)"):
        assert words in body, f"{words!r} not in the description: {body[:1500]}"
    # the description comes before the long metrics table
    metrics_title = browser.find_element(By.XPATH, "//*[starts-with(normalize-space(text()), 'Metrics (')]")
    assert desc.location["y"] < metrics_title.location["y"], (desc.location, metrics_title.location)
    shot(browser, "mlflow_ui_run_description.png")
    width = open_artifact(browser, ui, ui["train_id"], "plots", "precision_recall_curve.png")
    assert width == ui["widths"]["plots/precision_recall_curve.png"]
    shot(browser, "mlflow_ui_run_plots.png")


@needs_driver
def test_waterfall_artifact_is_shown(ui, browser):
    folder, file = WATERFALL.split("/")
    width = open_artifact(browser, ui, ui["train_id"], folder, file)
    assert width == ui["widths"][WATERFALL]
    shot(browser, "mlflow_ui_waterfall.png")


@needs_chromium
def test_runs_page_sorted_by_metric_lists_every_child(ui):
    # ordering by a metric turns nesting off: parent and children are rows of their own
    url = (f"{ui['base']}/#/experiments/{ui['experiment_id']}/runs"
           f"?orderByKey={urllib.parse.quote('metrics.`f1_score`')}&orderByAsc=false")
    names = [ui["parent_name"], *ui["children"], ui["train_name"]]
    dom = render(ui["folder"], url, names, screenshot="mlflow_ui_runs.png")
    texts = cell_texts(dom)
    for name in names:
        assert name in texts, f"{name} not rendered on {url}"
    assert 'aria-label="Sort: f1_score"' in dom
    # rows in f1_score order, best first (the training run's F1 is below every child's); the parent
    # (no f1_score) last
    rows = {m["id"]: int(m["index"]) for m in re.finditer(
        r'<div[^>]*role="row"[^>]*row-index="(?P<index>\d+)"[^>]*row-id="(?P<id>[0-9a-f]+)"', dom)}
    by_f1 = sorted(SWEEP, key=lambda t: -SWEEP[t]["f1_score"])
    expected = [ui["children"][f"{ui['parent_name']}_t{t:.3f}"] for t in by_f1] + [ui["train_id"], ui["parent_id"]]
    assert sorted(rows, key=rows.get) == expected, rows


@needs_chromium
def test_compare_page_shows_children_params_and_metrics(ui):
    runs = json.dumps(list(ui["children"].values()), separators=(",", ":"))
    url = (f"{ui['base']}/#/compare-runs?runs={urllib.parse.quote(runs)}"
           f"&experiments={urllib.parse.quote(json.dumps([ui['experiment_id']]))}")
    dom = render(ui["folder"], url, [*ui["children"], "f1_score"], screenshot="mlflow_ui_compare.png",
                 size="1600,1800")
    texts = cell_texts(dom)
    for name in ui["children"]:
        assert name in texts, f"child run {name} not rendered on the compare page"
    assert "Comparing 3 Runs from 1 Experiment" in " ".join(texts)
    assert THRESHOLD_KEY in texts
    assert {f"{t:g}" for t in SWEEP} <= set(texts), "swept threshold values missing"
    assert {"precision", "recall", "f1_score", "match_pairs"} <= set(texts), "metric names missing"
    shown = {f"{m[k]:g}" for m in SWEEP.values() for k in m}
    missing = shown - set(texts)
    assert not missing, f"metric values not rendered: {sorted(missing)}"


def test_experiment_tagged_for_the_ui_and_a_users_kind_kept(ui, caplog):
    """ensure_experiment: a new or untagged experiment becomes a model-training one with the saved
    view; an explicit other kind is kept and the user is told (a logged note: the command line shows
    it); the view is written once."""
    caplog.set_level(logging.INFO, logger="golden_record")
    client = MlflowClient(ui["uri"])
    view = tracking_ui.SHARED_VIEW_PREFIX + tracking_ui.KEY_METRICS_VIEW
    plain = client.create_experiment("made-elsewhere", artifact_location=(ui["folder"] / "a1").as_uri())
    assert tracking.ensure_experiment("made-elsewhere", ui["uri"]) == plain
    tags = client.get_experiment(plain).tags
    assert tags[tracking_ui.EXPERIMENT_KIND_TAG] == "custom_model_development"
    state = json.loads(json.loads(tags[view])["state"])
    assert state["selectedColumns"][:4] == ["metrics.`f1_score`", "metrics.`precision`", "metrics.`recall`",
                                            f"params.`{THRESHOLD_KEY}`"]
    assert json.loads(tags[view])["name"] == "Key metrics"
    assert not [r for r in caplog.records if r.name.startswith("golden_record")]
    tracking.ensure_experiment("made-elsewhere", ui["uri"])          # nothing rewritten
    assert client.get_experiment(plain).tags[view] == tags[view]

    genai = client.create_experiment("genai-kind", artifact_location=(ui["folder"] / "a2").as_uri(),
                                     tags={tracking_ui.EXPERIMENT_KIND_TAG: "genai_development"})
    tracking.ensure_experiment("genai-kind", ui["uri"])
    assert client.get_experiment(genai).tags[tracking_ui.EXPERIMENT_KIND_TAG] == "genai_development"
    err = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("golden_record"))
    assert "genai-kind" in err and "mlflow.experimentKind=genai_development" in err and "left as it is" in err


def test_descriptions_name_the_key_figures():
    without_truth = tracking_ui.training_description(
        {"estimated_precision": 0.91, "estimated_recall": 0.88, "estimated_f1": 0.8947, "training_pairs": 1200.0,
         "match_pairs": 300.0}, 0.9, {"plots": ["m_u_parameters.png"], "explanations": []})
    lines = without_truth.split("  \n")
    assert lines[0].startswith("Evaluation skipped: no ground truth") and "threshold **0.9**" in lines[0]
    assert "**F1 0.8947** · precision 0.9100 · recall 0.8800" in lines[0]
    assert lines[1] == "Plots: **Artifacts** tab → `plots/` (m_u_parameters)"
    assert lines[2] == "Pairs: 1,200 candidate pairs, 300 classified as matches"
    labelled = tracking_ui.training_description({**TRAINING, "labelled_f1": 0.9012}, 0.95)
    assert "labelled F1 0.9012 (pairs reviewers labelled)" in labelled.split("  \n")[1]
    parent = tracking_ui.sweep_description({"best_threshold": 0.95, "best_f1_score": 0.973, "best_precision": 0.966,
                                            "best_recall": 0.981, "combinations": 1.0}, "s_t0.950", 0.99, 3)
    assert parent.startswith("Best threshold by F1: **0.95**, **F1 0.9730**")
    assert "No threshold reaches precision 0.99" in parent and "3 child runs" in parent
