"""The warehouse and the seeder, against a real PostgreSQL server."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pandas as pd
import psycopg
import pytest

from conftest import ROOT, run
from golden_record.synthetic import citizens as synthetic
from golden_record.io import warehouse


def _stats_from_output(text: str) -> dict[str, int]:
    m = re.search(r"seeded ([\d,]+) records of ([\d,]+) people \(([\d,]+) duplicate records, "
                  r"([\d,]+) true duplicate pairs\)", text)
    assert m, text
    records, people, dups, pairs = (int(g.replace(",", "")) for g in m.groups())
    return {"records": records, "people": people, "duplicate_records": dups, "true_duplicate_pairs": pairs}


def test_schema_and_blocking_indexes_exist(db):
    cols = warehouse.table_columns(db, "citizens")
    for col in ("citizen_id", "full_name", "first_name", "last_name", "father_name", "gender", "date_of_birth",
                "mobile", "email", "address", "district", "state", "pincode", "jan_aadhaar", "aadhaar_last4",
                "source_system", "created_at", "updated_at"):
        assert col in cols
    assert cols["date_of_birth"] == "date"
    assert warehouse.table_columns(db, "citizen_truth").keys() == {"citizen_id", "entity_id"}
    indexes = {r[0] for r in db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'citizens'")}
    assert {"citizens_jan_aadhaar_idx", "citizens_name_idx", "citizens_mobile_idx", "citizens_email_idx",
            "citizens_dob_pincode_idx"} <= indexes
    pk = db.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                    "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'citizens'::regclass AND i.indisprimary").fetchall()
    assert pk == [("citizen_id",)]


def test_seed_counts_and_ground_truth_agree_with_what_it_printed(seeded_small, database_url):
    printed = _stats_from_output(seeded_small["stdout"])
    assert printed["records"] == 3000
    with psycopg.connect(database_url) as conn:
        assert warehouse.count_rows(conn, "citizens") == 3000
        truth = pd.read_sql if False else None  # noqa: F841 - keep psycopg only
        rows = conn.execute("SELECT entity_id, count(*) FROM citizen_truth GROUP BY entity_id").fetchall()
        orphans = conn.execute("SELECT count(*) FROM citizens c LEFT JOIN citizen_truth t USING (citizen_id) "
                               "WHERE t.citizen_id IS NULL").fetchone()[0]
    sizes = [n for _, n in rows]
    assert orphans == 0
    assert len(sizes) == printed["people"]
    assert sum(sizes) - len(sizes) == printed["duplicate_records"]
    assert sum(n * (n - 1) // 2 for n in sizes) == printed["true_duplicate_pairs"]
    assert max(sizes) <= 4 and printed["duplicate_records"] > 0
    assert "database:" in seeded_small["stderr"]  # says which database it used


def _fingerprint(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT md5(string_agg(c::text, '|' ORDER BY citizen_id)) FROM citizens c").fetchone()[0]


def test_same_seed_same_data_other_seed_other_data(seeded_small, database_url):
    env = seeded_small["env"]
    first = _fingerprint(database_url)
    assert run([sys.executable, "scripts/seed_data.py", "--rows", "3000", "--seed", "8"], env).returncode == 0
    other = _fingerprint(database_url)
    assert run([sys.executable, "scripts/seed_data.py", "--rows", "3000", "--seed", "7"], env).returncode == 0
    again = _fingerprint(database_url)
    # created_at/updated_at are generated from the seed too, so whole rows must match
    assert first == again
    assert other != first


@pytest.mark.parametrize("args, words", [
    (["--rows", "0"], "--rows must be at least 1"),
    (["--rows", "many"], "invalid int value"),
    (["--duplicate-rate", "1.5"], "--duplicate-rate must be in [0, 1)"),
])
def test_bad_arguments_give_a_clear_message(args, words, database_url):
    done = run([sys.executable, "scripts/seed_data.py", *args], {"DATABASE_URL": database_url})
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("url, words, never", [
    ("postgresql://postgres:s3cret@127.0.0.1:1/smart_warehouse", "127.0.0.1:1/smart_warehouse", "s3cret"),
    ("postgresql://nobody_here:pw@127.0.0.1:5432/smart_warehouse", "refused the login", "pw@"),
    ("not-a-url", "not a valid PostgreSQL URL", None),
])
def test_bad_database_url_gives_one_clear_line(url, words, never):
    done = run([sys.executable, "scripts/seed_data.py", "--rows", "10"], {"DATABASE_URL": url}, timeout=60)
    assert done.returncode == 3, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    if never:
        assert never not in done.stderr + done.stdout


def test_missing_database_is_created(test_databases):
    url = test_databases.url("created", create=False)
    done = run([sys.executable, "scripts/seed_data.py", "--rows", "50"], {"DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    with psycopg.connect(url) as conn:
        assert warehouse.count_rows(conn, "citizens") == 50
    test_databases.drop("created")


def test_a_seed_killed_half_way_leaves_the_previous_rows(seeded_small, database_url):
    before = _fingerprint(database_url)
    env = seeded_small["env"]
    import os
    proc = subprocess.Popen([sys.executable, "scripts/seed_data.py", "--rows", "400000", "--seed", "99"],
                            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # wait until the load has started (the COPY runs inside one transaction), then kill it
    deadline = time.time() + 120
    line = ""
    while time.time() < deadline:
        line = proc.stderr.readline()
        if "[load (COPY" in line or not line:
            break
    assert "[load (COPY" in line, "the seeder never reached the load stage"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert _fingerprint(database_url) == before
    with psycopg.connect(database_url) as conn:
        assert warehouse.count_rows(conn, "citizens") == 3000
        assert warehouse.count_rows(conn, "citizen_truth") == 3000


def test_a_failing_load_rolls_back(seeded_small, database_url):
    """A load that fails inside the transaction (bad row) leaves the old rows."""
    before = _fingerprint(database_url)
    data = synthetic.generate(rows=200, seed=3)
    bad = data.citizens.copy()
    bad.loc[150, "gender"] = "X"  # violates the CHECK constraint after 150 good rows
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            warehouse.replace_tables(conn, {"citizens": bad, "citizen_truth": data.truth})
    assert _fingerprint(database_url) == before


def test_without_a_server_the_embedded_postgresql_serves(tmp_path):
    """A newcomer without PostgreSQL: DATABASE_URL unset and nothing answering at the configured
    address -> the embedded server (pgserver) starts, says so in one line, and seeding works."""
    pytest.importorskip("pgserver")
    import os

    import yaml

    pgdata = tmp_path / "pg"
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump({"database": {"url": "postgresql://postgres@127.0.0.1:1/smart_warehouse",
                                                     "embedded_fallback": True, "embedded_dir": str(pgdata),
                                                     "connect_timeout_seconds": 2}}))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["GOLDEN_RECORD_SETTINGS"] = str(settings)
    try:
        done = subprocess.run([sys.executable, "scripts/seed_data.py", "--rows", "200"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        banner = [line for line in done.stderr.splitlines() if line.startswith("database:")]
        assert len(banner) == 1 and "embedded PostgreSQL" in banner[0] and "127.0.0.1:1" in banner[0]
        assert "seeded 200 records" in done.stdout
        check = subprocess.run([sys.executable, "scripts/db_check.py"], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=120)
        assert check.returncode == 0 and "citizens holds 200 rows" in check.stdout
    finally:
        import pgserver

        pgserver.get_server(pgdata, cleanup_mode="stop").cleanup()
