"""The PostgreSQL warehouse: connection, schema, bulk reads and atomic bulk writes.

Connection comes from ``DATABASE_URL``, else ``config/settings.yaml``. When neither answers and
``DATABASE_URL`` is unset, an embedded PostgreSQL (the ``pgserver`` package, data in ``.pgdata/``)
serves instead. The target database is created when it is missing. Every failure to connect
becomes a :class:`WarehouseError` naming host, port and database (never a password) and a fix.
"""
from __future__ import annotations

import functools

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager, nullcontext
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

from golden_record.io import redaction
from golden_record.config import REPO_ROOT, ConfigError, DataSource, ModelConfig, Settings
from golden_record.errors import DataError, WarehouseError
from golden_record.config import load_settings

log = logging.getLogger(__name__)

SQL_DIR = REPO_ROOT / "sql"
SEED_HINT = "run make seed-data (or python scripts/seed_data.py)"
#: The tables the seeder owns, with the profile that writes them (synthetic/profiles.py; a test
#: keeps the two in step): only for these is "run make seed-data" the fix (it replaces them).
PRIVILEGE_HINT = ("connect as a user with the needed privileges (DATABASE_URL), or have the database owner "
                  "grant them")


# --------------------------------------------------------------------------- URLs
# DATABASE_URL may be any form libpq accepts (URL, query parameters, SQLAlchemy driver prefix,
# key=value DSN): parsed by libpq's own parser, shown and scrubbed by golden_record.io.redaction.
def redact(url: str) -> str:
    """The URL (or DSN) with any password removed: safe to print, log and store."""
    return redaction.redact(url)


def describe(url: str) -> str:
    """``host:port/database`` (or the socket folder) for messages."""
    try:
        params = redaction.parse(url)
    except Exception:  # noqa: BLE001 - psycopg.ProgrammingError: never echo the string
        return redaction.UNPARSEABLE
    host = params.get("host") or params.get("hostaddr") or "local socket"
    return redaction.scrub(f"{host}:{params.get('port') or 5432}/{params.get('dbname') or '(default)'}")


def _libpq_url(url: str) -> str:
    """SQLAlchemy-style ``postgresql+psycopg://`` to the libpq form psycopg accepts (a DSN unchanged)."""
    redaction.register_url(url)
    return redaction.libpq_form(url)


def _database_name(url: str) -> str:
    """The database a URL or DSN names ("" when it names none or cannot be parsed)."""
    try:
        return redaction.parse(url).get("dbname", "")
    except Exception:  # noqa: BLE001
        return ""


def _with_database(url: str, database: str) -> str:
    """The same server and credentials, database ``database``: a URL stays a URL, a DSN a DSN."""
    from psycopg.conninfo import make_conninfo

    if redaction.is_url(url):
        return redaction.build_url({**redaction.parse(url), "dbname": database}, with_password=True)
    return make_conninfo(url, dbname=database)


@dataclass(frozen=True)
class DatabaseTarget:
    url: str       # libpq URL or DSN, may contain a password: never print it, use .safe_url
    origin: str    # "DATABASE_URL", "config/settings.yaml" or "embedded PostgreSQL (.pgdata)"

    def __post_init__(self) -> None:
        redaction.register_url(self.url)   # whatever prints or logs later, scrub() knows the password

    @property
    def safe_url(self) -> str:
        return redaction.safe_target(self.url)

    @property
    def database(self) -> str:
        return _database_name(self.url)

    def banner(self) -> str:
        return redaction.scrub(f"database: {self.safe_url} (from {self.origin})")


def _explain(exc: Exception, url: str) -> WarehouseError:
    redaction.register_url(url)
    text = redaction.scrub(str(exc))   # libpq quotes the offending part of a URL it rejects
    where = describe(url)
    first = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return WarehouseError(f"PostgreSQL at {where} refused: {first.strip()}", PRIVILEGE_HINT)
    if "password authentication failed" in text or ("role" in text and "does not exist" in text):
        return WarehouseError(
            f"PostgreSQL at {where} refused the login ({first.split('FATAL:')[-1].strip()})",
            "check the user and password in DATABASE_URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    if "does not exist" in text and "database" in text:
        return WarehouseError(f"database missing at {where} and it could not be created",
                              "create it (createdb) or point DATABASE_URL at an existing database")
    # only the connection-string parser raises the bare ProgrammingError (server errors are subclasses)
    if type(exc) is psycopg.ProgrammingError or isinstance(exc, ValueError) or "missing \"=\"" in text:
        return WarehouseError(f"DATABASE_URL is not a valid PostgreSQL URL ({first.strip()})",
                              "use the form postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE (percent-encode "
                              "special characters of the password) or host=HOST user=USER dbname=DATABASE")
    if "resolve host" in text or "Name or service not known" in text:
        return WarehouseError(f"cannot reach PostgreSQL at {where}: unknown host",
                              "check the host name in DATABASE_URL")
    return WarehouseError(
        f"cannot connect to PostgreSQL at {where} ({'connection refused' if 'refused' in text else first.strip()})",
        "start the server (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), "
        "or unset DATABASE_URL to use the embedded server, or fix DATABASE_URL")


def _try_connect(url: str, timeout: int, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(url, connect_timeout=timeout, **kwargs)
    except (psycopg.Error, ValueError) as exc:
        raise _explain(exc, url) from exc


def _database_missing(exc: Exception) -> bool:
    text = str(exc)
    return isinstance(exc, psycopg.OperationalError) and "does not exist" in text and "database" in text


def ensure_database(url: str, timeout: int = 5, create: bool = False) -> None:
    """Check that the target database answers; with ``create``, create it when it is missing.

    Only the seeder and ``make setup`` create the database: for every other tool a missing
    database is an error (a typo in its name must not silently create an empty one).
    """
    try:
        psycopg.connect(url, connect_timeout=timeout).close()
        return
    except (psycopg.Error, ValueError) as exc:
        if not _database_missing(exc):
            raise _explain(exc, url) from exc
    database = _database_name(url)
    if not create:
        raise WarehouseError(f"database {database!r} does not exist at {describe(url)}",
                             "check the database name in DATABASE_URL (or config/settings.yaml); make setup or "
                             "make seed-data create the configured one")
    with _try_connect(_with_database(url, "postgres"), timeout, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            pass   # created meanwhile by another process (two seeders started together)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise WarehouseError(f"database {database!r} does not exist at {describe(url)} and this user may not "
                                 "create it", "create it as its owner (createdb), grant CREATEDB to the user, "
                                 "or point DATABASE_URL at an existing database") from exc
        except psycopg.Error as exc:
            raise _explain(exc, url) from exc


def _embedded_url(settings: Settings, database: str) -> str:
    try:
        import pgserver  # noqa: PLC0415 - optional, heavy
    except ImportError as exc:
        raise WarehouseError("no PostgreSQL server answers and the embedded one (pgserver) is not installed",
                             "pip install 'golden-record[embedded]' (or make install), or start PostgreSQL, "
                             "or set DATABASE_URL") from exc
    folder = Path(settings.database.embedded_dir)
    if not folder.is_absolute():
        folder = REPO_ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(folder, cleanup_mode=None)  # keeps running for the next tool
    return _libpq_url(server.get_uri(database))


def resolve_target(settings: Settings, announce: bool = True, create: bool = False) -> DatabaseTarget:
    """Pick the database (DATABASE_URL > settings > embedded), check it answers, say which.

    ``create`` (the seeder, ``make setup``) creates the database when it is missing; everything
    else fails with a message naming it."""
    timeout = settings.database.connect_timeout_seconds
    env_url = os.environ.get("DATABASE_URL", "").strip()
    if env_url:
        target = DatabaseTarget(_libpq_url(env_url), "DATABASE_URL")
        ensure_database(target.url, timeout, create)
    else:
        target = DatabaseTarget(_libpq_url(settings.database.url), "config/settings.yaml")
        try:
            ensure_database(target.url, timeout, create)
        except WarehouseError as exc:
            refused = "cannot connect" in exc.message or "unknown host" in exc.message
            if not (settings.database.embedded_fallback and refused):
                raise
            database = target.database or "smart_warehouse"
            target = DatabaseTarget(_embedded_url(settings, database),
                                    f"embedded PostgreSQL in {settings.database.embedded_dir}/, "
                                    f"because nothing answers at {describe(settings.database.url)}")
            ensure_database(target.url, timeout, create)
    if announce:
        log.info(target.banner())
    return target


def sibling_database(name: str, settings: Settings | None = None) -> str:
    """URL of database ``name`` on the configured server (ignoring DATABASE_URL), created if
    missing: tests and benchmarks use such siblings so they never touch smart_warehouse."""

    saved = os.environ.pop("DATABASE_URL", None)
    try:
        target = resolve_target(settings or load_settings(), announce=False, create=True)
    finally:
        if saved is not None:
            os.environ["DATABASE_URL"] = saved
    url = _with_database(target.url, name)
    ensure_database(url, create=True)
    return url


def connect(target: DatabaseTarget, timeout: int = 5) -> psycopg.Connection:
    return _try_connect(target.url, timeout)


def engine(target: DatabaseTarget) -> Engine:
    """A SQLAlchemy engine over psycopg 3 for the same target."""
    url = make_url(target.url).set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True)


# --------------------------------------------------------------------------- schema
def schema_files() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('golden_record.warehouse_tables'))"


def apply_schema(conn: psycopg.Connection) -> None:
    """Apply every ``sql/*.sql`` file in order (each is idempotent), in one transaction.

    A transaction-level advisory lock serialises concurrent callers (two seeders on a fresh
    database would otherwise race on ``CREATE TABLE IF NOT EXISTS``)."""
    try:
        with conn.transaction():
            conn.execute(_SCHEMA_LOCK)
            for path in schema_files():
                conn.execute(path.read_text(encoding="utf-8"))
    except psycopg.errors.InsufficientPrivilege as exc:
        first = str(exc).strip().splitlines()[0]
        raise WarehouseError(f"cannot create the warehouse tables in database {conn.info.dbname!r} ({first})",
                             "seed with a user that may create tables there (the database owner), or have "
                             "the owner run make seed-data") from exc


def table_ref(table: str) -> sql.Composable:
    """``table`` or ``schema.table`` as a quoted SQL identifier (the config validates the syntax)."""
    return sql.Identifier(*table.split("."))


def _regclass_text(table: str) -> str:
    """The quoted name ``to_regclass`` expects ("schema"."table"): exact, never parsed as SQL."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in table.split("."))


def table_exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (_regclass_text(table),)).fetchone()[0]


def table_columns(conn: psycopg.Connection, table: str) -> dict[str, str]:
    """column -> data type of ``table`` (``schema.table``, or in the search path)."""
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (_regclass_text(table),)).fetchall()
    return dict(rows)


#: names of the staging tables a load in progress fills (the seeder's, the Spark golden write's)
STAGING_NAME = r"__(seed|staging)_[0-9a-f]{8}$"


def list_tables(conn: psycopg.Connection, limit: int = 20) -> list[str]:
    """Tables a user can read, ``schema.table`` outside the search path's first schema (not the
    staging tables of a load in progress: they are no one's data)."""
    rows = conn.execute(
        "SELECT CASE WHEN table_schema = current_schema() THEN table_name "
        "ELSE table_schema || '.' || table_name END FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_name !~ %s ORDER BY 1 LIMIT %s",
        (STAGING_NAME, limit)).fetchall()
    return [r[0] for r in rows]


@functools.lru_cache(maxsize=1)
def seeded_tables() -> dict[str, str]:
    """Each table a seeder profile fills (its config's ``data.table`` and truth table) -> the profile."""
    from golden_record.synthetic.profiles import PROFILES

    out = {}
    for name, profile in PROFILES.items():
        data = profile.config().data
        out[data.table] = name
        if data.truth is not None:
            out[data.truth.table] = name
    return out


def seeding_profile(table: str) -> str | None:
    """The seeder profile that writes ``table`` (``public.`` or not), else None."""
    return seeded_tables().get(table.removeprefix("public."))


def seed_hint(table: str) -> str:
    profile = seeding_profile(table)
    if profile in (None, "citizens"):
        return SEED_HINT
    return f"run make seed-data PROFILE={profile} (or python scripts/seed_data.py --profile {profile})"


def missing_table_error(conn: psycopg.Connection, table: str, key: str) -> WarehouseError:
    """The error for a configured table that is not there: the seed hint only for the seeder's own
    tables (seeding another table's database would overwrite nothing useful, or worse)."""
    where = f"{conn.info.dbname!r}"
    if seeding_profile(table):
        return WarehouseError(f'relation "{table}" does not exist in database {where} ({key})', seed_hint(table))
    tables = list_tables(conn)
    return WarehouseError(f'relation "{table}" does not exist in database {where} ({key})',
                          f"check {key}: the tables there are {tables}" if tables else
                          f"check {key} and DATABASE_URL: the database holds no tables")


def count_rows(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table_ref(table))).fetchone()[0]


# --------------------------------------------------------------------------- reading
_INTEGER_TYPES = ("bigint", "integer", "smallint")
_NOT_A_DATE = ("bigint", "integer", "smallint", "numeric", "double precision", "real", "boolean", "bytea")


def check_source(conn: psycopg.Connection, source: DataSource, fields: Iterable[str]) -> dict[str, str]:
    """The table exists and has the id column and every declared field's column(s); a date or
    timestamp field is not read from a number or boolean column. Returns column -> type."""
    if not table_exists(conn, source.table):
        raise missing_table_error(conn, source.table, "data.table")
    columns = table_columns(conn, source.table)
    if source.id not in columns:
        raise WarehouseError(f"table {source.table} has no column {source.id!r} (data.id)",
                             f"set data.id to one of {sorted(columns)}")
    for field in fields:
        spec = source.fields[field]
        key = f"data.fields.{field}.{'columns' if spec.columns else 'column'}"
        for column in spec.source_columns(field):
            if column not in columns:
                raise WarehouseError(f"table {source.table} has no column {column!r} ({key})",
                                     f"set {key} to one of the table's columns: {sorted(columns)}")
            if spec.type in ("date", "timestamp") and columns[column].startswith(_NOT_A_DATE):
                raise WarehouseError(
                    f"column {source.table}.{column} ({key}) has type {columns[column]}, which cannot hold a "
                    f"{spec.type}", f"map data.fields.{field} to a date, timestamp or text column, or change its type")
    return columns


def _field_select(source: DataSource, field: str) -> sql.Composable:
    """The field as text: one column, or several joined with a space (NULL and blank parts skipped)."""
    columns = source.fields[field].source_columns(field)
    if len(columns) == 1:   # blank values are missing: the cleaner sees to that, per distinct value
        return sql.SQL("{}::text AS {}").format(sql.Identifier(columns[0]), sql.Identifier(field))
    parts = [sql.SQL("NULLIF(btrim({}::text), '')").format(sql.Identifier(c)) for c in columns]
    expr = sql.SQL("NULLIF(concat_ws(' ', {}), '')").format(sql.SQL(", ").join(parts))
    return sql.SQL("{} AS {}").format(expr, sql.Identifier(field))


def record_order(source: DataSource, columns: dict[str, str]) -> sql.Composable:
    """The order records are loaded in, which numbers them (positions): an integer id by value,
    any other by the bytes of its text (``COLLATE "C"``), so the order depends on no locale and is
    the one Spark sorts strings in (the Spark engine numbers records the same way)."""
    if columns[source.id].startswith(_INTEGER_TYPES):
        return sql.Identifier(source.id)
    return sql.SQL('{}::text COLLATE "C"').format(sql.Identifier(source.id))


def page_range(pages: tuple[int, int | None]) -> sql.Composable:
    """``WHERE`` condition for the rows stored in pages [start, end) of a table (``end`` None: to
    the end), read by a TID range scan: the parallel readers of the Spark engine split a table so."""
    start, end = pages
    cond = sql.SQL("ctid >= {}::tid").format(sql.Literal(f"({int(start)},0)"))
    if end is not None:
        cond = sql.SQL("{} AND ctid < {}::tid").format(cond, sql.Literal(f"({int(end)},0)"))
    return cond


def table_pages(conn: psycopg.Connection, table: str) -> int | None:
    """The pages a plain table holds now, or None for a view or a partitioned table (no page ranges)."""
    row = conn.execute("SELECT c.relkind, pg_relation_size(c.oid) / current_setting('block_size')::bigint "
                       "FROM pg_class c WHERE c.oid = to_regclass(%s)", (_regclass_text(table),)).fetchone()
    return int(row[1]) if row and row[0] in ("r", "m") else None


def load_records(conn: psycopg.Connection, source: DataSource, fields: list[str],
                 allow_null: bool = False, only_ids: list | None = None,
                 pages: tuple[int, int | None] | None = None) -> pd.DataFrame:
    """The declared fields as text (nothing is cast in SQL, so no value can fail the query), with
    ``record_id`` first: int64 for an integer id column, else text. Dates and timestamps are
    parsed by the field's cleaner, where an invalid one is kept as text and counted. With
    ``only_ids``, only those records (compared as text; an id not found is simply absent); with
    ``pages``, the records stored in that :func:`page_range` (a part of the table: it may be
    empty, and whole-table checks are the caller's)."""
    columns = check_source(conn, source, fields)
    selects = [sql.SQL("{}::text AS record_id").format(sql.Identifier(source.id))]
    selects += [_field_select(source, f) for f in fields]
    where = sql.SQL("")
    if only_ids is not None:        # compared in the id column's own type, so its index serves
        id_col, id_type = sql.Identifier(source.id), columns[source.id]
        if id_type.startswith(_INTEGER_TYPES):     # an id that is no integer cannot be in the table
            wanted = [int(i) for i in map(str, only_ids) if i.strip().lstrip("-").isdigit()]
            where = sql.SQL(" WHERE {} = ANY({}::bigint[])").format(id_col, sql.Literal(wanted))
        elif id_type == "text" or id_type.startswith("character"):
            where = sql.SQL(" WHERE {} = ANY({}::text[])").format(id_col, sql.Literal([str(i) for i in only_ids]))
        else:
            where = sql.SQL(" WHERE {}::text = ANY({}::text[])").format(id_col, sql.Literal([str(i) for i in only_ids]))
        allow_null = True
    if pages is not None:
        where = sql.SQL(" WHERE {}").format(page_range(pages))
        allow_null = True
    query = sql.SQL("SELECT {} FROM {}{} ORDER BY {}").format(sql.SQL(", ").join(selects), table_ref(source.table),
                                                              where, record_order(source, columns))
    with snapshot(conn) if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE else nullcontext():
        df = copy_out(conn, query)
    if df.empty and only_ids is None and pages is None:
        raise empty_table_error(source)
    ids = df["record_id"]
    if ids.isna().any():
        raise DataError(f"{int(ids.isna().sum()):,} records of {source.table} have no id (column {source.id}, data.id)",
                        "every record needs an id: fill the column or choose another as data.id")
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise DataError(f"ids in {source.table}.{source.id} (data.id) are not unique: {int(dup.sum()):,} records "
                        f"share an id (e.g. {ids[dup].iloc[0]!r})", "data.id must name a column unique per record")
    if columns[source.id].startswith(_INTEGER_TYPES):
        df["record_id"] = ids.astype("int64")
    for field in [] if allow_null else fields:     # a field the model uses must hold values
        if df[field].isna().all():
            raise null_field_error(source, field)
    return df


def empty_table_error(source: DataSource) -> DataError:
    return DataError(f"table {source.table} is empty", seed_hint(source.table) if seeding_profile(source.table) else
                     "fill the table, or point data.table at the table that holds the records")


def null_field_error(source: DataSource, field: str) -> DataError:
    cols = ", ".join(source.fields[field].source_columns(field))
    return DataError(f"field {field} (column {source.table}.{cols}) is entirely null",
                     "fill the column, map the field to another column, or drop it from the config")


def database_time(conn: psycopg.Connection) -> pd.Timestamp:
    """The database server's clock now (``clock_timestamp()``, UTC): the time records were read,
    comparable with the timestamps the database writes (a recency column's ``DEFAULT now()``)."""
    return pd.Timestamp(conn.execute("SELECT clock_timestamp()").fetchone()[0]).tz_convert("UTC")


def copy_out(conn: psycopg.Connection, query: sql.Composable) -> pd.DataFrame:
    """Run ``COPY (query) TO STDOUT`` as CSV and read it into a DataFrame of strings."""
    buf = io.BytesIO()
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(query)) as copy:
            for block in copy:
                buf.write(block)
    buf.seek(0)
    return pd.read_csv(buf, dtype=str, keep_default_na=False, na_values=[""])


def check_truth(conn: psycopg.Connection, source: DataSource) -> dict[str, str]:
    """A configured ground truth must exist: a typo in ``data.truth`` is an error, never a silently
    skipped evaluation (only a config without ``data.truth`` trains without evaluation)."""
    truth = source.truth
    if truth is None:
        return
    if not table_exists(conn, truth.table):
        err = missing_table_error(conn, truth.table, "data.truth.table")
        raise WarehouseError(err.message, err.hint + "; or remove data.truth to train without evaluation")
    cols = table_columns(conn, truth.table)
    for key in ("id_column", "entity_column"):
        column = getattr(truth, key)
        if column not in cols:
            raise WarehouseError(f"ground-truth table {truth.table} has no column {column!r} (data.truth.{key})",
                                 f"set data.truth.{key} to one of {sorted(cols)}")
    return cols


def load_truth(conn: psycopg.Connection, source: DataSource) -> pd.Series | None:
    """record id -> entity code, or None when the config declares no ground truth."""
    truth = source.truth
    if truth is None:
        return None
    cols = check_truth(conn, source)
    # two arrays in one row: ~8x faster than COPY for a million rows (psycopg's COPY reader yields
    # one row per Python iteration; arrays are parsed in C). Integer columns as bigint arrays (the
    # fast path), any other type as text; entities become integer codes
    casts = {c: "bigint" if cols[c].startswith(_INTEGER_TYPES) else "text"
             for c in (truth.id_column, truth.entity_column)}
    ids, entities = conn.execute(sql.SQL("SELECT array_agg({}::{}), array_agg({}::{}) FROM {}").format(
        sql.Identifier(truth.id_column), sql.SQL(casts[truth.id_column]), sql.Identifier(truth.entity_column),
        sql.SQL(casts[truth.entity_column]), table_ref(truth.table))).fetchone()
    if not ids:
        raise DataError(f"ground-truth table {truth.table} (data.truth.table) is empty",
                        "fill it, or remove data.truth to train without evaluation")
    entities = np.asarray(entities, dtype=np.int64 if casts[truth.entity_column] == "bigint" else object)
    codes, _ = pd.factorize(entities)
    index = np.asarray(ids, dtype=np.int64 if casts[truth.id_column] == "bigint" else object)
    return pd.Series(codes.astype(np.int64), index=pd.Index(index, name="record_id"), name="entity_id")


@contextmanager
def snapshot(conn: psycopg.Connection, shared: str | None = None) -> Iterator[None]:
    """One REPEATABLE READ, READ ONLY transaction: every read inside sees the same data, even while
    another process rewrites the tables (records and ground truth always agree). ``shared``: the
    id of a snapshot another connection exported (``pg_export_snapshot()``), whose data this one
    sees: the parallel readers of the Spark engine read one state of the tables so."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if shared is not None:
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(shared)))
        # dates and timestamps read as text in one unambiguous form
        conn.execute("SET LOCAL DateStyle = 'ISO, YMD'")
        conn.execute("SET LOCAL timezone = 'UTC'")
        yield


def preflight(config: ModelConfig, settings: Settings, quiet: bool) -> DatabaseTarget:
    """Everything about the database that can be checked before a run is created.

    The server answers and the database exists (else :class:`WarehouseError`, exit 3), the table
    exists (exit 3; the seed hint only for the seeder's own table), every mapped column exists
    with a usable type and a configured ground truth is there (else :class:`ConfigError`, exit 2).
    Returns the database target, reused by the load stage.
    """
    target = resolve_target(settings, announce=not quiet)
    with connect(target, settings.database.connect_timeout_seconds) as conn:
        if not table_exists(conn, config.data.table):
            raise missing_table_error(conn, config.data.table, "data.table")
        try:
            check_source(conn, config.data, config.needed_fields())
            check_truth(conn, config.data)
        except WarehouseError as exc:
            raise ConfigError(f"{exc.message}: {exc.hint}") from None
    return target


# --------------------------------------------------------------------------- writing
_COPY_NULL = "\\N"     # NULL in the CSV stream: an unquoted empty field stays an empty string


def copy_in(conn: psycopg.Connection, table: str, df: pd.DataFrame, chunk_rows: int = 200_000) -> None:
    """Bulk-load ``df`` (columns named as the table's) with COPY, inside the caller's transaction.
    Missing values (None, NaN, NaT) become NULL and empty strings stay empty strings."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in df.columns)
    text = [c for c in df.columns if df[c].dtype == object]
    with conn.cursor() as cur:
        if any((df[c].to_numpy() == _COPY_NULL).any() for c in text):
            # a value spelled like the NULL marker: row by row (slower, exact for any value)
            stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(table_ref(table), columns)
            frame = _iso_datetimes(df)
            with cur.copy(stmt) as copy:
                for row in zip(*(np.where(pd.isna(frame[c]), None, frame[c].to_numpy(dtype=object)).tolist()
                                 for c in frame.columns)):
                    copy.write_row(row)
            return
        stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '\\N')").format(table_ref(table), columns)
        with cur.copy(stmt) as copy:
            for start in range(0, len(df), chunk_rows):
                part = _iso_datetimes(df.iloc[start:start + chunk_rows])
                copy.write(part.to_csv(index=False, header=False, na_rep=_COPY_NULL))


def _iso_datetimes(df: pd.DataFrame) -> pd.DataFrame:
    """datetime columns as ISO strings, converted by NumPy in bulk (to_csv's strftime is slow), to
    the microsecond (PostgreSQL's precision); an aware column as UTC with its offset."""
    out = df
    for col in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            values = df[col]
            aware = getattr(values.dt, "tz", None) is not None
            if aware:
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            iso = values.to_numpy(dtype="datetime64[us]").astype(str)
            if aware:
                iso = np.char.add(iso, "+00:00")
            iso = np.where(values.isna().to_numpy(), None, iso.astype(object))
            out = out.assign(**{col: iso}) if out is df else out.assign(**{col: iso})
    return out


_SQL_TYPES = (("b", "boolean"), ("i", "bigint"), ("u", "bigint"), ("f", "double precision"))


def _is_dates(values: pd.Series) -> bool:
    """A naive datetime column holding whole days only (a date of birth), with at least one value."""
    if getattr(values.dt, "tz", None) is not None or not values.notna().any():
        return False
    return bool((values.dropna() == values.dropna().dt.normalize()).all())


def frame_table_sql(table: str, df: pd.DataFrame, primary_key: str) -> sql.Composable:
    """``DROP TABLE IF EXISTS`` + ``CREATE TABLE`` for ``df``'s columns: text, integers bigint,
    floats double precision, booleans boolean, datetimes timestamptz (naive ones read as UTC),
    naive datetimes that are all whole days date."""
    return sql.SQL("DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({cols})").format(
        table=table_ref(table), cols=_frame_columns(df, primary_key, " PRIMARY KEY"))


def _frame_columns(df: pd.DataFrame, primary_key: str, key_clause: str) -> sql.Composable:
    """The column list of :func:`frame_table_sql`; ``key_clause`` follows the primary-key column."""
    cols = []
    for c in df.columns:
        kind = df[c].dtype.kind
        sql_type = (("date" if _is_dates(df[c]) else "timestamptz") if kind == "M"
                    else dict(_SQL_TYPES).get(kind, "text"))
        cols.append(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(
            sql_type + (key_clause if c == primary_key else " NOT NULL" if kind in "iu" else ""))))
    return sql.SQL(", ").join(cols)


def replace_tables(conn: psycopg.Connection, frames: dict[str, pd.DataFrame],
                   create: dict[str, str] | None = None, analyze: bool = False) -> None:
    """Replace the contents of several tables atomically: all new rows, or the old ones untouched.
    ``create`` (table -> primary-key column): tables dropped and created from their frame's
    columns (:func:`frame_table_sql`) in the same transaction, instead of emptied. ``analyze``:
    refresh the planner's statistics of the tables, still under the lock (an ANALYZE outside it
    can deadlock with a concurrent seeder's schema update)."""
    with conn.transaction():
        # the same lock as apply_schema: two seeders (or a seeder and a schema update) would
        # otherwise take the tables' locks in opposite orders and deadlock
        conn.execute(_SCHEMA_LOCK)
        for table, key in (create or {}).items():
            conn.execute(frame_table_sql(table, frames[table], key))
        conn.execute("SET LOCAL timezone = 'UTC'")
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(table_ref(t) for t in frames)))
        # secondary indexes are dropped and rebuilt once after the load (much faster than
        # maintaining them row by row); DDL is transactional, so a failure restores them too
        indexes = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary AND NOT i.indisunique",
            ([_regclass_text(t) for t in frames],)).fetchall()
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(*name.split("."))))
        for table, df in frames.items():
            copy_in(conn, table, df)
        for _, definition in indexes:
            conn.execute(definition)
        if analyze:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(table_ref(t) for t in frames)))


# --------------------------------------------------------------------------- parallel load
# The seeder's load of millions of rows: every table is first filled as a staging table by several
# connections at once (COPY of one table from several sessions runs in parallel), its indexes are
# built there (in parallel too), and then ONE transaction, under the seeder's lock, swaps the staging
# tables for the real ones. Readers see all the old rows or all the new ones; a failure anywhere
# before the swap commits leaves the old tables untouched, and the staging tables are dropped. A
# seeder that is killed cannot drop them: each live load holds a session advisory lock on its tag,
# and the next load drops the staging tables whose lock nobody holds.
_STAGE_LOCK_CLASS = 0x5EED            # advisory-lock namespace of the live loads (key: the load's tag)
_STAGE_MARK = "__seed_"
COPY_CHUNK_ROWS = 250_000


def default_copy_workers() -> int:
    """min(4, CPU count): the connections a seed loads with unless told otherwise."""
    return max(1, min(4, os.cpu_count() or 1))


def csv_bytes(df: pd.DataFrame) -> memoryview | None:
    """``df`` as CSV for ``COPY ... (FORMAT csv)`` written by Arrow (several times faster than
    ``to_csv``, and it releases the GIL, so worker threads format in parallel): every value quoted,
    a missing one (None, NaN, NaT) an unquoted empty field, i.e. NULL, and an empty string stays
    one. Datetimes as :func:`copy_in` writes them (microseconds, aware ones in UTC). None when Arrow
    cannot type a column (mixed objects): the caller then uses :func:`copy_in`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        columns = {}
        for c in df.columns:
            values = df[c]
            if pd.api.types.is_datetime64_any_dtype(values):
                aware = getattr(values.dt, "tz", None) is not None
                if aware:
                    values = values.dt.tz_convert("UTC").dt.tz_localize(None)
                columns[c] = pa.array(values.to_numpy(dtype="datetime64[us]"), mask=values.isna().to_numpy(),
                                      type=pa.timestamp("us", tz="UTC" if aware else None))
            else:
                columns[c] = pa.array(values, from_pandas=True)
        out = pa.BufferOutputStream()
        pacsv.write_csv(pa.table(columns), out, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
        return memoryview(out.getvalue())        # Arrow's buffer itself: no copy
    except (pa.ArrowException, TypeError, ValueError):
        return None


def copy_chunk(conn: psycopg.Connection, table: str, df: pd.DataFrame) -> None:
    """COPY ``df`` into ``table`` inside the caller's transaction, formatted by :func:`csv_bytes`
    (else by :func:`copy_in`). Exactly the values :func:`copy_in` would store."""
    data = csv_bytes(df)
    if data is None:
        copy_in(conn, table, df)
        return
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in df.columns)
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(table_ref(table), columns)) as copy:
            copy.write(data)


@dataclass
class _Staged:
    """One table of a parallel load: its staging table and how it replaces the real one."""
    table: str                      # the real table
    stage: str                      # the staging table
    mode: str                       # "swap" (drop and rename), "in place" (truncate, insert), "create"
    #: (final name, stage name, CREATE INDEX on the stage, constraint type "p"/"u" or "")
    indexes: list[tuple[str, str, str, str]]
    why: str = ""                   # why in place


def _stage_name(name: str, tag: str, mark: str = _STAGE_MARK) -> str:
    return f"{name[:40]}{mark}{tag}"


def staging_table(table: str, tag: str, mark: str = _STAGE_MARK) -> str:
    """The staging table of ``table`` for the load ``tag`` (8 hex digits): the seeder's mark, or
    another loader's (:data:`STAGING_NAME` matches them all)."""
    *schema, name = table.split(".")
    return ".".join([*schema, _stage_name(name, tag, mark)])


def in_place_reasons(conn: psycopg.Connection, table: str) -> list[str]:
    """What a DROP and RENAME of ``table`` would lose or break (then its rows are replaced in place):
    dependent views or rules, foreign keys, triggers, policies, grants, options, inheritance,
    publications, owned sequences, identity/generated columns, column grants, options or statistics
    targets, extended statistics, replica identity, tablespace, persistence, another owner,
    exclusion or deferrable keys. Empty: the staging table can take its place."""
    row = conn.execute("""
        SELECT (SELECT count(*) FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass
                 AND d.objid = r.oid WHERE d.refobjid = t.oid AND r.ev_class <> t.oid) AS "dependent views or rules",
               (SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND t.oid IN (conrelid, confrelid)) AS "foreign keys",
               (SELECT count(*) FROM pg_trigger WHERE tgrelid = t.oid AND NOT tgisinternal) AS "triggers",
               (SELECT count(*) FROM pg_policy WHERE polrelid = t.oid) + t.relrowsecurity::int AS "row security",
               (t.relacl IS NOT NULL)::int AS "grants",
               (t.reloptions IS NOT NULL)::int AS "storage options",
               (SELECT count(*) FROM pg_inherits WHERE t.oid IN (inhrelid, inhparent)) + (t.relkind <> 'r')::int
                 AS "inheritance or partitions",
               (SELECT count(*) FROM pg_publication_rel WHERE prrelid = t.oid) AS "publications",
               (SELECT count(*) FROM pg_depend d JOIN pg_class s ON d.classid = 'pg_class'::regclass
                 AND d.objid = s.oid AND s.relkind = 'S' WHERE d.refobjid = t.oid) AS "owned sequences",
               (SELECT count(*) FROM pg_attribute WHERE attrelid = t.oid AND attnum > 0 AND NOT attisdropped
                 AND (attacl IS NOT NULL OR attstattarget <> -1 OR attidentity <> '' OR attgenerated <> ''
                      -- this server stamps every column with a pg_attver option that pg_dump ignores
                      OR EXISTS (SELECT 1 FROM unnest(attoptions) o WHERE o NOT LIKE 'pg_attver=%%')))
                 AS "column grants, options, statistics, identity",
               (SELECT count(*) FROM pg_statistic_ext WHERE stxrelid = t.oid) AS "extended statistics",
               (t.relreplident <> 'd')::int AS "replica identity",
               (t.reltablespace <> 0 OR t.relpersistence <> 'p')::int AS "tablespace or persistence",
               (NOT pg_has_role(t.relowner, 'USAGE'))::int AS "another owner",
               (SELECT count(*) FROM pg_constraint WHERE conrelid = t.oid
                 AND (contype = 'x' OR (contype IN ('p', 'u') AND condeferrable))) AS "exclusion or deferrable keys"
        FROM pg_class t WHERE t.oid = to_regclass(%s)""", (_regclass_text(table),))
    values = row.fetchone()
    names = [d.name for d in row.description]
    return [name for name, n in zip(names, values) if n]


def _target_indexes(conn: psycopg.Connection, table: str, stage: str, tag: str) -> list[tuple[str, str, str, str]] | None:
    """The indexes of ``table`` as (name, staging name, CREATE INDEX on ``stage``, "p"/"u"/""), or
    None when a definition is not in the form expected (then the rows are replaced in place)."""
    rows = conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisunique, quote_ident(c.relname), "
        "format('%%I.%%I', n.nspname, t.relname), coalesce(k.contype::text, '') "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u') "
        "WHERE i.indrelid = to_regclass(%s) ORDER BY pg_relation_size(i.indexrelid) DESC, c.relname",
        (_regclass_text(table),)).fetchall()
    *schema, stage_name = stage.split(".")
    stage_ref = conn.execute("SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
                             "ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
                             (_regclass_text(stage),)).fetchone()[0]
    out = []
    for i, (name, definition, unique, quoted, table_sql, contype) in enumerate(rows):
        head = f"CREATE {'UNIQUE ' if unique else ''}INDEX {quoted} ON {table_sql} "
        if not definition.startswith(head):
            return None
        staged = _stage_name(f"{name[:36]}_{i}", tag)
        new_head = sql.SQL("CREATE {}INDEX {} ON {} ").format(sql.SQL("UNIQUE " if unique else ""),
                                                               sql.Identifier(staged), sql.SQL(stage_ref))
        out.append((name, staged, new_head.as_string(conn) + definition[len(head):], contype))
    return out


def _drop_abandoned_stages(conn: psycopg.Connection, tables: Iterable[str], say) -> None:
    """Drop the staging tables of ``tables`` left by a load that was killed (nobody holds its lock)."""
    for table in tables:
        *schema, name = table.split(".")
        rows = conn.execute(
            "SELECT format('%%I.%%I', n.nspname, c.relname), substr(c.relname, length(c.relname) - 7) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND c.relname ~ %s "
            "AND n.nspname = coalesce(%s, current_schema())",
            ("^" + _regex_literal(name[:40] + _STAGE_MARK) + "[0-9a-f]{8}$", schema[0] if schema else None)).fetchall()
        for ref, tag in rows:
            key = int(tag, 16)
            if conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (_STAGE_LOCK_CLASS, key)).fetchone()[0]:
                try:
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.SQL(ref)))
                    say(f"  dropped {ref}, the staging table of a load that did not finish")
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_STAGE_LOCK_CLASS, key))


def _regex_literal(text: str) -> str:
    import re
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", text)


def _parallel(url: str, workers: int, tasks: list, run, setup: tuple[str, ...] = ()) -> None:
    """Run ``run(conn, task)`` for every task on ``workers`` threads, each with its own connection
    (``setup`` statements first); each task commits on its own. The first failure stops the others
    (they finish the task in hand) and is raised once all have stopped."""
    import threading

    pending = list(reversed(tasks))
    lock = threading.Lock()
    failed: list[BaseException] = []

    def work() -> None:
        try:
            with _try_connect(url, 10, autocommit=True) as conn:
                for statement in setup:
                    conn.execute(statement)
                while True:
                    with lock:
                        if failed or not pending:
                            return
                        task = pending.pop()
                    with conn.transaction():
                        run(conn, task)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller's thread
            with lock:
                failed.append(exc)

    threads = [threading.Thread(target=work, name=f"copy-worker-{i}", daemon=True)
               for i in range(max(1, min(workers, len(tasks))))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except BaseException as exc:      # Ctrl-C: the workers stop after the task in hand
        with lock:
            failed.append(exc)
        for t in threads:
            t.join()
        raise
    if failed:
        raise failed[0]


def load_tables(url: str, frames: dict[str, pd.DataFrame], create: dict[str, str] | None = None,
                workers: int | None = None, chunk_rows: int = COPY_CHUNK_ROWS, analyze: bool = True,
                say=None) -> dict[str, float]:
    """Replace the contents of several tables atomically, as :func:`replace_tables` does, but load
    them over ``workers`` connections (default :func:`default_copy_workers`): staging tables shaped
    like the real ones (``LIKE ... INCLUDING ALL EXCLUDING INDEXES``; for ``create``, table -> primary
    key, from the frame's columns as :func:`frame_table_sql`), filled by COPY in chunks of
    ``chunk_rows`` rows from every connection, indexed (the real table's indexes and keys, built in
    parallel) and analyzed, then swapped in ONE transaction under the seeder's lock: the real table
    dropped and the staging one renamed (indexes and keys too), or, when something would be lost
    by that (:func:`in_place_reasons`: views, foreign keys, grants, ...), its rows replaced in place
    (TRUNCATE, INSERT ... SELECT). Either all tables are replaced or none; the staging tables are
    dropped on any failure. ``url``: the database (each worker connects on its own). ``say``:
    where each step's timing goes (one line each). Returns seconds per step."""
    import time
    import uuid

    say = say or (lambda text: None)
    create = create or {}
    workers = max(1, workers or default_copy_workers())
    tag = f"{uuid.uuid4().int % 2**31:08x}"
    timings: dict[str, float] = {}
    staged: list[_Staged] = []
    rows = sum(len(df) for df in frames.values())
    setup = ("SET timezone = 'UTC'", "SET synchronous_commit = off", "SET maintenance_work_mem = '256MB'")

    def step(name: str, started: float, detail: str) -> None:
        timings[name] = time.perf_counter() - started
        say(f"  {name}: {detail} in {timings[name]:.1f} s")

    with _try_connect(url, 10, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (_STAGE_LOCK_CLASS, int(tag, 16)))
        try:
            _drop_abandoned_stages(conn, frames, say)
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(_SCHEMA_LOCK)
                for table, df in frames.items():
                    stage = staging_table(table, tag)
                    if table in create:
                        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(
                            table_ref(stage), _frame_columns(df, create[table], " NOT NULL")))
                        key = _stage_name(f"{table.split('.')[-1][:36]}_0", tag)
                        index = sql.SQL("CREATE UNIQUE INDEX {} ON {} ({})").format(
                            sql.Identifier(key), table_ref(stage), sql.Identifier(create[table])).as_string(conn)
                        # the name CREATE TABLE gives an inline primary key: TABLE_pkey
                        final_key = table.split(".")[-1][:58] + "_pkey"
                        staged.append(_Staged(table, stage, "create", [(final_key, key, index, "p")]))
                        continue
                    if not table_exists(conn, table):
                        raise missing_table_error(conn, table, "the seeder's table")
                    conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES)").format(
                        table_ref(stage), table_ref(table)))
                    reasons = in_place_reasons(conn, table)
                    indexes = _target_indexes(conn, table, stage, tag)
                    if indexes is None:
                        reasons.append("an index definition in an unexpected form")
                    if reasons:
                        staged.append(_Staged(table, stage, "in place", [], ", ".join(reasons)))
                    else:
                        staged.append(_Staged(table, stage, "swap", indexes))
            step("staging tables", started, ", ".join(s.stage for s in staged))

            started = time.perf_counter()
            stage_of = {s.table: s.stage for s in staged}
            chunks = [(stage_of[t], df, start) for t, df in frames.items() for start in range(0, len(df), chunk_rows)]
            chunks.sort(key=lambda c: c[2])      # the tables' chunks interleaved: all connections busy to the end
            _parallel(url, workers, chunks,
                      lambda c, task: copy_chunk(c, task[0], task[1].iloc[task[2]:task[2] + chunk_rows]), setup)
            step("copy", started, f"{rows:,} rows in {len(chunks)} chunks over {min(workers, len(chunks))} "
                                  f"connections ({rows / max(time.perf_counter() - started, 1e-9):,.0f} rows/s)")

            started = time.perf_counter()
            builds = [index for s in staged for (_, _, index, _) in s.indexes]
            _parallel(url, workers, builds, lambda c, statement: c.execute(statement), setup)
            with conn.transaction():
                for s in staged:
                    for final, staged_name, _, contype in s.indexes:
                        if contype:
                            conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}").format(
                                table_ref(s.stage), sql.Identifier(staged_name),
                                sql.SQL("PRIMARY KEY" if contype == "p" else "UNIQUE"), sql.Identifier(staged_name)))
            step("indexes", started, f"{len(builds)} built over {min(workers, max(len(builds), 1))} connections")

            if analyze:
                started = time.perf_counter()
                _parallel(url, workers, [s.stage for s in staged if s.mode != "in place"],
                          lambda c, stage: c.execute(sql.SQL("ANALYZE {}").format(table_ref(stage))), setup)
                step("analyze", started, "staging tables")

            started = time.perf_counter()
            with conn.transaction():
                conn.execute(_SCHEMA_LOCK)
                conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
                existing = [s.table for s in staged if table_exists(conn, s.table)]
                if existing:     # in the frames' order, as replace_tables' TRUNCATE takes them
                    conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                        sql.SQL(", ").join(table_ref(t) for t in existing)))
                for s in staged:
                    if s.mode == "swap":
                        reasons = in_place_reasons(conn, s.table)   # under the lock: nothing changes now
                        if reasons:
                            s.mode, s.why = "in place", ", ".join(reasons)
                    _replace(conn, s, analyze)
            modes = "; ".join(f"{s.table}: " + ("dropped, staging table renamed" if s.mode != "in place" else
                                                 f"rows replaced in place ({s.why})") for s in staged)
            step("swap (one transaction)", started, modes)
        finally:
            try:
                for s in staged:
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table_ref(s.stage)))
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_STAGE_LOCK_CLASS, int(tag, 16)))
            except psycopg.Error:
                pass      # the connection is gone (the first error is the one to report): the next load drops them
    return timings


def swap_staging(conn: psycopg.Connection, table: str, stage: str, in_place: bool, analyze: bool = False) -> None:
    """Inside the caller's transaction: the staging table ``stage`` takes ``table``'s place (the
    table dropped, when there is one, and ``stage`` renamed), or, ``in_place``, its rows replace
    ``table``'s (see :func:`in_place_reasons`). For loaders whose staging tables have the final
    index names already (the seeder's own load renames its indexes: :func:`load_tables`)."""
    _replace(conn, _Staged(table, stage, "in place" if in_place else "create", []), analyze)


def _replace(conn: psycopg.Connection, s: _Staged, analyze: bool) -> None:
    """Inside the swap transaction: the staging table takes the real one's place."""
    ref, stage = table_ref(s.table), table_ref(s.stage)
    name = sql.Identifier(s.table.split(".")[-1])
    if s.mode == "in place":
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in table_columns(conn, s.stage))
        indexes = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT i.indisunique",
            (_regclass_text(s.table),)).fetchall()
        for index, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index)))
        conn.execute(sql.SQL("TRUNCATE {}").format(ref))
        conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(ref, columns, columns, stage))
        for _, definition in indexes:
            conn.execute(definition)
        if analyze:
            conn.execute(sql.SQL("ANALYZE {}").format(ref))
        return
    comments = []
    if s.mode == "swap":      # the comments LIKE does not copy: the table's, its indexes' and keys'
        comments = conn.execute(
            "SELECT 'TABLE', NULL, obj_description(%(t)s::regclass, 'pg_class') UNION ALL "
            "SELECT 'INDEX', c.relname, obj_description(c.oid, 'pg_class') FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid WHERE i.indrelid = %(t)s::regclass UNION ALL "
            "SELECT 'CONSTRAINT', conname, obj_description(oid, 'pg_constraint') FROM pg_constraint "
            "WHERE conrelid = %(t)s::regclass AND contype IN ('p', 'u')", {"t": _regclass_text(s.table)}).fetchall()
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ref))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage, name))
    schema = s.table.split(".")[:-1]
    for final, staged_name, _, contype in s.indexes:
        if contype:
            conn.execute(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                ref, sql.Identifier(staged_name), sql.Identifier(final)))
        else:
            conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(*schema, staged_name), sql.Identifier(final)))
    for kind, obj, text in comments:
        if text is None:
            continue
        if kind == "TABLE":
            conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(ref, sql.Literal(text)))
        elif kind == "INDEX":
            conn.execute(sql.SQL("COMMENT ON INDEX {} IS {}").format(sql.Identifier(*schema, obj), sql.Literal(text)))
        else:
            conn.execute(sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(sql.Identifier(obj), ref,
                                                                                sql.Literal(text)))


# --------------------------------------------------------------------------- command line
def check_main(argv: list[str] | None = None) -> int:
    """``golden-record db-check`` (``scripts/db_check.py``): make sure a database answers, apply the
    schema, say which it is."""
    from golden_record import console

    console.ArgumentParser("db-check", description=(
        "Make sure a PostgreSQL database answers (DATABASE_URL, else config/settings.yaml, else the embedded "
        "server), create it when missing, apply the warehouse schema and say which database it is.")
    ).parse_args(argv)

    settings = load_settings()
    target = resolve_target(settings, announce=True, create=True)
    with connect(target, settings.database.connect_timeout_seconds) as conn:
        apply_schema(conn)
        rows = count_rows(conn, "citizens")
    print(f"ok: schema applied; citizens holds {rows:,} rows" + ("" if rows else f" ({SEED_HINT})"))
    return 0
