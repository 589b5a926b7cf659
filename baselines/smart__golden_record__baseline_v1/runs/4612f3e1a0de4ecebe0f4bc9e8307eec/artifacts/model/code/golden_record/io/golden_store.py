"""Writing golden records: both output tables created from the schema's layout (replaced in the
same transaction when shaped otherwise) and their rows replaced atomically with COPY; a write
error names the column and the row."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

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


def write_golden(conn, golden: pd.DataFrame, mapping: pd.DataFrame, layout: Layout) -> None:
    """Replace the golden table and the map table in one transaction (created from the schema when
    missing or shaped otherwise), so readers see all the old rows or all the new ones.

    Any transaction open on ``conn`` is committed first (the reads before); on failure the
    previous rows of both tables are untouched and a :class:`WarehouseError` names the column
    (and the row's golden_id or record id) that was refused.
    """
    import psycopg

    frames = {layout.table: _for_copy(golden[list(layout.golden_columns)], layout),
              layout.map_table: mapping[list(layout.map_columns)]}
    id_type = "bigint" if np.issubdtype(np.asarray(golden["golden_id"]).dtype, np.integer) else "text"
    try:
        # one real transaction (not a savepoint inside the caller's): DDL, TRUNCATE and COPY together
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.commit()
        with conn.transaction():
            _ensure_tables(conn, layout, id_type)
            warehouse.replace_tables(conn, frames)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = _where_write_failed(exc, frames)
        raise WarehouseError(f"writing {layout.table} and {layout.map_table} failed"
                             + (f" at {where}" if where else "") + f" ({first})",
                             "nothing was changed: the previous golden records are intact") from exc
