"""The database password never leaves the process, whatever form DATABASE_URL takes (issue 12).

Every entry point runs as a user would (subprocess) with the password in a URL's user info, in a
``?password=`` query parameter, in a key=value DSN, and in a URL the parser rejects; then the
secret is searched for in all output, the whole MLflow store (SQLite bytes and every artifact
file) and every exported baseline file. A tracking URI carrying a password gets the same check.

The forms are checked by :func:`check_form`: query and dsn here, userinfo and unparseable in
``test_secrets_forms.py`` (two files, so that the two workers of ``make test`` share them). Each
form seeds 400 records (what leaks does not depend on the size; a model trains in seconds), and
the unparseable form builds golden records from the run's shared trained model (its store copied)
instead of training one of its own over a password-free URL.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from mlflow import MlflowClient
from psycopg.conninfo import conninfo_to_dict

from conftest import ROOT, fresh_store, run
from golden_record.io import redaction
from test_train import USE_CASE, train

EXPERIMENT = "secrets"


def _server(url: str) -> dict[str, str]:
    params = conninfo_to_dict(url)
    return {"host": params.get("host", "127.0.0.1"), "port": params.get("port", "5432"),
            "user": params.get("user", "postgres"), "dbname": params["dbname"]}


def _url(p: dict, password: str, port: str | None = None, query: str = "") -> str:
    """A postgresql:// URL; a socket folder (embedded server) goes into the query string."""
    userinfo = quote(p["user"], safe="") + (f":{password}" if password else "")
    port = port or p["port"]
    if p["host"].startswith("/"):
        query = "&".join(q for q in (f"host={quote(p['host'], safe='')}", f"port={port}", query) if q)
        return f"postgresql://{userinfo}@/{p['dbname']}?{query}"
    return f"postgresql://{userinfo}@{p['host']}:{port}/{p['dbname']}" + (f"?{query}" if query else "")


def _form(form: str, p: dict, secret: str, port: str | None = None) -> str:
    if form == "query":
        return _url(p, "", port, f"password={secret}")
    if form == "dsn":
        return (f"host={p['host']} port={port or p['port']} user={p['user']} password={secret} "
                f"dbname={p['dbname']}")
    if form == "userinfo":
        return _url(p, secret, port)
    assert form == "unparseable"
    return _url(p, secret + "%zz", port)


FORMS = {"query": "S3cretQquery1", "dsn": "S3cretQdsn2", "userinfo": "S3cretQuser3", "unparseable": "S3cretQbad4"}
ROWS = "400"


@pytest.fixture(scope="module")
def database(test_databases) -> dict:
    """The test's own database (seeded by the seeder in each form; the same rows every time)."""
    url = test_databases.url("secrets")
    return {"url": url, "parts": _server(url)}


def _files_containing(folder: Path, secret: bytes) -> list[str]:
    hits = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and secret in path.read_bytes():
            hits.append(str(path.relative_to(folder)))
    return hits


@pytest.mark.parametrize("form", ["query", "dsn"])
def test_no_entry_point_leaks_the_database_password(form, database, tmp_path, tmp_path_factory, request):
    check_form(form, database, tmp_path, tmp_path_factory, request)


def check_form(form, database, tmp_path, tmp_path_factory, request):
    """Every entry point with the password in ``form`` (see the module's docstring)."""
    secret = FORMS[form]
    parts = database["parts"]
    url = _form(form, parts, secret)
    store = tmp_path / "store"
    parseable = form != "unparseable"
    if parseable:
        uri = fresh_store(tmp_path_factory, store)
    else:   # a model to build golden records from, trained over a password-free URL: the run's shared one
        trained = request.getfixturevalue("trained_template")
        store.mkdir()
        shutil.copy(trained["store"], store / "mlflow.db")
        uri = f"sqlite:///{store / 'mlflow.db'}"
        copy = MlflowClient(uri)
        copy.rename_experiment(copy.get_experiment_by_name(trained["experiment"]).experiment_id, EXPERIMENT)
    env = {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": uri}
    done: dict[str, object] = {}     # step -> completed process
    expected: dict[str, int] = {}    # step -> exit code

    def step(name: str, code: int, cmd: list[str], cwd: Path = ROOT, **extra_env: str):
        done[name] = run([sys.executable, *cmd], {**env, **extra_env}, cwd=cwd)
        expected[name] = code
        return done[name]

    def train_step(name: str, code: int, *args: str, **extra_env: str):
        return step(name, code, ["src/train.py", "--experiment", EXPERIMENT, "--run-name", name, *args],
                    USE_CASE, **extra_env)

    step("seed", 0 if parseable else 3, ["scripts/seed_data.py", "--rows", ROWS, "--seed", "5"])
    step("db_check", 0 if parseable else 3, ["scripts/db_check.py"])
    train_step("ok", 0 if parseable else 3, "--verbose")   # unparseable: refused before any run
    if parseable:
        # a failure inside a run (diagnostics artifacts, error tags, the database in the report)
        train_step("too_many", 1, "--verbose", "--set", "candidates.max_pairs=1")
        # failures before any run: a table that is not there, a server that does not answer
        train_step("no_table", 3, "--verbose", "--set", "data.table=nope")
        train_step("wrong_port", 3, "--verbose", DATABASE_URL=_form(form, parts, secret, port="1"))
    client = MlflowClient(uri)
    runs = {r.info.run_name: r for r in client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])}
    model_run = runs.get("ok") if parseable else next(iter(runs.values()))   # unparseable: the shared run
    step("golden", 0 if parseable else 3,
         ["scripts/build_golden_records.py", "--run-id", model_run.info.run_id if model_run else "none", "--verbose"])
    exported = tmp_path / "baselines"
    step("export", 0, ["scripts/export_baseline.py", "--experiment", EXPERIMENT, "--out", str(exported)])
    step("diagnose", 0, ["scripts/diagnose_runs.py", "--experiment", EXPERIMENT])

    # the secret, anywhere: every command's output, the store (SQLite bytes, every artifact), the export
    leaks = [f"{name} {stream}" for name, d in done.items() for stream in ("stdout", "stderr")
             if secret in getattr(d, stream)]
    leaks += [f"store: {f}" for f in _files_containing(store, secret.encode())]
    leaks += [f"baseline: {f}" for f in _files_containing(exported, secret.encode())]
    assert not leaks, f"the password of the {form} form leaked into: {leaks}"

    # and every command did what it should (so the search above searched something real)
    for name, d in done.items():
        assert d.returncode == expected[name], f"{name}: exit {d.returncode}\n{d.stderr[-3000:]}"
    runs = {r.info.run_name: r for r in client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])}
    assert not {"no_table", "wrong_port"} & set(runs) and (parseable or "ok" not in runs)   # refused before a run
    for name in ("too_many",) if parseable else ():
        assert runs[name].info.status == "FAILED"
        files = {a.path for a in client.list_artifacts(runs[name].info.run_id, "diagnostics")}
        assert files == {"diagnostics/error_report.json", "diagnostics/traceback.txt"}
    assert len(list(exported.rglob("run.json"))) == len(runs)
    if parseable:
        safe = redaction.safe_target(url)
        assert secret not in safe and parts["dbname"] in safe
        ok = runs["ok"]
        assert ok.info.status == "FINISHED", ok.data.tags.get("error.message")
        assert ok.data.tags["data.database"] == ok.data.tags["golden.database"] == safe
        assert f"database: {safe} (from DATABASE_URL)" in done["ok"].stderr
        assert f"into {safe}" in done["seed"].stdout
        report = json.loads(open(client.download_artifacts(runs["too_many"].info.run_id,
                                                           "diagnostics/error_report.json")).read())
        assert report["database"] == safe
        assert ":1/" in done["wrong_port"].stderr and 'relation "nope"' in done["no_table"].stderr
        source = json.loads(client.get_run(ok.info.run_id).inputs.dataset_inputs[0].dataset.source)
        assert source == {"url": safe, "table": "citizens"}
    else:
        for name in ("seed", "db_check", "ok", "golden"):
            assert "DATABASE_URL is not a valid PostgreSQL URL" in done[name].stderr, done[name].stderr[-2000:]


def test_tracking_uri_password_never_leaks(database, tmp_path):
    """A tracking URI with user:password is named without the password, from the environment and
    from --tracking-uri alike."""
    secret = "Tr4ckS3cretZ"
    uri = f"http://mlflow:{secret}@127.0.0.1:1"
    env = {"DATABASE_URL": database["url"], "MLFLOW_TRACKING_URI": uri}
    named = [train(env, "--experiment", EXPERIMENT, "--verbose"),
             run([sys.executable, "scripts/diagnose_runs.py"], env, timeout=120)]
    # --tracking-uri skips the reachability check: no retries, so that it fails at once
    direct = run([sys.executable, "scripts/export_baseline.py", "--experiment", EXPERIMENT, "--out", str(tmp_path),
                  "--tracking-uri", uri], {**env, "MLFLOW_TRACKING_URI": "", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
                 timeout=120)
    for done in named:
        assert done.returncode != 0 and "http://mlflow@127.0.0.1:1" in done.stderr, done.stderr[-2000:]
    for done in [*named, direct]:
        assert done.returncode != 0
        assert secret not in done.stdout + done.stderr, done.stderr[-3000:]


# --------------------------------------------------------------------------- the module itself
@pytest.mark.parametrize("dsn, expected", [
    ("postgresql://postgres@127.0.0.1:5432/db?password=Pw1x", "postgresql://postgres@127.0.0.1:5432/db"),
    ("postgresql://postgres:Pw1x@127.0.0.1:5432/db", "postgresql://postgres@127.0.0.1:5432/db"),
    ("postgres://postgres:Pw1x@127.0.0.1/db", "postgresql://postgres@127.0.0.1/db"),
    ("postgresql+psycopg://postgres:Pw1x@127.0.0.1:5432/db", "postgresql://postgres@127.0.0.1:5432/db"),
    ("host=127.0.0.1 port=5432 user=postgres password=Pw1x dbname=db", "postgresql://postgres@127.0.0.1:5432/db"),
    ("host=127.0.0.1 user=postgres password='P w\\'1x' dbname=db sslmode=require",
     "postgresql://postgres@127.0.0.1/db?sslmode=require"),
    ("postgresql://postgres:Pw1x%zz@127.0.0.1:5432/db", "<unparseable DATABASE_URL>"),
    ("not-a-url", "<unparseable DATABASE_URL>"),
])
def test_safe_target(dsn, expected):
    assert redaction.safe_target(dsn) == expected


def test_scrub_removes_registered_secrets_in_every_encoding_and_generic_patterns():
    redaction.register_secret("p@ss w0rd/x")
    text = ("p@ss w0rd/x | p%40ss%20w0rd%2Fx | p%40ss+w0rd%2Fx | 'p@ss w0rd/x' | "
            "host=h password=other1 dbname=d | postgresql://u@h/d?sslmode=require&password=other2 | "
            "postgresql://u:other3@h/d | password='quoted \\' value' dbname=d")
    out = redaction.scrub(text)
    for leaked in ("w0rd", "other1", "other2", "other3", "quoted", "value'"):
        assert leaked not in out, out
    assert "postgresql://u@h/d" in out and "sslmode=require" in out and "dbname=d" in out


def test_database_and_sibling_urls_work_for_dsns():
    from golden_record.io import warehouse

    dsn = "host=127.0.0.1 port=5432 user=postgres password='a b' dbname=mine"
    target = warehouse.DatabaseTarget(dsn, "DATABASE_URL")
    assert target.database == "mine" and "a b" not in target.banner()
    other = warehouse._with_database(dsn, "postgres")
    assert conninfo_to_dict(other) == {**conninfo_to_dict(dsn), "dbname": "postgres"}
    url = "postgresql://postgres:pw@127.0.0.1:5432/mine?sslmode=disable"
    assert conninfo_to_dict(warehouse._with_database(url, "x"))["dbname"] == "x"
    assert warehouse.DatabaseTarget(url, "x").database == "mine"
