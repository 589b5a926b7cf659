"""One champion per table: a run's model is registered under its table's name
(:func:`model_name`: ``golden_record__<schema>_<table>``, or the config's ``tracking.model_name``)
and the alias ``champion`` moves to it only when its F1 beats that table's champion's on the same
data. A table with no champion yet takes the first model registered (``train`` registers it by
default, :func:`register_first`).

"The same data" is checked with the ``data.digest`` tag. When the champion was measured on other
data, it is re-scored on the current warehouse (its own config and fitted parameters, no
retraining) so that both F1 scores come from the same records.

The commands that use a model (``explain``, ``index``, ``serve``, ``review``, ``match-new``) take
``--run-id`` or the champion of their config's table (:func:`resolve_run`) and say which. Before
this, one name served every table (``golden_record_dedup``): such a registration is still read when
its champion was trained on the config's table, with a warning naming ``golden-record registry
migrate`` (:func:`migrate`), which registers each old version under its table's name.
"""
from __future__ import annotations

import argparse
import logging
from typing import Callable

from golden_record.config import ModelConfig, Settings
from golden_record.errors import GoldenRecordError, TrackingError
from golden_record.tracking.model_logging import get_run

log = logging.getLogger(__name__)

#: the one name every table's models were registered under before a champion per table
LEGACY_MODEL_NAME = "golden_record_dedup"
PREFIX = "golden_record__"
ALIAS = "champion"
MIGRATE_COMMAND = "golden-record registry migrate"


def _warn(text: str) -> None:
    log.warning(text)


def _say(text: str) -> None:
    """Which model a command uses: a progress line (``--quiet`` hides it, as it hides the others)."""
    log.info(text)


# --------------------------------------------------------------------------- names
def qualified_table(table: str) -> str:
    """``schema.table``; an unqualified table is in ``public`` (the schema PostgreSQL creates it in)."""
    return table if "." in table else f"public.{table}"


def model_name(config: ModelConfig) -> str:
    """The registered model name of the config's table: ``tracking.model_name`` when set, else
    ``golden_record__<schema>_<table>`` (``golden_record__public_citizens``)."""
    if config.tracking.model_name:
        return config.tracking.model_name
    schema, table = qualified_table(config.data.table).split(".")
    return f"{PREFIX}{schema}_{table}"


def _same_table(a: str | None, b: str) -> bool:
    return a is not None and qualified_table(a) == qualified_table(b)


def _alias_version(client, name: str):
    """The version ``name@champion``, or None when the model or its alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, ALIAS)
    except MlflowException:
        return None


def _run_table(client, run_id: str) -> str | None:
    try:
        return client.get_run(run_id).data.tags.get("data.table")
    except Exception:  # noqa: BLE001 - a deleted or missing run: no table to compare
        return None


def champion_version(client, config: ModelConfig, warn: Callable[[str], None] = _warn):
    """(model name, version) of the champion of the config's table, or (name, None) when it has
    none. A champion whose run was trained on another table is an error (two tables never share a
    model); an old ``golden_record_dedup@champion`` of this table is used with a warning."""
    name, table = model_name(config), config.data.table
    version = _alias_version(client, name)
    if version is not None:
        trained_on = _run_table(client, version.run_id)
        if trained_on is not None and not _same_table(trained_on, table):
            raise TrackingError(f"{name}@{ALIAS} (version {version.version}) was trained on table {trained_on}, "
                                f"not {table}",
                                "give this table its own name: tracking.model_name in the config, or leave the key "
                                "out (the name then comes from data.table)")
        return name, version
    legacy = _alias_version(client, LEGACY_MODEL_NAME) if name != LEGACY_MODEL_NAME else None
    if legacy is not None and _same_table(_run_table(client, legacy.run_id), table):
        warn(f"warning: {LEGACY_MODEL_NAME}@{ALIAS} is an old registration (one name for every table); it is used "
             f"because it was trained on {table}: {MIGRATE_COMMAND} registers it as {name}")
        return LEGACY_MODEL_NAME, legacy
    return name, None


def resolve_run(client, run_id: str | None = None, config: ModelConfig | None = None,
                store: str = "the tracking store", say: Callable[[str], None] = _say,
                warn: Callable[[str], None] = _warn):
    """The run a command reads its model from: ``run_id``, else the run behind the champion of
    ``config``'s table. Says (``say``, one line) which model it is."""
    if run_id:
        run = get_run(client, run_id, store)
        say(f"model: run {run.info.run_id} (--run-id), trained on {run.data.tags.get('data.table', '?')}")
        return run
    if config is None:
        raise ValueError("resolve_run needs run_id or config")
    name, version = champion_version(client, config, warn)
    if version is None:
        raise TrackingError(f"no registered model {name}@{ALIAS} (the champion of table {config.data.table}) "
                            f"in {store}",
                            "train a model on this table (golden-record train, with the same --config: the first "
                            "becomes its champion), or pass --run-id RUN_ID")
    run = get_run(client, version.run_id, store)
    say(f"model: {name}@{ALIAS} (version {version.version}, run {run.info.run_id}) of table {config.data.table}")
    return run


def model_run(client, args: argparse.Namespace, store: str = "the tracking store",
              say: Callable[[str], None] = _say):
    """:func:`resolve_run` for a command parsed with :func:`model_logging.add_model_arguments`:
    ``--run-id``, else the champion of the table of ``--config``/``--set``."""
    from golden_record.config import ConfigError, load_model_config

    config_args = getattr(args, "config", None) or getattr(args, "overrides", None)
    if args.run_id:
        if config_args:
            raise ConfigError("--config and --set choose the table whose champion is used: leave them out with "
                              "--run-id (the run's model brings its own config)")
        return resolve_run(client, args.run_id, store=store, say=say)
    config = load_model_config(getattr(args, "config", None), getattr(args, "overrides", None) or [])
    return resolve_run(client, None, config, store=store, say=say)


# --------------------------------------------------------------------------- promotion
def run_f1(run) -> float | None:
    m = run.data.metrics
    return m.get("f1_score", m.get("best_f1_score"))


def best_run_id(client, experiment_id: str) -> str:
    runs = client.search_runs([experiment_id], filter_string="attributes.status = 'FINISHED'",
                              max_results=1000)
    scored = [(run_f1(r), r.info.start_time, r.info.run_id) for r in runs
              if run_f1(r) is not None and r.data.tags.get("run_kind") != "sweep_child"]
    if not scored:
        raise GoldenRecordError("no finished run with an F1 score to register", "train a model first: make train")
    return max(scored)[2]


def f1_on_current_data(client, run_id: str, settings: Settings) -> tuple[float, str]:
    """Re-score a run's logged model on its table as it is now; (F1, data digest)."""
    import tempfile
    from pathlib import Path

    from golden_record.progress import Progress
    from golden_record.evaluation.pairs import evaluate
    from golden_record.io import warehouse
    from golden_record.linkage.pipeline import candidate_vectors, labels_for, load, true_pair_count
    from golden_record.tracking import store as tracking
    from golden_record.tracking.model_logging import load_logged_model

    with tempfile.TemporaryDirectory() as tmp:
        model, config, threshold = load_logged_model(client, run_id, Path(tmp))
    target = warehouse.resolve_target(settings, announce=True)
    with warehouse.connect(target) as conn:
        records, entity = load(conn, config, Progress(quiet=True))
    if entity is None:
        raise GoldenRecordError("cannot compare models: the warehouse has no ground truth", "run make seed-data")
    _, pairs, vectors, _ = candidate_vectors(records, config, Progress(quiet=True))
    _, probs = model.score(vectors.levels, vectors.agreed)
    ev = evaluate(probs, labels_for(entity, pairs), threshold, true_pair_count(entity), len(records))
    return float(ev.metrics["f1_score"]), tracking.frame_digest(records)


def logged_model_uri(run_id: str, experiment_id: str) -> str:
    """The run's logged model as MLflow 3 knows it (``models:/m-…``); ``runs:/<id>/model`` for a
    run logged before logged models (registering that one through the run's path would warn)."""
    import mlflow

    try:
        logged = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list",
                                             filter_string=f"source_run_id = '{run_id}'")
    except Exception:  # noqa: BLE001 - stores without logged models
        logged = []
    named = [m for m in logged if m.name == "model"]
    return named[0].model_uri if named else f"runs:/{run_id}/model"


def run_config(client, run_id: str) -> ModelConfig:
    """The config a run's logged model was trained with."""
    import tempfile
    from pathlib import Path

    from golden_record.tracking.model_logging import load_logged_model

    with tempfile.TemporaryDirectory() as tmp:
        return load_logged_model(client, run_id, Path(tmp))[1]


def _new_version(client, run, name: str, f1: float | None):
    import contextlib
    import io
    import logging
    import warnings

    import mlflow

    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    mlflow_logger.setLevel(logging.ERROR)     # "Registered model ... already exists. Creating a new version"
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):   # "Successfully registered"
            warnings.simplefilter("ignore")
            version = mlflow.register_model(logged_model_uri(run.info.run_id, run.info.experiment_id), name)
    finally:
        mlflow_logger.setLevel(level)
    client.set_model_version_tag(name, version.version, "f1_score", "" if f1 is None else f"{f1:.6f}")
    client.set_model_version_tag(name, version.version, "data.digest", run.data.tags.get("data.digest", ""))
    client.set_model_version_tag(name, version.version, "data.table", run.data.tags.get("data.table", ""))
    return version


def register(run_id: str, settings: Settings, uri: str, config: ModelConfig | None = None,
             only_first: bool = False) -> str | None:
    """Register the run's model under its table's name (``config``: the run's, read from its
    logged model when None); move ``champion`` to it when the table has none or when it wins.
    ``only_first``: register only when the table has no champion (returns None otherwise).
    Returns what happened, in words."""
    import mlflow
    from pydantic import ValidationError
    import numpy as np

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    run = client.get_run(run_id)
    config = config or run_config(client, run_id)
    warned: list[str] = []
    held_by, champion = champion_version(client, config, warned.append)
    name, table = model_name(config), config.data.table
    if only_first and champion is not None:
        return None
    f1 = run_f1(run)
    if champion is None:
        version = _new_version(client, run, name, f1)
        client.set_registered_model_alias(name, ALIAS, version.version)
        client.set_registered_model_tag(name, "data.table", qualified_table(table))
        return (f"registered {name} version {version.version}" + (f" (F1 {f1:.4f})" if f1 is not None else
                " (no F1: the table has no ground truth)")
                + f" and made it '{ALIAS}': table {table} had no champion yet")
    if f1 is None:
        raise GoldenRecordError(f"run {run_id} has no f1_score to compare with {held_by}@{ALIAS} (version "
                                f"{champion.version}): a challenger is promoted by F1 against the ground truth "
                                "(data.truth)",
                                "register a run trained on a table with a ground truth; without one, keep the run "
                                "id (or the sweep's best threshold) and build golden records with golden-record golden --run-id")
    for line in warned:
        _warn(line)
    version = _new_version(client, run, name, f1)
    champ_run = client.get_run(champion.run_id)
    digest = run.data.tags.get("data.digest")
    if champ_run.data.tags.get("data.digest") == digest and run_f1(champ_run) is not None:
        champ_f1, how = run_f1(champ_run), "as logged on the same data"
    else:
        try:
            champ_f1, current = f1_on_current_data(client, champion.run_id, settings)
            how = f"re-scored on {table} as it is now"
        except ValidationError:   # trained with a config layout this version cannot read
            champ_f1, current = float("-inf"), digest
            how = "its config uses a layout this version cannot read, so it cannot be re-scored"
        if current != digest:
            f1, _ = f1_on_current_data(client, run_id, settings)
    champ = f"champion {held_by} version {champion.version}"
    if champ_f1 == float("-inf") or (np.isfinite(champ_f1) and f1 > champ_f1):
        client.set_registered_model_alias(name, ALIAS, version.version)
        client.set_registered_model_tag(name, "data.table", qualified_table(table))
        return (f"registered {name} version {version.version}: F1 {f1:.4f} on {table} beats {champ} "
                f"(F1 {champ_f1:.4f}, {how}); '{ALIAS}' of {table} now points to {name} version {version.version}")
    return (f"registered {name} version {version.version}: F1 {f1:.4f} on {table} does not beat {champ} "
            f"(F1 {champ_f1:.4f}, {how}); '{ALIAS}' stays on version {champion.version}")


def register_first(run_id: str, settings: Settings, uri: str, config: ModelConfig) -> str:
    """``train`` without ``--register``: the model becomes its table's champion when the table has
    none; else one line saying it was left unregistered."""
    if not config.tracking.log_model:
        return (f"not registered: tracking.log_model is false, so run {run_id} has no model to register "
                f"(table {config.data.table})")
    done = register(run_id, settings, uri, config, only_first=True)
    if done is not None:
        return done
    import mlflow

    held_by, champion = champion_version(mlflow.MlflowClient(uri), config, lambda _: None)
    return (f"not registered: table {config.data.table} has a champion ({held_by}@{ALIAS}, version "
            f"{champion.version}); --register compares this run with it")


# --------------------------------------------------------------------------- old registrations
def migrate(client, say: Callable[[str], None] = print, dry_run: bool = False) -> int:
    """Register every version of ``golden_record_dedup`` not migrated yet under its table's name
    (its run's ``data.table`` tag) and give each table without a champion one: the old champion
    for its own table, else the table's best migrated version by F1 (the promotion rule). The old
    model is left as it is (each migrated version tagged ``migrated_to``). Returns versions migrated."""
    versions = sorted(client.search_model_versions(f"name = '{LEGACY_MODEL_NAME}'"), key=lambda v: int(v.version))
    if not versions:
        say(f"nothing to migrate: no registered model {LEGACY_MODEL_NAME}")
        return 0
    old_champion = _alias_version(client, LEGACY_MODEL_NAME)
    moved: dict[str, list[tuple[object, object]]] = {}     # new name -> [(old version, new version)]
    count = 0
    for old in versions:
        if old.tags.get("migrated_to"):
            say(f"{LEGACY_MODEL_NAME} version {old.version}: already migrated to {old.tags['migrated_to']}")
            continue
        try:
            run = client.get_run(old.run_id)
        except Exception:  # noqa: BLE001 - the run was deleted
            say(f"{LEGACY_MODEL_NAME} version {old.version}: skipped, its run {old.run_id} is gone")
            continue
        table = run.data.tags.get("data.table")
        if not table:
            try:
                table = run_config(client, old.run_id).data.table
            except Exception as exc:  # noqa: BLE001 - no readable config: the table is unknown
                say(f"{LEGACY_MODEL_NAME} version {old.version}: skipped, the table of run {old.run_id} is unknown "
                    f"({str(exc).splitlines()[0][:120]})")
                continue
        schema, bare = qualified_table(table).split(".")
        name = f"{PREFIX}{schema}_{bare}"
        if dry_run:
            say(f"{LEGACY_MODEL_NAME} version {old.version} (run {old.run_id}, table {table}) would become a version "
                f"of {name}")
            count += 1
            continue
        f1 = old.tags.get("f1_score")
        new = _new_version(client, run, name, float(f1) if f1 else run_f1(run))
        client.set_model_version_tag(name, new.version, "migrated_from", f"{LEGACY_MODEL_NAME}/{old.version}")
        client.set_model_version_tag(LEGACY_MODEL_NAME, old.version, "migrated_to", f"{name}/{new.version}")
        client.set_registered_model_tag(name, "data.table", qualified_table(table))
        say(f"{LEGACY_MODEL_NAME} version {old.version} (run {old.run_id}, table {table}) -> {name} version "
            f"{new.version}")
        moved.setdefault(name, []).append((old, new))
        count += 1
    for name, pairs in moved.items():
        if _alias_version(client, name) is not None:
            say(f"{name}@{ALIAS} already set: left as it is")
            continue
        was = [new for old, new in pairs if old_champion is not None and old.version == old_champion.version]
        if was:
            pick, why = was[0], f"was {LEGACY_MODEL_NAME}@{ALIAS}"
        else:
            def f1_of(pair):
                value = client.get_model_version(name, pair[1].version).tags.get("f1_score")
                return (float(value) if value else float("-inf"), int(pair[1].version))
            pick, why = max(pairs, key=f1_of)[1], "the best F1 of the table's old versions"
        client.set_registered_model_alias(name, ALIAS, pick.version)
        say(f"{name}@{ALIAS} -> version {pick.version} ({why})")
    if not dry_run and count:
        say(f"{LEGACY_MODEL_NAME} is left as it was (each migrated version tagged migrated_to): delete it in the "
            "MLflow UI once nothing loads models:/golden_record_dedup@champion any more")
    return count


def list_champions(client, say: Callable[[str], None] = print) -> int:
    """One line per registered model of this project: its champion version, run and table."""
    models = [m for m in client.search_registered_models(max_results=1000)
              if m.name.startswith(PREFIX) or m.name == LEGACY_MODEL_NAME or m.tags.get("data.table")]
    if not models:
        say("no registered model: train a model (golden-record train) and it becomes its table's champion")
    for m in sorted(models, key=lambda m: m.name):
        version = _alias_version(client, m.name)
        if version is None:
            say(f"{m.name}: no '{ALIAS}' alias")
            continue
        table = _run_table(client, version.run_id) or "?"
        f1 = version.tags.get("f1_score") or "-"
        old = ""
        if m.name == LEGACY_MODEL_NAME:
            moved = version.tags.get("migrated_to")
            old = f" (old single name: migrated to {moved})" if moved else f" (old single name: {MIGRATE_COMMAND})"
        say(f"{m.name}@{ALIAS}: version {version.version}, run {version.run_id}, table {table}, F1 {f1}{old}")
    return len(models)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="golden-record registry",
                                description="The registered models, one champion per table: list them, or migrate "
                                            f"the old single-name registration {LEGACY_MODEL_NAME} to a name per "
                                            "table.")
    sub = p.add_subparsers(dest="action", required=True, help="list: the champions; migrate: old registrations")
    sub.add_parser("list", help="each registered model's champion: version, run, table and F1")
    mig = sub.add_parser("migrate", help=f"register every {LEGACY_MODEL_NAME} version under its table's name "
                                         "(golden_record__<schema>_<table>) and give each table a champion")
    mig.add_argument("--dry-run", action="store_true", help="say what would be registered, register nothing")
    from golden_record.console import add_output_arguments

    add_output_arguments(p)
    return p


def registry_main(argv: list[str] | None = None) -> int:
    """``golden-record registry list | migrate [--dry-run]``."""
    import mlflow

    from golden_record.config import load_settings
    from golden_record.tracking import store as tracking

    args = build_parser().parse_args(argv)
    uri = tracking.configure(load_settings())
    client = mlflow.MlflowClient(uri)
    if args.action == "list":
        list_champions(client)
    else:
        migrate(client, dry_run=args.dry_run)
    return 0
