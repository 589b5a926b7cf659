"""Shared fixtures: a real PostgreSQL test database and a temporary MLflow tracking store.

Every database a test run uses is created by that run on the configured server (``DATABASE_URL``'s,
else ``config/settings.yaml``'s, else the embedded one) under a prefix unique to the run
(``<database>_t<6 hex>_<purpose>``), and only those are dropped at the end: two checkouts running
``make test`` against one server never touch each other's databases, nor the user's
``smart_warehouse``. Commands run as a user would run them, in a subprocess, with ``DATABASE_URL``
and ``MLFLOW_TRACKING_URI`` set.
"""
from __future__ import annotations

import os
import secrets
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

from golden_record.io import warehouse  # noqa: E402



class RunDatabases:
    """The databases of one test run: ``<prefix>_<purpose>``, created (or left for a command to
    create) by this run only, and dropped by :meth:`drop_all`, which drops nothing else."""

    def __init__(self, server_url: str, base: str = "golden_record_test"):
        self.server_url = server_url
        self.prefix = f"{base}_t{secrets.token_hex(3)}"
        self.ours: list[str] = []

    def name(self, purpose: str) -> str:
        return f"{self.prefix}_{purpose}"

    def url(self, purpose: str, create: bool = True) -> str:
        """URL of this run's database ``purpose``; ``create=False`` leaves it missing (for tests of
        what a command does with a missing database) but still claims it for :meth:`drop_all`."""
        import psycopg

        name = self.name(purpose)
        if name not in self.ours:
            self.ours.append(name)
        url = warehouse._with_database(self.server_url, name)
        if create:
            with psycopg.connect(warehouse._with_database(self.server_url, "postgres"), autocommit=True) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    conn.execute(f'CREATE DATABASE "{name}"')
        return url

    def drop(self, purpose: str) -> None:
        import psycopg

        name = self.name(purpose)
        assert name in self.ours, f"{name} is not a database of this test run"
        with psycopg.connect(warehouse._with_database(self.server_url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        for name in self.ours:
            purpose = name[len(self.prefix) + 1:]
            try:
                self.drop(purpose)
            except Exception as exc:  # noqa: BLE001 - cleaning up must not hide a test result
                print(f"could not drop test database {name}: {exc}", file=sys.stderr)


def _server_url() -> tuple[str, str]:
    """(URL of the server tests use, base name for their databases): ``DATABASE_URL``'s server and
    database name when it is set, else the configured (or embedded) server."""
    from golden_record.config import load_settings

    env_url = os.environ.get("DATABASE_URL", "").strip()
    if env_url:
        url = warehouse._libpq_url(env_url)
        from urllib.parse import urlsplit

        return url, (urlsplit(url).path.lstrip("/") or "golden_record") + "_test"
    saved = os.environ.pop("DATABASE_URL", None)
    try:
        try:
            target = warehouse.resolve_target(load_settings(), announce=False)
        except warehouse.WarehouseError as exc:
            if "does not exist" not in exc.message:
                raise
            # the server answers, the warehouse is not created yet (no `make setup`): the tests
            # only need the server, they create (and drop) databases of their own
            return warehouse._libpq_url(load_settings().database.url), "golden_record_test"
    finally:
        if saved is not None:
            os.environ["DATABASE_URL"] = saved
    return target.url, "golden_record_test"


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
def test_databases():
    """This run's databases (see :class:`RunDatabases`); all of them dropped at the end."""
    server, base = _server_url()
    databases = RunDatabases(server, base)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def database_url(test_databases) -> str:
    """URL of the real PostgreSQL database shared by this run's tests."""
    return test_databases.url("main")


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


# --------------------------------------------------------------------------- test lanes
#: fixtures that reach a real PostgreSQL server or MLflow store: a test using any of them (directly
#: or through another fixture) is in the end-to-end lane
_E2E_FIXTURES = {"test_databases", "database_url", "db", "seeded_small", "mlflow_store", "tmp_store"}
#: modules that start servers or commands against real stores without those fixtures
_E2E_MODULES = {"test_ui", "test_mlproject", "test_baselines", "test_reports", "test_failures", "test_secrets"}


#: the end-to-end lane's longest modules (``--durations``: minutes each), started first: with
#: ``--dist loadfile`` the workers take modules in collection order, so a long module collected
#: last (alphabetically, test_secrets and test_spark are) would run alone at the end
_LONGEST_FIRST = ["test_secrets", "test_spark", "test_failures", "test_run_lifecycle", "test_sweep", "test_golden"]


def pytest_collection_modifyitems(config, items):
    """Two lanes: ``pytest -m "not e2e"`` (fast, no database, no MLflow store) and
    ``pytest -m e2e`` (real PostgreSQL and MLflow); ``make test`` runs both."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in _E2E_MODULES or _E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))   # stable
