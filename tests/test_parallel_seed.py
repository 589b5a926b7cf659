"""The seeder's parallel load (warehouse.load_tables), against a real PostgreSQL server: the same
contents and schema as the one-connection load, atomic for readers and on failure, no staging
table left behind."""
from __future__ import annotations

import threading

import psycopg
import pytest

from golden_record.io import warehouse
from golden_record.synthetic import citizens as synthetic
from golden_record.synthetic import people


@pytest.fixture(scope="module")
def url(test_databases):
    url = test_databases.url("parallel_seed")
    with psycopg.connect(url) as conn:
        warehouse.apply_schema(conn)
    yield url
    test_databases.drop("parallel_seed")


@pytest.fixture(scope="module")
def data():
    return synthetic.generate(rows=20_000, seed=5)


def _digest(url: str, table: str, key: str) -> tuple[int, str]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY {key})) FROM {table} t").fetchone()


def _schema(url: str, table: str) -> list:
    """What pg_dump -s says about a table: columns, defaults, constraints, indexes, comments."""
    with psycopg.connect(url) as conn:
        t = warehouse._regclass_text(table)
        return [
            conn.execute("SELECT attname, format_type(atttypid, atttypmod), attnotnull, pg_get_expr(d.adbin, d.adrelid), "
                         "col_description(a.attrelid, a.attnum) FROM pg_attribute a LEFT JOIN pg_attrdef d "
                         "ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = %s::regclass "
                         "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (t,)).fetchall(),
            conn.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                         "ORDER BY 1", (t,)).fetchall(),
            conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY 1",
                         (table,)).fetchall(),
            conn.execute("SELECT obj_description(%s::regclass, 'pg_class')", (t,)).fetchall(),
        ]


def _staging_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT relname FROM pg_class WHERE relname LIKE '%%\\_\\_seed\\_%%'")]


def test_parallel_load_gives_the_one_connection_contents_and_schema(url, data):
    frames = {"citizens": data.citizens, "citizen_truth": data.truth}
    with psycopg.connect(url) as conn:
        conn.execute("COMMENT ON TABLE citizens IS 'one row per source record'")
        conn.execute("COMMENT ON INDEX citizens_email_idx IS 'blocking on e-mail'")
        conn.commit()
        warehouse.replace_tables(conn, frames, analyze=True)
    one = {t: _digest(url, t, "citizen_id") for t in frames}
    schema = _schema(url, "citizens"), _schema(url, "citizen_truth")
    timings = warehouse.load_tables(url, frames, workers=3, chunk_rows=3_000)
    assert {t: _digest(url, t, "citizen_id") for t in frames} == one
    assert one["citizens"][0] == 20_000
    assert (_schema(url, "citizens"), _schema(url, "citizen_truth")) == schema
    assert schema[0][3] == [("one row per source record",)]
    assert {"copy", "indexes", "swap (one transaction)"} <= timings.keys()
    assert _staging_tables(url) == []


def test_parallel_load_of_created_tables_with_text_ids(url):
    """Profiles whose tables come from the frame (people: text ids, text dates, timestamptz)."""
    d = people.generate(4_000, duplicate_rate=0.3, seed=2)
    frames = {"people": d.records[people.PEOPLE_COLUMNS], "people_truth": d.truth[people.TRUTH_COLUMNS]}
    create = {"people": "rec_id", "people_truth": "rec_id"}
    with psycopg.connect(url) as conn:
        warehouse.replace_tables(conn, frames, create=create)
    one = {t: _digest(url, t, "rec_id") for t in frames}
    schema = _schema(url, "people")
    warehouse.load_tables(url, frames, create=create, workers=2, chunk_rows=700)
    assert {t: _digest(url, t, "rec_id") for t in frames} == one
    assert _schema(url, "people") == schema      # the primary key keeps its name people_pkey


def test_a_load_failing_midway_leaves_the_previous_rows_and_no_staging_table(url, data):
    warehouse.load_tables(url, {"citizens": data.citizens, "citizen_truth": data.truth}, workers=2)
    before = _digest(url, "citizens", "citizen_id"), _digest(url, "citizen_truth", "citizen_id")
    other = synthetic.generate(rows=6_000, seed=11)
    bad = other.citizens.copy()
    bad.loc[5_500, "gender"] = "X"      # the CHECK constraint fails in the last chunk, after the others loaded
    with pytest.raises(psycopg.errors.CheckViolation):
        warehouse.load_tables(url, {"citizens": bad, "citizen_truth": other.truth}, workers=3, chunk_rows=500)
    assert (_digest(url, "citizens", "citizen_id"), _digest(url, "citizen_truth", "citizen_id")) == before
    assert _staging_tables(url) == []


def test_readers_see_all_old_or_all_new_rows(url, data):
    warehouse.load_tables(url, {"citizens": data.citizens, "citizen_truth": data.truth}, workers=2)
    other = synthetic.generate(rows=7_000, seed=12)
    seen, done = set(), threading.Event()

    def read():
        with psycopg.connect(url, autocommit=True) as conn:
            while not done.is_set():
                seen.add(conn.execute("SELECT (SELECT count(*) FROM citizens), (SELECT count(*) FROM citizen_truth)")
                         .fetchone())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        warehouse.load_tables(url, {"citizens": other.citizens, "citizen_truth": other.truth}, workers=3,
                              chunk_rows=1_000)
    finally:
        done.set()
        reader.join()
    assert seen <= {(20_000, 20_000), (7_000, 7_000)}
    assert (7_000, 7_000) in seen or _digest(url, "citizens", "citizen_id")[0] == 7_000


def test_a_dependent_view_keeps_working_rows_replaced_in_place(url, data):
    other = synthetic.generate(rows=3_000, seed=13)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE OR REPLACE VIEW citizen_names AS SELECT citizen_id, full_name FROM citizens")
        conn.commit()
    try:
        lines = []
        warehouse.load_tables(url, {"citizens": other.citizens, "citizen_truth": other.truth}, workers=2,
                              say=lines.append)
        assert any("citizens: rows replaced in place (dependent views or rules)" in line for line in lines), lines
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM citizen_names").fetchone()[0] == 3_000
        assert _staging_tables(url) == []
    finally:
        with psycopg.connect(url) as conn:
            conn.execute("DROP VIEW IF EXISTS citizen_names")


def test_a_killed_loads_staging_table_is_dropped_by_the_next_load_a_live_ones_is_kept(url, data):
    small = synthetic.generate(rows=500, seed=14)
    with psycopg.connect(url, autocommit=True) as conn, psycopg.connect(url, autocommit=True) as live:
        # a killed load: its staging table, nobody holding its lock; a live one: its lock held
        conn.execute("CREATE TABLE citizens__seed_0000abcd (LIKE citizens)")
        conn.execute("CREATE TABLE citizens__seed_0000abce (LIKE citizens)")
        live.execute("SELECT pg_advisory_lock(%s, %s)", (warehouse._STAGE_LOCK_CLASS, 0xabce))
        lines = []
        warehouse.load_tables(url, {"citizens": small.citizens, "citizen_truth": small.truth}, say=lines.append)
        assert _staging_tables(url) == ["citizens__seed_0000abce"]
        assert any("dropped public.citizens__seed_0000abcd" in line for line in lines), lines
        conn.execute("DROP TABLE citizens__seed_0000abce")
    assert _digest(url, "citizens", "citizen_id")[0] == 500


def test_the_tables_an_error_lists_leave_out_loads_in_progress(url):
    """A missing table's error lists the tables that are there: never the staging tables of a seed
    or a golden write in progress (CI caught one mid-seed in the list)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "citizens__seed_0badcafe" (x int)')
        conn.execute('CREATE TABLE "golden_records__staging_0badcafe" (x int)')
        try:
            message = str(warehouse.missing_table_error(conn, "registry.people", "data.table").hint)
        finally:
            conn.execute('DROP TABLE "citizens__seed_0badcafe", "golden_records__staging_0badcafe"')
    assert "citizens" in message and "__seed_" not in message and "__staging_" not in message
