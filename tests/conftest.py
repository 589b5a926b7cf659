"""Shared fixtures: a real PostgreSQL test database and a temporary MLflow tracking store.

The test database is the configured server (or the embedded one) with the database name
``golden_record_test``, so tests never touch the user's ``smart_warehouse``. Commands run as a
user would run them, in a subprocess, with ``DATABASE_URL`` and ``MLFLOW_TRACKING_URI`` set.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "use-cases" / "golden_record" / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from golden_record import warehouse  # noqa: E402
from golden_record.config import load_settings  # noqa: E402

TEST_DATABASE = "golden_record_test"


def run(cmd: list[str], env: dict[str, str], cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command as a user would; returns the completed process (never raises on exit code)."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of a real PostgreSQL database reserved for tests (created if missing)."""
    saved = os.environ.pop("DATABASE_URL", None)
    try:
        target = warehouse.resolve_target(load_settings(), announce=False)
    finally:
        if saved is not None:
            os.environ["DATABASE_URL"] = saved
    url = warehouse._with_database(target.url, TEST_DATABASE)
    warehouse.ensure_database(url)
    return url


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
