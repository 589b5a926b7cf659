"""Bad input gets one clear line and the right exit code, before any run exists; the database is
never created or changed by a tool that only reads it (issue 12, points 5 and 7)."""
from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
from mlflow import MlflowClient

from conftest import ROOT, run
from golden_record.io import warehouse
from test_train import USE_CASE, train


@pytest.fixture(scope="module")
def env(seeded_small, tmp_path_factory):
    from conftest import fresh_store

    uri = fresh_store(tmp_path_factory, tmp_path_factory.mktemp("errors-mlflow"))
    return {**seeded_small["env"], "MLFLOW_TRACKING_URI": uri}


def _no_run(env, experiment) -> bool:
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name(experiment)
    return exp is None or not client.search_runs([exp.experiment_id])


def _one_error(done) -> str:
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return errors[0]


def _database_exists(server_url: str, name: str) -> bool:
    with psycopg.connect(warehouse._with_database(server_url, "postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_sql_in_a_table_name_is_a_config_error(env, database_url):
    done = train(env, "--experiment", "x-inject", "--set", "data.table=citizens; DROP TABLE x; --")
    assert done.returncode == 2
    line = _one_error(done)
    assert "data.table" in line and "not a valid table name" in line and "traceback.txt" not in done.stderr
    assert _no_run(env, "x-inject")
    with psycopg.connect(database_url) as conn:
        assert warehouse.count_rows(conn, "citizens") == 3000


def test_schema_qualified_table_trains(env):
    done = train(env, "--experiment", "x-qualified", "--quiet", "--set", "data.table=public.citizens")
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    r = client.search_runs([client.get_experiment_by_name("x-qualified").experiment_id])[0]
    assert r.info.status == "FINISHED" and r.data.metrics["records"] == 3000 and r.data.metrics["f1_score"] > 0.9


def test_a_table_the_seeder_does_not_own_never_gets_the_seed_hint(env):
    done = train(env, "--experiment", "x-other", "--set", "data.table=registry.people")
    assert done.returncode == 3
    line = _one_error(done)
    assert 'relation "registry.people" does not exist' in line and "data.table" in line
    assert "seed" not in line and "citizens" in line     # the tables that are there are listed
    assert _no_run(env, "x-other")


def test_a_typo_in_the_database_name_creates_nothing(env, test_databases):
    url = test_databases.url("typo", create=False)
    done = train({**env, "DATABASE_URL": url}, "--experiment", "x-typo")
    assert done.returncode == 3
    line = _one_error(done)
    assert f"database '{test_databases.name('typo')}' does not exist" in line and "DATABASE_URL" in line
    assert not _database_exists(test_databases.server_url, test_databases.name("typo"))
    assert _no_run(env, "x-typo")


def test_seeders_started_together_on_a_fresh_database(test_databases):
    """They race to create the database and the tables; every one must succeed (the last one's
    rows stay: each seeding replaces the table in one transaction)."""
    url = test_databases.url("race", create=False)
    procs = [subprocess.Popen([sys.executable, "scripts/seed_data.py", "--rows", "300", "--seed", str(s)], cwd=ROOT,
                              env={**__import__("os").environ, "DATABASE_URL": url}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for s in (1, 2, 3, 4)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    with psycopg.connect(url) as conn:
        assert warehouse.count_rows(conn, "citizens") == 300


@pytest.fixture
def readonly_role(test_databases, database_url):
    """A login role that may read the test database and nothing more (no CREATEDB, no CREATE)."""
    role = test_databases.prefix + "_ro"
    admin = warehouse._with_database(test_databases.server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB NOSUPERUSER')
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    yield role
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP ROLE "{role}"')


def _as(url: str, role: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{role}@{parts.hostname}:{parts.port or 5432}", parts.path, "", ""))


def test_a_read_only_user_gets_one_line_from_the_seeder(readonly_role, database_url, test_databases):
    done = run([sys.executable, "scripts/seed_data.py", "--rows", "50"], {"DATABASE_URL": _as(database_url,
                                                                                                readonly_role)})
    assert done.returncode == 3
    line = _one_error(done)
    assert "permission denied" in line or "may not" in line, line
    with psycopg.connect(database_url) as conn:
        assert warehouse.count_rows(conn, "citizens") == 3000          # nothing changed
    # a database it may not create is said as such, not as a bad URL
    missing = _as(test_databases.url("ro_missing", create=False), readonly_role)
    done = run([sys.executable, "scripts/seed_data.py", "--rows", "50"], {"DATABASE_URL": missing})
    assert done.returncode == 3
    line = _one_error(done)
    assert "may not create it" in line and "not a valid" not in line, line


def test_threshold_of_one_or_zero_is_refused_everywhere(env):
    for value in ("1.0", "1", "0"):
        done = train(env, "--experiment", "x-one", "--set", f"model.params.match_threshold={value}")
        assert done.returncode == 2 and "strictly between 0 and 1" in _one_error(done)
    done = train(env, "--experiment", "x-one", "--sweep", "match_threshold=0.9,1.0")
    assert done.returncode == 2 and "strictly between 0 and 1" in _one_error(done)
    assert _no_run(env, "x-one")


def test_concurrent_create_and_schema_never_collide(test_databases):
    """Six callers released together by a barrier: the database is created once and the schema
    applied six times, with no 'duplicate key … pg_database_datname_index' nor pg_type race."""
    import threading

    url = test_databases.url("barrier", create=False)
    barrier, errors = threading.Barrier(6), []

    def work():
        try:
            barrier.wait()
            warehouse.ensure_database(url, 5, create=True)
            with psycopg.connect(url) as conn:
                warehouse.apply_schema(conn)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc)[:200])

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(url) as conn:
        assert warehouse.table_exists(conn, "citizens")
