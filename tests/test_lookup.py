"""The block index and the lookup service (issue 14).

Fast lane: a record's block key strings agree with training's blocking (two records share a key
string exactly when ``key_codes`` puts them in one block), whatever the batch a record is keyed in;
the ``max_block_size`` guard at lookup time is training's.

End to end: a copy of the run's trained warehouse (seeded as ``seeded_small`` is, a model trained
with ``--write-golden``; a database of this module's own, as the tests add a record and review
labels), ``golden-record index``, and ``golden-record serve`` started as a user starts it; requests over HTTP.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import psycopg
import pytest
import mlflow
import requests
from mlflow import MlflowClient

from conftest import ROOT, SRC, run, free_port
from golden_record.config import CandidateSettings, load_model_config
from golden_record.io import block_index, labels
from golden_record.linkage.blocking import (_blocks, block_key_strings, indexable_passes, key_codes,
                                            pass_key_strings)
from golden_record.linkage.schema import clean_records
from golden_record.synthetic import citizens
from golden_record.synthetic.profiles import PROFILES
from golden_record.tracking.model_logging import load_logged_model

USE_CASE = ROOT / "use-cases" / "golden_record"


# --------------------------------------------------------------------------- fast: keys agree with blocking
def _same_partition(codes: np.ndarray, keys: pd.Series) -> None:
    """Missing in one exactly where missing in the other, and code <-> key one to one."""
    assert ((codes < 0) == keys.isna().to_numpy()).all()
    valid = codes >= 0
    pairs = pd.DataFrame({"code": codes[valid], "key": keys.to_numpy()[valid]}).drop_duplicates()
    assert pairs["code"].is_unique and pairs["key"].is_unique


@pytest.fixture(scope="module")
def prepared_citizens():
    config = load_model_config(PROFILES["citizens"].config_path)
    records = citizens.generate(rows=4000, seed=11).citizens.rename(columns={config.data.id: "record_id"})
    prepared, _ = clean_records(records[["record_id", *config.needed_fields()]], config.data.fields)
    return config, records, prepared


def test_key_strings_share_a_value_exactly_when_training_puts_records_in_one_block(prepared_citizens):
    config, _, prepared = prepared_citizens
    types = {f: s.type for f, s in config.data.fields.items()}
    for entry in config.model.params.blocking_fields:
        keys = pass_key_strings(prepared, entry, types)
        _same_partition(key_codes(prepared, entry), keys)
        assert keys.dropna().str.startswith(entry + "=").all()
        # the blocks training pairs (size >= 2) are the groups of equal key strings
        order, starts, sizes, _ = _blocks(key_codes(prepared, entry), max_block_size=10**9)
        assert sorted(sizes.tolist()) == sorted(s for s in keys.value_counts().tolist() if s >= 2)


def test_a_record_keyed_alone_gets_the_keys_it_has_in_the_whole_table(prepared_citizens):
    """The lookup keys one incoming record; the index keyed the whole table: same strings (a year
    is 1986 with or without gaps in the batch, a date is a day)."""
    config, records, _ = prepared_citizens
    records = records.copy()
    records.loc[records.index[::7], "date_of_birth"] = None      # gaps: the table's years are floats
    table = block_index.record_keys(records, config)
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(records), 40, replace=False):
        alone = block_index.record_keys(records.iloc[[pos]].reset_index(drop=True), config, keyless_rows=False)
        expected = table.loc[table["record_id"] == records["record_id"].iat[pos], "key"].dropna()
        assert sorted(alone["key"]) == sorted(expected)


def test_multi_part_keys_cannot_collide_through_the_separator():
    """Values as a cleaner of some type could leave them (the text cleaner drops ``|``, others may not)."""
    prepared = pd.DataFrame({"record_id": [1, 2, 3, 4, 5], "a": ["x|y", "x", "x\\", "x\\", None],
                             "b": ["z", "y|z", "|z", "|z", "z"]})
    keys = pass_key_strings(prepared, "a+b", {})
    _same_partition(key_codes(prepared, "a+b"), keys)
    assert keys.iat[2] == keys.iat[3] and keys.iat[0] != keys.iat[1] and keys.iat[4] is None


def test_the_phonetic_fuzzy_pass_is_indexed_and_sorted_neighbourhood_is_named_as_not_indexable(prepared_citizens):
    config, _, prepared = prepared_citizens
    phonetic = CandidateSettings.model_validate({"fuzzy": {"method": "phonetic", "fields": ["first_name", "last_name"]}})
    passes = indexable_passes(["jan_aadhaar"], phonetic)
    assert passes == ["jan_aadhaar", "phonetic(first_name+last_name)"]
    keys = block_key_strings(prepared, ["jan_aadhaar"], phonetic)
    fuzzy = keys[keys["key"].str.startswith("phonetic(first_name+last_name)=")]
    codes = key_codes(prepared, "phonetic(first_name,last_name)")
    assert len(fuzzy) == int((codes >= 0).sum())
    sn = config.model_copy(update={"candidates": CandidateSettings.model_validate(
        {"fuzzy": {"method": "sorted_neighbourhood", "fields": ["first_name", "last_name"], "window": 4}})})
    warning = block_index.unindexed_warning(sn)
    assert "sorted_neighbourhood(window=4)" in warning and "cannot be indexed" in warning
    assert block_index.unindexed_warning(config) is None


def test_a_block_is_skipped_when_with_the_incoming_record_it_exceeds_max_block_size():
    blocks = {"k=1": [1, 2, 3], "k=2": [4]}
    new = block_index.select_candidates(blocks, ["k=1", "k=2"], max_block_size=3)
    assert new.ids == [4] and new.skipped == [("k=1", 4)] and new.blocks == 1     # 3 + the new one > 3
    member = block_index.select_candidates(blocks, ["k=1", "k=2"], max_block_size=3, exclude=2)
    assert member.ids == [1, 3, 4] and member.skipped == [] and member.blocks == 2  # itself counted once
    assert "1 block(s) skipped" in new.skipped_note(3) and "k=1 (4+ records)" in new.skipped_note(3)


def test_the_whole_table_pass_is_one_block_no_size_limit_cuts(prepared_citizens):
    """all() (a small table compared whole): one key string for every record, and its block is
    used whatever its size, in training (generate) and at lookup (select_candidates)."""
    from golden_record.linkage.blocking import generate

    config, _, prepared = prepared_citizens
    small = prepared.iloc[:400]
    keys = pass_key_strings(small, "all()")
    assert keys.nunique() == 1 and keys.iloc[0] == "all()=0"
    pairs = generate(small, ["all()"], CandidateSettings(max_block_size=10))
    assert len(pairs) == 400 * 399 // 2 and pairs.passes[0].skipped_blocks == 0
    blocks = {"all()=0": list(range(400)), "k=1": [1, 2, 3]}
    got = block_index.select_candidates(blocks, ["all()=0", "k=1"], max_block_size=3)
    assert len(got.ids) == 400 and got.skipped == [("k=1", 4)]


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def service(trained_copy):
    """A copy of the run's trained warehouse (seeded as seeded_small, trained with --write-golden)
    and of its store; index, serve; yields what the tests need."""
    copy = trained_copy("lookup", "lookup")
    url, mlflow_store = copy["url"], copy["store"]
    env = {**copy["env"], "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    client = MlflowClient(mlflow_store)
    run_id = client.search_runs([client.get_experiment_by_name("lookup").experiment_id])[0].info.run_id
    indexed = run([sys.executable, "-m", "golden_record", "index", "--run-id", run_id], env)
    assert indexed.returncode == 0, indexed.stderr
    proc, base = _serve(env, run_id)
    try:
        previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
        mlflow.set_tracking_uri(mlflow_store)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                _, config, _ = load_logged_model(client, run_id, Path(tmp))
        finally:
            mlflow.set_tracking_uri(previous)
        yield {"url": url, "base": base, "run_id": run_id, "config": config, "indexed": indexed, "env": env}
    finally:
        _stop(proc)


def _serve(env: dict, run_id: str, *args: str) -> tuple[subprocess.Popen, str]:
    """``golden-record serve`` on a free port, once /health answers 200."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "golden_record", "serve", "--run-id", run_id, "--port", str(port),
                             *args], cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"golden-record serve exited {proc.returncode}: {proc.stderr.read()[-3000:]}")
        try:
            if requests.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            _stop(proc)
            pytest.fail("golden-record serve did not answer within 60 s")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _record_with_duplicates(url: str, config) -> tuple[dict, str]:
    """A record (all fields as text) whose golden record holds two records (so the model matched
    the two directly), and its golden id."""
    fields = ", ".join(f'c."{f}"::text AS "{f}"' for f in config.data.fields)
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            f"SELECT c.citizen_id::text, m.golden_id::text, {fields} FROM citizens c JOIN citizen_golden_map m "
            "USING (citizen_id) WHERE m.golden_id IN (SELECT golden_id FROM citizen_golden_map GROUP BY 1 "
            "HAVING count(*) = 2) AND length(c.first_name) >= 5 AND c.date_of_birth IS NOT NULL "
            "AND substr(c.first_name, 3, 1) <> substr(c.first_name, 4, 1) ORDER BY c.citizen_id LIMIT 1")
        row = cur.fetchone()
        names = [d.name for d in cur.description]
    record = dict(zip(names, row))
    return record, record["golden_id"]


def _typo(text: str) -> str:
    return text[:2] + text[3] + text[2] + text[4:]


def _post(base: str, records: list[dict], top: int = 5) -> requests.Response:
    return requests.post(base + "/match", json={"records": records, "top": top}, timeout=30)


def test_index_command_indexes_every_record_with_its_keys(service):
    out = service["indexed"].stdout
    assert "block index golden_records_block_keys:" in out and "of 3,000 records of citizens" in out
    with psycopg.connect(service["url"]) as conn:
        records, rows = conn.execute("SELECT count(DISTINCT record_id), count(*) FROM golden_records_block_keys").fetchone()
        indexes = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'golden_records_block_keys'").fetchall()
    assert records == 3000 and rows > 3000
    assert sorted(" (key)" in d or " (record_id)" in d for (d,) in indexes) == [True, True]


def test_health_reports_the_model_and_a_fresh_index(service):
    body = requests.get(service["base"] + "/health", timeout=10).json()
    assert body["status"] == "ok" and body["model"]["run_id"] == service["run_id"]
    assert body["table"] == "citizens" and body["table_rows"] == 3000
    assert body["index"]["records"] == 3000 and body["index"]["fresh"] is True
    assert body["index"]["passes"] == service["config"].model.params.blocking_fields
    assert body["golden_map"] == {"table": "citizen_golden_map", "exists": True}


def test_a_copy_with_a_typo_finds_its_golden_record_with_the_explanation(service):
    record, golden_id = _record_with_duplicates(service["url"], service["config"])
    query = {f: record[f] for f in service["config"].data.fields}
    query["first_name"] = _typo(record["first_name"])
    query["full_name"] = (record["full_name"] or "").replace(record["first_name"], query["first_name"])
    response = _post(service["base"], [query])
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    top = result["candidates"][0]
    assert top["golden_id"] == golden_id and top["provisional"] is False
    assert top["match_probability"] >= 0.95 and top["is_match"] is True and top["verdict"] == "match"
    assert record["citizen_id"] in [m["record_id"] for m in top["records"]]
    best = top["records"][0]
    names = [c.name for c in service["config"].comparisons]
    assert [c["comparison"] for c in best["comparisons"]] == names
    assert all(isinstance(c["level"], str) and isinstance(c["weight"], float) for c in best["comparisons"])
    # the shares add up to the match weight (no term-frequency adjustment in this config)
    assert sum(c["weight"] for c in best["comparisons"]) == pytest.approx(best["match_weight"], abs=0.01)
    first = next(c for c in best["comparisons"] if c["comparison"] == "first_name")
    assert first["level"] != "exact"        # the typo is seen
    assert result["record_id"] is None and result["candidates_scored"] >= len(top["records"])


def test_a_stranger_is_no_match_even_when_it_shares_a_block(service):
    record, _ = _record_with_duplicates(service["url"], service["config"])
    stranger = {"first_name": "Xylophon", "last_name": "Quaggard", "full_name": "Xylophon Quaggard",
                "father_name": "Zebedee Quaggard", "date_of_birth": record["date_of_birth"],
                "pincode": record["pincode"], "mobile": "9000000001", "email": "xq@example.org"}
    nowhere = {"first_name": "Ignatius", "last_name": "Vrublevsky", "date_of_birth": "1901-02-03", "pincode": "987651"}
    response = _post(service["base"], [stranger, nowhere])
    assert response.status_code == 200, response.text
    near, far = response.json()["results"]
    assert near["candidates_scored"] >= 1 and near["candidates"]
    assert not any(c["is_match"] for c in near["candidates"])
    assert max(c["match_probability"] for c in near["candidates"]) < 0.5
    assert far["candidates"] == [] and any("no candidate" in n for n in far["notes"])


def test_unknown_fields_are_a_422_naming_them_and_the_known_fields(service):
    response = _post(service["base"], [{"first_name": "Asha", "shoe_size": 7, "frist_name": "x"}])
    assert response.status_code == 422
    error = response.json()["error"]
    assert "unknown field(s) ['frist_name', 'shoe_size']" in error
    assert "known fields" in error and "'first_name'" in error and "'date_of_birth'" in error
    bad = requests.post(service["base"] + "/match", data="{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and "not valid JSON" in bad.json()["error"]


def test_a_labelled_pair_reports_the_review_verdict_and_the_record_never_matches_itself(service):
    record, golden_id = _record_with_duplicates(service["url"], service["config"])
    with psycopg.connect(service["url"]) as conn:
        other = conn.execute("SELECT citizen_id::text FROM citizen_golden_map WHERE golden_id::text = %s "
                             "AND citizen_id::text <> %s ORDER BY 1 LIMIT 1", (golden_id, record["citizen_id"])).fetchone()[0]
        labels.ensure_table(conn)
        labels.record_label(conn, data_table="citizens", run_id=service["run_id"], left_id=record["citizen_id"],
                            right_id=other, label=labels.NOT_MATCH, reviewer="test")
    query = {f: record[f] for f in service["config"].data.fields} | {"citizen_id": record["citizen_id"]}
    result = _post(service["base"], [query], top=10).json()["results"][0]
    members = {m["record_id"]: m for c in result["candidates"] for m in c["records"]}
    assert record["citizen_id"] not in members                      # itself excluded
    assert members[other]["review_label"] == "not_match" and members[other]["verdict"] == "not_match"
    assert members[other]["is_match"] is True                       # the model's view, shown beside the label


def test_records_added_to_the_index_are_found_under_a_provisional_golden_id(service):
    config = service["config"]
    record, _ = _record_with_duplicates(service["url"], config)
    columns = [c for c in config.data.fields]
    new_id = 900001
    with psycopg.connect(service["url"]) as conn:
        conn.execute(f"INSERT INTO citizens (citizen_id, {', '.join(columns)}) SELECT %s, {', '.join(columns)} "
                     "FROM citizens WHERE citizen_id = %s", (new_id, int(record["citizen_id"])))
        added = pd.DataFrame([{**{f: record[f] for f in columns}, "record_id": new_id}])
        report = block_index.add_records(conn, config, added)
        conn.commit()
        assert report.new == 1 and report.deleted_rows == 0 and report.inserted_rows >= 3
        # a changed record: its old keys go, its new ones come, it is counted once
        conn.execute("UPDATE citizens SET date_of_birth = '1930-01-01', mobile = NULL, email = NULL, "
                     "jan_aadhaar = NULL WHERE citizen_id = %s", (new_id,))
        changed = added.assign(date_of_birth="1930-01-01", mobile=None, email=None, jan_aadhaar=None)
        again = block_index.add_records(conn, config, changed)
        conn.commit()
        keys = {k for (k,) in conn.execute("SELECT key FROM golden_records_block_keys WHERE record_id = %s", (new_id,))}
    assert again.new == 0 and again.deleted_rows == report.inserted_rows
    assert keys == set(block_index.record_keys(changed, config)["key"])
    assert f"date_of_birth+pincode=1930-01-01|{record['pincode']}" in keys
    assert not any(k.startswith(("mobile=", "jan_aadhaar=", "email=")) for k in keys)
    query = {f: record[f] for f in columns} | {"date_of_birth": "1930-01-01"}
    found = {c["golden_id"]: c for c in _post(service["base"], [query], top=20).json()["results"][0]["candidates"]}
    assert found[str(new_id)]["provisional"] is True and found[str(new_id)]["is_match"] is True
    health = requests.get(service["base"] + "/health", timeout=10).json()
    assert health["index"]["records"] == 3001 == health["table_rows"] and health["index"]["fresh"] is True


def test_without_the_index_the_service_answers_503_naming_the_command(service):
    with psycopg.connect(service["url"], autocommit=True) as conn:
        conn.execute("ALTER TABLE golden_records_block_keys RENAME TO golden_records_block_keys_away")
        try:
            response = _post(service["base"], [{"first_name": "Asha", "last_name": "Rao", "date_of_birth": "1990-01-01"}])
            health = requests.get(service["base"] + "/health", timeout=10)
        finally:
            conn.execute("ALTER TABLE golden_records_block_keys_away RENAME TO golden_records_block_keys")
    assert response.status_code == 503 and "golden-record index" in response.json()["error"]
    assert health.status_code == 503 and "golden-record index" in health.json()["error"]
    assert _post(service["base"], [{"first_name": "Asha"}]).status_code == 200


def test_several_workers_each_answer_with_the_same_model(service):
    """--workers 2: uvicorn's supervisor over a socket bound by the command; both processes answer."""
    proc, base = _serve(service["env"], service["run_id"], "--workers", "2")
    try:
        record, golden_id = _record_with_duplicates(service["url"], service["config"])
        query = {f: record[f] for f in service["config"].data.fields}
        with requests.Session() as one, requests.Session() as other:     # two kept-alive connections
            answers = [s.post(base + "/match", json={"records": [query]}, timeout=30) for s in (one, other, one, other)]
        assert [a.status_code for a in answers] == [200] * 4
        assert {a.json()["results"][0]["candidates"][0]["golden_id"] for a in answers} == {golden_id}
        assert len([c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]) == 2
    finally:
        _stop(proc)
    assert proc.returncode is not None


def test_a_golden_rebuild_keeps_an_existing_index_fresh(service):
    """Once a warehouse has a block index, every golden write rebuilds it in the same stage (the
    lookup service would otherwise answer from stale blocks), and says so."""
    with psycopg.connect(service["url"], autocommit=True) as conn:
        before = block_index.read_info(conn, service["config"])
    done = run([sys.executable, "-m", "golden_record", "golden", "--run-id", service["run_id"]], service["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "block index golden_records_block_keys rebuilt for the lookup service" in done.stderr, done.stderr
    with psycopg.connect(service["url"], autocommit=True) as conn:
        after = block_index.read_info(conn, service["config"])
        rows = conn.execute("SELECT count(*) FROM citizens").fetchone()[0]
    assert after.built_at >= before.built_at and after.records == rows
    health = requests.get(service["base"] + "/health", timeout=10).json()
    assert health["index"]["fresh"] is True


# --------------------------------------------------------------------------- bad input is said (issue 26)
def test_a_value_that_cannot_be_read_is_a_422_naming_the_field_and_value(service):
    """A date that does not parse at all would be a missing value, scored as if not sent: refused."""
    response = _post(service["base"], [{"first_name": "Asha", "last_name": "Rao", "date_of_birth": "1990-01-01"},
                                       {"first_name": "Asha", "last_name": "Rao", "date_of_birth": "not a date"}])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "records[1].date_of_birth = 'not a date'" in error and "type date" in error
    assert "records[0]" not in error
    # a blank or null value is a missing one, not a bad one
    assert _post(service["base"], [{"first_name": "Asha", "date_of_birth": None}]).status_code == 200
    assert _post(service["base"], [{"first_name": "Asha", "date_of_birth": "  "}]).status_code == 200


def test_an_id_that_does_not_fit_the_id_column_is_a_422(service):
    response = _post(service["base"], [{"citizen_id": "abc", "first_name": "Asha"}])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "records[0] id 'abc'" in error and "citizen_id" in error and "whole number" in error
    assert _post(service["base"], [{"citizen_id": 5, "first_name": "Asha"}]).status_code == 200


def test_a_body_over_the_limit_is_a_413(service):
    from golden_record.serve.lookup import MAX_BODY_BYTES

    big = {"records": [{"first_name": "x" * (MAX_BODY_BYTES + 10)}]}
    response = requests.post(service["base"] + "/match", json=big, timeout=30)
    assert response.status_code == 413 and "larger than 2,097,152 bytes" in response.json()["error"]

    def chunks():                                   # no Content-Length: counted as it arrives
        import json

        text = json.dumps(big).encode()
        for at in range(0, len(text), 1 << 16):
            yield text[at:at + (1 << 16)]
    chunked = requests.post(service["base"] + "/match", data=chunks(), timeout=30,
                            headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert _post(service["base"], [{"first_name": "Asha"}]).status_code == 200


def test_without_the_records_table_the_service_answers_503(service):
    record, _ = _record_with_duplicates(service["url"], service["config"])
    fields = {f: record[f] for f in service["config"].data.fields if f in record}
    with psycopg.connect(service["url"], autocommit=True) as conn:
        conn.execute("ALTER TABLE citizens RENAME TO citizens_away")
        try:
            response = _post(service["base"], [fields])
            health = requests.get(service["base"] + "/health", timeout=10)
        finally:
            conn.execute("ALTER TABLE citizens_away RENAME TO citizens")
    assert response.status_code == 503, response.text
    assert 'relation "citizens" does not exist' in response.json()["error"]
    assert health.status_code == 503 and "citizens" in health.json()["error"]
    assert _post(service["base"], [fields]).status_code == 200
