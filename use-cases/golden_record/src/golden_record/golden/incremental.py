"""Incremental matching: place new and changed records into the existing golden records, touching
only the blocks they fall into, in one transaction.

The records to place (the *batch*, :func:`find_batch`): every record of ``data.table`` with no row
in the golden map (**new**), and every record whose ``data.recency`` value is later than its map
row's ``mapped_at`` (**changed**; the time its golden record was last written from it). A
recency column holding dates sees a change from the day after its mapping on; a table without
``data.recency`` (or with it in a text column) has new records only, and the run says so. A
placed record's ``mapped_at`` is its recency value as read (the time of the run when it has none,
or when it is dated later than the run): a change committed while the run reads is seen by the
next run, whatever clock its writer's transaction had; the other records of a rebuilt golden
record keep theirs.

Then, inside one transaction that holds the golden tables' lock (a full write takes the same
lock, so the two never interleave; an interruption anywhere changes nothing):

1. the batch's records are read by id (indexed) and their keys replace their old ones in the block
   index (:func:`io.block_index.add_records`; the index is built first, once, when missing);
2. **candidates**: the records sharing a usable block with each batch record (one indexed query
   for every key of the batch; a block that would exceed ``candidates.max_block_size`` is skipped,
   as training skips it, and counted); each (batch record, candidate) pair is scored by the one
   scoring path (:func:`linkage.scoring.score_pair_frame`);
3. **the neighbourhood**: the golden records *touched* are those of every candidate the model
   links to a batch record (probability at or above the threshold), the previous golden record of
   every changed record, and those a ``match`` review label ties to them. Their members and the
   batch are re-clustered together exactly as a full build clusters (their pairs from the block
   index's keys, the same guards, ``pair_labels`` as must-link / cannot-link constraints: a human
   decision is never overridden), and only their golden records are rebuilt (survivorship). The
   auto chaining guard weighs the neighbourhood's pairs as a full build weighs a component's; the
   auto size cap is derived from the neighbourhood's own pairs (the expected person sizes of its
   records, at least 10), not from the whole table;
4. **golden ids** (:func:`golden.identity.assign_ids`, the full build's rule): a cluster keeps the
   previous id it holds whole, the oldest when it holds several (a **merge**: the other ids are
   written to ``golden_redirects`` with reason ``merged``), a cluster holding none gets a new id,
   unique in the whole table;
5. the touched golden rows and the neighbourhood's map rows are replaced; every other row of the
   golden tables is left as it was.

So a second call right after the first finds no batch and changes nothing. Counts (new, changed,
attached, new golden records, merges), timings and a sample of decisions with each one's
per-comparison explanation are in :class:`IncrementalResult`; ``golden-record match-new``
(:mod:`golden_record.jobs.match_new`) logs them to an MLflow run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from golden_record.config import ModelConfig
from golden_record.errors import DataError
from golden_record.evaluation import labelled
from golden_record.golden.build import assemble
from golden_record.golden.clustering import cluster_pairs
from golden_record.golden.identity import MERGED, _first_build
from golden_record.golden.layout import Layout
from golden_record.io import block_index, golden_store, labels, warehouse
from golden_record.linkage.blocking import is_whole_table_key
from golden_record.linkage.scoring import LEFT, RIGHT, pair_fields, score_pair_frame

NEW, CHANGED = "new", "changed"
#: a decision per batch record (the ``decision`` column of the decisions)
ATTACHED, NEW_GOLDEN, STAYED, MOVED = "attached", "new golden record", "stayed", "moved"
_TIME_TYPES = ("date", "timestamp")


# --------------------------------------------------------------------------- the batch
@dataclass
class Batch:
    new: np.ndarray                   # record ids with no map row
    changed: np.ndarray               # record ids whose recency is later than their map row
    map_rows: int                     # rows of the map before
    orphans: int                      # map rows whose record is gone from the table
    notes: list[str] = field(default_factory=list)
    recency: dict = field(default_factory=dict)     # record id (text) -> its recency as read (None: none)
    deleted: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))  # their record ids

    @property
    def ids(self) -> np.ndarray:
        return np.concatenate([self.new, self.changed])

    def __len__(self) -> int:
        return len(self.new) + len(self.changed)


def _id_param(values, id_type: str) -> list:
    return [int(v) for v in values] if id_type == "bigint" else [str(v) for v in values]


def _typed(values, id_type: str) -> np.ndarray:
    return np.asarray(values, dtype=np.int64) if id_type == "bigint" else np.asarray(values, dtype=object)


def map_id_type(conn, layout: Layout) -> str:
    """``bigint`` or ``text``: the id type of the golden map; a missing map is a :class:`DataError`."""
    columns = warehouse.table_columns(conn, layout.map_table)
    id_type = columns.get(layout.id_column)
    if not columns or id_type not in ("bigint", "text") or columns.get("golden_id") != id_type \
            or not warehouse.table_exists(conn, layout.table):
        raise DataError(f"no golden records to match against: table {layout.map_table} "
                        + ("does not exist" if not columns else f"has no column {layout.id_column} of this model's ids"),
                        "build them once first: golden-record train --write-golden "
                        "(or golden-record golden --run-id RUN_ID)")
    for table, expected in layout.column_types(id_type).items():
        got = warehouse.table_columns(conn, table)
        if got != expected:
            differ = sorted(set(got.items()) ^ set(expected.items()))
            raise DataError(f"table {table} is not shaped as this model's golden records (columns differ: "
                            f"{', '.join(f'{c} {t}' for c, t in differ[:4])}): written by an earlier version "
                            "or another config",
                            "rebuild the golden records once with this model: golden-record golden --run-id RUN_ID")
    return id_type


def _recency_column(conn, config: ModelConfig) -> tuple[str | None, str | None]:
    """(column, None) when changed records can be found in SQL, else (None, why not)."""
    d = config.data
    if not d.recency:
        return None, "data.recency is not set: only new records are matched (changed records cannot be told)"
    columns = d.fields[d.recency].source_columns(d.recency)
    types = warehouse.table_columns(conn, d.table)
    if len(columns) != 1 or not types.get(columns[0], "").startswith(_TIME_TYPES):
        return None, (f"data.recency {d.recency} is not one date or timestamp column of {d.table} "
                      f"({', '.join(f'{c} {types.get(c)}' for c in columns)}): only new records are matched; "
                      "map data.recency to a date or timestamp column to match changed records too")
    return columns[0], None


def find_batch(conn, config: ModelConfig, layout: Layout, id_type: str) -> Batch:
    """The new and changed records (see the module doc); one scan of the id and recency columns."""
    d = config.data
    notes = []
    recency, why = _recency_column(conn, config)
    if why:
        notes.append("note: " + why)
    if recency and warehouse.table_columns(conn, d.table)[recency] == "date":
        notes.append(f"note: data.recency {d.recency} holds dates: a record changed on the day it was mapped "
                     "counts as changed from the next day on")
    rid, mid = sql.Identifier(d.id), sql.Identifier(layout.id_column)
    records_type = warehouse.table_columns(conn, d.table)[d.id]
    same_type = (id_type == "bigint" and records_type in ("bigint", "integer", "smallint")) or \
        (id_type == "text" and records_type == "text")
    on = sql.SQL("m.{} = r.{}").format(mid, rid) if same_type else sql.SQL("m.{}::text = r.{}::text").format(mid, rid)
    changed = sql.SQL(" OR r.{} > m.mapped_at").format(sql.Identifier(recency)) if recency else sql.SQL("")
    when = sql.SQL("r.{}::timestamptz").format(sql.Identifier(recency)) if recency else sql.SQL("NULL::timestamptz")
    # one pass over both tables (both scanned whole: the join is the work, not compiling it)
    conn.execute("SET LOCAL jit = off")
    rows = conn.execute(sql.SQL(
        "SELECT r.{}::text, m.{} IS NULL, {} FROM {} r LEFT JOIN {} m ON {} WHERE m.{} IS NULL{}").format(
        rid, mid, when, warehouse.table_ref(d.table), warehouse.table_ref(layout.map_table), on, mid,
        changed)).fetchall()
    ids = np.array([r[0] for r in rows], dtype=object)
    is_new = np.array([r[1] for r in rows], dtype=bool)
    # map rows naming no record: every record but the new ones has exactly one map row (its key)
    records, map_rows = conn.execute(sql.SQL("SELECT (SELECT count(*) FROM {}), (SELECT count(*) FROM {})").format(
        warehouse.table_ref(d.table), warehouse.table_ref(layout.map_table))).fetchone()
    orphans = map_rows - (records - int(is_new.sum()))
    deleted = _typed([], id_type)
    if orphans:          # records deleted since they were mapped: removed from their golden records
        gone = conn.execute(sql.SQL("SELECT m.{}::text FROM {} m WHERE NOT EXISTS (SELECT 1 FROM {} r WHERE {})").format(
            mid, warehouse.table_ref(layout.map_table), warehouse.table_ref(d.table), on)).fetchall()
        deleted = _typed(np.sort(_typed([r[0] for r in gone], id_type)), id_type)
    new, old = _typed(np.sort(_typed(ids[is_new], id_type)), id_type), _typed(np.sort(_typed(ids[~is_new], id_type)), id_type)
    return Batch(new, old, int(map_rows), int(orphans), notes, {r[0]: r[2] for r in rows}, deleted)


# --------------------------------------------------------------------------- reading the golden tables
def read_map(conn, layout: Layout, id_type: str, record_ids=None, golden_ids=None) -> pd.DataFrame:
    """Map rows (``record_id``, ``golden_id``, typed, and ``mapped_at``) of the given records, or of
    the given golden ids."""
    column, values = (layout.id_column, record_ids) if record_ids is not None else ("golden_id", golden_ids)
    rows = conn.execute(sql.SQL("SELECT {}::text, golden_id::text, mapped_at FROM {} WHERE {} = ANY(%s::{}[])").format(
        sql.Identifier(layout.id_column), warehouse.table_ref(layout.map_table), sql.Identifier(column),
        sql.SQL(id_type)), (_id_param(values, id_type),)).fetchall()
    return pd.DataFrame({"record_id": _typed([r[0] for r in rows], id_type),
                         "golden_id": _typed([r[1] for r in rows], id_type),
                         "mapped_at": pd.to_datetime([r[2] for r in rows], utc=True)})


def _ids_in_use(conn, layout: Layout, id_type: str, candidates) -> tuple[set, set, int | None]:
    """Of ``candidates`` (new golden ids a cluster could take): those the golden table holds, those
    redirected before; and the largest integer id in either table (None for text ids)."""
    param = _id_param(candidates, id_type)
    gref, rref = warehouse.table_ref(layout.table), warehouse.table_ref(layout.redirect_table)
    has_redirects = warehouse.table_columns(conn, layout.redirect_table).get("old_golden_id") == id_type
    if id_type == "text":      # a text id may carry a ~k suffix: any id of that stem clashes
        match = sql.SQL("(golden_id = ANY(%s::text[]) OR split_part(golden_id, '~', 1) = ANY(%s::text[]))")
        rmatch = sql.SQL("(old_golden_id = ANY(%s::text[]) OR split_part(old_golden_id, '~', 1) = ANY(%s::text[]))")
        args = (param, param)
    else:
        match, rmatch, args = sql.SQL("golden_id = ANY(%s::bigint[])"), sql.SQL("old_golden_id = ANY(%s::bigint[])"), (param,)
    in_table = {r[0] for r in conn.execute(sql.SQL("SELECT golden_id FROM {} WHERE {}").format(gref, match), args)}
    retired = {r[0] for r in conn.execute(sql.SQL("SELECT old_golden_id FROM {} WHERE {}").format(rref, rmatch),
                                          args)} if has_redirects else set()
    floor = None
    if id_type == "bigint":
        floor = conn.execute(sql.SQL("SELECT max(golden_id) FROM {}").format(gref)).fetchone()[0] or 0
        if has_redirects:
            floor = max(floor, conn.execute(sql.SQL("SELECT max(old_golden_id) FROM {}").format(rref)).fetchone()[0] or 0)
    return in_table, retired, floor


# --------------------------------------------------------------------------- pairs
def _unique_pairs(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions as unordered pairs without repeats or self-pairs (smaller position left)."""
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    keep = lo != hi
    pairs = np.unique(np.stack([lo[keep], hi[keep]], axis=1), axis=0) if keep.any() else np.empty((0, 2), np.int64)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def _score(records: pd.DataFrame, left: np.ndarray, right: np.ndarray, fields: list[str], model,
           config: ModelConfig, threshold: float, explain: bool) -> pd.DataFrame:
    if not len(left):
        return pd.DataFrame({"match_weight": [], "match_probability": [], "is_match": []})
    frame = pd.DataFrame({f + side: records[f].to_numpy(dtype=object)[pos] for f in fields
                          for side, pos in ((LEFT, left), (RIGHT, right))})
    return score_pair_frame(frame, model, config, threshold, explain=explain)


def block_pairs(conn, config: ModelConfig, ids: np.ndarray, id_type: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The pairs of ``ids`` (positions) that share a usable block: their keys from the block index,
    each block's size in the whole table (a block larger than ``candidates.max_block_size`` is
    skipped, as training skips it); and how many blocks were skipped."""
    table = warehouse.table_ref(block_index.index_table(config))
    limit = config.candidates.max_block_size
    rows = conn.execute(sql.SQL("SELECT key, record_id::text FROM {} WHERE record_id = ANY(%s::{}[]) "
                                "AND key IS NOT NULL").format(table, sql.SQL(id_type)),
                        (_id_param(ids, id_type),)).fetchall()
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64), 0
    keys = pd.DataFrame(rows, columns=["key", "record_id"])
    position = pd.Series(np.arange(len(ids)), index=pd.Index([str(i) for i in ids]))
    keys["pos"] = position.reindex(keys["record_id"].to_numpy()).to_numpy()
    shared = keys[keys.duplicated("key", keep=False)]          # a key only one of them holds pairs nobody here
    if shared.empty:
        return np.empty(0, np.int64), np.empty(0, np.int64), 0
    distinct = shared["key"].unique().tolist()
    sizes = dict(conn.execute(sql.SQL(
        "SELECT k.key, (SELECT count(*) FROM (SELECT 1 FROM {} i WHERE i.key = k.key LIMIT %s) s) "
        "FROM unnest(%s::text[]) AS k(key)").format(table), (limit + 1, distinct)).fetchall())
    whole = shared["key"].map(is_whole_table_key).to_numpy(dtype=bool)   # all(): the table, compared whole
    usable = shared[(shared["key"].map(sizes).fillna(0).to_numpy() <= limit) | whole]
    skipped = len(distinct) - usable["key"].nunique()
    both = usable[["key", "pos"]].merge(usable[["key", "pos"]], on="key", suffixes=("_l", "_r"))
    left, right = _unique_pairs(both["pos_l"].to_numpy(np.int64), both["pos_r"].to_numpy(np.int64))
    return left, right, skipped


# --------------------------------------------------------------------------- the step
@dataclass
class IncrementalResult:
    metrics: dict[str, float]
    decisions: pd.DataFrame                 # one row per batch record (explanation columns on the sample)
    sample: pd.DataFrame                    # the decisions logged with their explanation
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    redirects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["old_golden_id", "new_golden_id", "reason"]))


def _ensure_index(conn, config: ModelConfig, say) -> str | None:
    """Build the block index when there is none (or one for other passes); returns what was done."""
    try:
        block_index.check_index(conn, config)
        return None
    except block_index.IndexMissing as exc:
        say(f"  {exc.args[0]}: building it now (once: golden writes and match-new keep it fresh)")
        info = block_index.build_index(conn, config)
        return (f"block index {info.table} built ({info.rows:,} keys of {info.records:,} records, "
                f"{info.seconds:.1f} s)")


def match_new(conn, config: ModelConfig, model, threshold: float, run_id: str | None = None, say=None,
              sample_size: int = 50, seed: int = 0) -> IncrementalResult:
    """Place the new and changed records of ``config.data.table`` (see the module doc); all writes
    in one transaction on ``conn`` (committed when this returns)."""
    say = say or (lambda text: None)
    layout = Layout.from_config(config)
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]
    started = clock[0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - clock[0]
        clock[0] = now

    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    id_type = map_id_type(conn, layout)
    notes = [w] if (w := block_index.unindexed_warning(config)) else []
    if (built := _ensure_index(conn, config, say)):
        notes.append(built)
    lap("index_build")
    fields = list(config.data.fields)
    score_fields = [f for f in pair_fields(config) if f in config.data.fields]
    limit = config.candidates.max_block_size
    with conn.transaction():
        golden_store.lock(conn, layout)
        mapped_at = pd.Timestamp(conn.execute("SELECT now()").fetchone()[0]).tz_convert("UTC")
        batch = find_batch(conn, config, layout, id_type)
        notes += batch.notes
        future = sum(1 for v in batch.recency.values() if v is not None and pd.Timestamp(v) > mapped_at)
        if future:
            notes.append(f"note: {future:,} record(s) have a data.recency later than now: mapped as of now, they "
                         "count as changed at every run until that time (check the column's values)")
        lap("find")
        metrics: dict[str, float] = {"incremental_new_records": float(len(batch.new)),
                                     "incremental_changed_records": float(len(batch.changed)),
                                     "incremental_map_rows_before": float(batch.map_rows),
                                     "incremental_orphan_map_rows": float(batch.orphans),
                                     "incremental_deleted_records": float(len(batch.deleted)),
                                     "incremental_future_dated": float(future)}
        if not len(batch) and not len(batch.deleted):
            metrics.update({k: 0.0 for k in ("incremental_attached", "incremental_new_golden_records",
                                             "incremental_merges", "incremental_moved", "incremental_golden_touched",
                                             "incremental_records_reclustered", "incremental_pairs_scored")})
            timings["total"] = time.perf_counter() - started
            return IncrementalResult(metrics, pd.DataFrame(), pd.DataFrame(), notes, timings)

        # 1. the batch, read by id; its keys into the block index
        batch_ids = batch.ids
        incoming = warehouse.load_records(conn, config.data, fields, allow_null=True, only_ids=batch_ids.tolist())
        if len(incoming) != len(batch):       # a record deleted between the two reads
            batch_ids = _typed(incoming["record_id"].to_numpy(), id_type)
        added = block_index.add_records(conn, config, incoming[["record_id", *block_index.key_fields(config)]])
        lap("load_batch")

        # 2. candidates of the batch from the block index, scored
        keys = block_index.record_keys(incoming, config, keyless_rows=False)
        blocks = block_index.fetch_blocks(conn, config, keys["key"].tolist(), limit + 1)
        by_record = keys.groupby(keys["record_id"].astype(str))["key"].apply(list).to_dict()
        cand_rows, skipped, keyless = [], set(), 0
        for rid in incoming["record_id"].to_numpy():
            own = by_record.get(str(rid), [])
            keyless += not own
            got = block_index.select_candidates(blocks, own, limit, exclude=rid)
            skipped.update(k for k, _ in got.skipped)
            cand_rows += [(str(rid), str(c)) for c in got.ids]
        in_batch = {str(i) for i in batch_ids}
        others = sorted({c for _, c in cand_rows if c not in in_batch})
        outside = warehouse.load_records(conn, config.data, score_fields, allow_null=True, only_ids=others) \
            if others else pd.DataFrame(columns=["record_id", *score_fields])
        pool = pd.concat([incoming[["record_id", *score_fields]], outside], ignore_index=True)
        where = pd.Series(np.arange(len(pool)), index=pool["record_id"].astype(str).to_numpy())
        cl = where.reindex([a for a, _ in cand_rows]).to_numpy()
        cr = where.reindex([b for _, b in cand_rows]).to_numpy()
        ok = ~(np.isnan(cl.astype(float)) | np.isnan(cr.astype(float)))   # a candidate deleted since it was indexed
        cl, cr = _unique_pairs(cl[ok].astype(np.int64), cr[ok].astype(np.int64))
        first = _score(pool, cl, cr, score_fields, model, config, threshold, explain=False)
        lap("candidates")

        # 3. the neighbourhood: touched golden records, their members and the batch
        pool_ids = pool["record_id"].astype(str).to_numpy()
        linked = first["is_match"].to_numpy(dtype=bool) if len(first) else np.zeros(0, bool)
        partners = set(pool_ids[cl[linked]]) | set(pool_ids[cr[linked]])
        verdicts = labelled.read_verdicts(conn, config.data.table)
        known = read_map(conn, layout, id_type, record_ids=sorted((partners - in_batch) | set(map(str, batch.changed))))
        touched = set(known["golden_id"].tolist())
        # the golden records of deleted records: rebuilt from the records they have left (or retired)
        lost = read_map(conn, layout, id_type, record_ids=batch.deleted) if len(batch.deleted) else known.iloc[:0]
        touched |= set(lost["golden_id"].tolist())
        members = read_map(conn, layout, id_type, golden_ids=sorted(touched)) if touched else known.iloc[:0]
        region = in_batch | set(members["record_id"].astype(str))
        for _ in range(10):      # match labels tie more golden records in (until none is added)
            if verdicts is None or verdicts.matches.empty:
                break
            m = verdicts.matches
            inside_l, inside_r = m["left_id"].isin(region), m["right_id"].isin(region)
            outer = set(m.loc[inside_l & ~inside_r, "right_id"]) | set(m.loc[inside_r & ~inside_l, "left_id"])
            extra = set(read_map(conn, layout, id_type, record_ids=sorted(outer))["golden_id"].tolist()) - touched \
                if outer else set()
            if not extra:
                break
            touched |= extra
            more = read_map(conn, layout, id_type, golden_ids=sorted(extra))
            members = pd.concat([members, more], ignore_index=True)
            region |= set(more["record_id"].astype(str))
        rest = sorted(set(members["record_id"].astype(str)) - in_batch)
        existing = warehouse.load_records(conn, config.data, fields, allow_null=True, only_ids=rest) \
            if rest else incoming.iloc[:0]
        records = pd.concat([incoming, existing], ignore_index=True)
        records = records.sort_values("record_id", kind="stable").reset_index(drop=True)
        region_ids = _typed(records["record_id"].to_numpy(), id_type)
        left, right, skipped_region = block_pairs(conn, config, region_ids, id_type)
        lap("neighbourhood")
        scored = _score(records, left, right, score_fields, model, config, threshold, explain=True)
        lap("score")

        # 4. cluster as a full build does, labels as constraints; ids by the full build's rule
        g = config.golden
        located = labelled.locate(region_ids, verdicts) if verdicts is not None else None
        must = (located.left[located.match], located.right[located.match]) if located is not None else None
        cannot = (located.left[~located.match], located.right[~located.match]) if located is not None else None
        probs = scored["match_probability"].to_numpy(dtype=float) if len(scored) else np.zeros(0)
        clusters = cluster_pairs(len(records), left, right, probs, threshold, g.min_edge_probability,
                                 g.max_cluster_size, must, cannot)
        # the deleted records' map rows count as previous members: a golden id none of whose records
        # is left is retired (redirect reason "records removed"), as a full build retires it
        previous = members[members["record_id"].astype(str).isin(set(records["record_id"].astype(str))
                                                                  | set(map(str, batch.deleted)))]
        smallest = _first_build(region_ids, clusters.labels, clusters.n_clusters)
        in_use, retired, floor = _ids_in_use(conn, layout, id_type, smallest)
        elsewhere = in_use - set(previous["golden_id"].tolist())
        lap("cluster")
        result = assemble(records, clusters, g, layout, run_id, None, previous[["record_id", "golden_id"]], retired,
                          mapped_at, elsewhere, floor)
        result.mapping["mapped_at"] = _mapped_at(result.mapping[layout.id_column], batch, previous, mapped_at)
        lap("survive")

        # 5. replace the touched golden rows and the neighbourhood's map rows
        golden_store.replace_part(conn, layout, result.golden, result.mapping, sorted(touched),
                                  _typed(np.concatenate([region_ids, batch.deleted]), id_type),
                                  result.redirects, id_type, run_id)
        lap("write")

    # what happened to each batch record
    gid_of_record = pd.Series(result.mapping["golden_id"].to_numpy(), index=result.mapping[layout.id_column].astype(str))
    before = pd.Series(known["golden_id"].to_numpy(), index=known["record_id"].astype(str)) if len(known) else pd.Series(dtype=object)
    before = before[before.index.isin(set(map(str, batch.changed)))]
    kept = set(previous["golden_id"].tolist())
    decisions = _decisions(incoming, batch, gid_of_record, before, kept, result, records, left, right, scored)
    merged_into = set(result.redirects.loc[result.redirects["reason"] == MERGED, "new_golden_id"].tolist())
    decisions["merge"] = decisions["golden_id"].isin(merged_into)
    sample = _sample(decisions, sample_size, seed)
    counts = decisions["decision"].value_counts()
    metrics.update({
        "incremental_attached": float(counts.get(ATTACHED, 0)),
        "incremental_new_golden_records": result.metrics.get("golden_ids_new", 0.0),
        "incremental_merges": result.metrics.get("golden_ids_merged", 0.0),
        "incremental_moved": float(counts.get(MOVED, 0)),
        "incremental_stayed": float(counts.get(STAYED, 0)),
        "incremental_golden_touched": float(len(touched)),
        "incremental_golden_written": float(len(result.golden)),
        "incremental_golden_retired": result.metrics.get("golden_ids_retired", 0.0),
        "incremental_records_reclustered": float(len(records)),
        "incremental_candidates": float(len(first)),
        "incremental_pairs_scored": float(len(first) + len(scored)),
        "incremental_blocks_skipped": float(len(skipped) + skipped_region),
        "incremental_keyless_records": float(keyless),
        "incremental_index_rows_added": float(added.inserted_rows),
        **{k: v for k, v in clusters.stats.items() if k.startswith("golden_")},
    })
    if len(batch.deleted):
        retired = int((result.redirects["reason"] == "records removed").sum()) if len(result.redirects) else 0
        notes.append(f"{len(batch.deleted):,} record(s) deleted from {config.data.table} since they were mapped: "
                     f"removed from their {len(lost['golden_id'].unique()):,} golden record(s), rebuilt from the "
                     f"records left ({retired:,} golden id(s) with no record left retired)")
    if skipped:
        notes.append(f"{len(skipped):,} block(s) skipped, larger than candidates.max_block_size={limit:,} (as training "
                     f"skips them), e.g. {sorted(skipped)[0]}")
    if keyless:
        notes.append(f"{keyless:,} record(s) have no key in any blocking pass: each starts a golden record of its own "
                     "unless a review label links it")
    if clusters.contradictions:
        notes.append(f"warning: {len(clusters.contradictions):,} match label(s) not applied: they would join a pair "
                     "labelled not a match (the not_match label wins)")
    timings["total"] = time.perf_counter() - started
    return IncrementalResult(metrics, decisions, sample, notes, timings, result.redirects)


def _mapped_at(record_ids: pd.Series, batch: Batch, previous: pd.DataFrame, now: pd.Timestamp) -> np.ndarray:
    """Per map row: a placed record's recency as read (capped at ``now``; ``now`` without one), a
    record of a rebuilt golden record its previous ``mapped_at``."""
    ids = record_ids.astype(str).reset_index(drop=True)
    read = pd.to_datetime(ids.map(batch.recency), utc=True)
    read = read.where(read.notna() & (read <= now), now)
    kept = pd.Series(pd.to_datetime(previous["mapped_at"], utc=True).to_numpy(),
                     index=previous["record_id"].astype(str).to_numpy())
    kept = pd.to_datetime(pd.Series(kept.reindex(ids.to_numpy()).to_numpy()), utc=True)
    return read.where(ids.isin(set(batch.recency)), kept).fillna(now).array


def _decisions(incoming, batch, gid_of_record, before, kept, result, records, left, right, scored) -> pd.DataFrame:
    """One row per batch record: kind, decision, golden id (before and after), cluster size, and its
    strongest pair (the partner in its golden record, else the best candidate) with the explanation."""
    ids = incoming["record_id"].astype(str).to_numpy()
    changed = set(map(str, batch.changed))
    out = pd.DataFrame({"record_id": incoming["record_id"].to_numpy(),
                        "kind": [CHANGED if i in changed else NEW for i in ids]})
    # object columns of the ids' own type: an integer id with a gap beside it stays an integer
    # (as floats, 2 became '2.0' and a record that stayed was reported as moved)
    out["golden_id"] = _as_objects(gid_of_record.astype(object).reindex(ids))
    out["previous_golden_id"] = _as_objects(before.astype(object).reindex(ids))
    sizes = pd.Series(result.golden["member_count"].to_numpy(), index=result.golden["golden_id"].to_numpy())
    out["golden_members"] = sizes.reindex(out["golden_id"].to_numpy()).to_numpy()
    is_kept = out["golden_id"].isin(kept).to_numpy()
    out["decision"] = np.where(out["kind"] == NEW, np.where(is_kept, ATTACHED, NEW_GOLDEN),
                               np.where([g == p for g, p in zip(out["golden_id"], out["previous_golden_id"])],
                                        STAYED, MOVED))
    # the strongest pair of each batch record: inside its golden record first
    rid = records["record_id"].astype(str).to_numpy()
    if len(scored):
        prob = scored["match_probability"].to_numpy(dtype=float)
        weight = scored["match_weight"].to_numpy(dtype=float)
        frame = pd.DataFrame({"me": np.concatenate([rid[left], rid[right]]),
                              "other": np.concatenate([rid[right], rid[left]]),
                              "row": np.concatenate([np.arange(len(left))] * 2),
                              "weight": np.concatenate([weight, weight]), "prob": np.concatenate([prob, prob])})
        frame = frame[frame["me"].isin(set(ids))]
        g = gid_of_record.reindex(frame["me"].to_numpy()).to_numpy()
        frame["same"] = g == gid_of_record.reindex(frame["other"].to_numpy()).to_numpy()
        best = frame.sort_values(["me", "same", "weight"], ascending=[True, False, False]).drop_duplicates("me")
        best = best.set_index("me").reindex(ids)
        out["best_record_id"] = best["other"].to_numpy()
        out["best_in_golden"] = best["same"].to_numpy()
        out["match_probability"] = best["prob"].to_numpy()
        out["match_weight"] = best["weight"].to_numpy()
        explain = [c for c in scored.columns if c.startswith(("cmp_", "w_"))]
        rows = best["row"].to_numpy()
        has = ~pd.isna(rows)
        for c in explain:
            values = np.full(len(out), None, dtype=object)
            values[has] = scored[c].to_numpy(dtype=object)[rows[has].astype(np.int64)]
            out[c] = values
    else:
        out["best_record_id"], out["best_in_golden"], out["match_probability"], out["match_weight"] = None, None, np.nan, np.nan
    return out


def _as_objects(values: pd.Series) -> np.ndarray:
    """Values as Python objects of their own type (numpy integers as ``int``), missing as None."""
    out = values.astype(object).to_numpy(dtype=object)
    return np.array([None if v is None or (isinstance(v, float) and np.isnan(v))
                     else int(v) if isinstance(v, np.integer) else v for v in out], dtype=object)


def _sample(decisions: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """Up to ``size`` decisions, every kind of decision (and merges) represented evenly."""
    if decisions.empty or size <= 0:
        return decisions.iloc[:0]
    rng = np.random.default_rng(seed)
    groups = [idx for _, idx in decisions.groupby(["decision", "merge"]).groups.items()]
    share = max(1, size // max(1, len(groups)))
    chosen = [rng.permutation(np.asarray(idx))[:share] for idx in groups]
    picked = np.concatenate(chosen) if chosen else np.empty(0, dtype=int)
    rest = np.setdiff1d(decisions.index.to_numpy(), picked)
    picked = np.concatenate([picked, rng.permutation(rest)[: max(0, size - len(picked))]])
    return decisions.loc[np.sort(picked)].reset_index(drop=True)
