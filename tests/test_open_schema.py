"""A person-records table shaped unlike the seeded citizens trains, evaluates and gets golden
records from config alone (config/examples/people.yaml): text ids, text dates with invalid
values, a three-column address, a field the citizen schema lacks (soc_sec_id) in blocking and
comparison, 4- and 5-digit and UK postcodes, no households."""
from __future__ import annotations

import json
import re
import sys

import psycopg
import pytest
from mlflow import MlflowClient

from conftest import ROOT, SRC, fresh_store, run
from golden_record.synthetic import people as people_synthetic

USE_CASE = ROOT / "use-cases" / "golden_record"
PEOPLE = USE_CASE / "config" / "examples" / "people.yaml"


def train(env: dict, *args: str):
    return run([sys.executable, "src/train.py", "--config", str(PEOPLE), *args], env, cwd=USE_CASE)


@pytest.fixture(scope="module")
def people(test_databases, tmp_path_factory):
    url = test_databases.url("people")
    data = people_synthetic.generate(3000, seed=5)
    with psycopg.connect(url) as conn:
        people_synthetic.write_table(conn, "people", data, "people_truth")
        conn.commit()
    uri = fresh_store(tmp_path_factory, tmp_path_factory.mktemp("people-mlflow"))
    return {"url": url, "data": data, "env": {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": uri}, "uri": uri}


@pytest.fixture(scope="module")
def trained(people):
    done = train(people["env"], "--experiment", "people", "--write-golden")
    assert done.returncode == 0, done.stderr[-4000:]
    client = MlflowClient(people["uri"])
    r = client.search_runs([client.get_experiment_by_name("people").experiment_id])[0]
    return {"done": done, "client": client, "run": r}


def test_trains_and_evaluates_against_its_truth(trained):
    r = trained["run"]
    assert r.info.status == "FINISHED"
    m = r.data.metrics
    assert m["records"] == 3000 and m["true_match_pairs"] > 500
    assert m["pairs_completeness"] > 0.9 and m["f1_score"] > 0.7, m


def test_quality_report_covers_every_declared_field(trained):
    client, r = trained["client"], trained["run"]
    report = json.loads(open(client.download_artifacts(r.info.run_id, "data_quality.json")).read())
    fields = {q["field"]: q for q in report["fields"]}
    compared = {"given_name", "surname", "address", "suburb", "postcode", "date_of_birth", "soc_sec_id", "phone",
                "email", "sex"}
    assert compared <= set(fields)
    for q in fields.values():
        assert 0 <= q["present_share_after"] <= q["present_share_before"] <= 1
    dob = fields["date_of_birth"]
    # impossible text dates (day 32-39) are kept as text and counted unusual; placeholders dropped
    assert dob["unusual"] > 0 and all(re.fullmatch(r"\d{8}", e) for e in dob["unusual_examples"])
    assert dob["dropped"] > 0 and set(dob["dropped_examples"]) <= {"00000000"}
    assert fields["postcode"]["dropped"] == 0                      # every country's postcode kept
    # one line per field on the terminal
    for name in compared:
        assert re.search(rf"^\s+{name}\s+\w+\s+present", trained["done"].stderr, re.M), name


def test_golden_records_for_another_schema(trained, people):
    with psycopg.connect(people["url"]) as conn:
        golden = conn.execute("SELECT count(*), count(DISTINCT golden_id) FROM people_golden").fetchone()
        mapped = conn.execute("SELECT count(*) FROM people_golden_map").fetchone()[0]
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'people_golden'").fetchall()]
        sample = conn.execute("SELECT golden_id, given_name, soc_sec_id FROM people_golden "
                              "WHERE member_count > 1 LIMIT 1").fetchone()
    assert mapped == 3000 and golden[0] == golden[1] and golden[0] < 3000
    assert {"golden_id", "given_name", "surname", "address", "soc_sec_id", "member_count"} <= set(cols)
    assert sample[0].startswith("rec-")                             # text ids stay text
    assert trained["run"].data.metrics["golden_records"] == golden[0]


def test_a_field_that_loses_its_values_in_cleaning_stops_the_run_before_pairs(people):
    # phone numbers declared as names: no letter in any of them (a date in an undeclared format is
    # no longer lost: it is kept as text and counted unusual, see tests/test_dates.py)
    done = train(people["env"], "--experiment", "people-bad-phones", "--quiet",
                 "--set", "data.fields.phone.type=name")
    assert done.returncode == 1, done.stderr[-3000:]
    line = [x for x in done.stderr.splitlines() if x.startswith("error")][0]
    assert "field phone" in line and "lost 100.0%" in line and "data.fields.phone" in line
    client = MlflowClient(people["uri"])
    r = client.search_runs([client.get_experiment_by_name("people-bad-phones").experiment_id])[0]
    assert r.info.status == "FAILED" and r.data.tags["error.stage"] == "prepare"
    assert "training_pairs" not in r.data.metrics


def test_no_module_outside_the_seeder_names_a_citizen_field():
    citizen = re.compile(r"\b(jan_aadhaar|pincode|father_name|aadhaar_last4)\b")
    package = SRC / "golden_record"
    offenders = [str(p.relative_to(SRC)) for p in package.rglob("*.py")
                 if p.relative_to(package).parts[0] != "synthetic" and citizen.search(p.read_text())]
    assert offenders == []
