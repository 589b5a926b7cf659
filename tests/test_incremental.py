"""Incremental matching, ``golden-record match-new`` (issue 14, points 1 and 3).

A copy of the run's trained warehouse (seeded as ``seeded_small`` is, a model trained with
``--write-golden``; a database and store of this module's own: the tests add and change records); then records are added, changed and
labelled as a department and a reviewer would, and ``golden-record match-new`` is run as a user
runs it. The tests read the golden tables back from PostgreSQL and the run from MLflow. They run
in file order (each builds on the state the previous ones left).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import psycopg
import pytest
from mlflow import MlflowClient

from conftest import ROOT, SRC, run

USE_CASE = ROOT / "use-cases" / "golden_record"
COLUMNS = ("full_name, first_name, last_name, father_name, gender, date_of_birth, mobile, email, address, "
           "district, state, pincode, jan_aadhaar, aadhaar_last4, source_system")


@pytest.fixture(scope="module")
def warehouse(trained_copy):
    """A copy of the run's trained warehouse (seeded as seeded_small, ``src/train.py
    --write-golden``) and of its MLflow store, the experiment named ``incremental``."""
    copy = trained_copy("incremental", "incremental")
    url, store = copy["url"], copy["store"]
    env = {**copy["env"], "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("incremental").experiment_id
    run_id = client.search_runs([experiment])[0].info.run_id
    assert run_id == copy["run_id"]
    return {"url": url, "env": env, "run_id": run_id, "client": client, "experiment": experiment}


def match_new(w, *args, process: bool = False):
    """``golden-record match-new`` against the module's warehouse: as a command (``process``), else
    the same entry point in this process (real PostgreSQL and MLflow; a process start saved)."""
    argv = ["--run-id", w["run_id"], "--experiment", "incremental", *args]
    if process:
        return run([sys.executable, "-m", "golden_record", "match-new", *argv], w["env"])
    from golden_record.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in w["env"]}
    os.environ.update(w["env"])
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["match-new", *argv])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return subprocess.CompletedProcess(["match-new", *argv], code, out.getvalue(), err.getvalue())


def golden_of(url: str, *ids) -> list:
    with psycopg.connect(url) as conn:
        rows = dict(conn.execute("SELECT citizen_id, golden_id FROM citizen_golden_map WHERE citizen_id = ANY(%s)",
                                 (list(ids),)).fetchall())
    return [rows.get(i) for i in ids]


def tables(url: str) -> dict[str, list]:
    def row(values):          # jsonb arrives as a dict
        return tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in values)

    with psycopg.connect(url) as conn:
        return {t: [row(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()]
                for t in ("citizen_golden_map", "golden_records", "golden_redirects", "golden_records_block_keys")
                if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0]}


def copy_of(url: str, source_id: int, new_id: int, typo: bool = True) -> None:
    """A department adds a record of the same person (first name with one letter changed)."""
    first = "overlay(first_name placing 'q' from 3 for 1)" if typo else "first_name"
    with psycopg.connect(url) as conn:
        conn.execute(f"INSERT INTO citizens (citizen_id, {COLUMNS}) SELECT %s, "
                     f"{COLUMNS.replace('first_name,', first + ',', 1)} FROM citizens WHERE citizen_id = %s",
                     (new_id, source_id))


def pair_in_one_golden_record(url: str, offset: int = 0) -> tuple[int, int, int]:
    """Two records the last build put in one golden record of exactly two (so the model links
    them directly), with a first name of 5+ letters, and their golden id."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT min(m.citizen_id), max(m.citizen_id), m.golden_id FROM citizen_golden_map m JOIN citizens c "
            "USING (citizen_id) GROUP BY m.golden_id HAVING count(*) = 2 AND min(length(c.first_name)) >= 5 "
            "AND bool_and(c.date_of_birth IS NOT NULL) ORDER BY m.golden_id OFFSET %s LIMIT 1", (offset,)).fetchone()


def latest_run(w):
    client = w["client"]
    runs = client.search_runs([w["experiment"]], "tags.run_kind = 'incremental_match'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0]


# --------------------------------------------------------------------------- before any golden records
def test_without_golden_records_match_new_says_to_build_them_first(test_databases, mlflow_store, warehouse):
    url = test_databases.url("incremental_empty")
    env = {**warehouse["env"], "DATABASE_URL": url}
    done = run([sys.executable, "scripts/seed_data.py", "--rows", "300", "--seed", "1"], env)
    assert done.returncode == 0, done.stderr
    failed = run([sys.executable, "-m", "golden_record", "match-new", "--run-id", warehouse["run_id"]], env)
    assert failed.returncode != 0
    assert "no golden records to match against" in failed.stderr and "--write-golden" in failed.stderr
    with psycopg.connect(url) as conn:          # nothing was written
        assert conn.execute("SELECT to_regclass('golden_records_block_keys')").fetchone()[0] is None


# --------------------------------------------------------------------------- new records
def test_a_new_duplicate_gets_its_persons_golden_id_and_the_run_is_logged(warehouse):
    url = warehouse["url"]
    a, b, golden = pair_in_one_golden_record(url)
    copy_of(url, a, 900001)
    copy_of(url, b, 900002, typo=False)                        # a second new record of the same person
    before = tables(url)
    done = match_new(warehouse, process=True)                 # as a user runs it
    assert done.returncode == 0, done.stderr[-3000:]
    assert "match-new: 2 new and 0 changed records" in done.stdout
    assert golden_of(url, 900001, 900002, a, b) == [golden] * 4
    after = tables(url)
    # only that golden record's rows changed; every other person's rows are as they were
    changed_map = set(after["citizen_golden_map"]) - set(before["citizen_golden_map"])
    assert {r[0] for r in changed_map} <= {900001, 900002, a, b}
    gone = set(before["golden_records"]) - set(after["golden_records"])
    assert {r[0] for r in gone} == {golden}
    assert len(after["golden_records"]) == len(before["golden_records"])
    with psycopg.connect(url) as conn:
        members, = conn.execute("SELECT member_count FROM golden_records WHERE golden_id = %s", (golden,)).fetchone()
        assert members == 4
        # the new records' keys are in the block index (the lookup service finds them)
        assert conn.execute("SELECT count(DISTINCT record_id) FROM golden_records_block_keys "
                            "WHERE record_id = ANY(%s) AND key IS NOT NULL", ([900001, 900002],)).fetchone()[0] == 2
    r = latest_run(warehouse)
    assert r.info.run_name.startswith("incremental_match_") and r.info.status == "FINISHED"
    m = r.data.metrics
    assert m["incremental_new_records"] == 2 and m["incremental_changed_records"] == 0
    assert m["incremental_attached"] == 2 and m["incremental_new_golden_records"] == 0 and m["incremental_merges"] == 0
    assert m["seconds_total"] > 0 and r.data.tags["model_run_id"] == warehouse["run_id"]
    path = mlflow.artifacts.download_artifacts(run_id=r.info.run_id, artifact_path="incremental/decisions_sample.csv",
                                               tracking_uri=warehouse["env"]["MLFLOW_TRACKING_URI"])
    sample = pd.read_csv(path)
    assert set(sample["record_id"]) == {900001, 900002} and set(sample["decision"]) == {"attached"}
    weights = [c for c in sample.columns if c.startswith("w_")]
    assert weights and (sample[weights].sum(axis=1) > 0).all()          # each decision with its explanation
    assert set(sample["best_record_id"]) <= {a, b, 900001, 900002}


def test_running_match_new_twice_changes_nothing_the_second_time(warehouse):
    url = warehouse["url"]
    before = tables(url)
    done = match_new(warehouse)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nothing to match (no new or changed records)" in done.stdout
    assert tables(url) == before
    m = latest_run(warehouse).data.metrics
    assert m["incremental_new_records"] == 0 and m["incremental_changed_records"] == 0


def test_a_stranger_starts_a_new_golden_record_with_a_fresh_id(warehouse):
    url = warehouse["url"]
    with psycopg.connect(url) as conn:
        conn.execute(f"INSERT INTO citizens (citizen_id, {COLUMNS}) VALUES (900010, 'Zyxwq Vutsr', 'Zyxwq', 'Vutsr', "
                     "NULL, 'F', '1901-02-03', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'test')")
        top = conn.execute("SELECT max(golden_id) FROM golden_records").fetchone()[0]
    done = match_new(warehouse)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 new golden records" in done.stdout
    golden, = golden_of(url, 900010)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT member_count, first_name FROM golden_records WHERE golden_id = %s", (golden,)).fetchone()
    assert row == (1, "Zyxwq")
    assert golden == 900010 or golden > top          # its own id, unless some golden id already is that


# --------------------------------------------------------------------------- merges
def test_a_new_record_linking_two_golden_records_merges_them_and_redirects_the_newer_id(warehouse):
    url = warehouse["url"]
    a, b, golden = pair_in_one_golden_record(url, offset=5)
    # the last build had kept the two apart (as if the evidence between them had been weaker):
    with psycopg.connect(url) as conn:
        split = conn.execute("SELECT max(golden_id) + 1 FROM golden_records").fetchone()[0]
        conn.execute("INSERT INTO golden_records SELECT %s, full_name, first_name, last_name, father_name, gender, "
                     "date_of_birth, mobile, email, address, district, state, pincode, jan_aadhaar, aadhaar_last4, "
                     "1, 1.0, '{}'::jsonb, 'split', now() FROM golden_records WHERE golden_id = %s", (split, golden))
        conn.execute("UPDATE golden_records SET member_count = 1 WHERE golden_id = %s", (golden,))
        conn.execute("UPDATE citizen_golden_map SET golden_id = %s WHERE citizen_id = %s", (split, b))
    copy_of(url, a, 900020)
    done = match_new(warehouse)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 merges" in done.stdout
    assert golden_of(url, a, b, 900020) == [golden] * 3                  # the older id survives
    run_id = latest_run(warehouse).info.run_id
    with psycopg.connect(url) as conn:
        redirect = conn.execute("SELECT new_golden_id, reason, run_id FROM golden_redirects WHERE old_golden_id = %s",
                                (split,)).fetchone()
        assert conn.execute("SELECT count(*) FROM golden_records WHERE golden_id = %s", (split,)).fetchone()[0] == 0
    assert redirect == (golden, "merged", run_id)
    assert latest_run(warehouse).data.metrics["incremental_merges"] == 1


# --------------------------------------------------------------------------- changed records and labels
def test_a_changed_record_moves_to_the_person_it_now_matches(warehouse):
    url = warehouse["url"]
    a, _, golden_a = pair_in_one_golden_record(url, offset=10)
    mover, _, golden_m = pair_in_one_golden_record(url, offset=15)
    with psycopg.connect(url) as conn:          # a department corrects a record: it was another person's
        conn.execute(f"UPDATE citizens t SET ({COLUMNS}) = (SELECT {COLUMNS} FROM citizens WHERE citizen_id = %s), "
                     "updated_at = now() WHERE t.citizen_id = %s", (a, mover))
    done = match_new(warehouse)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "0 new and 1 changed records" in done.stdout and "1 changed records moved" in done.stdout
    assert golden_of(url, mover) == [golden_a]
    m = latest_run(warehouse).data.metrics
    assert m["incremental_changed_records"] == 1 and m["incremental_moved"] == 1
    with psycopg.connect(url) as conn:          # the record it left keeps its id, now alone
        assert conn.execute("SELECT member_count FROM golden_records WHERE golden_id = %s", (golden_m,)).fetchone() == (1,)


def _label(url: str, left: int, right: int, label: str) -> None:
    from golden_record.io import labels

    with psycopg.connect(url) as conn:
        labels.ensure_table(conn)
        labels.record_label(conn, data_table="citizens", run_id="review", left_id=left, right_id=right,
                            label=label, reviewer="tester")


def test_a_labelled_non_match_is_never_merged_and_a_labelled_match_is_always_linked(warehouse):
    url = warehouse["url"]
    a, _, golden = pair_in_one_golden_record(url, offset=20)
    copy_of(url, a, 900030)                                # the model would attach it...
    _label(url, 900030, a, "not_match")                     # ...but a reviewer said it is someone else
    with psycopg.connect(url) as conn:
        conn.execute(f"INSERT INTO citizens (citizen_id, {COLUMNS}) VALUES (900031, 'Qwpo Lkjh', 'Qwpo', 'Lkjh', "
                     "NULL, 'M', '1902-03-04', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'test')")
    _label(url, 900031, a, "match")                         # nothing alike, but a reviewer linked them
    done = match_new(warehouse)
    assert done.returncode == 0, done.stderr[-3000:]
    new_golden, linked, mine = golden_of(url, 900030, 900031, a)
    assert new_golden != mine and linked == mine


def test_an_interrupted_match_changes_nothing(warehouse, monkeypatch):
    """A failure while the golden rows are being written (after the map rows were deleted and the
    block index updated) leaves every table as it was; the next call places the records."""
    import tempfile

    import golden_record.golden.incremental as incremental
    from golden_record.io import warehouse as wh
    from golden_record.tracking.model_logging import load_logged_model

    url = warehouse["url"]
    a, _, golden = pair_in_one_golden_record(url, offset=25)
    copy_of(url, a, 900040)
    before = tables(url)
    real_copy = wh.copy_in
    calls = []

    def failing_copy(conn, table, frame, *args, **kwargs):
        calls.append(table)
        if table == "citizen_golden_map":
            raise KeyboardInterrupt                          # Ctrl-C in the middle of the write
        return real_copy(conn, table, frame, *args, **kwargs)

    monkeypatch.setattr(wh, "copy_in", failing_copy)
    uri = warehouse["env"]["MLFLOW_TRACKING_URI"]
    mlflow.set_tracking_uri(uri)          # the artifacts are read through the global store (reset after the test)
    with tempfile.TemporaryDirectory() as tmp:
        model, config, _ = load_logged_model(MlflowClient(uri), warehouse["run_id"], Path(tmp))
    with psycopg.connect(url) as conn, pytest.raises(KeyboardInterrupt):
        incremental.match_new(conn, config, model, config.threshold)
    assert "golden_records" in calls and "citizen_golden_map" in calls
    assert tables(url) == before
    monkeypatch.setattr(wh, "copy_in", real_copy)
    done = match_new(warehouse)
    assert done.returncode == 0, done.stderr[-3000:]
    assert golden_of(url, 900040) == [golden]


# --------------------------------------------------------------------------- issue 26
def test_an_unchanged_record_beside_a_new_one_is_reported_as_stayed_not_moved(warehouse):
    """Integer golden ids compared as typed values: a new record in the same batch once turned the
    previous ids into floats, and '2' != '2.0' reported a record that stayed as moved."""
    url = warehouse["url"]
    a, b, golden = pair_in_one_golden_record(url, offset=20)
    with psycopg.connect(url) as conn:          # saved again without a change; a stranger arrives
        conn.execute("UPDATE citizens SET updated_at = now() WHERE citizen_id = %s", (a,))
        conn.execute(f"INSERT INTO citizens (citizen_id, {COLUMNS}) VALUES (900050, 'Qxwz Jkvb', 'Qxwz', 'Jkvb', "
                     "NULL, 'M', '1902-03-04', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'test')")
    done = match_new(warehouse)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 new and 1 changed records" in done.stdout and "moved" not in done.stdout
    assert golden_of(url, a, b) == [golden, golden]
    m = latest_run(warehouse).data.metrics
    assert m["incremental_moved"] == 0 and m["incremental_stayed"] == 1


def test_a_deleted_source_record_leaves_its_golden_record(warehouse):
    """After records are deleted from the source, match-new removes them from their golden records
    (a golden record left with none is retired), says how many, and logs it; not "nothing to match"."""
    url = warehouse["url"]
    a, b, golden = pair_in_one_golden_record(url, offset=25)
    alone, = golden_of(url, 900050)                 # the stranger of the test above: a golden record of one
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM citizens WHERE citizen_id = ANY(%s)", ([b, 900050],))
    done = match_new(warehouse)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nothing to match" not in done.stdout
    assert "2 deleted records removed from their golden records" in done.stdout
    assert "2 record(s) deleted from citizens" in done.stderr
    assert golden_of(url, a, b, 900050) == [golden, None, None]
    run_id = latest_run(warehouse).info.run_id
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT member_count FROM golden_records WHERE golden_id = %s", (golden,)).fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM golden_records WHERE golden_id = %s", (alone,)).fetchone() == (0,)
        assert conn.execute("SELECT reason, run_id FROM golden_redirects WHERE old_golden_id = %s",
                            (alone,)).fetchone() == ("records removed", run_id)
        orphans = conn.execute("SELECT count(*) FROM citizen_golden_map m WHERE NOT EXISTS "
                               "(SELECT 1 FROM citizens c WHERE c.citizen_id = m.citizen_id)").fetchone()[0]
    assert orphans == 0
    assert latest_run(warehouse).data.metrics["incremental_deleted_records"] == 2
    again = match_new(warehouse)
    assert "nothing to match" in again.stdout
