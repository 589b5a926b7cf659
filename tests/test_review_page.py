"""The clerical review page (``golden-record review``), driven in headless Chromium.

End to end: a warehouse of its own (3,000 seeded citizens), one training run logging
``review/uncertain_pairs.csv`` (the page's queue, most uncertain first), the review command
started as a user would (a subprocess with ``DATABASE_URL`` and ``MLFLOW_TRACKING_URI``), and
Chromium (Debian's, through selenium and /usr/bin/chromedriver: nothing is downloaded) pressing
keys. What is checked is what a clerk and the next training see: the pair shown and its
progress line, the rows of ``pair_labels`` in PostgreSQL, blind mode hiding the score, undo,
resuming after a reload, the done state, an error on the page when the server is gone, and the
``labelled_*`` metrics of the next training run.

Screenshots go to ``test-artifacts/`` (review_page.png, review_blind.png, review_done.png,
review_error.png, review_waterfall.png). With ``GOLDEN_RECORD_UPDATE_DOCS=1`` the page and the
waterfall are also copied to ``docs/review_page.png`` and ``docs/waterfall.png`` (the README's).

The fast tests at the top need no browser, database or MLflow: the queue's presentation of a pair.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from conftest import CHROMEDRIVER, CHROMIUM, ROOT, SRC, free_port, headless_chromium, run
from golden_record.web.queue import SCORE_KEYS, ReviewQueue, segments

USE_CASE = ROOT / "use-cases" / "golden_record"
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs"
REVIEWER = "Asha Verma"
LABELLED = 20                       # pairs labelled before the next training

browser_missing = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="chromium and chromedriver not installed: apt-get install -y chromium chromium-driver")


# --------------------------------------------------------------------------- fast: the queue
def _queue(tmp_path: Path, rows: list[dict]) -> ReviewQueue:
    path = tmp_path / "uncertain_pairs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return ReviewQueue.from_csv(path, run_id="r1", name="uncertain_pairs", data_table="citizens",
                                fields_of={"first_name": ["first_name"], "mobile": ["mobile"]},
                                prior=-2.0, threshold=0.95)


def _row(left_id, right_id, **extra) -> dict:
    return {"left_id": left_id, "right_id": right_id, "left_first_name": "Vijay", "right_first_name": "Vijey",
            "left_mobile": "0098101734", "right_mobile": "", "left_city": "", "right_city": "",
            "cmp_first_name": ">=0.9", "w_first_name": 3.5, "cmp_mobile": "missing", "w_mobile": 0.0,
            "match_weight": 3.5, "match_probability": 0.8, "predicted_match": False, "true_match": True, **extra}


def test_pair_shows_differences_missing_values_and_text_as_written(tmp_path):
    queue = _queue(tmp_path, [_row(17, 5), _row(3, 4)])
    pair = queue.pair(0)
    rows = {r["field"]: r for r in pair["rows"]}
    assert [r["field"] for r in pair["rows"]] == ["first_name", "mobile", "city"]
    assert rows["first_name"]["status"] == "differs"
    assert rows["first_name"]["left_parts"] == [["Vij", False], ["a", True], ["y", False]]
    assert rows["first_name"]["right_parts"] == [["Vij", False], ["e", True], ["y", False]]
    # a phone number keeps its leading zeros (read as text, not as a float); the other side is missing
    assert rows["mobile"]["left"] == "0098101734" and rows["mobile"]["right"] is None
    assert rows["mobile"]["status"] == "one_missing" and rows["city"]["status"] == "missing"
    assert rows["first_name"]["level"] == ">=0.9" and rows["first_name"]["weight"] == 3.5
    assert pair["probability"] == 0.8 and pair["true_match"] is True and pair["predicted_match"] is False
    # the pair as the labels store keeps it: ids as text, smaller first ("17" > "5" as text)
    assert queue.key(0) == ("17", "5") and queue.keys() == [("17", "5"), ("3", "4")]
    assert queue.progress({("3", "4")}) == (1, 0)
    assert queue.progress({("17", "5"), ("3", "4")}) == (2, None)


def test_blind_pair_has_no_score_verdict_truth_or_weights(tmp_path):
    pair = _queue(tmp_path, [_row(1, 2)]).pair(0, blind=True)
    assert not set(SCORE_KEYS) & set(pair), pair.keys()
    assert all("level" not in r and "weight" not in r for r in pair["rows"])
    assert "0.8" not in json.dumps(pair) and "3.5" not in json.dumps(pair)


def test_segments_mark_only_the_differing_characters():
    left, right = segments("Kumar", "Kymar")
    assert left == [["K", False], ["u", True], ["mar", False]]
    assert right == [["K", False], ["y", True], ["mar", False]]


def test_command_is_listed_and_defaults_to_loopback_port_8050(monkeypatch):
    from golden_record.cli import COMMANDS
    from golden_record.web import review

    assert COMMANDS["review"][0] == "golden_record.web.review"
    monkeypatch.delenv("REVIEW_PORT", raising=False)
    assert review.build_parser().parse_args([]).port == 8050 and review.HOST == "127.0.0.1"
    monkeypatch.setenv("REVIEW_PORT", "8123")
    assert review.build_parser().parse_args([]).port == 8123


# --------------------------------------------------------------------------- e2e: helpers
def _stop(proc: subprocess.Popen) -> None:
    """Stop a process this test started (its own session), by its id."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def _train(env: dict, run_name: str):
    done = run([sys.executable, "src/train.py", "--experiment", "review_page", "--run-name", run_name, "--quiet"],
               env, cwd=USE_CASE)
    assert done.returncode == 0, done.stderr[-3000:]
    from mlflow import MlflowClient

    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("review_page")
    found = client.search_runs([exp.experiment_id], filter_string=f"attributes.run_name = '{run_name}'")
    assert len(found) == 1, [r.info.run_name for r in found]
    return client, found[0]


def _pair_labels(url: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT data_table, left_id, right_id, label, reviewer, run_id FROM pair_labels "
                            "ORDER BY labelled_at").fetchall()


def _truth_label(i: int, row: pd.Series) -> str:
    """What the clerk of this test decides: every sixth pair unsure, else the truth."""
    if i % 6 == 4:
        return "unsure"
    return "match" if row["true_match"] == "True" else "not_match"


KEY = {"match": "m", "not_match": "n", "unsure": "u"}


class Page:
    """The review page in one Chromium session, with waits on the page's own step counter."""

    def __init__(self, driver, base: str):
        self.driver = driver
        self.base = base

    def js(self, script: str):
        return self.driver.execute_script(script)

    @property
    def version(self) -> int:
        return int(self.js("return document.body.dataset.version"))

    def wait_ready(self, after: int | None = None, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state, version = self.js("return [document.body.dataset.state, Number(document.body.dataset.version)]")
            if state == "ready" and (after is None or version > after):
                return
            time.sleep(0.02)
        raise AssertionError(f"the page did not answer within {timeout} s: {self.text('error')!r}")

    def wait_for(self, condition: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.js(condition):
            assert time.monotonic() < deadline, f"not true within {timeout} s: {condition}"
            time.sleep(0.05)

    def press(self, key: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        before = self.version
        ActionChains(self.driver).send_keys(key).perform()
        self.wait_ready(after=before)

    def text(self, element_id: str) -> str:
        return self.js(f"const e = document.getElementById('{element_id}'); return e ? e.innerText : null")

    def shown(self, element_id: str) -> bool:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.ID, element_id).is_displayed()

    def pair_ids(self) -> tuple[str, str]:
        title = self.text("pair-title")                    # "Pair 3 of 23: records 462 and 2844"
        ids = title.split("records ", 1)[1].split(" and ")
        return ids[0], ids[1]

    def error(self) -> str:
        return self.text("error") if self.shown("error") else ""

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        assert self.driver.save_screenshot(str(path)), f"no screenshot {path}"
        return path


# --------------------------------------------------------------------------- e2e: fixtures
@pytest.fixture(scope="module")
def review_run(seeded_copy, mlflow_store, tmp_path_factory):
    """A warehouse of this module only (so pair_labels holds this module's labels only), seeded
    with 3,000 citizens (a copy of the run's, seed 7), and one training run; its queue as the run
    logged it."""
    url = seeded_copy("review_page")
    env = {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": mlflow_store}
    client, run_ = _train(env, "review_first")
    path = client.download_artifacts(run_.info.run_id, "review/uncertain_pairs.csv",
                                     str(tmp_path_factory.mktemp("review_queue")))
    queue = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(queue) > LABELLED, f"the run has only {len(queue)} uncertain pairs: too few to label {LABELLED}"
    return {"env": env, "url": url, "client": client, "run_id": run_.info.run_id, "queue": queue}


@pytest.fixture(scope="module")
def server(review_run, tmp_path_factory):
    """``golden-record review --run-id RUN --port P`` as a user starts it; stopped at the end."""
    folder = tmp_path_factory.mktemp("review_server")
    port = free_port()
    env = {**os.environ, **review_run["env"], "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    log_path = folder / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "golden_record", "review", "--run-id", review_run["run_id"],
                                 "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"golden-record review did not answer on {base} within 60 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield {"base": base, "proc": proc, "log": log_path}
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def page(server):
    driver = headless_chromium("1400,1450")
    try:
        driver.get(server["base"])
        yield Page(driver, server["base"])
    finally:
        driver.quit()


# --------------------------------------------------------------------------- e2e: the page
@browser_missing
def test_label_twenty_pairs_with_the_keyboard(review_run, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    queue, run_id = review_run["queue"], review_run["run_id"]
    # no --reviewer: the page asks for a name first
    page.wait_ready()
    assert page.shown("ask-reviewer") and not page.shown("review")
    before = page.version
    page.driver.find_element(By.ID, "reviewer-input").send_keys(REVIEWER + Keys.ENTER)
    page.wait_ready(after=before)
    assert page.text("reviewer-name") == REVIEWER
    assert page.text("progress") == f"0 of {len(queue)} labelled"
    shortcuts = page.text("shortcuts")
    assert all(k in shortcuts for k in ("M", "N", "U", "Z", "Backspace", "B")), shortcuts

    # the first pair is the most uncertain one, its records side by side, the waterfall loaded
    first = queue.iloc[0]
    assert page.pair_ids() == (first["left_id"], first["right_id"])
    assert page.text("probability") == f"{float(first['match_probability']):.4f}"
    differing = page.js("return [...document.querySelectorAll('#records tr.differs')].map(r => r.dataset.field)")
    expected = [c[5:] for c in queue.columns if c.startswith("left_") and c != "left_id"
                and first[c] and first["right_" + c[5:]] and first[c] != first["right_" + c[5:]]]
    assert differing == expected and differing, (differing, expected)
    page.wait_for("const i = document.getElementById('waterfall'); return i.complete && i.naturalWidth > 500")
    shot = page.screenshot("review_page.png")
    src = page.js("return document.getElementById('waterfall').getAttribute('src')")
    with urllib.request.urlopen(page.base + src, timeout=30) as answer:
        png = answer.read()
    assert answer.headers["Content-Type"] == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    (ARTIFACTS / "review_waterfall.png").write_bytes(png)

    decided = [_truth_label(i, queue.iloc[i]) for i in range(LABELLED)]
    for i in range(LABELLED - 1):
        if i == 10:                      # a reload resumes where the reviewer stopped (name kept)
            page.driver.refresh()
            page.wait_ready()
            assert page.text("progress") == f"10 of {len(queue)} labelled"
        assert page.pair_ids() == (queue.iloc[i]["left_id"], queue.iloc[i]["right_id"]), f"pair {i}"
        page.press(KEY[decided[i]])
        assert not page.error(), page.error()
        assert page.text("progress") == f"{i + 1} of {len(queue)} labelled"

    # the 20th pair: a wrong key, undone (z), then the right one
    last = queue.iloc[LABELLED - 1]
    wrong = "not_match" if decided[-1] == "match" else "match"
    page.press(KEY[wrong])
    rows = _pair_labels(review_run["url"])
    assert len(rows) == LABELLED and rows[-1][3] == wrong
    page.press("z")
    assert not page.error(), page.error()
    assert len(_pair_labels(review_run["url"])) == LABELLED - 1, "undo left the last label in pair_labels"
    assert page.text("progress") == f"{LABELLED - 1} of {len(queue)} labelled"
    assert page.pair_ids() == (last["left_id"], last["right_id"]), "the undone pair is not shown again"
    assert page.text("message").startswith(f"Undone: {last['left_id']} – {last['right_id']}"), page.text("message")
    page.press(KEY[decided[-1]])
    assert page.text("progress") == f"{LABELLED} of {len(queue)} labelled"

    # PostgreSQL holds exactly one row per labelled pair, in the queue's order
    rows = _pair_labels(review_run["url"])
    want = [("citizens", *sorted((queue.iloc[i]["left_id"], queue.iloc[i]["right_id"])), decided[i], REVIEWER, run_id)
            for i in range(LABELLED)]
    assert rows == want
    assert {"match", "not_match", "unsure"} <= set(decided)
    if os.environ.get("GOLDEN_RECORD_UPDATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS / "review_page.png")
        (DOCS / "waterfall.png").write_bytes(png)


@browser_missing
def test_blind_mode_hides_the_score(review_run, server, page):
    queue = review_run["queue"]
    pair = queue.iloc[LABELLED]
    probability = f"{float(pair['match_probability']):.4f}"
    assert page.pair_ids() == (pair["left_id"], pair["right_id"])
    assert page.shown("score") and page.text("probability") == probability
    page.press("b")
    assert page.shown("blind-badge")
    assert not page.shown("score") and not page.shown("waterfall-figure")
    body = page.text("pair")                            # the pair's card, as a person sees it
    assert probability not in body and "ground truth" not in body and "model says" not in body.lower()
    assert page.js("return document.querySelectorAll('#records td.level:not(:empty)').length") == 0
    # the records are still there, and the server sent no score either
    assert page.pair_ids() == (pair["left_id"], pair["right_id"])
    with urllib.request.urlopen(server["base"] + "api/state?reviewer=" + urllib.parse.quote(REVIEWER)
                                + "&blind=1", timeout=10) as answer:
        sent = json.load(answer)["pair"]
    assert not {"probability", "match_weight", "true_match", "predicted_match"} & set(sent)
    page.screenshot("review_blind.png")
    page.press("b")
    assert page.shown("score") and page.text("probability") == probability
    assert page.shown("waterfall-figure")


@browser_missing
def test_next_training_counts_the_labels(review_run, page):
    """The labels of the test above, counted by the next training (``labelled_*`` metrics)."""
    try:
        import golden_record.evaluation.labelled  # noqa: F401
    except ImportError:
        pytest.skip("labels metrics not merged yet (golden_record.evaluation.labelled, branch h-labels)")
    queue = review_run["queue"]
    rows = _pair_labels(review_run["url"])
    assert len(rows) == LABELLED, "the labelling test did not leave its 20 labels"
    unsure = sum(r[3] == "unsure" for r in rows)
    _, second = _train(review_run["env"], "review_second")
    m = second.data.metrics
    # the labels taught the model (issue 28), so each labelled pair is scored by a model refitted
    # without it: the figures are those of review/labelled_pairs.csv, out of sample
    assert m["labels_used_in_fit"] == LABELLED - unsure and m["labels_cross_fit_folds"] == 5
    assert second.data.tags["labelled.scored"].startswith("out of sample"), second.data.tags
    path = review_run["client"].download_artifacts(second.info.run_id, "review/labelled_pairs.csv",
                                                   str(ARTIFACTS))
    outcome = pd.read_csv(path)["outcome"].value_counts()
    tp, fp, fn = (int(outcome.get(k, 0)) for k in ("true_positive", "false_positive", "false_negative"))
    assert tp, "the labels do not exercise precision and recall"
    assert m["labelled_precision"] == pytest.approx(tp / (tp + fp))
    if tp + fn:
        assert m["labelled_recall"] == pytest.approx(tp / (tp + fn))
    assert m["labelled_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert m["labelled_pairs"] == LABELLED - unsure and m["labelled_left_out_unsure"] == unsure


def test_command_failures_are_one_clear_line(review_run, server):
    """A run that does not exist (a user error: exit 2), a port already taken (exit 1): one line naming
    the fix, no page."""
    env = {**review_run["env"], "PYTHONPATH": str(SRC)}
    port = int(server["base"].rsplit(":", 1)[1].strip("/"))
    missing = run([sys.executable, "-m", "golden_record", "review", "--run-id", "0" * 32, "--port", str(free_port())],
                  env, timeout=120)
    assert missing.returncode == 2 and f"MLflow run {'0' * 32!r} not found" in missing.stderr, missing.stderr
    taken = run([sys.executable, "-m", "golden_record", "review", "--run-id", review_run["run_id"], "--port", str(port)],
                env, timeout=120)
    assert taken.returncode == 1, taken.stdout + taken.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in taken.stderr and "--port N, or make review REVIEW_PORT=N" in taken.stderr, taken.stderr


@browser_missing
def test_done_state_backspace_undo_and_an_error_on_the_page(review_run, server, page):
    queue = review_run["queue"]
    for i in range(LABELLED, len(queue)):
        assert page.pair_ids() == (queue.iloc[i]["left_id"], queue.iloc[i]["right_id"])
        page.press(KEY[_truth_label(i, queue.iloc[i])])
    assert page.text("progress") == f"{len(queue)} of {len(queue)} labelled"
    assert page.shown("done") and not page.shown("pair")
    assert f"All {len(queue)} pairs of this queue are labelled by {REVIEWER}" in page.text("done-text")
    page.screenshot("review_done.png")
    assert len(_pair_labels(review_run["url"])) == len(queue)

    from selenium.webdriver.common.keys import Keys

    page.press(Keys.BACKSPACE)                         # undo from the done state: the last pair is back
    last = queue.iloc[-1]
    assert page.pair_ids() == (last["left_id"], last["right_id"]) and page.shown("pair")
    assert len(_pair_labels(review_run["url"])) == len(queue) - 1

    # the server gone: the label is not saved, and the page says so instead of moving on
    _stop(server["proc"])
    page.press("m")
    error = page.error()
    assert "does not answer" in error and "nothing was saved" in error, error
    assert page.pair_ids() == (last["left_id"], last["right_id"])
    assert page.text("progress") == f"{len(queue) - 1} of {len(queue)} labelled"
    assert len(_pair_labels(review_run["url"])) == len(queue) - 1
    page.screenshot("review_error.png")
    log = server["log"].read_text()
    assert f"{REVIEWER}: " in log and "undid" in log, log[-2000:]


def test_a_request_from_a_foreign_host_or_origin_is_refused_and_saves_nothing(tmp_path, test_databases):
    """DNS rebinding: a site whose name resolves to 127.0.0.1 posts to the page with its own Host
    and Origin. It gets 403 and no label reaches pair_labels; the page's own requests still work."""
    import psycopg

    from golden_record.io.warehouse import DatabaseTarget
    from golden_record.web.review import LabelStore, create_app

    from golden_record.io import labels

    url = test_databases.url("review_host")
    with psycopg.connect(url) as conn:           # as golden-record review does before serving
        labels.ensure_table(conn)
    queue = _queue(tmp_path, [_row(17, 5), _row(3, 4)])
    client = create_app(queue, LabelStore(DatabaseTarget(url, "test"))).test_client()
    label = {"reviewer": REVIEWER, "left_id": "17", "right_id": "5", "label": "match"}

    def saved() -> int:
        with psycopg.connect(url) as conn:
            exists = conn.execute("SELECT to_regclass('pair_labels')").fetchone()[0]
            return conn.execute("SELECT count(*) FROM pair_labels").fetchone()[0] if exists else 0

    for headers in ({"Host": "evil.example:8050", "Origin": "http://evil.example:8050"},
                    {"Host": "evil.example:8050"},
                    {"Host": "127.0.0.1:8050", "Origin": "http://evil.example"},
                    {"Host": "127.0.0.1:8050", "Origin": "http://127.0.0.1:3000"}):
        response = client.post("/api/label", json=label, headers=headers)
        assert response.status_code == 403, (headers, response.get_json())
        assert "refused" in response.get_json()["error"]
    assert client.get("/", headers={"Host": "evil.example:8050"}).status_code == 403
    assert saved() == 0
    own = client.post("/api/label", json=label, headers={"Host": "127.0.0.1:8050", "Origin": "http://127.0.0.1:8050"})
    assert own.status_code == 200, own.get_json()
    assert client.post("/api/label", json={**label, "left_id": "3", "right_id": "4"},
                       headers={"Host": "localhost:8050"}).status_code == 200
    assert saved() == 2
