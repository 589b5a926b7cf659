"""The PostgreSQL warehouse: connection, schema, bulk reads and atomic bulk writes.

Connection comes from ``DATABASE_URL``, else ``config/settings.yaml``. When neither answers and
``DATABASE_URL`` is unset, an embedded PostgreSQL (the ``pgserver`` package, data in ``.pgdata/``)
serves instead. The target database is created when it is missing. Every failure to connect
becomes a :class:`WarehouseError` naming host, port and database (never a password) and a fix.
"""
from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

from . import redaction
from .config import REPO_ROOT, DataSource, Settings
from .errors import DataError, WarehouseError

SQL_DIR = REPO_ROOT / "sql"
SEED_HINT = "run make seed-data (or python scripts/seed_data.py)"


# --------------------------------------------------------------------------- URLs
# DATABASE_URL may be any form libpq accepts (URL, query parameters, SQLAlchemy driver prefix,
# key=value DSN): parsed by libpq's own parser, shown and scrubbed by golden_record.redaction.
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
    if "password authentication failed" in text or ("role" in text and "does not exist" in text):
        return WarehouseError(
            f"PostgreSQL at {where} refused the login ({first.split('FATAL:')[-1].strip()})",
            "check the user and password in DATABASE_URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    if "does not exist" in text and "database" in text:
        return WarehouseError(f"database missing at {where} and it could not be created",
                              "create it (createdb) or point DATABASE_URL at an existing database")
    if isinstance(exc, psycopg.ProgrammingError) or "invalid" in text or "missing \"=\"" in text:
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


def ensure_database(url: str, timeout: int = 5) -> None:
    """Create the target database when the server answers but the database is missing."""
    try:
        psycopg.connect(url, connect_timeout=timeout).close()
        return
    except psycopg.OperationalError as exc:
        if not ("does not exist" in str(exc) and "database" in str(exc)):
            raise _explain(exc, url) from exc
    except (psycopg.Error, ValueError) as exc:
        raise _explain(exc, url) from exc
    database = _database_name(url)
    with _try_connect(_with_database(url, "postgres"), timeout, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        except psycopg.errors.DuplicateDatabase:
            pass
        except psycopg.Error as exc:
            raise _explain(exc, url) from exc


def _embedded_url(settings: Settings, database: str) -> str:
    try:
        import pgserver  # noqa: PLC0415 - optional, heavy
    except ImportError as exc:
        raise WarehouseError("no PostgreSQL server answers and the embedded one (pgserver) is not installed",
                             "run make install, or start PostgreSQL, or set DATABASE_URL") from exc
    folder = Path(settings.database.embedded_dir)
    if not folder.is_absolute():
        folder = REPO_ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(folder, cleanup_mode=None)  # keeps running for the next tool
    return _libpq_url(server.get_uri(database))


def resolve_target(settings: Settings, announce: bool = True) -> DatabaseTarget:
    """Pick the database (DATABASE_URL > settings > embedded), create it if missing, say which."""
    timeout = settings.database.connect_timeout_seconds
    env_url = os.environ.get("DATABASE_URL", "").strip()
    if env_url:
        target = DatabaseTarget(_libpq_url(env_url), "DATABASE_URL")
        ensure_database(target.url, timeout)
    else:
        target = DatabaseTarget(_libpq_url(settings.database.url), "config/settings.yaml")
        try:
            ensure_database(target.url, timeout)
        except WarehouseError as exc:
            refused = "cannot connect" in exc.message or "unknown host" in exc.message
            if not (settings.database.embedded_fallback and refused):
                raise
            database = target.database or "smart_warehouse"
            target = DatabaseTarget(_embedded_url(settings, database),
                                    f"embedded PostgreSQL in {settings.database.embedded_dir}/, "
                                    f"because nothing answers at {describe(settings.database.url)}")
            ensure_database(target.url, timeout)
    if announce:
        print(target.banner(), file=sys.stderr, flush=True)
    return target


def sibling_database(name: str, settings: Settings | None = None) -> str:
    """URL of database ``name`` on the configured server (ignoring DATABASE_URL), created if
    missing: tests and benchmarks use such siblings so they never touch smart_warehouse."""
    from .config import load_settings

    saved = os.environ.pop("DATABASE_URL", None)
    try:
        target = resolve_target(settings or load_settings(), announce=False)
    finally:
        if saved is not None:
            os.environ["DATABASE_URL"] = saved
    url = _with_database(target.url, name)
    ensure_database(url)
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


def apply_schema(conn: psycopg.Connection) -> None:
    """Apply every ``sql/*.sql`` file in order (each is idempotent), in one transaction."""
    with conn.transaction():
        for path in schema_files():
            conn.execute(path.read_text(encoding="utf-8"))


def table_exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def table_columns(conn: psycopg.Connection, table: str) -> dict[str, str]:
    """column -> data type of ``table`` (in the search path)."""
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (table,)).fetchall()
    return dict(rows)


def count_rows(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]


# --------------------------------------------------------------------------- reading
_DATE_FIELDS = {"date_of_birth"}
_TIME_FIELDS = {"created_at", "updated_at"}
_ALLOWED_TYPES = {
    "date_of_birth": ("date", "timestamp", "text", "character"),
    "created_at": ("timestamp", "date"),
    "updated_at": ("timestamp", "date"),
}
_TEXTLIKE = ("text", "character", "bigint", "integer", "numeric", "smallint")


def check_source(conn: psycopg.Connection, source: DataSource, fields: Iterable[str]) -> dict[str, str]:
    """Check that the table exists and has every mapped column of a usable type."""
    if not table_exists(conn, source.table):
        raise WarehouseError(f'relation "{source.table}" does not exist in the warehouse', SEED_HINT)
    columns = table_columns(conn, source.table)
    if source.id_column not in columns:
        raise WarehouseError(f"table {source.table} has no column {source.id_column!r} (data.id_column)",
                             f"set data.id_column to one of {sorted(columns)}")
    for field in fields:
        column = source.columns[field]
        if column not in columns:
            raise WarehouseError(
                f"table {source.table} has no column {column!r} (data.columns.{field})",
                f"map {field} to one of the table's columns: {sorted(columns)}")
        allowed = _ALLOWED_TYPES.get(field, _TEXTLIKE)
        if not columns[column].startswith(allowed):
            raise WarehouseError(
                f"column {source.table}.{column} (data.columns.{field}) has type {columns[column]}, "
                f"expected one of {list(allowed)}", "map the field to a column of the right type")
    return columns


def copy_out(conn: psycopg.Connection, query: sql.Composable) -> pd.DataFrame:
    """Run ``COPY (query) TO STDOUT`` as CSV and read it into a DataFrame of strings."""
    buf = io.BytesIO()
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(query)) as copy:
            for block in copy:
                buf.write(block)
    buf.seek(0)
    return pd.read_csv(buf, dtype=str, keep_default_na=False, na_values=[""])


def load_records(conn: psycopg.Connection, source: DataSource, fields: list[str]) -> pd.DataFrame:
    """Only the needed columns, renamed to logical fields, with ``record_id`` (int64) first."""
    check_source(conn, source, fields)
    selects = [sql.SQL("{}::bigint AS record_id").format(sql.Identifier(source.id_column))]
    for field in fields:
        col = sql.Identifier(source.columns[field])
        cast = sql.SQL("{}::date::text") if field in _DATE_FIELDS else sql.SQL("{}::text")
        selects.append(sql.SQL("{} AS {}").format(cast.format(col), sql.Identifier(field)))
    query = sql.SQL("SELECT {} FROM {} ORDER BY 1").format(sql.SQL(", ").join(selects),
                                                           sql.Identifier(source.table))
    df = copy_out(conn, query)
    if df.empty:
        raise DataError(f"table {source.table} is empty", SEED_HINT)
    df["record_id"] = df["record_id"].astype("int64")
    for field in fields:
        if field in _DATE_FIELDS:
            df[field] = pd.to_datetime(df[field], format="%Y-%m-%d", errors="coerce")
        elif field in _TIME_FIELDS:
            df[field] = pd.to_datetime(df[field], errors="coerce", utc=True)
        if df[field].isna().all():
            raise DataError(f"field {field} (column {source.table}.{source.columns[field]}) is entirely null",
                            "fill the column, map the field to another column, or drop it from the config")
    return df


def load_truth(conn: psycopg.Connection, source: DataSource) -> pd.Series | None:
    """record_id -> entity_id, or None when the warehouse has no ground truth."""
    truth = source.truth
    if not table_exists(conn, truth.table):
        return None
    cols = table_columns(conn, truth.table)
    if truth.id_column not in cols or truth.entity_column not in cols:
        return None
    # two integer arrays in one row: ~8x faster than COPY for a million rows (psycopg's COPY
    # reader yields one row per Python iteration; integer arrays are parsed in C)
    ids, entities = conn.execute(sql.SQL("SELECT array_agg({}::bigint), array_agg({}::bigint) FROM {}").format(
        sql.Identifier(truth.id_column), sql.Identifier(truth.entity_column), sql.Identifier(truth.table))).fetchone()
    if not ids:
        return None
    return pd.Series(np.asarray(entities, dtype=np.int64), index=pd.Index(np.asarray(ids, dtype=np.int64),
                                                                           name="record_id"), name="entity_id")


# --------------------------------------------------------------------------- writing
def copy_in(conn: psycopg.Connection, table: str, df: pd.DataFrame, chunk_rows: int = 200_000) -> None:
    """Bulk-load ``df`` (columns named as the table's) with COPY, inside the caller's transaction."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in df.columns))
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for start in range(0, len(df), chunk_rows):
            part = _iso_datetimes(df.iloc[start:start + chunk_rows])
            copy.write(part.to_csv(index=False, header=False, na_rep=""))


def _iso_datetimes(df: pd.DataFrame) -> pd.DataFrame:
    """datetime columns as ISO strings, converted by NumPy in bulk (to_csv's strftime is slow)."""
    out = df
    for col in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            values = df[col]
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            iso = values.to_numpy(dtype="datetime64[s]").astype(str)
            iso = np.where(values.isna().to_numpy(), "", iso)
            out = out.assign(**{col: iso}) if out is df else out.assign(**{col: iso})
    return out


def replace_tables(conn: psycopg.Connection, frames: dict[str, pd.DataFrame]) -> None:
    """Replace the contents of several tables atomically: all new rows, or the old ones untouched."""
    with conn.transaction():
        conn.execute("SET LOCAL timezone = 'UTC'")
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier(t) for t in frames)))
        # secondary indexes are dropped and rebuilt once after the load (much faster than
        # maintaining them row by row); DDL is transactional, so a failure restores them too
        indexes = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary AND NOT i.indisunique",
            (list(frames),)).fetchall()
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(*name.split("."))))
        for table, df in frames.items():
            copy_in(conn, table, df)
        for _, definition in indexes:
            conn.execute(definition)


# --------------------------------------------------------------------------- command line
def check_main(argv: list[str] | None = None) -> int:
    """``scripts/db_check.py``: make sure a database answers, apply the schema, say which it is."""
    from .config import load_settings

    settings = load_settings()
    target = resolve_target(settings, announce=True)
    with connect(target, settings.database.connect_timeout_seconds) as conn:
        apply_schema(conn)
        rows = count_rows(conn, "citizens")
    print(f"ok: schema applied; citizens holds {rows:,} rows" + ("" if rows else f" ({SEED_HINT})"))
    return 0
