"""Shared fixtures: a real PostgreSQL test database and a temporary MLflow tracking store.

Every database a test run uses is created by that run on the configured server (``DATABASE_URL``'s,
else ``config/settings.yaml``'s, else the embedded one) under a prefix unique to the run
(``<database>_t<6 hex>_<purpose>``), and only those are dropped at the end: two checkouts running
``make test`` against one server never touch each other's databases, nor the user's
``smart_warehouse``. Commands run as a user would run them, in a subprocess, with ``DATABASE_URL``
and ``MLFLOW_TRACKING_URI`` set.
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

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

    def __init__(self, server_url: str, base: str = "golden_record_test", prefix: str | None = None):
        self.server_url = server_url
        self.prefix = prefix or f"{base}_t{secrets.token_hex(3)}"
        self.ours: list[str] = []

    def name(self, purpose: str) -> str:
        return f"{self.prefix}_{purpose}"

    def url(self, purpose: str, create: bool = True, template: str | None = None) -> str:
        """URL of this run's database ``purpose``; ``create=False`` leaves it missing (for tests of
        what a command does with a missing database) but still claims it for :meth:`drop_all`.
        ``template``: a new database is a copy of that one (``CREATE DATABASE ... TEMPLATE``: a
        seeded and trained warehouse in about a second instead of seeding and training again)."""
        import psycopg

        name = self.name(purpose)
        if name not in self.ours:
            self.ours.append(name)
        url = warehouse._with_database(self.server_url, name)
        if create:
            with psycopg.connect(warehouse._with_database(self.server_url, "postgres"), autocommit=True) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    if template is None:
                        conn.execute(f'CREATE DATABASE "{name}"')
                    else:
                        _create_from_template(conn, name, template)
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


def _create_from_template(conn, name: str, template: str) -> None:
    """``CREATE DATABASE name TEMPLATE template``, retried while another session (a copy being made
    by the other worker, say) still holds the template for a moment."""
    import psycopg

    for attempt in range(60):
        try:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 59:
                raise
            time.sleep(0.5)


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


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def headless_chromium(window: str = "1400,1450"):
    """Chromium driven by selenium through Debian's chromedriver (nothing downloaded), headless, a
    fresh profile of ``window`` size: what a person sees on a first visit. The caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--window-size={window}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    """A command serving HTTP in a subprocess (:func:`serving`): its address, the first answer of
    ``/health`` (status and JSON; None if it never answered), and its output once stopped."""
    base: str
    proc: subprocess.Popen
    status: int | None = None
    health: dict | None = None
    out: str = ""
    err: str = ""


@contextmanager
def serving(args: list[str], env: dict[str, str], timeout: float = 90.0) -> Iterator[Service]:
    """``python -m golden_record ARGS --port P`` started as a user would, until ``/health`` answers
    (any status) or the process ends or ``timeout`` passes; stopped on exit (terminate, then kill)."""
    import requests

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "golden_record", *args, "--port", str(port)], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    service = Service(f"http://127.0.0.1:{port}", proc)
    try:
        deadline = time.monotonic() + timeout
        while service.status is None and proc.poll() is None and time.monotonic() < deadline:
            try:
                answer = requests.get(service.base + "/health", timeout=2)
                service.status, service.health = answer.status_code, answer.json()
            except requests.ConnectionError:
                time.sleep(0.3)
        yield service
    finally:
        proc.terminate()
        try:
            service.out, service.err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            service.out, service.err = proc.communicate()


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
    """A fresh SQLite MLflow store shared by a worker's tests: :func:`fresh_store`'s copy of an
    initialised store (``mlflow db upgrade`` costs seconds of CPU; a copy milliseconds)."""
    return fresh_store(tmp_path_factory, tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(scope="session")
def seeded_small(database_url) -> dict:
    """The test database seeded once with 3,000 records through the real seeder command."""
    env = {"DATABASE_URL": database_url}
    done = run([sys.executable, "scripts/seed_data.py", "--rows", "3000", "--seed", "7"], env)
    assert done.returncode == 0, done.stderr
    return {"env": env, "stdout": done.stdout, "stderr": done.stderr, "rows": 3000, "seed": 7}


# --------------------------------------------------------------------------- built once per test run
# A seeded warehouse, and a model trained on it with its golden records, are built once for the
# whole run by whichever xdist worker needs them first (a file lock in a folder the controller hands
# every worker), as databases under a prefix of the run's own (``<database>_s<6 hex>_<purpose>``)
# that the controller drops at the end. A module that writes gets a copy: ``CREATE DATABASE ...
# TEMPLATE`` (about a second) and a copy of the MLflow store's file, instead of seeding and training
# again. Nothing ever writes to the templates themselves.
USE_CASE = ROOT / "use-cases" / "golden_record"


def _shared_prefix(base: str, token: str) -> str:
    return f"{base}_s{token}"


def pytest_configure(config):
    config.addinivalue_line("markers", "bench: a measurement (seconds on this machine): run by make bench "
                                       "(pytest -m bench), not by make test")
    if hasattr(config, "workerinput"):
        config._golden_shared = config.workerinput["golden_shared"]
    else:   # the controller, or a run without xdist
        config._golden_shared = {"folder": tempfile.mkdtemp(prefix="golden_record_tests_"),
                                 "token": secrets.token_hex(3)}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist: every worker builds into (and reads from) the controller's folder and prefix."""
    node.workerinput["golden_shared"] = node.config._golden_shared


def pytest_unconfigure(config):
    """The controller (after every worker has ended) drops the shared databases the run made."""
    shared = getattr(config, "_golden_shared", None)
    if shared is None or hasattr(config, "workerinput"):
        return
    folder = Path(shared["folder"])
    listed = folder / "databases"
    names = listed.read_text().split() if listed.exists() else []
    if names:
        try:
            server, base = _server_url()
            databases = RunDatabases(server, base, prefix=_shared_prefix(base, shared["token"]))
            databases.ours = [n for n in dict.fromkeys(names) if n.startswith(databases.prefix + "_")]
            databases.drop_all()
        except Exception as exc:  # noqa: BLE001 - cleaning up must not hide a test result
            print(f"could not drop the shared test databases {names}: {exc}", file=sys.stderr)
    shutil.rmtree(folder, ignore_errors=True)


class SharedBuilds:
    """What the whole run builds once: :meth:`once` runs ``build`` in the first process that asks
    (the others wait on a file lock) and hands its JSON result to every later caller."""

    def __init__(self, folder: Path, databases: RunDatabases):
        self.folder = folder
        self.databases = databases

    def url(self, purpose: str, template: str | None = None) -> str:
        """A shared database, listed for the controller to drop at the end."""
        with open(self.folder / "databases", "a") as listed:
            listed.write(self.databases.name(purpose) + "\n")
        return self.databases.url(purpose, template=template)

    def once(self, key: str, build) -> dict:
        with open(self.folder / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = self.folder / f"{key}.json"
            if done.exists():
                return json.loads(done.read_text())
            info = build()
            done.write_text(json.dumps(info))
            return info


@pytest.fixture(scope="session")
def shared_builds(request) -> SharedBuilds:
    shared = request.config._golden_shared
    server, base = _server_url()
    return SharedBuilds(Path(shared["folder"]), RunDatabases(server, base, prefix=_shared_prefix(base, shared["token"])))


def _seeded(shared_builds: SharedBuilds, rows: int, seed: int) -> dict:
    """The run's shared warehouse of ``rows`` citizens seeded with ``seed`` (``scripts/seed_data.py``)."""
    key = f"seeded_{rows}_{seed}"

    def build():
        url = shared_builds.url(key)
        done = run([sys.executable, "scripts/seed_data.py", "--rows", str(rows), "--seed", str(seed)],
                   {"DATABASE_URL": url})
        assert done.returncode == 0, done.stderr
        return {"database": shared_builds.databases.name(key), "rows": rows, "seed": seed}

    return shared_builds.once(key, build)


@pytest.fixture(scope="session")
def seeded_template(shared_builds) -> dict:
    """A warehouse seeded as ``seeded_small`` is (3,000 records, seed 7), once per run; never
    written to: use :func:`seeded_copy` for a database of a module's own."""
    return _seeded(shared_builds, 3000, 7)


@pytest.fixture(scope="session")
def trained_template(shared_builds, seeded_template) -> dict:
    """``seeded_template`` trained as a user trains it (``python src/train.py --write-golden
    --quiet``, experiment ``trained``) into an MLflow store of its own, once per run: the
    warehouse with its golden records, the store, the run. Never written to: use
    :func:`trained_copy`."""
    def build():
        url = shared_builds.url("trained", template=seeded_template["database"])
        folder = shared_builds.folder / "trained_store"
        folder.mkdir(exist_ok=True)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        client = MlflowClient(uri)
        client.search_experiments()                 # the store's schema
        done = run([sys.executable, "src/train.py", "--experiment", "trained", "--write-golden", "--quiet"],
                   {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": uri}, cwd=USE_CASE)
        assert done.returncode == 0, done.stderr[-3000:]
        (run_,) = client.search_runs([client.get_experiment_by_name("trained").experiment_id])
        return {"database": shared_builds.databases.name("trained"), "store": str(folder / "mlflow.db"),
                "experiment": "trained", "run_id": run_.info.run_id, "stdout": done.stdout, "stderr": done.stderr}

    return shared_builds.once("trained", build)


@pytest.fixture(scope="session")
def seeded_copy(test_databases, shared_builds):
    """``seeded_copy(purpose, rows=3000, seed=7)``: this run's database ``purpose``, a copy of the
    run's shared warehouse of ``rows`` citizens seeded with ``seed`` (seeded once per run, as
    ``scripts/seed_data.py --rows ROWS --seed SEED`` seeds); its URL."""
    def copy(purpose: str, rows: int = 3000, seed: int = 7) -> str:
        return test_databases.url(purpose, template=_seeded(shared_builds, rows, seed)["database"])

    return copy


@pytest.fixture(scope="session")
def trained_copy(test_databases, trained_template, tmp_path_factory):
    """``trained_copy(purpose, experiment)``: a copy of ``trained_template`` to write to: this run's
    database ``purpose`` (the seeded records and golden tables) and a copy of the MLflow store
    whose experiment holding the training run is named ``experiment``. Returns url, store (URI),
    run_id and env (DATABASE_URL, MLFLOW_TRACKING_URI)."""
    def copy(purpose: str, experiment: str) -> dict:
        url = test_databases.url(purpose, template=trained_template["database"])
        folder = tmp_path_factory.mktemp(f"store_{purpose}")
        shutil.copy(trained_template["store"], folder / "mlflow.db")
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        client = MlflowClient(uri)
        if experiment != trained_template["experiment"]:
            client.rename_experiment(client.get_experiment_by_name(trained_template["experiment"]).experiment_id,
                                     experiment)
        return {"url": url, "store": uri, "run_id": trained_template["run_id"],
                "env": {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": uri}}

    return copy


# --------------------------------------------------------------------------- test lanes
#: fixtures that reach a real PostgreSQL server or MLflow store: a test using any of them (directly
#: or through another fixture) is in the end-to-end lane
_E2E_FIXTURES = {"test_databases", "database_url", "db", "seeded_small", "mlflow_store", "tmp_store",
                 "shared_builds", "seeded_template", "trained_template", "seeded_copy", "trained_copy"}
#: modules that start servers or commands against real stores without those fixtures
_E2E_MODULES = {"test_ui", "test_mlproject", "test_baselines", "test_reports", "test_failures", "test_secrets",
                "test_secrets_forms", "test_failures_runs"}


#: the end-to-end lane's longest modules (``--durations``: minutes each), started first: ``make
#: test`` runs the lane with ``--dist loadfile --no-loadscope-reorder``, so the workers take modules
#: in collection order, and a long module collected last (alphabetically, test_secrets and
#: test_spark are) would otherwise run alone at the end. A module too long for one worker is split
#: in files (test_secrets and test_secrets_forms, test_failures and test_failures_runs).
#: (``--dist loadgroup`` does not group on pytest 9: xdist renames ``item._nodeid``, which pytest 9
#: no longer reads, so a module's tests go to both workers and its module fixtures run twice.)
_LONGEST_FIRST = ["test_secrets", "test_secrets_forms", "test_failures", "test_failures_runs", "test_spark",
                  "test_golden", "test_run_lifecycle", "test_sweep", "test_lookup", "test_labels", "test_review_page",
                  "test_train"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Two lanes: ``pytest -m "not e2e"`` (fast, no database, no MLflow store) and
    ``pytest -m e2e`` (real PostgreSQL and MLflow); ``make test`` runs both."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in _E2E_MODULES or _E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))   # stable
