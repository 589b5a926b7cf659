"""One champion per table (issue 28 points 4-5): a model is registered under its table's name, the
first model of a table becomes its champion, the commands that use a model take the champion of
their config's table and say which, and an old single-name registration is read with a warning
until ``golden-record registry migrate`` moves it. Read back through MlflowClient, as a user would."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from mlflow import MlflowClient

from conftest import SRC, fresh_store, run, serving
from golden_record.config import ConfigError, load_model_config
from test_train import USE_CASE, train

PEOPLE = str(USE_CASE / "config" / "examples" / "people.yaml")
CITIZENS_MODEL, PEOPLE_MODEL = "golden_record__public_citizens", "golden_record__public_people"


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "golden_record", *args], env)


# --------------------------------------------------------------------------- without a store
def test_model_name_comes_from_the_table_or_tracking_model_name():
    from golden_record.tracking.registry import model_name

    assert model_name(load_model_config()) == CITIZENS_MODEL
    assert model_name(load_model_config(PEOPLE)) == PEOPLE_MODEL
    assert model_name(load_model_config(PEOPLE, ["data.table=crm.people"])) == "golden_record__crm_people"
    assert model_name(load_model_config(None, ["tracking.model_name=citizens-v2"])) == "citizens-v2"
    with pytest.raises(ConfigError, match="tracking.model_name"):
        load_model_config(None, ["tracking.model_name=team/citizens"])


def _imports(path: Path) -> set[str]:
    """Every golden_record module a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("golden_record"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("golden_record"))
    return found


def test_model_logging_and_registry_import_no_circle():
    """registry reads logged models (model_logging); model_logging never imports registry (issue 26)."""
    tracking = SRC / "golden_record" / "tracking"
    assert "golden_record.tracking.registry" not in _imports(tracking / "model_logging.py")
    assert "golden_record.tracking.model_logging" in _imports(tracking / "registry.py")


@pytest.mark.parametrize("command, module, extra", [
    ("explain", "golden_record.jobs.explain", ["1", "2"]), ("index", "golden_record.jobs.index", []),
    ("serve", "golden_record.serve.main", []), ("review", "golden_record.web.review", []),
    ("match-new", "golden_record.jobs.match_new", [])])
def test_model_commands_read_the_config_like_train(command, module, extra):
    import importlib

    args = importlib.import_module(module).build_parser().parse_args(
        [*extra, "--config", PEOPLE, "--set", "data.table=people"])
    assert (args.config, args.overrides, args.run_id) == (PEOPLE, ["data.table=people"], None), command


# --------------------------------------------------------------------------- two tables, one store
@pytest.fixture(scope="module")
def two_tables(test_databases, tmp_path_factory):
    """citizens and people seeded into one database, each trained once with no flag into one store."""
    url = test_databases.url("champions")
    store = fresh_store(tmp_path_factory, tmp_path_factory.mktemp("champions"))
    env = {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": store}
    for profile in ("citizens", "people"):
        done = cli(env, "seed", "--profile", profile, "--rows", "2000", "--seed", "5")
        assert done.returncode == 0, done.stderr[-2000:]
    citizens = train(env, "--experiment", "champions", "--quiet")
    assert citizens.returncode == 0, citizens.stderr[-3000:]
    people = train(env, "--experiment", "champions", "--quiet", "--config", PEOPLE)
    assert people.returncode == 0, people.stderr[-3000:]
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("champions")
    runs = {r.data.tags["data.table"]: r for r in client.search_runs([exp.experiment_id])}
    return {"env": env, "url": url, "store": store, "client": client, "citizens": citizens, "people": people,
            "runs": runs}


def _ids(url: str, table: str, id_column: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [str(r[0]) for r in conn.execute(f"SELECT {id_column} FROM {table} ORDER BY {id_column} LIMIT 2")]


def test_each_table_has_its_own_champion_after_train_with_no_flag(two_tables):
    client, runs = two_tables["client"], two_tables["runs"]
    for model, table, done in ((CITIZENS_MODEL, "citizens", two_tables["citizens"]),
                               (PEOPLE_MODEL, "people", two_tables["people"])):
        champion = client.get_model_version_by_alias(model, "champion")
        assert champion.run_id == runs[table].info.run_id
        assert champion.tags["data.table"] == table
        assert f"registered {model} version 1" in done.stdout and "made it 'champion'" in done.stdout
    assert not client.search_registered_models(filter_string="name = 'golden_record_dedup'")


def test_explain_and_index_use_the_champion_of_their_configs_table(two_tables, tmp_path):
    env, url, runs = two_tables["env"], two_tables["url"], two_tables["runs"]
    for args, model, table, id_column in (((), CITIZENS_MODEL, "citizens", "citizen_id"),
                                          (("--config", PEOPLE), PEOPLE_MODEL, "people", "rec_id")):
        run_id = runs[table].info.run_id
        left, right = _ids(url, table, id_column)
        done = cli(env, "explain", left, right, *args, "--output", str(tmp_path / f"{table}.png"))
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"model: {model}@champion (version 1, run {run_id}) of table {table}" in done.stderr
        assert f"of {table}, model of run {run_id}" in done.stdout
        indexed = cli(env, "index", *args)
        assert indexed.returncode == 0, indexed.stderr[-2000:]
        assert f"model: {model}@champion" in indexed.stderr
        assert f"of {table} " in indexed.stdout and f"model of run {run_id}" in indexed.stdout


def test_serving_people_never_uses_the_citizens_model(two_tables):
    env, runs = two_tables["env"], two_tables["runs"]
    with serving(["serve", "--config", PEOPLE], env) as service:
        pass
    health, out, err = service.health, service.out, service.err
    assert health is not None, err[-3000:]
    assert health["model"]["run_id"] == runs["people"].info.run_id and health["table"] == "people"
    assert f"model: {PEOPLE_MODEL}@champion (version 1, run {runs['people'].info.run_id})" in err
    assert runs["citizens"].info.run_id not in out + err


def test_a_challenger_is_compared_with_its_own_tables_champion(two_tables):
    env, client = two_tables["env"], two_tables["client"]
    again = train(env, "--experiment", "champions", "--quiet", "--config", PEOPLE,
                  "--set", "model.params.match_threshold=0.999999", "--register")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"registered {PEOPLE_MODEL} version 2" in again.stdout
    assert f"champion {PEOPLE_MODEL} version 1" in again.stdout and "on people" in again.stdout
    assert CITIZENS_MODEL not in again.stdout
    assert str(client.get_model_version_by_alias(CITIZENS_MODEL, "champion").version) == "1"
    assert len(client.search_model_versions(f"name = '{CITIZENS_MODEL}'")) == 1


def test_old_single_name_champion_is_read_with_a_warning_then_migrated(two_tables, tmp_path):
    """A store as the single-name code left it: golden_record_dedup@champion, trained on citizens."""
    import mlflow

    from golden_record.tracking.registry import logged_model_uri

    store_file = Path(two_tables["store"][len("sqlite:///"):])
    shutil.copy(store_file, tmp_path / "mlflow.db")      # artifacts stay where the runs logged them
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**two_tables["env"], "MLFLOW_TRACKING_URI": store}
    client = MlflowClient(store)
    for name in (CITIZENS_MODEL, PEOPLE_MODEL):
        client.delete_registered_model(name)
    citizens = two_tables["runs"]["citizens"]
    mlflow.set_tracking_uri(store)
    old = mlflow.register_model(logged_model_uri(citizens.info.run_id, citizens.info.experiment_id),
                                "golden_record_dedup")
    client.set_registered_model_alias("golden_record_dedup", "champion", old.version)
    left, right = _ids(two_tables["url"], "citizens", "citizen_id")

    done = cli(env, "explain", left, right, "--quiet", "--output", str(tmp_path / "w.png"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "golden_record_dedup@champion is an old registration" in done.stderr
    assert "golden-record registry migrate" in done.stderr
    assert f"model of run {citizens.info.run_id}" in done.stdout
    # the old champion is not another table's: people has none
    other = cli(env, "explain", *_ids(two_tables["url"], "people", "rec_id"), "--config", PEOPLE)
    assert other.returncode != 0 and f"no registered model {PEOPLE_MODEL}@champion" in other.stderr

    migrated = cli(env, "registry", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    assert f"{CITIZENS_MODEL}@champion -> version 1" in migrated.stdout
    assert client.get_model_version_by_alias(CITIZENS_MODEL, "champion").run_id == citizens.info.run_id
    done = cli(env, "explain", left, right, "--output", str(tmp_path / "w.png"))
    assert done.returncode == 0 and "old registration" not in done.stderr
    assert f"model: {CITIZENS_MODEL}@champion" in done.stderr
    again = cli(env, "registry", "migrate")
    assert "already migrated" in again.stdout and len(client.search_model_versions(f"name = '{CITIZENS_MODEL}'")) == 1
