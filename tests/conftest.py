"""Shared fixtures: a real PostgreSQL test database and a temporary MLflow tracking store.

The test database is the configured server (or the embedded one) with the database name
``golden_record_test``, so tests never touch the user's ``smart_warehouse``. Commands run as a
user would run them, in a subprocess, with ``DATABASE_URL`` and ``MLFLOW_TRACKING_URI`` set.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "use-cases" / "golden_record" / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from mlflow import MlflowClient  # noqa: E402

from golden_record import warehouse  # noqa: E402

TEST_DATABASE = "golden_record_test"


def run(cmd: list[str], env: dict[str, str], cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command as a user would; returns the completed process (never raises on exit code)."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def fresh_store(tmp_path_factory, folder) -> str:
    """A new empty SQLite store: a copy of one created once per session (creating the schema takes
    seconds; a copy takes milliseconds). Its Default experiment keeps artifacts in a temporary folder."""
    template = tmp_path_factory.getbasetemp() / "mlflow_template" / "mlflow.db"
    if not template.exists():
        template.parent.mkdir(exist_ok=True)
        partial = template.with_name("partial.db")
        MlflowClient(f"sqlite:///{partial}").search_experiments()
        with sqlite3.connect(partial) as conn:
            conn.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                         ((template.parent / "mlruns" / "0").as_uri(),))
        partial.rename(template)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(autouse=True)
def _restore_global_tracking_uri():
    """The command lines call mlflow.set_tracking_uri; keep that from leaking into other tests."""
    was_set = mlflow.is_tracking_uri_set()
    previous = mlflow.get_tracking_uri() if was_set else None
    yield
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of a real PostgreSQL database reserved for tests (created if missing)."""
    return warehouse.sibling_database(TEST_DATABASE)


@pytest.fixture
def db(database_url):
    """A psycopg connection to the test database (schema applied)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        warehouse.apply_schema(conn)
        conn.commit()
        yield conn


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory) -> str:
    """A fresh SQLite MLflow store, schema created once (as `make tracking-store` does)."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = subprocess.run([str(Path(sys.executable).with_name("mlflow")), "db", "upgrade", uri],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return uri


@pytest.fixture(scope="session")
def seeded_small(database_url) -> dict:
    """The test database seeded once with 3,000 records through the real seeder command."""
    env = {"DATABASE_URL": database_url}
    done = run([sys.executable, "scripts/seed_data.py", "--rows", "3000", "--seed", "7"], env)
    assert done.returncode == 0, done.stderr
    return {"env": env, "stdout": done.stdout, "stderr": done.stderr, "rows": 3000, "seed": 7}
