"""The block index: every record's blocking keys in PostgreSQL, so that the records sharing a
block with an incoming record are found by an indexed query, not by reloading the table.

Table ``<golden.table>_block_keys`` (e.g. ``golden_records_block_keys``), one row per (record,
pass) whose key is present: ``key`` (text, ``"<pass>=<key value>"``, see
:func:`golden_record.linkage.blocking.block_key_strings`) and ``record_id`` (the type of the
records table's id column); a record with no key in any pass has one row with a NULL key, so the
index knows it (it can never be a candidate). B-tree indexes on ``key`` and on ``record_id``.

Two records share a key string exactly when training's blocking puts them in one block of that
pass. What the index cannot hold: the sorted-neighbourhood fuzzy pass (it pairs records by their
rank in the sorted table, which no key of one record expresses): a config using it is warned about
(:func:`unindexed_warning`). The ``max_block_size`` guard is applied at query time, as training
applies it: a block of more records than ``candidates.max_block_size`` (counting the incoming one)
is skipped and reported.

What the index was built from (passes, data table, counts, time) is kept as JSON in the table's
comment (:func:`read_info`): a service refuses an index built for other passes than its model's.

* :func:`build_index` replaces the whole index in one transaction (COPY, then the indexes);
* :func:`candidate_ids` / :func:`fetch_blocks` + :func:`select_candidates`: the records sharing
  a block with given keys;
* :func:`add_records`: keys of new or changed records, inside the caller's transaction.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Iterable

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from golden_record.config import ConfigError, ModelConfig
from golden_record.errors import WarehouseError
from golden_record.io import warehouse
from golden_record.linkage.blocking import (block_key_strings, indexable_passes, is_whole_table_key,
                                            unindexable_pass)
from golden_record.linkage.keys import parse_key
from golden_record.linkage.schema import clean_records

SUFFIX = "_block_keys"
INDEX_HINT = "build it: golden-record index (make index)"
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('golden_record.block_index'))"


class IndexMissing(WarehouseError):
    """No block index, or one built for other blocking passes than the model's."""


def index_table(config: ModelConfig) -> str:
    """``<golden.table>_block_keys`` (same schema as the golden table)."""
    name = config.golden.table + SUFFIX
    if len(name.split(".")[-1]) > 63:
        raise ConfigError(f"golden.table {config.golden.table!r} is too long for its block index table {name!r} "
                          "(PostgreSQL names hold 63 characters): choose a shorter golden.table")
    return name


def passes(config: ModelConfig) -> list[str]:
    """The passes the index holds (every blocking_fields entry, the phonetic fuzzy pass)."""
    return indexable_passes(config.model.params.blocking_fields, config.candidates)


def unindexed_warning(config: ModelConfig) -> str | None:
    """The warning for a config whose blocking the index cannot fully hold, else None."""
    name = unindexable_pass(config.candidates)
    if name is None:
        return None
    return (f"warning: the fuzzy pass {name} (candidates.fuzzy.method: sorted_neighbourhood) cannot be indexed: "
            "it pairs records by their rank in the whole sorted table, which no key of one record expresses; "
            f"lookups use the {len(passes(config))} other passes only, so a pair only that pass finds is not found")


def key_fields(config: ModelConfig) -> list[str]:
    """The declared fields the indexed passes read (declaration order)."""
    needed = set()
    for entry in config.model.params.blocking_fields or []:
        for part in parse_key(entry):
            needed.update(part.fields)
    if config.candidates.fuzzy.method == "phonetic":
        needed.update(config.candidates.fuzzy.fields)
    return [f for f in config.data.fields if f in needed]


def record_keys(records: pd.DataFrame, config: ModelConfig, keyless_rows: bool = True) -> pd.DataFrame:
    """``record_id`` and ``key`` of raw records (``record_id`` + fields, as the warehouse holds
    them: text, dates as dates or text; an absent field is missing), cleaned as training cleans
    them. ``keyless_rows``: a record without any key gets one row with a None key."""
    fields = key_fields(config)
    frame = pd.DataFrame({"record_id": records["record_id"].to_numpy()})
    for f in fields:
        frame[f] = records[f].to_numpy() if f in records.columns else np.full(len(records), None, dtype=object)
    prepared, _ = clean_records(frame, {f: config.data.fields[f] for f in fields})
    types = {f: config.data.fields[f].type for f in fields}
    keys = block_key_strings(prepared, config.model.params.blocking_fields, config.candidates, types)
    ids = frame["record_id"].to_numpy()
    out = pd.DataFrame({"record_id": ids[keys["position"].to_numpy()], "key": keys["key"].to_numpy()})
    if keyless_rows:
        none = np.setdiff1d(np.arange(len(frame)), keys["position"].to_numpy())
        if len(none):
            out = pd.concat([out, pd.DataFrame({"record_id": ids[none], "key": np.full(len(none), None, dtype=object)})],
                            ignore_index=True)
    return out


# --------------------------------------------------------------------------- metadata
@dataclass
class IndexInfo:
    """What the index holds (kept in the table's comment)."""
    table: str                 # the index table
    data_table: str            # the records table it indexes
    passes: list[str]
    records: int               # records indexed
    keyless: int               # of which with no key in any pass
    rows: int                  # (record, key) rows, keyless rows included
    built_at: str
    updated_at: str
    seconds: float = 0.0       # build time (build_index only)
    notes: list[str] = field(default_factory=list)

    def comment(self) -> str:
        data = asdict(self)
        for k in ("table", "seconds", "notes"):
            data.pop(k)
        return json.dumps(data)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_info(conn: psycopg.Connection, config: ModelConfig) -> IndexInfo | None:
    """The index's metadata, or None when there is no index table."""
    table = index_table(config)
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL, obj_description(to_regclass(%s), 'pg_class')",
                       (warehouse._regclass_text(table),) * 2).fetchone()
    if not row[0]:
        return None
    try:
        data = json.loads(row[1] or "")
    except ValueError:
        data = {}
    if not isinstance(data, dict) or "passes" not in data:
        raise IndexMissing(f"table {table} exists but is not a block index this version wrote (no metadata)",
                           "rebuild it: golden-record index")
    return IndexInfo(table=table, **{k: data[k] for k in ("data_table", "passes", "records", "keyless", "rows",
                                                            "built_at", "updated_at")})


def check_index(conn: psycopg.Connection, config: ModelConfig) -> IndexInfo:
    """The index's metadata; no index, or one for another table or other passes than
    ``config``'s, is an :class:`IndexMissing` saying to run ``golden-record index``."""
    info = read_info(conn, config)
    table = index_table(config)
    if info is None:
        raise IndexMissing(f"no block index: table {table} does not exist in database {conn.info.dbname!r}",
                           INDEX_HINT)
    if info.data_table != config.data.table or info.passes != passes(config):
        raise IndexMissing(f"the block index {table} was built for table {info.data_table} with the passes "
                           f"{info.passes}, the model blocks {config.data.table} with {passes(config)}",
                           "rebuild it for this model: golden-record index --run-id RUN_ID")
    return info


# --------------------------------------------------------------------------- building
def _id_type(conn: psycopg.Connection, config: ModelConfig) -> str:
    if not warehouse.table_exists(conn, config.data.table):
        raise warehouse.missing_table_error(conn, config.data.table, "data.table")
    columns = warehouse.table_columns(conn, config.data.table)
    if config.data.id not in columns:
        raise WarehouseError(f"table {config.data.table} has no column {config.data.id!r} (data.id)",
                             f"set data.id to one of {sorted(columns)}")
    return columns[config.data.id]


def _ensure_table(conn: psycopg.Connection, table: str, id_type: str) -> None:
    """Create the index table (inside the caller's transaction); one of another shape (another id
    type) is dropped and recreated."""
    expected = {"key": "text", "record_id": id_type}
    if warehouse.table_exists(conn, table):
        if warehouse.table_columns(conn, table) == expected:
            return
        conn.execute(sql.SQL("DROP TABLE {}").format(warehouse.table_ref(table)))
    ref = warehouse.table_ref(table)
    conn.execute(sql.SQL('CREATE TABLE {} (key text COLLATE "C", record_id {} NOT NULL)').format(
        ref, sql.SQL(id_type)))
    conn.execute(sql.SQL("CREATE INDEX ON {} (key)").format(ref))
    conn.execute(sql.SQL("CREATE INDEX ON {} (record_id)").format(ref))


def _set_comment(conn: psycopg.Connection, info: IndexInfo) -> None:
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(warehouse.table_ref(info.table),
                                                             sql.Literal(info.comment())))


def build_index(conn: psycopg.Connection, config: ModelConfig, records: pd.DataFrame | None = None,
                progress=None) -> IndexInfo:
    """Compute the keys of every record of ``config.data.table`` (loaded here when ``records``
    is None; else raw records with ``record_id`` and the key fields) and replace the index in one
    transaction (COPY, then the indexes are built and the statistics refreshed): readers see the
    old index or the new one. ``progress``: a :class:`golden_record.progress.Progress` (stages load,
    keys, write)."""
    from golden_record.progress import Progress

    progress = progress or Progress(quiet=True)
    started = time.perf_counter()
    table = index_table(config)
    notes = [w] if (w := unindexed_warning(config)) else []
    for note in notes:
        progress.say(note)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    id_type = _id_type(conn, config)
    if records is None:
        with progress.stage("load"):
            records = warehouse.load_records(conn, config.data, key_fields(config), allow_null=True)
    absent = [f for f in ["record_id", *key_fields(config)] if f not in records.columns]
    if absent:
        raise ValueError(f"build_index: the records lack the column(s) {absent} the blocking passes read")
    with progress.stage("keys"):
        keys = record_keys(records, config)
    keyless = int(keys["key"].isna().sum())
    info = IndexInfo(table=table, data_table=config.data.table, passes=passes(config), records=len(records),
                     keyless=keyless, rows=len(keys), built_at=_now(), updated_at=_now(), notes=notes)
    with progress.stage("write"):
        with conn.transaction():
            conn.execute(_LOCK)
            _ensure_table(conn, table, id_type)
            warehouse.replace_tables(conn, {table: keys[["key", "record_id"]]}, analyze=True)
            _set_comment(conn, info)
    info.seconds = round(time.perf_counter() - started, 3)
    return info


# --------------------------------------------------------------------------- reading
def fetch_blocks(conn: psycopg.Connection, config: ModelConfig, keys: Iterable[str], limit: int) -> dict[str, list]:
    """key -> the ids of up to ``limit`` records holding it (one indexed query for all keys; a
    key nobody holds is absent). The whole-table pass's key (``all()``) has no limit: its block
    is the table, compared whole."""
    keys = list(dict.fromkeys(k for k in keys if k is not None))
    if not keys:
        return {}
    limits = [None if is_whole_table_key(k) else int(limit) for k in keys]
    query = sql.SQL("SELECT k.key, b.ids FROM unnest(%s::text[], %s::bigint[]) AS k(key, lim) CROSS JOIN LATERAL "
                    "(SELECT array_agg(s.record_id) AS ids FROM (SELECT i.record_id FROM {} i "
                    "WHERE i.key = k.key LIMIT k.lim) s) b WHERE b.ids IS NOT NULL").format(
        warehouse.table_ref(index_table(config)))
    return dict(conn.execute(query, (keys, limits)).fetchall())


@dataclass
class CandidateIds:
    """The records sharing a usable block with one incoming record."""
    ids: list                                   # first seen first, no repeats
    blocks: int = 0                             # blocks used (holding at least one other record)
    skipped: list[tuple[str, int]] = field(default_factory=list)   # (key, block size at least) too large

    def skipped_note(self, max_block_size: int) -> str | None:
        if not self.skipped:
            return None
        return (f"{len(self.skipped)} block(s) skipped, larger than candidates.max_block_size={max_block_size:,} "
                f"(as training skips them): " + ", ".join(f"{k} ({n:,}+ records)" for k, n in self.skipped))


def select_candidates(blocks: dict[str, list], keys: Iterable[str], max_block_size: int,
                      exclude=None) -> CandidateIds:
    """The candidates of one record from :func:`fetch_blocks` (fetched with ``limit`` =
    ``max_block_size + 1``): a block is used when, with the record itself, it holds at most
    ``max_block_size`` records; ``exclude`` (the record's own id, when it is in the table) is never
    a candidate and does not count twice."""
    own = None if exclude is None else str(exclude)
    out = CandidateIds([])
    seen = set()
    for key in dict.fromkeys(k for k in keys if k is not None):
        ids = blocks.get(key)
        if not ids:
            continue
        others = [i for i in ids if str(i) != own]
        if len(others) + 1 > max_block_size and not is_whole_table_key(key):
            out.skipped.append((key, len(others) + 1))
            continue
        if others:
            out.blocks += 1
        for i in others:
            if i not in seen:
                seen.add(i)
                out.ids.append(i)
    return out


def candidate_ids(conn: psycopg.Connection, config: ModelConfig, keys: Iterable[str],
                  max_block_size: int | None = None, exclude=None) -> CandidateIds:
    """The ids of the records sharing any of ``keys`` (one record's keys), skipping the blocks
    that with that record would hold more than ``max_block_size`` (default
    ``candidates.max_block_size``) records, as training does; the skipped ones are reported."""
    keys = list(keys)
    limit = int(max_block_size or config.candidates.max_block_size)
    return select_candidates(fetch_blocks(conn, config, keys, limit + 1), keys, limit, exclude)


# --------------------------------------------------------------------------- incremental
@dataclass
class AddReport:
    records: int        # records given
    new: int            # of which not in the index before
    deleted_rows: int   # old key rows removed (changed records)
    inserted_rows: int


def add_records(conn: psycopg.Connection, config: ModelConfig, records: pd.DataFrame) -> AddReport:
    """Index new or changed records (raw, ``record_id`` + key fields): their old keys are
    deleted and their current keys inserted, inside the caller's transaction (a savepoint when
    one is open; its own transaction otherwise). Writers are serialised by a table lock; readers
    are not blocked."""
    info = check_index(conn, config)
    table = warehouse.table_ref(info.table)
    ids = [str(i) for i in pd.unique(records["record_id"])]
    if len(ids) != len(records):
        raise ValueError("add_records: record ids are not unique")
    id_type = _id_type(conn, config)
    keys = record_keys(records, config)
    with conn.transaction():
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table))
        info = check_index(conn, config)      # as of the lock
        cast = sql.SQL(id_type)
        existing, old_keyless = conn.execute(sql.SQL(
            "SELECT count(DISTINCT record_id), count(*) FILTER (WHERE key IS NULL) FROM {} "
            "WHERE record_id = ANY(%s::{}[])").format(table, cast), (ids,)).fetchone()
        deleted = conn.execute(sql.SQL("DELETE FROM {} WHERE record_id = ANY(%s::{}[])").format(table, cast),
                               (ids,)).rowcount
        warehouse.copy_in(conn, info.table, keys[["key", "record_id"]])
        info.records += len(ids) - existing
        info.keyless += int(keys["key"].isna().sum()) - old_keyless
        info.rows += len(keys) - deleted
        info.updated_at = _now()
        _set_comment(conn, info)
    return AddReport(len(ids), len(ids) - existing, deleted, len(keys))
