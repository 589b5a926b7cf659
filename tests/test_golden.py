"""Golden records: clustering with its chaining guards, each survivorship rule and the fallback
chain, the atomic replace of the configured golden tables (golden.table golden_records + golden.map_table
citizen_golden_map, created from the schema's :class:`golden.Layout`) in a real PostgreSQL, and the
cluster metrics logged to MLflow by scripts/build_golden_records.py, read back through MlflowClient.

These tests use databases of their own (this run's ``golden``, ``golden_seeded``): replacing the citizens
of the shared test database would break the tests that seed it once per session.
"""
from __future__ import annotations

import itertools
import json
import re
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import psycopg
import pytest
from mlflow import MlflowClient

from conftest import ROOT, run
from golden_record.golden import build as golden
from golden_record.linkage import pipeline
from golden_record.io import warehouse
from golden_record.config import ConfigError, GoldenSettings, load_model_config
from golden_record.errors import DataError, WarehouseError

USE_CASE = ROOT / "use-cases" / "golden_record"


def _config(*overrides: str):
    """The citizen config with the threshold the hand-made pairs were scored for (0.95): the
    default, match_threshold auto, is chosen from a fitted model, which these tests have not."""
    return load_model_config(None, ["model.params.match_threshold=0.95", *overrides])


CONFIG = _config()
LAYOUT = golden.Layout.from_config(CONFIG)       # the citizen config: golden_records + citizen_golden_map
COLUMNS = ["citizen_id", "full_name", "first_name", "last_name", "father_name", "gender", "date_of_birth", "mobile",
           "email", "address", "district", "state", "pincode", "jan_aadhaar", "aadhaar_last4", "source_system",
           "created_at", "updated_at"]


def _db(test_databases, purpose: str) -> str:
    url = test_databases.url(purpose)
    with psycopg.connect(url) as conn:
        warehouse.apply_schema(conn)
    return url


@pytest.fixture(scope="module")
def hand_url(test_databases) -> str:
    return _db(test_databases, "golden")


@pytest.fixture(scope="module")
def seeded_url(seeded_copy) -> str:
    """A copy of the run's warehouse seeded with 3,000 records, seed 11."""
    return seeded_copy("golden_seeded", seed=11)


# --------------------------------------------------------------------------- a hand-made warehouse
# Five people. A (3 records) and D (3 records) are joined by one weak match edge (0.96): the
# chaining guard must keep them apart. B is a pair linked at 0.97 (a pair is never split).
def _row(cid, full, first, last, father, gender, dob, mobile, email, address, district, pincode, jan, last4,
         source, updated):
    return [cid, full, first, last, father, gender, dob, mobile, email, address, district, "Rajasthan", pincode,
            jan, last4, source, "2015-01-01 00:00:00+00", updated]


HAND_ROWS = [
    _row(101, "Ramesh Kumar", "Ramesh", "Kumar", "Suresh Kumar", "M", "1980-05-01", "9876500001", None,
         "12 MG Road", "Jaipur", "302001", "1111111118", None, "ration_card", "2020-01-01 00:00:00+00"),
    _row(102, "R. Kumar", "R.", "Kumar", "Suresh Kumar", "M", "1980-05-01", "9876500002", "ramesh@x.in",
         "12 M.G. Rd", "Jaipur", "302001", "1111111119", "4321", "jan_aadhaar_portal", "2022-01-01 00:00:00+00"),
    _row(103, "Ramesh Kumar", "Ramesh", "Kumaar", None, "M", "1980-05-01", "9876500002", None,
         "12 MG Road, Near Temple", "Jaipur", "302001", None, "4321", "health_dept", "2021-01-01 00:00:00+00"),
    _row(201, "Lakshmi Devi", "Lakshmi", "Devi", "Ram Prasad", "F", "1990-02-03", "9000000001", "lakshmi@x.in",
         "5 Park Street", "Kota", "324001", "2222222228", "1234", "voter_registry", "2023-06-01 00:00:00+00"),
    _row(202, "Laxmi Devi", "Laxmi", "Devi", "Ramprasad", "F", "1990-02-03", "9000000002", None,
         "5 Park St", "Kota", "324001", "2222222228", None, "pension", "2024-01-01 00:00:00+00"),
    _row(301, "Mohammed Iqbal", "Mohammed", "Iqbal", "Abdul Iqbal", "M", "1975-11-30", None, "iqbal@x.in",
         "7 Lake Road", "Ajmer", "305001", None, "9876", "health_dept", "2019-03-01 00:00:00+00"),
    *[_row(cid, "Sunita Sharma", "Sunita", "Sharma", "Mohan Sharma", "F", "2001-07-15", "9111111111", None,
           "3 Station Road", "Alwar", "301001", "4444444448", "5556", source, "2020-01-01 00:00:00+00")
      for cid, source in ((401, "school_education"), (402, "school_education"), (403, "ration_card"))],
    _row(501, "Pooja Meena", "Pooja", "Meena", None, "F", None, "9222222222", None,
         None, "Dausa", "303303", None, None, "ration_card", "2018-01-01 00:00:00+00"),
]
HAND_ENTITY = {101: 1, 102: 1, 103: 1, 201: 2, 202: 2, 301: 3, 401: 4, 402: 4, 403: 4, 501: 5}
HAND_EDGES = [(101, 102, 0.999), (102, 103, 0.998), (201, 202, 0.97), (401, 402, 0.9995), (402, 403, 0.999),
              (103, 401, 0.96), (301, 501, 0.2)]

ALL = list(LAYOUT.fields)
EXPECTED = {  # golden_id -> (member_count, cluster_confidence, {field: (value, source citizen_id)})
    101: (3, 0.998, {
        # names: most_frequent ties (101, 103), most_complete ties, source_priority: health_dept > ration_card
        "full_name": ("Ramesh Kumar", 103), "first_name": ("Ramesh", 103),
        "last_name": ("Kumar", 102), "father_name": ("Suresh Kumar", 102),     # portal ranks first
        "gender": ("M", 102), "date_of_birth": ("1980-05-01", 102),
        "mobile": ("9876500002", 102),                                          # 2 of 3, then most recent
        "email": ("ramesh@x.in", 102), "address": ("12 MG Road, Near Temple", 103),  # most complete
        "district": ("Jaipur", 102), "state": ("Rajasthan", 102), "pincode": ("302001", 102),  # ties: most recent
        "jan_aadhaar": ("1111111119", 102), "aadhaar_last4": ("4321", 102)}),  # source priority
    201: (2, 0.97, {
        "full_name": ("Lakshmi Devi", 201), "first_name": ("Lakshmi", 201), "last_name": ("Devi", 201),
        "father_name": ("Ram Prasad", 201), "gender": ("F", 201), "date_of_birth": ("1990-02-03", 201),
        "mobile": ("9000000002", 202), "email": ("lakshmi@x.in", 201), "address": ("5 Park Street", 201),
        "district": ("Kota", 202), "state": ("Rajasthan", 202), "pincode": ("324001", 202),
        "jan_aadhaar": ("2222222228", 201), "aadhaar_last4": ("1234", 201)}),
    301: (1, 1.0, {f: (v, 301) for f, v in zip(ALL, HAND_ROWS[5][1:15]) if v is not None}),
    401: (3, 0.999, {f: (v, 401) for f, v in zip(ALL, HAND_ROWS[6][1:15]) if v is not None}),
    501: (1, 1.0, {f: (v, 501) for f, v in zip(ALL, HAND_ROWS[9][1:15]) if v is not None}),
}
EXPECTED_MAP = {101: (101, 0.999), 102: (101, 0.999), 103: (101, 0.998), 201: (201, 0.97), 202: (201, 0.97),
                301: (301, 1.0), 401: (401, 0.9995), 402: (401, 0.9995), 403: (401, 0.999), 501: (501, 1.0)}


def test_layout_of_the_citizen_config():
    # golden fields: every declared field but the recency (updated_at) and source (source_system) roles
    assert ALL == COLUMNS[1:15] == ["full_name", "first_name", "last_name", "father_name", "gender",
                                    "date_of_birth", "mobile", "email", "address", "district", "state", "pincode",
                                    "jan_aadhaar", "aadhaar_last4"]
    assert LAYOUT.golden_columns == ("golden_id", *ALL, "member_count", "cluster_confidence", "field_sources",
                                     "run_id", "created_at")
    assert LAYOUT.map_columns == ("citizen_id", "golden_id", "match_probability", "mapped_at")
    assert (LAYOUT.table, LAYOUT.map_table) == ("golden_records", "citizen_golden_map")
    assert (LAYOUT.id_column, LAYOUT.recency, LAYOUT.source) == ("citizen_id", "updated_at", "source_system")
    assert LAYOUT.composites == {"full_name": ("first_name", "last_name")}
    ddl = LAYOUT.ddl("bigint")
    assert 'CREATE TABLE "golden_records"' in ddl and 'CREATE TABLE "citizen_golden_map"' in ddl
    assert "golden_id bigint PRIMARY KEY" in ddl and '"citizen_id" bigint PRIMARY KEY' in ddl
    assert '"date_of_birth" date' in ddl
    for f in ALL:
        if f != "date_of_birth":
            assert f'"{f}" text' in ddl, f                    # canonical values: text, whatever the source
    assert "golden_id text PRIMARY KEY" in LAYOUT.ddl("text")  # text ids: text keys


def _load_hand_warehouse(url: str) -> None:
    citizens = pd.DataFrame(HAND_ROWS, columns=COLUMNS)
    truth = pd.DataFrame({"citizen_id": list(HAND_ENTITY), "entity_id": list(HAND_ENTITY.values())})
    with psycopg.connect(url) as conn:
        warehouse.replace_tables(conn, {"citizens": citizens, "citizen_truth": truth})


def _hand_scored():
    ids = sorted(HAND_ENTITY)
    pos = {cid: i for i, cid in enumerate(ids)}
    return SimpleNamespace(records=pd.DataFrame({"record_id": ids}),
                           pairs=SimpleNamespace(left=np.array([pos[a] for a, _, _ in HAND_EDGES]),
                                                 right=np.array([pos[b] for _, b, _ in HAND_EDGES])),
                           probabilities=np.array([p for _, _, p in HAND_EDGES]),
                           entity=np.array([HAND_ENTITY[c] for c in ids]))


def _read_tables(url: str):
    with psycopg.connect(url) as conn:
        g = conn.execute("SELECT golden_id, " + ", ".join(ALL) + ", member_count, cluster_confidence, "
                         "field_sources, run_id FROM golden_records ORDER BY golden_id").fetchall()
        m = conn.execute("SELECT citizen_id, golden_id, match_probability FROM citizen_golden_map "
                         "ORDER BY citizen_id").fetchall()
    return g, m


@pytest.fixture
def hand(hand_url):
    """The hand-made warehouse, with no golden records yet (a first build: golden ids are then
    the smallest member ids)."""
    _load_hand_warehouse(hand_url)
    with psycopg.connect(hand_url) as conn:
        conn.execute("DROP TABLE IF EXISTS golden_records, citizen_golden_map, golden_redirects")
        conn.commit()
        yield conn


#: golden fields whose rule chain uses source_priority (names, gender, date of birth, the ids)
SOURCE_RULED = {f for f in ALL if "source_priority" in golden.chain_for(CONFIG.golden, f)}


def test_hand_made_warehouse_golden_records_map_and_metrics(hand, hand_url):
    result = golden.build_golden_records(_hand_scored(), CONFIG, hand, run_id="run-1")
    g, m = _read_tables(hand_url)
    assert [r[0] for r in g] == sorted(EXPECTED)
    for row in g:
        gid, values, count, confidence, sources, run_id = row[0], row[1:15], row[15], row[16], row[17], row[18]
        exp_count, exp_conf, exp_fields = EXPECTED[gid]
        assert (count, run_id) == (exp_count, "run-1")
        assert confidence == pytest.approx(exp_conf)
        # every value exactly; the source record exactly where the chain has no source_priority (the
        # others: test_hand_made_warehouse_gives_exactly_the_expected_golden_records)
        got = {f: (str(v), None if f in SOURCE_RULED else sources[f]) for f, v in zip(ALL, values) if v is not None}
        assert got == {f: (v, None if f in SOURCE_RULED else s) for f, (v, s) in exp_fields.items()}, gid
        assert set(sources) == set(exp_fields)              # null golden fields name no source
        assert {sources[f] for f in sources} <= {c for c, (gid_c, _) in EXPECTED_MAP.items() if gid_c == gid}
    assert {c: (gid, pytest.approx(p)) for c, gid, p in m} == EXPECTED_MAP
    # the frames returned are what was written
    assert list(result.golden.columns) == list(LAYOUT.golden_columns)
    assert list(result.mapping.columns) == list(LAYOUT.map_columns)
    assert result.golden["golden_id"].tolist() == [r[0] for r in g]
    assert result.mapping["citizen_id"].tolist() == [c for c, _, _ in m]
    assert result.metrics["golden_source_records"] == 10 and "golden_citizens" not in result.metrics
    # the tables were created from the layout (no sql file): the schema's columns, in order
    assert list(warehouse.table_columns(hand, "golden_records")) == list(LAYOUT.golden_columns)
    assert list(warehouse.table_columns(hand, "citizen_golden_map")) == list(LAYOUT.map_columns)
    met = result.metrics
    assert met["golden_records"] == 5 and met["golden_true_people"] == 5 and met["largest_cluster_size"] == 3
    for k in ("cluster_precision", "cluster_recall", "bcubed_precision", "bcubed_recall", "bcubed_f1",
              "adjusted_rand_index"):
        assert met[k] == pytest.approx(1.0), k
    assert met["people_split_share"] == 0 and met["golden_merged_share"] == 0
    assert met["golden_edges_dropped_weak"] == 1 and met["seconds_golden"] > 0
    assert met["golden_full_name_rebuilt"] == 0


def test_hand_made_warehouse_gives_exactly_the_expected_golden_records(hand, hand_url):
    golden.build_golden_records(_hand_scored(), CONFIG, hand, run_id="run-1")
    g, _ = _read_tables(hand_url)
    got = {r[0]: {f: (str(v), r[17][f]) for f, v in zip(ALL, r[1:15]) if v is not None} for r in g}
    assert got == {gid: fields for gid, (_, _, fields) in EXPECTED.items()}


def test_source_priority_ranks_the_sources_as_configured_names_them():
    # two records, the same gender: gender's chain [most_frequent, source_priority] must take it from
    # the jan_aadhaar_portal record (first in golden.source_priority), not the lowest id
    records = pd.DataFrame({"record_id": [1, 2], "gender": ["M", "M"],
                            "source_system": ["ration_card", "jan_aadhaar_portal"],
                            "updated_at": ["2024-01-01 00:00:00+00", "2020-01-01 00:00:00+00"]})
    clusters = golden.cluster_pairs(2, np.array([0]), np.array([1]), np.array([0.999]), 0.95, 0.99, 10)
    result = golden.assemble(records, clusters, CONFIG.golden, LAYOUT)
    assert json.loads(result.golden["field_sources"][0]) == {"gender": 2}


def test_without_the_chaining_guard_the_weak_link_merges_two_people(hand, hand_url):
    config = _config("golden.min_edge_probability=0.5")
    result = golden.build_golden_records(_hand_scored(), config, hand)
    g, m = _read_tables(hand_url)
    assert [(r[0], r[15]) for r in g] == [(101, 6), (201, 2), (301, 1), (501, 1)]
    assert g[0][16] == pytest.approx(0.96)                  # the weak link is the cluster's confidence
    assert dict((c, p) for c, _, p in m)[401] == pytest.approx(0.9995)
    met = result.metrics
    # pairs inside golden records: 15 + 1; of them one person: 3 + 3 + 1
    assert met["cluster_precision"] == pytest.approx(7 / 16) and met["cluster_recall"] == 1.0
    assert met["bcubed_precision"] == pytest.approx((6 * 0.5 + 4) / 10) and met["bcubed_recall"] == 1.0
    assert met["golden_merged"] == 1 and met["golden_merged_share"] == pytest.approx(1 / 4)
    assert met["people_split"] == 0 and met["largest_cluster_size"] == 6


def test_rerun_replaces_and_a_failed_write_leaves_the_previous_output_intact(hand, hand_url):
    first = golden.build_golden_records(_hand_scored(), CONFIG, hand, run_id="first")
    before = _read_tables(hand_url)
    # a broken write: the second table violates its primary key after the first was replaced
    bad_map = pd.concat([first.mapping, first.mapping.head(1)], ignore_index=True)
    other = first.golden.assign(run_id="broken")
    with pytest.raises(WarehouseError, match="citizen_golden_map_pkey") as err:
        golden.write_golden(hand, other, bad_map, LAYOUT)
    assert "the previous golden records are intact" in err.value.one_line()
    assert _read_tables(hand_url) == before
    # a value a column refuses fails the first table: the error names the column and the row;
    # nothing changes either
    bad_dob = other.assign(date_of_birth=["1980-05-01"] * 3 + ["31/02/1990"] + ["1980-05-01"])
    with pytest.raises(WarehouseError, match=r"at column golden_records\.date_of_birth \(golden_id 401\)") as err:
        golden.write_golden(hand, bad_dob, first.mapping, LAYOUT)
    assert "the previous golden records are intact" in err.value.one_line()
    assert _read_tables(hand_url) == before
    # a re-run with other settings replaces both tables completely
    merged = _config("golden.min_edge_probability=0.5")
    golden.build_golden_records(_hand_scored(), merged, hand, run_id="second")
    g, m = _read_tables(hand_url)
    assert [r[0] for r in g] == [101, 201, 301, 501] and {r[18] for r in g} == {"second"}
    assert len(m) == 10 and {gid for _, gid, _ in m} == {101, 201, 301, 501}


# --------------------------------------------------------------------------- canonical values, any column type
# A registry whose columns are all text, holding values the trainer accepts as they are: gender
# spelled out, mobile numbers with +91 / 0 prefixes and spaces, e-mail in mixed case. Golden
# records hold the canonical values (gender M/F, the 10-digit national number, lower-case e-mail).
TEXT_TABLE = "registry_text"
TEXT_ROWS = [  # citizen_id, full_name, first, last, gender, mobile, email, pincode, jan_aadhaar, updated
    (1, "Priya Sharma", "Priya", "Sharma", "female", "+91 98765 43210", " Priya.Sharma@Mail.COM ", "302 001",
     "1234-567-890", "2021-01-01"),
    (2, "Priya  Sharma ", "Priya", "Sharma", "F", "098765 43210", None, "302001", "1234567890", "2020-01-01"),
    (3, "Arjun Singh", "Arjun", "Singh", "Male", "+91-98290-12345", "arjun@x.in", "302002", None, "2020-01-01"),
    (4, "Arjun Singh", "Arjun", "Singh", "male", "0000000000", None, "302002", None, "2022-01-01"),
    (5, "Alex Roy", "Alex", "Roy", "Other", "12345", None, None, None, "2020-01-01"),
    (6, "Meera Bai", "Meera", "Bai", "Mahila", "919414012345", None, None, None, "2020-01-01"),
]
TEXT_EDGES = [(1, 2, 0.999), (3, 4, 0.999)]
OLD_GOLDEN_DDL = """
CREATE TABLE golden_records (
    golden_id bigint PRIMARY KEY, full_name text, first_name text, last_name text, father_name text,
    gender char(1), date_of_birth date, mobile varchar(10), email text, address text, district text, state text,
    pincode varchar(6), jan_aadhaar varchar(10), aadhaar_last4 varchar(4), member_count integer NOT NULL,
    cluster_confidence double precision NOT NULL, field_sources jsonb NOT NULL DEFAULT '{}'::jsonb, run_id text,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE citizen_golden_map (citizen_id bigint PRIMARY KEY, golden_id bigint NOT NULL,
                                 match_probability double precision NOT NULL);
INSERT INTO golden_records (golden_id, gender, member_count, cluster_confidence, run_id) VALUES (7, 'X', 1, 1, 'old');
INSERT INTO citizen_golden_map VALUES (7, 7, 1);
"""


@pytest.fixture(scope="module")
def text_url(test_databases) -> str:
    url = test_databases.url("golden_text")           # no schema applied: only the registry
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE TABLE {TEXT_TABLE} (citizen_id bigint PRIMARY KEY, full_name text, first_name text, "
                     "last_name text, father_name text, gender text, date_of_birth date, mobile text, email text, "
                     "address text, district text, state text, pincode text, jan_aadhaar text, aadhaar_last4 text, "
                     "source_system text, created_at timestamptz, updated_at timestamptz)")
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {TEXT_TABLE} (citizen_id, full_name, first_name, last_name, gender, "
                            "mobile, email, pincode, jan_aadhaar, updated_at, date_of_birth, father_name, "
                            "address, district, state, aadhaar_last4, source_system, created_at) VALUES (%s, %s, "
                            "%s, %s, %s, %s, %s, %s, %s, %s, '1990-01-01', 'Mohan', '1 Main Road', 'Jaipur', "
                            "'Rajasthan', '4321', 'pension', '2015-01-01')", TEXT_ROWS)
    return url


def _text_config():
    return _config(f"data.table={TEXT_TABLE}")


def _text_scored():
    ids = [r[0] for r in TEXT_ROWS]
    return SimpleNamespace(records=pd.DataFrame({"record_id": ids}),
                           pairs=SimpleNamespace(left=np.array([ids.index(a) for a, _, _ in TEXT_EDGES]),
                                                 right=np.array([ids.index(b) for _, b, _ in TEXT_EDGES])),
                           probabilities=np.array([p for _, _, p in TEXT_EDGES]), entity=None)


def _golden_rows(url: str) -> dict[int, dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return {r["golden_id"]: r for r in conn.execute("SELECT * FROM golden_records ORDER BY golden_id")}


def _map_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT citizen_id, golden_id, match_probability FROM citizen_golden_map ORDER BY citizen_id").fetchall()


def test_values_the_trainer_accepts_become_canonical_golden_values(text_url):
    with psycopg.connect(text_url) as conn:
        conn.execute("DROP TABLE IF EXISTS golden_records, citizen_golden_map")
        conn.commit()
        result = golden.build_golden_records(_text_scored(), _text_config(), conn, run_id="text")
    rows = _golden_rows(text_url)
    assert sorted(rows) == [1, 3, 5, 6]
    got = {gid: (r["gender"], r["mobile"], r["email"], r["pincode"], r["jan_aadhaar"], r["full_name"])
           for gid, r in rows.items()}
    assert got == {
        1: ("F", "9876543210", "priya.sharma@mail.com", "302001", "1234567890", "Priya Sharma"),
        3: ("M", "9829012345", "arjun@x.in", "302002", None, "Arjun Singh"),  # placeholder 0000000000 never wins
        # an unmapped category value is kept as its cleaned text; a number of another length is kept
        5: ("other", "12345", None, None, None, "Alex Roy"),
        6: ("F", "9414012345", None, None, None, "Meera Bai"),    # mahila is F; 91 cut from a 12-digit number
    }
    # "+91 98765 43210" and "098765 43210" are one number: most_frequent counts them together (2:0),
    # then most_recent picks citizen 1 (2021)
    assert rows[1]["field_sources"]["mobile"] == 1 and rows[3]["field_sources"]["mobile"] == 3
    assert rows[1]["field_sources"]["full_name"] in (1, 2) and rows[5]["field_sources"]["mobile"] == 5
    # only the values the cleaner refuses (the placeholder) are counted as refused, not silently lost
    assert result.metrics["golden_values_refused_mobile"] == 1
    assert result.metrics["golden_values_refused_jan_aadhaar"] == 0
    assert result.metrics["golden_values_refused_gender"] == 0
    assert _map_rows(text_url) == [(1, 1, 0.999), (2, 1, 0.999), (3, 3, 0.999), (4, 3, 0.999), (5, 5, 1.0),
                                   (6, 6, 1.0)]


def test_canonical_records_clean_by_field_type():
    specs = CONFIG.data.fields
    raw = pd.DataFrame({
        "record_id": [1, 2, 3, 4, 5],
        "full_name": ["  Seema   Sharma ", "R. Kumar", None, "Alex Roy", "Meera"],
        "address": ["12  M.G. Rd ", None, "5 Park St", "x", "y"],
        "gender": ["Purush", "STREE", "Other", " woman ", None],
        "mobile": ["+91 98765 43210", "9999999999", "12345", "0 98290 12345", "000"],
        "email": [" A@B.IN ", None, "c@d.in", "e@f.in", "g@h.in"],
        "jan_aadhaar": ["1234-567-890", "1111111111", "12345", None, "ab 12"],
        "date_of_birth": ["1990-02-03", "not a date", None, "1529-07-15", "1980-05-41"],
        "updated_at": ["2020-01-01 10:00:00+00", None, "2021-06-01 00:00:00+00", "2022-01-01 00:00:00+00",
                       "2023-01-01 00:00:00+00"],
    })
    out, refused = golden.canonical_records(raw, specs)
    assert list(out.columns) == list(raw.columns) and out["record_id"].tolist() == [1, 2, 3, 4, 5]
    # names and addresses: as written, spacing trimmed
    assert out["full_name"].tolist() == ["Seema Sharma", "R. Kumar", None, "Alex Roy", "Meera"]
    assert out["address"].tolist() == ["12 M.G. Rd", None, "5 Park St", "x", "y"]
    # category: declared spellings (case-insensitive) map to the canonical value, others kept lower case
    assert out["gender"].tolist() == ["M", "F", "other", "F", None]
    # phone: digits, prefixes cut from longer numbers, placeholders missing, other lengths kept
    assert out["mobile"].tolist() == ["9876543210", None, "12345", "9829012345", None]
    assert out["email"].tolist() == ["a@b.in", None, "c@d.in", "e@f.in", "g@h.in"]
    assert out["jan_aadhaar"].tolist() == ["1234567890", None, "12345", None, "12"]
    # dates: ISO days of any year; one that is no calendar day (training keeps it as text) is refused
    assert out["date_of_birth"].tolist() == ["1990-02-03", None, None, "1529-07-15", None]
    assert pd.isna(out["updated_at"][1]) and out["updated_at"][3] == pd.Timestamp("2022-01-01")
    # refused (present, unusable: they become missing): the placeholders and the invalid date; written
    # names and addresses are never refused
    assert refused == {"gender": 0, "mobile": 2, "email": 0, "jan_aadhaar": 1, "date_of_birth": 2, "updated_at": 0}
    # the input is left as it was
    assert raw["gender"].tolist() == ["Purush", "STREE", "Other", " woman ", None]


def _old_tables_are_replaced(text_url: str, old_ddl: str) -> None:
    """Golden tables created by ``old_ddl`` (with a row each): a failed write leaves them as they
    were, a good one replaces them by the schema's shape holding the values written."""
    config = _text_config()
    layout = golden.Layout.from_config(config)
    with psycopg.connect(text_url) as conn:
        conn.execute("DROP TABLE IF EXISTS golden_records, citizen_golden_map")
        conn.execute(old_ddl)
        conn.commit()
        old_types = warehouse.table_columns(conn, "golden_records")
        result = golden.build_golden_records(_text_scored(), config, conn, run_id="migrated", write=False)
    old_rows = _golden_rows(text_url)
    assert old_types["gender"] == "character(1)" and list(old_rows) == [7]
    # a value a column refuses: the error names table, column and row; the old tables stay as they
    # were, shape and rows (the drop and re-create are in the write's transaction)
    bad = result.golden.assign(date_of_birth=["1990-01-01", "not a date", "1990-01-01", "1990-01-01"])
    with psycopg.connect(text_url) as conn, \
            pytest.raises(WarehouseError, match=r"at column golden_records\.date_of_birth \(golden_id 3\)") as err:
        golden.write_golden(conn, bad, result.mapping, layout)
    assert "the previous golden records are intact" in err.value.one_line()
    with psycopg.connect(text_url) as conn:
        assert warehouse.table_columns(conn, "golden_records") == old_types
    assert _golden_rows(text_url) == old_rows and _map_rows(text_url) == [(7, 7, 1.0)]
    # the real write: the tables take the schema's shape (text for every field but the date) and the
    # values written, including those the old columns could not hold ("other" in a char(1))
    with psycopg.connect(text_url) as conn:
        golden.write_golden(conn, result.golden, result.mapping, layout)
        types = warehouse.table_columns(conn, "golden_records")
        map_types = warehouse.table_columns(conn, "citizen_golden_map")
    assert list(types) == list(layout.golden_columns)
    for column in ALL:
        assert types[column] == ("date" if column == "date_of_birth" else "text"), column
    assert map_types == {"citizen_id": "bigint", "golden_id": "bigint", "match_probability": "double precision",
                         "mapped_at": "timestamp with time zone"}
    rows = _golden_rows(text_url)
    assert {gid: r["gender"] for gid, r in rows.items()} == {1: "F", 3: "M", 5: "other", 6: "F"}
    assert {gid: r["mobile"] for gid, r in rows.items()} == {1: "9876543210", 3: "9829012345", 5: "12345",
                                                             6: "9414012345"}
    assert {r["run_id"] for r in rows.values()} == {"migrated"}
    assert [m[:2] for m in _map_rows(text_url)] == [(1, 1), (2, 1), (3, 3), (4, 3), (5, 5), (6, 6)]
    with psycopg.connect(text_url) as conn:                # applying the warehouse schema changes nothing
        warehouse.apply_schema(conn)
        assert warehouse.table_columns(conn, "golden_records") == types
    # a rerun into tables of the right shape replaces the rows and keeps the tables
    with psycopg.connect(text_url) as conn:
        oid = conn.execute("SELECT 'golden_records'::regclass::oid").fetchone()[0]
        golden.write_golden(conn, result.golden.assign(run_id="again"), result.mapping, layout)
        assert conn.execute("SELECT 'golden_records'::regclass::oid").fetchone()[0] == oid
    assert {r["run_id"] for r in _golden_rows(text_url).values()} == {"again"}


def test_a_golden_table_of_another_shape_is_replaced_by_the_schemas_and_write_errors_name_the_column(text_url):
    # an earlier version's golden_records without the aadhaar_last4 column: its columns differ by name
    ddl = OLD_GOLDEN_DDL.replace(" aadhaar_last4 varchar(4),", "")
    assert ddl != OLD_GOLDEN_DDL
    _old_tables_are_replaced(text_url, ddl)


def test_an_old_golden_table_is_replaced_by_the_schemas_shape_and_write_errors_name_the_column(text_url):
    # the previous fixed schema's golden_records: the same column names, narrower types
    _old_tables_are_replaced(text_url, OLD_GOLDEN_DDL)


# --------------------------------------------------------------------------- survivorship rules
def _cluster(values, sources=None, updated=None, field="mobile"):
    n = len(values)
    return pd.DataFrame({"record_id": np.arange(1, n + 1, dtype=np.int64), field: values,
                         "source_system": sources or ["ration_card"] * n,
                         "updated_at": pd.to_datetime(updated or ["2020-01-01"] * n, utc=True)})


def _survivor(frame, chain, field="mobile", **settings):
    """(surviving value, id of the record it came from) of a one-cluster frame."""
    s = GoldenSettings(default_rule=chain, **settings)
    values, sources = golden.survive(frame, np.zeros(len(frame), dtype=np.int64), 1, s, LAYOUT, [field])
    assert list(values.columns) == list(sources.columns) == [field] and sources[field].dtype == np.int64
    position = int(sources[field].iloc[0])                 # a row of ``frame`` (-1: none)
    return values[field].iloc[0], (frame["record_id"].iloc[position] if position >= 0 else None)


def test_most_recent_skips_null_values_and_null_timestamps():
    frame = _cluster(["111", "222", None, "444"], updated=["2021-01-01", "2023-01-01", "2024-01-01", None])
    assert _survivor(frame, ["most_recent"]) == ("222", 2)   # 3 is newer but null; 4 has no timestamp


def test_most_frequent_ignores_case_and_spaces():
    frame = _cluster(["Laxmi", " laxmi ", "Lakshmi", "LAXMI"], field="first_name")
    assert _survivor(frame, ["most_frequent"], field="first_name") == ("Laxmi", 1)   # lowest id of the 3


def test_most_complete_prefers_the_longest_non_null_value():
    frame = _cluster(["R.", None, "Ramesh", "Ramesh"], field="first_name")
    assert _survivor(frame, ["most_complete"], field="first_name") == ("Ramesh", 3)


def test_source_priority_follows_the_list_and_unlisted_sources_rank_last():
    frame = _cluster(["a", "b", "c"], sources=["health_dept", "ration_card", "voter_registry"])
    assert _survivor(frame, ["source_priority"], source_priority=["voter_registry", "ration_card"]) == ("c", 3)
    assert _survivor(frame, ["source_priority"], source_priority=["pension", "ration_card"]) == ("b", 2)


def test_fallback_chain_each_rule_breaks_the_previous_ties():
    frame = _cluster(["aa", "bbb", "aa", "bbb"], sources=["ration_card", "voter_registry", "health_dept", "pension"],
                     updated=["2024-01-01", "2020-01-01", "2021-01-01", "2022-01-01"])
    # 2-2 frequency tie, then the source list decides
    assert _survivor(frame, ["most_frequent", "source_priority"], source_priority=["voter_registry"]) == ("bbb", 2)
    assert _survivor(frame, ["most_frequent", "source_priority"], source_priority=["health_dept"]) == ("aa", 3)
    # no listed source: ties stay, the next rule (most_recent) decides
    assert _survivor(frame, ["most_frequent", "source_priority", "most_recent"],
                     source_priority=["school_education"]) == ("aa", 1)
    # most_complete first ends the chain at once
    assert _survivor(frame, ["most_complete", "most_recent"]) == ("bbb", 4)
    # everything tied: the lowest citizen_id, wherever its row is
    assert _survivor(_cluster(["x", "x"]), ["most_frequent", "most_complete"]) == ("x", 1)
    assert _survivor(_cluster(["x", "x"]).assign(record_id=[9, 4]), ["most_frequent"]) == ("x", 4)
    # text ids (any id type): the lowest as text
    assert _survivor(_cluster(["x", "x", "x"]).assign(record_id=["b7", "a9", "c1"]), ["most_recent"]) == ("x", "a9")


def test_all_null_field_stays_null_and_clusters_are_independent():
    frame = pd.concat([_cluster([None, None]), _cluster(["9", "8"]).assign(record_id=[3, 4])], ignore_index=True)
    s = GoldenSettings(default_rule=["most_complete"])
    values, sources = golden.survive(frame, np.array([0, 0, 1, 1]), 2, s, LAYOUT, ["mobile"])
    assert values["mobile"].isna().tolist() == [True, False] and values["mobile"][1] == "9"
    assert sources["mobile"].tolist() == [-1, 2]                  # record positions: row 2 is citizen 3
    assert golden._field_sources_json(sources, frame["record_id"].to_numpy()).tolist() == ["{}", '{"mobile": 3}']
    assert golden._field_sources_json(sources).tolist() == ["{}", '{"mobile": 2}']   # no ids: the positions
    text_ids = np.array(["r-1", "r-2", "r-3", "r-4"], dtype=object)
    assert golden._field_sources_json(sources, text_ids).tolist() == ["{}", '{"mobile": "r-3"}']


def _names(rows, sources=None):
    """A cluster of (full_name, first_name, last_name) rows, ids 1..n."""
    n = len(rows)
    return pd.DataFrame({"record_id": np.arange(1, n + 1, dtype=np.int64),
                         "full_name": [r[0] for r in rows], "first_name": [r[1] for r in rows],
                         "last_name": [r[2] for r in rows], "source_system": sources or ["ration_card"] * n,
                         "updated_at": pd.to_datetime(["2020-01-01"] * n, utc=True)})


def _golden_names(frame, labels=None):
    labels = np.zeros(len(frame), dtype=np.int64) if labels is None else np.asarray(labels)
    values, sources = golden.survive(frame, labels, int(labels.max()) + 1, CONFIG.golden, LAYOUT,
                                     ["full_name", "first_name", "last_name"])
    return ([tuple(v) for v in values.itertuples(index=False)],
            golden._field_sources_json(sources, frame["record_id"].to_numpy()).tolist())


def test_full_name_agrees_with_the_surviving_first_and_last_name():
    # the case: every full name differs, the trusted source holds the typo "Esema Sharma";
    # first and last name each survive by vote (Seema 2:1, Sharma 2:1): full_name follows them
    frame = _names([("Seema Shrama", "Seema", "Shrama"), ("Seema Sharma", "Seema", "Sharma"),
                    ("Esema Sharma", "Esema", "Sharma")], sources=["ration_card", "ration_card", "jan_aadhaar_portal"])
    values, sources = _golden_names(frame)
    assert values == [("Seema Sharma", "Seema", "Sharma")]
    assert json.loads(sources[0]) == {"full_name": 2, "first_name": 1, "last_name": 3}
    # no member holds "Seema Sharma" (the parts came from different records): the three name fields
    # are taken together from the record whose full name ranks first, so the golden name is one a
    # record holds ("Seema Shrama" and "Esema Sharma" tie on length; the lowest citizen_id wins)
    frame = _names([("Seema Shrama", "Seema", "Shrama"), ("Seema Varma", "Seema", "Varma"),
                    ("Esema Sharma", "Esema", "Sharma"), ("Esma Sharma", "Esma", "Sharma")])
    values, sources = _golden_names(frame)
    assert values == [("Seema Shrama", "Seema", "Shrama")]
    assert json.loads(sources[0]) == {"full_name": 1, "first_name": 1, "last_name": 1}
    # agreement is on words (case, punctuation, middle names ignored); "last first" is the fallback
    frame = _names([("RAM PRASAD  sharma", "Ram", "Sharma"), ("R. Kumar", "R.", "Kumar"),
                    ("Iqbal Mohammad", "Mohammad", "Iqbal"), ("Esema Sharma", "Seema", "Sharma")])
    values, _ = _golden_names(frame, labels=[0, 1, 2, 3])
    assert values == [("RAM PRASAD  sharma", "Ram", "Sharma"), ("R. Kumar", "R.", "Kumar"),
                      ("Iqbal Mohammad", "Mohammad", "Iqbal"),
                      ("Seema Sharma", "Seema", "Sharma")]     # a record disagreeing with itself: rebuilt
    frame = _names([("Esema Sharma", "Seema", "Sharma"), ("Sharma", None, "Sharma")])
    values, sources = _golden_names(frame)                   # no record consistent and complete: rebuilt
    assert values == [("Seema Sharma", "Seema", "Sharma")] and "full_name" not in json.loads(sources[0])
    ranks = golden.name_agreement(np.array(["Esema Sharma", "Sharma Seema", None], dtype=object),
                                  np.array(["Seema"] * 3, dtype=object),
                                  np.array(["Sharma", "Sharma", None], dtype=object))
    assert ranks.tolist() == [golden.NAMES_DISAGREE, golden.NAMES_SWAPPED, golden.NAMES_AGREE]


def test_config_rules_are_validated():
    with pytest.raises(ConfigError, match="source_priority is empty"):
        load_model_config(None, ["golden.source_priority=[]"])          # the default rules use it
    with pytest.raises(ConfigError, match="unknown survivorship rule"):
        load_model_config(None, ["golden.rules.email=[newest]"])
    with pytest.raises(ConfigError, match="golden.rules.mobil uses field 'mobil', which data.fields does not declare"):
        load_model_config(None, ["golden.rules.mobil=[most_recent]"])
    with pytest.raises(ConfigError, match="golden.composite.full_name uses field 'given'"):
        load_model_config(None, ["golden.composite.full_name=[given, last_name]"])
    with pytest.raises(ConfigError, match="data.columns and data.id_column were replaced by data.id and data.fields"):
        load_model_config(None, ["data.columns={mobile: phone}"])       # the fixed field list is gone
    one = load_model_config(None, ["golden.rules.email=most_recent"])  # a single rule is a chain of one
    assert one.golden.rules["email"] == ["most_recent"]
    ok = load_model_config(None, ["golden.source_priority=[]", "golden.default_rule=[most_recent]",
                                  "golden.rules={}"])
    assert ok.golden.source_priority == []


def test_a_rule_for_a_field_golden_records_do_not_hold_is_refused():
    # updated_at is declared, but it is the recency role: no golden record holds it, so a rule for it
    # would silently do nothing (the fixed-schema version refused it: "unknown golden record field")
    assert "updated_at" not in LAYOUT.fields
    with pytest.raises(ConfigError, match="golden.rules.updated_at"):
        load_model_config(None, ["golden.rules.updated_at=[most_recent]"])


# --------------------------------------------------------------------------- clustering guards
def test_weak_edge_guard_splits_two_cliques_joined_by_one_weak_link():
    left, right, prob = [], [], []
    for base in (0, 4):
        for a in range(base, base + 4):
            for b in range(a + 1, base + 4):
                left.append(a), right.append(b), prob.append(0.999)
    left.append(3), right.append(4), prob.append(0.96)
    args = (8, np.array(left), np.array(right), np.array(prob), 0.95)
    guarded = golden.cluster_pairs(*args, min_edge_probability=0.99, max_cluster_size=10)
    assert sorted(guarded.sizes.tolist()) == [4, 4] and guarded.labels[3] != guarded.labels[4]
    assert guarded.confidence.tolist() == [0.999, 0.999]
    off = golden.cluster_pairs(*args, min_edge_probability=0.0, max_cluster_size=10)
    assert off.sizes.tolist() == [8] and off.confidence[0] == 0.96


def test_size_cap_cuts_the_weakest_links_of_a_long_chain():
    left = np.arange(9)
    right = left + 1
    prob = np.full(9, 0.9999)
    prob[4] = 0.999                                           # the weakest link: 4-5
    clusters = golden.cluster_pairs(10, left, right, prob, 0.95, 0.99, max_cluster_size=5)
    assert clusters.labels.tolist() == [0] * 5 + [1] * 5
    assert clusters.stats["golden_edges_cut_size"] == 1 and clusters.stats["golden_clusters_oversized"] == 1


def test_size_cap_holds_on_a_random_giant_component():
    rng = np.random.default_rng(3)
    n = 400
    left, right = rng.integers(0, n, 3000), rng.integers(0, n, 3000)
    keep = left < right
    left, right = left[keep], right[keep]
    prob = rng.uniform(0.991, 1.0, len(left))
    clusters = golden.cluster_pairs(n, left, right, prob, 0.95, 0.99, max_cluster_size=7)
    assert clusters.sizes.max() <= 7 and clusters.sizes.sum() == n
    # each cluster lies within one original component and is connected by kept edges
    inside = clusters.labels[left] == clusters.labels[right]
    again = golden._components(n, left[inside], right[inside])
    assert len(np.unique(again)) == clusters.n_clusters
    assert np.all(clusters.link_probability[clusters.sizes[clusters.labels] > 1] >= 0.991)


# --------------------------------------------------------------------------- the auto guards (the defaults)
def _clique(members, prob):
    """All pairs of ``members`` at probability ``prob`` (a number or a function of the pair)."""
    left, right, p = [], [], []
    for i, a in enumerate(members):
        for b in members[i + 1:]:
            left.append(a), right.append(b), p.append(prob(a, b) if callable(prob) else prob)
    return left, right, p


def _pairs(*parts):
    left, right, prob = [], [], []
    for l_, r_, p_ in parts:
        left += list(l_)
        right += list(r_)
        prob += list(p_)
    return np.array(left, dtype=np.int64), np.array(right, dtype=np.int64), np.array(prob, dtype=float)


def test_defaults_are_the_auto_guards():
    assert GoldenSettings().min_edge_probability == "auto" and GoldenSettings().max_cluster_size == "auto"
    assert CONFIG.golden.min_edge_probability == "auto" and CONFIG.golden.max_cluster_size == "auto"


def test_one_person_with_20_records_stays_one_cluster_with_the_defaults():
    # every pair scored a match; the pairs of records 15-19 (the corrupted copies) weaker, 0.96-0.985
    weak = lambda a, b: 0.96 + 0.005 * ((a + b) % 6) if max(a, b) >= 15 else 0.9995    # noqa: E731
    left, right, prob = _pairs(_clique(list(range(20)), weak))
    assert (prob < 0.99).sum() > 50
    c = golden.cluster_pairs(20, left, right, prob, 0.5)
    assert c.n_clusters == 1 and c.sizes.tolist() == [20]
    assert c.stats["golden_edges_dropped_weak"] == 0 and c.stats["golden_max_cluster_size"] == 40   # 2 x 20
    assert any("golden.max_cluster_size auto: 40" in note for note in c.notes)
    # the old fixed guards cut this person into pieces of at most 10
    old = golden.cluster_pairs(20, left, right, prob, 0.5, 0.99, 10)
    assert old.n_clusters >= 2 and old.sizes.max() <= 10


def test_a_household_chain_is_split_where_a_and_c_are_a_clear_non_match():
    # A-B and B-C strong matches (a person and two household members sharing surname, address,
    # phone), A-C scored a clear non-match: the chain is cut, B stays with its stronger partner
    left, right, prob = _pairs(([0, 1, 0], [1, 2, 2], [0.9999, 0.999, 0.001]))
    c = golden.cluster_pairs(3, left, right, prob, 0.5)
    assert c.labels[0] == c.labels[1] != c.labels[2] and c.stats["golden_edges_dropped_weak"] == 1
    # without the A-C pair there is no evidence against the chain: it stays one cluster
    c = golden.cluster_pairs(3, left[:2], right[:2], prob[:2], 0.5)
    assert c.n_clusters == 1
    # a record matching most members of its cluster stays although it does not match one of them
    left, right, prob = _pairs(_clique([0, 1, 2], 0.9999), ([3, 3, 3], [0, 1, 2], [0.999, 0.998, 0.001]))
    c = golden.cluster_pairs(4, left, right, prob, 0.5)
    assert c.n_clusters == 1


def test_three_people_joined_by_single_links_are_split_apart():
    # 15 records, 3 people of 5 (all their pairs 0.999+), chained by one link between people 1-2
    # and one between 2-3; blocking produced no other pair between them
    people = [list(range(k, k + 5)) for k in (0, 5, 10)]
    inside = [_clique(m, 0.9995) for m in people]
    for link in (0.97, 0.995):                   # a weak link, and a strong one (few pairs agree: too few)
        left, right, prob = _pairs(*inside, ([4, 9], [5, 10], [link, link]))
        c = golden.cluster_pairs(15, left, right, prob, 0.5)
        assert sorted(c.sizes.tolist()) == [5, 5, 5], link
        assert len({c.labels[m[0]] for m in people}) == 3
        assert all(len(set(c.labels[m])) == 1 for m in people)
        assert c.stats["golden_edges_dropped_weak"] == 2
    # with the other pairs between people 1 and 2 scored as non-matches, a strong link is cut too
    cross = ([a for a in people[0] for b in people[1]], [b for a in people[0] for b in people[1]],
             [0.999 if (a, b) == (4, 5) else 0.002 for a in people[0] for b in people[1]])
    left, right, prob = _pairs(*inside, cross)
    c = golden.cluster_pairs(15, left, right, prob, 0.5)
    assert sorted(c.sizes.tolist()) == [5, 5, 5]


def test_two_groups_of_one_person_joined_by_many_links_merge():
    # one person's 12 records in two groups (6 + 6) that blocking links by 10 of their 36 pairs,
    # one of them strong: a third of the pairs between them are matches, none disagrees
    a, b = list(range(6)), list(range(6, 12))
    cross = ([x for x in a for y in b][:10], [y for x in a for y in b][:10], [0.999] + [0.97] * 9)
    left, right, prob = _pairs(_clique(a, 0.9999), _clique(b, 0.9999), cross)
    c = golden.cluster_pairs(12, left, right, prob, 0.5)
    assert c.n_clusters == 1
    # only 5 of 36 pairs (a seventh) match: two people chained by a few links, kept apart
    cross = tuple(x[:5] for x in cross)
    left, right, prob = _pairs(_clique(a, 0.9999), _clique(b, 0.9999), cross)
    assert golden.cluster_pairs(12, left, right, prob, 0.5).n_clusters == 2


def test_explicit_guard_numbers_are_honoured():
    # a fixed floor keeps the old rule: every link above it stays, a chain is not weighed
    left, right, prob = _pairs(([0, 1, 0], [1, 2, 2], [0.9999, 0.999, 0.001]))
    assert golden.cluster_pairs(3, left, right, prob, 0.5, 0.99, 10).n_clusters == 1
    # an explicit cap with the auto chaining guard
    weak = lambda a, b: 0.9995                                                   # noqa: E731
    left, right, prob = _pairs(_clique(list(range(20)), weak))
    c = golden.cluster_pairs(20, left, right, prob, 0.5, "auto", 6)
    assert c.sizes.max() <= 6 and c.stats["golden_max_cluster_size"] == 6 and c.notes == []
    # the settings: auto, or a number, validated
    config = load_model_config(None, ["golden.min_edge_probability=0.97", "golden.max_cluster_size=12"])
    assert (config.golden.min_edge_probability, config.golden.max_cluster_size) == (0.97, 12)
    assert load_model_config(None, ["golden.max_cluster_size= Auto"]).golden.max_cluster_size == "auto"
    for bad, message in (("golden.max_cluster_size=1", "max_cluster_size is 'auto' or a whole number"),
                         ("golden.max_cluster_size=2.5", "max_cluster_size is 'auto' or a whole number"),
                         ("golden.max_cluster_size=lots", "max_cluster_size is 'auto' or a whole number"),
                         ("golden.min_edge_probability=1.5", "min_edge_probability is 'auto' or a probability"),
                         ("golden.min_edge_probability=yes", "min_edge_probability is 'auto' or a probability")):
        with pytest.raises(ConfigError, match=message):
            load_model_config(None, [bad])


def test_auto_size_cap_from_the_expected_person_sizes():
    from golden_record.golden import clustering

    # no match at all: the lower bound
    assert clustering.derive_max_cluster_size(4, [0], [1], [0.2], 0.5)[0] == 10
    # records of people of 30: expected sizes 1 + 29 x 0.999 -> 30, cap 2 x 30
    left, right, prob = _pairs(_clique(list(range(30)), 0.999))
    cap, why = clustering.derive_max_cluster_size(30, left, right, prob, 0.5)
    assert cap == 60 and "2 x 30" in why and "99% quantile" in why
    # the histogram form (the Spark engine's) gives the same; the upper bound holds
    assert clustering.cap_from_histogram(np.array([30]), np.array([30]))[0] == 60
    assert clustering.cap_from_histogram(np.array([2, 400]), np.array([10, 1000]))[0] == 500
    # the 99th percentile, not the largest: one giant outlier among many pairs
    assert clustering.cap_from_histogram(np.array([2, 3, 900]), np.array([5000, 3000, 50]))[0] == 10


def test_auto_guards_on_a_random_giant_component():
    rng = np.random.default_rng(5)
    n = 3000
    left, right = rng.integers(0, n, 20000), rng.integers(0, n, 20000)
    keep = left < right
    left, right = left[keep], right[keep]
    prob = rng.choice([0.001, 0.3, 0.97, 0.995, 0.9999], len(left))
    c = golden.cluster_pairs(n, left, right, prob, 0.5)
    cap = c.stats["golden_max_cluster_size"]
    assert c.sizes.max() <= cap and c.sizes.sum() == n
    # each cluster is connected by its kept match links, inside one component
    match = prob >= 0.5
    inside = match & (c.labels[left] == c.labels[right])
    again = golden._components(n, left[inside], right[inside])
    assert len(np.unique(again)) == c.n_clusters


def test_metrics_on_a_split_person_and_against_sklearn():
    m = golden.cluster_metrics(np.array([0, 0, 1]), np.array([7, 7, 7]))
    assert m["people_split"] == 1 and m["people_split_share"] == 1.0 and m["golden_merged"] == 0
    assert m["cluster_precision"] == 1.0 and m["cluster_recall"] == pytest.approx(1 / 3)
    assert m["bcubed_recall"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels, entity = rng.integers(0, 40, 300), rng.integers(0, 50, 300)
    labels = np.unique(labels, return_inverse=True)[1]
    got = golden.cluster_metrics(labels, entity)["adjusted_rand_index"]
    assert got == pytest.approx(sklearn_metrics.adjusted_rand_score(entity, labels))


# --------------------------------------------------------------------------- the table changes while a run trains
CHANGED_HINT = ("the table changed while the run was training: run again when nothing writes to it; "
                "the golden tables were not changed")


def _seed(url: str, seed: int) -> None:
    done = run([sys.executable, "scripts/seed_data.py", "--rows", "3000", "--seed", str(seed)], {"DATABASE_URL": url})
    assert done.returncode == 0, done.stderr


_CHANGING = itertools.count(1)


@pytest.fixture
def changing_url(seeded_copy) -> str:
    """A warehouse of its own for each test, as freshly seeded (3,000 records, seed 11; a copy of
    the run's): the tests change it."""
    return seeded_copy(f"golden_changing_{next(_CHANGING)}", seed=11)


def test_golden_records_from_a_table_changed_since_scoring_fail_and_write_nothing(changing_url):
    config = load_model_config()
    progress = pipeline.Progress(quiet=True)
    with psycopg.connect(changing_url) as conn:
        records, entity = pipeline.load(conn, config, progress)
        scored = pipeline.fit_and_score(records, entity, config, progress)
        golden.build_golden_records(scored, config, conn, run_id="same data")      # unchanged: fine
    before = _read_tables(changing_url)

    def fails(pattern: str) -> None:
        with psycopg.connect(changing_url) as conn, pytest.raises(DataError) as err:
            golden.build_golden_records(scored, config, conn, run_id="changed")
        assert re.fullmatch(r"table citizens changed since its records were scored: " + pattern, err.value.message), \
            err.value.message
        assert err.value.hint == CHANGED_HINT
        assert _read_tables(changing_url) == before                                  # nothing written

    with psycopg.connect(changing_url, autocommit=True) as conn:
        # one value of a scored column
        mobile = conn.execute("SELECT mobile FROM citizens WHERE citizen_id = 17").fetchone()[0]
        conn.execute("UPDATE citizens SET mobile = '9000012345' WHERE citizen_id = 17")
        fails(r"0 records added, 0 removed, 1 changed \(e\.g\. citizen_id 17\)")
        conn.execute("UPDATE citizens SET mobile = %s WHERE citizen_id = 17", (mobile,))
        # one record removed, one added
        conn.execute("CREATE TEMP TABLE saved AS SELECT * FROM citizens WHERE citizen_id = 42")
        conn.execute("DELETE FROM citizens WHERE citizen_id = 42")
        fails(r"0 records added, 1 removed, 0 changed \(e\.g\. citizen_id 42\)")
        conn.execute("INSERT INTO citizens SELECT * FROM saved")
        conn.execute("INSERT INTO citizens SELECT citizen_id + 10000, full_name, first_name, last_name, father_name, "
                     "gender, date_of_birth, mobile, email, address, district, state, pincode, jan_aadhaar, "
                     "aadhaar_last4, source_system, created_at, updated_at FROM saved")
        fails(r"1 records added, 0 removed, 0 changed \(e\.g\. citizen_id 10042\)")
        conn.execute("DELETE FROM citizens WHERE citizen_id = 10042")
    # the case: the table re-seeded (same ids 1..3000, other people)
    _seed(changing_url, 12)
    fails(r"0 records added, 0 removed, [23],\d{3} changed \(e\.g\. citizen_id 1\)")


def test_training_run_fails_in_stage_golden_when_the_table_is_reseeded_mid_run(changing_url, mlflow_store):
    # the golden tables hold a previous result, which must survive the failed run
    with psycopg.connect(changing_url) as conn:
        golden.write_golden(conn, pd.DataFrame({"golden_id": [1], **{f: [None] for f in ALL}, "member_count": [1],
                                                "cluster_confidence": [1.0], "field_sources": ["{}"],
                                                "run_id": ["previous"], "created_at": [pd.Timestamp.now(tz="UTC")]}),
                            pd.DataFrame({"citizen_id": [1], "golden_id": [1], "match_probability": [1.0]}), LAYOUT)
    before = _read_tables(changing_url)
    # train.py --write-golden, with another process re-seeding the table right after the model is
    # fitted (the trainer's own fit_and_score, followed by a real seed_data.py run)
    driver = (
        "import subprocess, sys\n"
        f"sys.path.insert(0, {str(USE_CASE / 'src')!r})\n"
        "from golden_record.jobs import train\n"
        "fit = train.fit_and_score\n"
        "def fit_then_reseed(*args, **kwargs):\n"
        "    scored = fit(*args, **kwargs)\n"
        "    subprocess.run([sys.executable, 'scripts/seed_data.py', '--rows', '3000', '--seed', '12'],\n"
        f"                   cwd={str(ROOT)!r}, check=True, capture_output=True)\n"
        "    return scored\n"
        "train.fit_and_score = fit_then_reseed\n"
        "sys.exit(train.main(sys.argv[1:]))\n")
    done = run([sys.executable, "-c", driver, "--write-golden", "--experiment", "golden_reseeded", "--quiet"],
               {"DATABASE_URL": changing_url, "MLFLOW_TRACKING_URI": mlflow_store}, cwd=USE_CASE)
    assert done.returncode == 1, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error in stage golden: table citizens changed since its records were scored: "), last
    assert CHANGED_HINT in last and "marked FAILED" in last
    client = MlflowClient(mlflow_store)
    (r,) = client.search_runs([client.get_experiment_by_name("golden_reseeded").experiment_id])
    assert r.info.status == "FAILED"
    assert r.data.tags["error.stage"] == "golden" and r.data.tags["error.type"] == "DataError"
    assert "golden_records" not in r.data.metrics
    assert _read_tables(changing_url) == before


# --------------------------------------------------------------------------- seeded warehouse, end to end
@pytest.fixture(scope="module")
def seeded_built(seeded_url):
    config = load_model_config()
    progress = pipeline.Progress(quiet=True)
    with psycopg.connect(seeded_url) as conn:
        records, entity = pipeline.load(conn, config, progress)
        scored = pipeline.fit_and_score(records, entity, config, progress)
        result = golden.build_golden_records(scored, config, conn, run_id="direct")
        n_golden, members = conn.execute("SELECT count(*), sum(member_count) FROM golden_records").fetchone()
        orphans = conn.execute("SELECT count(*) FROM citizen_golden_map m LEFT JOIN golden_records g "
                               "USING (golden_id) WHERE g.golden_id IS NULL").fetchone()[0]
        names = conn.execute("SELECT golden_id, member_count, full_name, first_name, last_name, field_sources "
                             "FROM golden_records WHERE first_name IS NOT NULL AND last_name IS NOT NULL").fetchall()
    return SimpleNamespace(result=result, n_golden=n_golden, members=members, orphans=orphans, names=names)


def test_build_on_a_scored_seeded_warehouse(seeded_built):
    result = seeded_built.result
    assert seeded_built.n_golden == result.metrics["golden_records"] and seeded_built.members == 3000
    assert seeded_built.orphans == 0
    assert result.metrics["bcubed_f1"] > 0.98 and result.metrics["largest_cluster_size"] <= 10
    assert result.metrics["seconds_golden"] < 15


def test_seeded_golden_full_names_agree_with_their_first_and_last_names(seeded_built):
    # every seeded record's full_name is "first last" (or "last first" after a name swap); so is
    # every golden record's, read back from golden_records
    names = seeded_built.names
    assert len(names) == seeded_built.n_golden
    disagree = [r for r in names if r[2] not in (f"{r[3]} {r[4]}", f"{r[4]} {r[3]}")]
    assert disagree == []
    multi = [r for r in names if r[1] > 1]
    assert len(multi) > 300
    # seeded records are consistent: the names are always one record's, never rebuilt
    assert all("full_name" in r[5] for r in names)
    assert seeded_built.result.metrics["golden_full_name_rebuilt"] == 0


def test_script_logs_cluster_metrics_to_the_trained_run(trained_copy, trained_template, tmp_path):
    # the same training run writes the golden records too: the run's shared one (``python
    # src/train.py --quiet --write-golden`` on 3,000 seeded citizens), copied with its warehouse
    copy = trained_copy("golden_trained", "golden_e2e")
    seeded_url, mlflow_store, env = copy["url"], copy["store"], copy["env"]
    done = SimpleNamespace(stdout=trained_template["stdout"])
    client = MlflowClient(mlflow_store)
    run_id = client.search_runs([client.get_experiment_by_name("golden_e2e").experiment_id])[0].info.run_id
    assert run_id == copy["run_id"]
    trained = client.get_run(run_id).data.metrics
    with psycopg.connect(seeded_url) as conn:
        written = conn.execute("SELECT count(*) FROM golden_records WHERE run_id = %s", (run_id,)).fetchone()[0]
    assert written == trained["golden_records"] > 0 and trained["bcubed_f1"] > 0.98
    assert "golden/golden_records_sample.csv" in {a.path for a in client.list_artifacts(run_id, "golden")}
    # the auto guards (the defaults): the size cap chosen, logged as a metric, the params say auto
    # and the tags where the values came from; the seeded people have at most 4 records: cap 10
    data = client.get_run(run_id).data
    assert trained["golden_max_cluster_size"] == 10 and trained["largest_cluster_size"] <= 10
    assert data.params["golden.max_cluster_size"] == "auto" and data.params["golden.min_edge_probability"] == "auto"
    assert data.tags["golden.max_cluster_size.source"] == "auto"
    assert data.tags["golden.min_edge_probability.source"] == "auto"
    # pairwise cluster precision / recall / F1, golden records and people: logged and printed
    assert 0.98 < trained["cluster_f1"] <= 1 and trained["cluster_precision"] > 0.98 and trained["cluster_recall"] > 0.98
    assert trained["cluster_f1"] == pytest.approx(2 * trained["cluster_precision"] * trained["cluster_recall"]
                                                  / (trained["cluster_precision"] + trained["cluster_recall"]))
    printed = re.search(r"golden records ([\d,]+) for ([\d,]+) people: cluster precision (\S+)  recall (\S+)  F1 (\S+)",
                        done.stdout)
    assert printed, done.stdout
    assert (int(printed[1].replace(",", "")), int(printed[2].replace(",", ""))) == \
        (trained["golden_records"], trained["golden_true_people"])
    assert float(printed[5]) == pytest.approx(trained["cluster_f1"], abs=1e-4)

    done = run([sys.executable, "scripts/build_golden_records.py", "--run-id", run_id, "--quiet"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("golden records: ") and run_id in lines[0]
    assert " people from 3,000 records" in lines[0] and "cluster precision" in lines[0]

    metrics = client.get_run(run_id).data.metrics
    assert metrics["golden_source_records"] == 3000 and "golden_citizens" not in metrics
    for k in ("golden_records", "golden_true_people", "cluster_precision", "cluster_recall", "bcubed_precision",
              "bcubed_recall", "bcubed_f1", "adjusted_rand_index", "people_split_share", "golden_merged_share",
              "largest_cluster_size", "seconds_golden"):
        assert k in metrics, k
    assert metrics["bcubed_f1"] > 0.98 and metrics["precision"] > 0.9   # the training metrics are still there
    # independent figures straight from the tables
    with psycopg.connect(seeded_url) as conn:
        n_golden, n_runs = conn.execute("SELECT count(*), count(DISTINCT run_id) FROM golden_records "
                                        "WHERE run_id = %s", (run_id,)).fetchone()
        people, split = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE k > 1) FROM (SELECT t.entity_id, count(DISTINCT m.golden_id) k "
            "FROM citizen_truth t JOIN citizen_golden_map m USING (citizen_id) GROUP BY t.entity_id) s").fetchone()
        largest = conn.execute("SELECT max(member_count) FROM golden_records").fetchone()[0]
    assert (metrics["golden_records"], metrics["golden_true_people"]) == (n_golden, people) and n_runs == 1
    assert metrics["people_split_share"] == pytest.approx(split / people)
    assert metrics["largest_cluster_size"] == largest

    artifacts = {a.path for a in client.list_artifacts(run_id, "golden")}
    assert {"golden/cluster_size_histogram.png", "golden/golden_records_sample.csv",
            "golden/golden_metrics.json"} <= artifacts
    folder = client.download_artifacts(run_id, "golden", str(tmp_path))
    sample = pd.read_csv(f"{folder}/golden_records_sample.csv")
    assert set(sample["row"]) == {"golden", "member"} and (sample["row"] == "golden").sum() <= 200
    heads = sample[sample["row"] == "golden"].set_index("golden_id")["member_count"]
    assert (sample[sample["row"] == "member"].groupby("golden_id").size() == heads).all()
    assert json.loads(open(f"{folder}/golden_metrics.json").read())["golden_records"] == n_golden

    # errors: one line and an exit code
    bad = run([sys.executable, "scripts/build_golden_records.py", "--run-id", "0" * 32], env)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: MLflow run")  # a user error
    bad = run([sys.executable, "scripts/build_golden_records.py", "--run-id", run_id,
               "--set", "model.em.max_iterations=3"], env)
    assert bad.returncode == 2 and "only golden.*" in bad.stderr


def test_golden_ids_are_stable_across_rebuilds_and_retired_ids_are_redirected(hand, hand_url):
    """Issue 14, point 2: a rebuild keeps every golden id whose people did not change; a merge
    keeps the id of the larger part and redirects the other in golden_redirects (same
    transaction); a retired id is never given out again."""
    first = golden.build_golden_records(_hand_scored(), CONFIG, hand, run_id="first")
    ids_first = dict(_map_rows_of(hand_url))
    again = golden.build_golden_records(_hand_scored(), CONFIG, hand, run_id="again")
    assert dict(_map_rows_of(hand_url)) == ids_first
    assert again.metrics["golden_ids_kept"] == first.metrics["golden_records"] and again.metrics["golden_ids_new"] == 0
    merged_config = _config("golden.min_edge_probability=0.5")
    merged = golden.build_golden_records(_hand_scored(), merged_config, hand, run_id="merge")
    ids_merged = dict(_map_rows_of(hand_url))
    with psycopg.connect(hand_url) as conn:
        redirects = conn.execute("SELECT old_golden_id, new_golden_id, reason, run_id FROM golden_redirects").fetchall()
    assert len(redirects) == merged.metrics["golden_ids_merged"] == 1
    old, new, reason, run = redirects[0]
    assert reason == "merged" and run == "merge"
    moved = [r for r, g in ids_first.items() if g == old]
    assert moved and all(ids_merged[r] == new for r in moved)
    assert all(ids_merged[r] == g for r, g in ids_first.items() if g != old)       # everyone else untouched
    # back to the first settings: the split-off records get a fresh id, never the retired one
    golden.build_golden_records(_hand_scored(), CONFIG, hand, run_id="split")
    ids_split = dict(_map_rows_of(hand_url))
    fresh = {ids_split[r] for r in moved}
    assert old not in fresh and all(g > max(ids_first.values()) for g in fresh - {new})


def _map_rows_of(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT citizen_id, golden_id FROM citizen_golden_map ORDER BY citizen_id").fetchall()
