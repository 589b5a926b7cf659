"""Writing golden records: both output tables created from the schema's layout (replaced in the
same transaction when shaped otherwise) and their rows replaced atomically with COPY; a write
error names the column and the row."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from psycopg import sql

from golden_record.errors import WarehouseError
from golden_record.golden.layout import Layout
from golden_record.io import warehouse

def _ensure_tables(conn, layout: Layout, id_type: str) -> None:
    """Create the golden tables from the schema, inside the caller's transaction; tables whose
    columns differ from the schema's (an earlier version, another config) are dropped and
    recreated in the same transaction, so a failure still leaves the old ones."""
    same = all(warehouse.table_columns(conn, t) == expected
               for t, expected in layout.column_types(id_type).items())
    if same:
        return
    for t in (layout.table, layout.map_table):
        if warehouse.table_exists(conn, t):
            conn.execute(f"DROP TABLE {warehouse._regclass_text(t)}")
    conn.execute(layout.ddl(id_type))


def _for_copy(golden: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """Dates as ISO days; timestamps are written by copy_in."""
    out = golden
    for f in layout.fields:
        if layout.specs[f].type == "date" and pd.api.types.is_datetime64_any_dtype(golden[f]):
            days = golden[f].to_numpy(dtype="datetime64[D]")
            out = out.assign(**{f: np.where(np.isnat(days), None, days.astype(str).astype(object))})
    return out


_COPY_CONTEXT = re.compile(r"COPY (?P<table>[^\s,]+), line (?P<line>\d+)(?:, column (?P<column>[^\s:]+))?")


def _where_write_failed(exc, frames: dict[str, pd.DataFrame]) -> str:
    """"column golden_records.gender (golden_id 101)" from psycopg's diagnostics (the COPY
    context names the table, line and column), or ""."""
    diag = getattr(exc, "diag", None)
    table = getattr(diag, "table_name", None)
    column = getattr(diag, "column_name", None)
    line = None
    match = _COPY_CONTEXT.search(getattr(diag, "context", None) or "")
    if match:
        table, line = table or match["table"], int(match["line"])
        column = column or match["column"]
    if not column and line is None:
        return ""
    where = (f"column {table}.{column}" if table else f"column {column}") if column else f"table {table}"
    frame = frames.get(table)
    if line is not None and frame is not None and 0 < line <= len(frame) and len(frame.columns):
        key = frame.columns[0]
        where += f" ({key} {frame[key].iloc[line - 1]})"
    return where


def _write_error(exc, frames: dict[str, pd.DataFrame], what: str, hint: str) -> WarehouseError:
    """"<what> failed at column <table>.<column> (<key> <value>) (<PostgreSQL's first line>)"."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = _where_write_failed(exc, frames)
    return WarehouseError(f"{what} failed" + (f" at {where}" if where else "") + f" ({first})", hint)


def _id_type(values) -> str:
    return "bigint" if np.issubdtype(np.asarray(values).dtype, np.integer) else "text"


def read_previous_ids(conn, layout: Layout, record_ids: np.ndarray) -> tuple[pd.DataFrame | None, set]:
    """The last build's map (``record_id``, ``golden_id``) when its table has this layout's shape
    (else None: a first build, or tables of another schema that the write will replace), and the
    golden ids retired so far (never given out again)."""
    id_type = _id_type(record_ids)
    columns = warehouse.table_columns(conn, layout.map_table)
    # an older map (without mapped_at) still names the ids: only the id columns' types must agree
    if not columns or columns.get(layout.id_column) != id_type or columns.get("golden_id") != id_type:
        return None, set()
    query = sql.SQL("SELECT {}::text AS record_id, golden_id::text AS golden_id FROM {}").format(
        sql.Identifier(layout.id_column), warehouse.table_ref(layout.map_table))
    previous = warehouse.copy_out(conn, query)
    retired: set = set()
    if warehouse.table_columns(conn, layout.redirect_table).get("old_golden_id") == id_type:
        rows = conn.execute(sql.SQL("SELECT old_golden_id FROM {}").format(
            warehouse.table_ref(layout.redirect_table))).fetchall()
        retired = {r[0] for r in rows}
    if id_type == "bigint":
        previous = previous.astype(np.int64)
    return previous, retired


def _write_redirects(conn, layout: Layout, redirects: pd.DataFrame, id_type: str, run_id: str | None) -> None:
    """Append this build's retired ids, and point earlier redirects at a retired id to its
    successor (so one look-up resolves any old id), inside the caller's transaction."""
    table = warehouse.table_ref(layout.redirect_table)
    columns = warehouse.table_columns(conn, layout.redirect_table)
    if columns and columns.get("old_golden_id") != id_type:     # ids of another schema: history restarts
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
    conn.execute(layout.redirect_ddl(id_type))
    if redirects.empty:
        return
    cast = int if id_type == "bigint" else str
    rows = [(cast(o), None if n is None else cast(n), r, run_id)
            for o, n, r in redirects[["old_golden_id", "new_golden_id", "reason"]].itertuples(index=False)]
    with conn.cursor() as cur:
        cur.executemany(sql.SQL("UPDATE {} SET new_golden_id = %s WHERE new_golden_id = %s").format(table),
                        [(n, o) for o, n, _, _ in rows])
        cur.executemany(sql.SQL(
            "INSERT INTO {} (old_golden_id, new_golden_id, reason, run_id) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (old_golden_id) DO UPDATE SET new_golden_id = EXCLUDED.new_golden_id, "
            "reason = EXCLUDED.reason, run_id = EXCLUDED.run_id, at = now()").format(table), rows)


def _frames(golden: pd.DataFrame, mapping: pd.DataFrame, layout: Layout) -> dict[str, pd.DataFrame]:
    """The rows to COPY, by table (a map without ``mapped_at`` is mapped now)."""
    if "mapped_at" not in mapping.columns:
        mapping = mapping.assign(mapped_at=pd.Timestamp.now(tz="UTC"))
    return {layout.table: _for_copy(golden[list(layout.golden_columns)], layout),
            layout.map_table: mapping[list(layout.map_columns)]}


def lock(conn, layout: Layout) -> None:
    """The golden tables' lock, held to the end of the caller's transaction: a full write and an
    incremental match (golden.incremental) never interleave."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("golden_record.golden:" + layout.map_table,))


def replace_part(conn, layout: Layout, golden: pd.DataFrame, mapping: pd.DataFrame, old_golden_ids,
                 record_ids, redirects: pd.DataFrame, id_type: str, run_id: str | None) -> None:
    """Inside the caller's transaction: delete the golden rows ``old_golden_ids`` and the map rows
    of ``record_ids``, then insert ``golden`` and ``mapping`` (COPY) and this run's redirects. A
    write error names the column and row, as :func:`write_golden` does; the caller's transaction
    then changes nothing."""
    import psycopg

    frames = _frames(golden, mapping, layout)
    cast = [int(v) for v in old_golden_ids] if id_type == "bigint" else [str(v) for v in old_golden_ids]
    ids = [int(v) for v in record_ids] if id_type == "bigint" else [str(v) for v in record_ids]
    try:
        with conn.transaction():
            conn.execute(sql.SQL("DELETE FROM {} WHERE golden_id = ANY(%s::{}[])").format(
                warehouse.table_ref(layout.table), sql.SQL(id_type)), (cast,))
            conn.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s::{}[])").format(
                warehouse.table_ref(layout.map_table), sql.Identifier(layout.id_column), sql.SQL(id_type)), (ids,))
            for table, frame in frames.items():
                warehouse.copy_in(conn, table, frame)
            _write_redirects(conn, layout, redirects, id_type, run_id)
    except psycopg.Error as exc:
        raise _write_error(exc, frames, f"updating {layout.table} and {layout.map_table}",
                           "nothing was changed: the golden records are as they were before this run") from exc


def write_golden(conn, golden: pd.DataFrame, mapping: pd.DataFrame, layout: Layout,
                 redirects: pd.DataFrame | None = None, run_id: str | None = None) -> None:
    """Replace the golden table and the map table in one transaction (created from the schema when
    missing or shaped otherwise), so readers see all the old rows or all the new ones; the golden
    ids this build retired go to the redirect table in the same transaction.

    Any transaction open on ``conn`` is committed first (the reads before); on failure the
    previous rows of both tables are untouched and a :class:`WarehouseError` names the column
    (and the row's golden_id or record id) that was refused.
    """
    import psycopg

    frames = _frames(golden, mapping, layout)
    id_type = _id_type(golden["golden_id"])
    try:
        # one real transaction (not a savepoint inside the caller's): DDL, TRUNCATE and COPY together
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.commit()
        with conn.transaction():
            lock(conn, layout)
            _ensure_tables(conn, layout, id_type)
            warehouse.replace_tables(conn, frames)
            _write_redirects(conn, layout, redirects if redirects is not None else pd.DataFrame(
                columns=["old_golden_id", "new_golden_id", "reason"]), id_type, run_id)
    except psycopg.Error as exc:
        raise _write_error(exc, frames, f"writing {layout.table} and {layout.map_table}",
                           "nothing was changed: the previous golden records are intact") from exc
