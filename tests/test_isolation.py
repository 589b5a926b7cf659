"""Two checkouts running ``make test`` against one PostgreSQL server must not touch each other's
databases: each run creates its databases under a prefix of its own and drops only those."""
from __future__ import annotations

import re

import psycopg

from conftest import ROOT, RunDatabases
from golden_record.io import warehouse


def _exists(server_url: str, name: str) -> bool:
    with psycopg.connect(warehouse._with_database(server_url, "postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_two_runs_on_one_server_keep_their_databases_apart(test_databases):
    server = test_databases.server_url
    mine, theirs = RunDatabases(server), RunDatabases(server)   # two checkouts, one server
    assert mine.prefix != theirs.prefix and mine.name("main") != theirs.name("main")
    try:
        mine.url("main")
        theirs.url("main")
        mine.drop_all()
        assert not _exists(server, mine.name("main"))
        assert _exists(server, theirs.name("main")), "one run dropped another run's database"
    finally:
        theirs.drop_all()
    assert not _exists(server, theirs.name("main"))


def test_a_run_never_drops_a_database_it_did_not_create(test_databases):
    server = test_databases.server_url
    other = RunDatabases(server)
    foreign = other.url("foreign")            # a database of someone else's run
    run = RunDatabases(server)
    try:
        run.url("main")
        run.drop_all()
        assert _exists(server, other.name("foreign"))
    finally:
        other.drop_all()
    assert foreign


def test_no_test_drops_databases_by_fixed_name():
    """Dropping goes through RunDatabases only: no test names a database to drop."""
    offenders = [p.name for p in (ROOT / "tests").glob("test_*.py")
                 if re.search(r"DROP\s+DATABASE", p.read_text(), re.IGNORECASE)]
    assert offenders == []
