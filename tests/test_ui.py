"""The MLflow UI, rendered in a real headless browser, shows a threshold sweep.

The sweep runs are written straight into a fresh SQLite store with MlflowClient (no database,
no training), in the shape ``sweep.py`` logs: one parent run ``threshold_sweep_YYYYMMDD_HHMMSS``
and one nested child per threshold (tag ``mlflow.parentRunId``) named ``<parent>_t0.900`` etc.,
with param ``model.params.match_threshold`` and metrics precision, recall, f1_score, match_pairs.
``mlflow server`` serves that store and Debian's Chromium renders the pages (--dump-dom).

What MLflow 3.17 renders, and so what is checked:
- the runs page ``#/experiments/<id>/runs`` nests children under their parent, collapsed: only the
  parent row shows, with an expander button, and "4 matching runs". Metric and param columns are
  not among the default columns.
- sorted by a metric (``?orderByKey=metrics.`f1_score```) the table is flat: the parent and the
  three children are rows (the screenshot test-artifacts/mlflow_ui_runs.png is this page).
- the compare page ``#/compare-runs?runs=[...]&experiments=[...]`` over the three children shows
  their names, the swept param values and the metric names and values
  (screenshot test-artifacts/mlflow_ui_compare.png).
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import socket
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

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
MLFLOW = str(Path(sys.executable).with_name("mlflow"))
THRESHOLD_KEY = "model.params.match_threshold"
# threshold -> child metrics; values have at most 3 decimals because the compare page rounds to 3
SWEEP = {
    0.90: {"precision": 0.941, "recall": 0.989, "f1_score": 0.962, "match_pairs": 1517.0},
    0.95: {"precision": 0.966, "recall": 0.981, "f1_score": 0.973, "match_pairs": 1483.0},
    0.98: {"precision": 0.988, "recall": 0.942, "f1_score": 0.957, "match_pairs": 1391.0},
}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium not installed: apt-get install -y chromium")


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_sweep(uri: str, artifacts: Path) -> dict:
    """A parent run and three nested children, shaped like what sweep.py logs."""
    client = MlflowClient(uri)
    exp_id = client.create_experiment("ui-sweep", artifact_location=artifacts.as_uri())
    name = f"threshold_sweep_{datetime.now():%Y%m%d_%H%M%S}"
    now = int(time.time() * 1000)
    parent = client.create_run(exp_id, run_name=name, tags={"model_type": "splink"})
    pid = parent.info.run_id
    children = {}
    for threshold, metrics in SWEEP.items():
        child_name = f"{name}_t{threshold:.3f}"
        child = client.create_run(exp_id, run_name=child_name,
                                  tags={"mlflow.parentRunId": pid, "run_kind": "sweep_child"})
        client.log_batch(child.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                         params=[Param(THRESHOLD_KEY, f"{threshold:g}")],
                         tags=[RunTag("sweep.combination", "0")])
        client.set_terminated(child.info.run_id, "FINISHED")
        children[child_name] = child.info.run_id
    best = max(SWEEP, key=lambda t: SWEEP[t]["f1_score"])
    client.log_batch(pid, metrics=[Metric("best_threshold", best, now, 0),
                                   Metric("best_f1_score", SWEEP[best]["f1_score"], now, 0)],
                     params=[Param("sweep.thresholds", ",".join(f"{t:g}" for t in SWEEP))])
    client.set_terminated(pid, "FINISHED")
    return {"experiment_id": exp_id, "parent_name": name, "parent_id": pid, "children": children}


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """An `mlflow server` over a fresh SQLite store holding one sweep; stopped at the end."""
    folder = tmp_path_factory.mktemp("mlflow_ui")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    done = subprocess.run([MLFLOW, "db", "upgrade", uri], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = _log_sweep(uri, folder / "artifacts")

    port = _free_port()
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
        yield {**sweep, "base": base, "folder": folder}
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


def test_runs_page_shows_parent_with_expander(ui):
    url = f"{ui['base']}/#/experiments/{ui['experiment_id']}/runs"
    dom = render(ui["folder"], url, [ui["parent_name"], "matching runs"])
    texts = cell_texts(dom)
    assert ui["parent_name"] in texts, f"parent run name not rendered on {url}"
    assert f"#/experiments/{ui['experiment_id']}/runs/{ui['parent_id']}" in dom  # link to the parent run
    # the children are nested under the parent, collapsed: the parent's row has the expander button
    row = dom[:dom.index(ui["parent_name"])]
    row = row[row.rindex('col-id="attributes.`Run Name`"'):]
    assert "runnamecellrenderer" in row and "<button" in row, "no expander button beside the parent run"
    # parent + 3 children are counted
    assert re.search(r"<strong>\s*4\s*</strong>\s*matching runs", dom), "the table does not count 4 runs"


def test_runs_page_sorted_by_metric_lists_every_child(ui):
    # ordering by a metric turns nesting off: parent and children are rows of their own
    url = (f"{ui['base']}/#/experiments/{ui['experiment_id']}/runs"
           f"?orderByKey={urllib.parse.quote('metrics.`f1_score`')}&orderByAsc=false")
    dom = render(ui["folder"], url, [ui["parent_name"], *ui["children"]], screenshot="mlflow_ui_runs.png")
    texts = cell_texts(dom)
    for name in [ui["parent_name"], *ui["children"]]:
        assert name in texts, f"{name} not rendered on {url}"
    assert 'aria-label="Sort: f1_score"' in dom
    # rows in f1_score order, best first; the parent (no f1_score) last
    rows = {m["id"]: int(m["index"]) for m in re.finditer(
        r'<div[^>]*role="row"[^>]*row-index="(?P<index>\d+)"[^>]*row-id="(?P<id>[0-9a-f]+)"', dom)}
    by_f1 = sorted(SWEEP, key=lambda t: -SWEEP[t]["f1_score"])
    expected = [ui["children"][f"{ui['parent_name']}_t{t:.3f}"] for t in by_f1] + [ui["parent_id"]]
    assert sorted(rows, key=rows.get) == expected, rows


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
