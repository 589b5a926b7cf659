"""The lookup engine: incoming records (by field name) -> candidate golden ids, best first.

For a batch of incoming records, with one database round trip per step:

1. each record's block keys (:func:`golden_record.io.block_index.record_keys`: cleaned as
   training cleans, keyed as training blocks);
2. the records sharing a block, from the block index (one indexed query for every key of the
   batch; a block that with the incoming record would exceed ``candidates.max_block_size`` is
   skipped, as training skips it, and said so);
3. those records' fields and golden ids (one query by primary key, joined with the golden map;
   a record not in the map is its own *provisional* golden id, flagged);
4. every (incoming, candidate) pair scored by the one scoring path
   (:func:`golden_record.linkage.scoring.score_pair_frame`): match weight, probability,
   is_match and per comparison the level and weight;
5. a review label (``pair_labels``) of a pair, when the incoming record carries the id of a record
   of the table: reported beside the probability, and it decides the verdict (a reviewed pair is
   never overridden by the model);
6. per golden id the best-scoring member; golden ids sorted by verdict, then match weight (the
   probability of every close pair rounds to 1.0, the weight does not).
"""
from __future__ import annotations

import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from golden_record.config import ModelConfig
from golden_record.errors import GoldenRecordError, WarehouseError
from golden_record.io import block_index, labels, warehouse
from golden_record.linkage import cleaning
from golden_record.linkage.schema import clean_records
from golden_record.linkage.scoring import LEFT, RIGHT, _as_text, pair_fields, score_pair_frame

#: the most records one request may carry, and the most golden ids returned per record
MAX_RECORDS = 1000
MAX_TOP = 100
#: the largest request body accepted (bytes; a larger one is answered 413): 1,000 records of twenty
#: fields of a hundred characters each fit in it
MAX_BODY_BYTES = 2 * 1024 * 1024
#: PostgreSQL id column types whose ids must be whole numbers
_INTEGER_ID_TYPES = ("bigint", "integer", "smallint")
#: how many bad values one 422 names
_SHOWN = 5
#: the index's metadata is re-read at most this often (a rebuild is seen within this time)
INDEX_CHECK_SECONDS = 5.0


class LookupInputError(GoldenRecordError):
    """The request cannot be answered as sent (HTTP 422)."""


# --------------------------------------------------------------------------- connections
class ConnectionPool:
    """At most ``size`` autocommit connections, opened on demand and reused; a connection that
    failed is closed, not reused. Session settings as the warehouse reads: ISO dates, UTC."""

    def __init__(self, url: str, size: int = 4, timeout: int = 5):
        self._url, self._timeout = url, timeout
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def _open(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout)
        except (psycopg.Error, ValueError) as exc:
            raise warehouse._explain(exc, self._url) from exc
        conn.execute("SET DateStyle = 'ISO, YMD'")
        conn.execute("SET timezone = 'UTC'")
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if not self._slots.acquire(timeout=30):
            raise WarehouseError("no database connection free within 30 s", "lower the request rate")
        conn = None
        healthy = False
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._open()
            yield conn
            healthy = True
        except psycopg.OperationalError:
            raise
        except Exception:
            healthy = conn is not None and not conn.closed and not conn.broken
            raise
        finally:
            if conn is not None:
                if healthy and not conn.closed and not conn.broken \
                        and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                    self._idle.put(conn)
                else:
                    conn.close()
            self._slots.release()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


# --------------------------------------------------------------------------- the engine
@dataclass
class _Incoming:
    position: int
    own_id: str | None                 # the id it carries (record_id or the data.id column), as text
    keys: list[str] = field(default_factory=list)
    candidates: block_index.CandidateIds | None = None
    notes: list[str] = field(default_factory=list)


def _plain(value):
    """NumPy scalars as Python numbers for JSON."""
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


class Lookup:
    """A loaded model and a connection pool; :meth:`match` answers a batch of records."""

    def __init__(self, model, config: ModelConfig, threshold: float, run_id: str, pool: ConnectionPool):
        self.model, self.config, self.threshold, self.run_id, self.pool = model, config, threshold, run_id, pool
        self.fields = list(config.data.fields)
        self.id_names = tuple(dict.fromkeys(("record_id", config.data.id)))
        self.score_fields = [f for f in pair_fields(config) if f in config.data.fields]
        self.key_fields = block_index.key_fields(config)
        self.comparisons = [c.name for c in config.comparisons]
        self.max_block_size = config.candidates.max_block_size
        self.index_table = block_index.index_table(config)
        self.map_table = config.golden.map_table
        self.notes = [w] if (w := block_index.unindexed_warning(config)) else []
        self._index_checked = 0.0
        self._index_info: block_index.IndexInfo | None = None
        self._lock = threading.Lock()
        self._id_type: str | None = None
        self._map_exists: tuple[float, bool] = (0.0, False)

    # ------------------------------------------------------------------ checks
    def known_fields(self) -> list[str]:
        return list(dict.fromkeys([*self.id_names, *self.fields]))

    def validate(self, records: list[dict]) -> list[tuple[int, str | None]]:
        """Unknown field names (422 naming them and the known fields); the id each record carries."""
        if not records:
            raise LookupInputError("no records to look up", 'send {"records": [{field: value, ...}]}')
        if len(records) > MAX_RECORDS:
            raise LookupInputError(f"{len(records):,} records in one request, more than {MAX_RECORDS:,}",
                                   "send them in several requests")
        known = set(self.known_fields())
        unknown = sorted({name for r in records for name in r if name not in known})
        if unknown:
            raise LookupInputError(f"unknown field(s) {unknown}; the known fields are {self.known_fields()}",
                                   "name the fields as data.fields of the model's config does")
        ids = []
        for i, r in enumerate(records):
            given = {str(r[n]) for n in self.id_names if r.get(n) is not None}
            if len(given) > 1:
                raise LookupInputError(f"records[{i}] carries two different ids {sorted(given)} "
                                       f"({' and '.join(self.id_names)})", "give the record's id once")
            if not any(r.get(f) is not None for f in self.fields):
                raise LookupInputError(f"records[{i}] holds no value of any field",
                                       f"give at least one of {self.fields}")
            ids.append((i, given.pop() if given else None))
        return ids

    def check_ids(self, conn, ids: list[tuple[int, str | None]]) -> None:
        """The ids the records carry fit the table's id column: a text id for an integer id column
        would never find its record (422 naming the record, the id and the column's type)."""
        given = [(i, own) for i, own in ids if own is not None]
        if not given:
            return
        id_type = self._records_id_type(conn)
        if id_type in _INTEGER_ID_TYPES:
            bad = [(i, own) for i, own in given if not own.strip().lstrip("+-").isdigit()]
            what = "a whole number"
        elif id_type == "uuid":
            import uuid

            def is_uuid(text: str) -> bool:
                try:
                    uuid.UUID(text)
                    return True
                except ValueError:
                    return False
            bad = [(i, own) for i, own in given if not is_uuid(own)]
            what = "a UUID"
        else:
            return
        if bad:
            shown = "; ".join(f"records[{i}] id {own!r}" for i, own in bad[:_SHOWN])
            raise LookupInputError(f"{len(bad)} record id(s) do not fit the id column {self.config.data.id} "
                                   f"of {self.config.data.table} ({id_type}): {shown}",
                                   f"give the id as {what}, or leave it out for a record not in the table")

    def check_values(self, frame: pd.DataFrame) -> None:
        """Every value sent is read by its field's type: a value cleaning would turn into a missing
        one (a date that does not parse at all, an identifier of filler) would silently count
        neither way, so the request is refused (422 naming the record, the field and the value)."""
        fields = {f: self.config.data.fields[f] for f in frame.columns if f in self.config.data.fields}
        prepared, _ = clean_records(frame[["record_id", *fields]], fields)
        bad = []
        for f, spec in fields.items():
            raw = frame[f].to_numpy(dtype=object)
            lost = ~cleaning.is_blank(raw) & pd.isna(prepared[f]).to_numpy()
            for i in np.flatnonzero(lost):
                bad.append(f"records[{i}].{f} = {raw[i]!r} (type {spec.type}"
                           + (f", formats {list(spec.formats)}" if spec.formats else "") + ")")
        if bad:
            raise LookupInputError(f"{len(bad)} value(s) cannot be read by their field's type and would be "
                                   f"ignored: {'; '.join(bad[:_SHOWN])}",
                                   "send each value as its field's type (dates as the model reads them), or "
                                   "send null for a value you do not have")

    def _missing_table(self, conn, exc: psycopg.Error) -> Exception:
        """A table read failed as absent: a WarehouseError (503) when it is the records' table."""
        self._id_type = None                   # a table recreated later may have another id type
        if not warehouse.table_exists(conn, self.config.data.table):
            return warehouse.missing_table_error(conn, self.config.data.table, "data.table")
        return exc

    def _check_index(self, conn) -> block_index.IndexInfo:
        now = time.monotonic()
        with self._lock:
            if self._index_info is not None and now - self._index_checked < INDEX_CHECK_SECONDS:
                return self._index_info
        info = block_index.check_index(conn, self.config)
        with self._lock:
            self._index_info, self._index_checked = info, now
        return info

    def _forget_index(self) -> None:
        with self._lock:
            self._index_info = None

    def _map_table_exists(self, conn) -> bool:
        when, exists = self._map_exists
        if time.monotonic() - when < INDEX_CHECK_SECONDS:
            return exists
        exists = warehouse.table_exists(conn, self.map_table) and \
            self.config.data.id in warehouse.table_columns(conn, self.map_table)
        self._map_exists = (time.monotonic(), exists)
        return exists

    def _records_id_type(self, conn) -> str:
        if self._id_type is None:
            self._id_type = block_index._id_type(conn, self.config)
        return self._id_type

    # ------------------------------------------------------------------ reading
    def _load(self, conn, ids: list) -> pd.DataFrame:
        """The candidate records' scored fields as text, with their golden id (None: not mapped)."""
        data = self.config.data
        rid = sql.Identifier(data.id)
        selects = [sql.SQL("{}::text AS record_id").format(rid), sql.SQL("{} AS __id").format(rid)]
        selects += [warehouse._field_select(data, f) for f in self.score_fields]
        inner = sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s::{}[])").format(
            sql.SQL(", ").join(selects), warehouse.table_ref(data.table), rid, sql.SQL(self._records_id_type(conn)))
        if self._map_table_exists(conn):
            query = sql.SQL("SELECT r.*, m.golden_id::text AS __golden FROM ({}) r LEFT JOIN {} m ON m.{} = r.__id").format(
                inner, warehouse.table_ref(self.map_table), rid)
        else:
            query = sql.SQL("SELECT r.*, NULL::text AS __golden FROM ({}) r").format(inner)
        cur = conn.execute(query, ([str(i) for i in ids],))
        columns = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns).drop(columns="__id")

    def _labels(self, conn, pairs: list[tuple[str, str]]) -> tuple[dict[tuple[str, str], str], int]:
        """Review verdicts of ordered pairs ({pair: label}) and how many pairs reviewers disagree on."""
        if not pairs or not labels.table_exists(conn):
            return {}, 0
        rows = conn.execute(
            f"SELECT left_id, right_id, reviewer, label FROM {labels.TABLE} WHERE data_table = %s "
            "AND (left_id, right_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            (self.config.data.table, [a for a, _ in pairs], [b for _, b in pairs])).fetchall()
        if not rows:
            return {}, 0
        verdicts = labels.pair_verdicts(pd.DataFrame(rows, columns=["left_id", "right_id", "reviewer", "label"]))
        decided = {(r.left_id, r.right_id): r.label for r in verdicts.pairs.itertuples(index=False)}
        return decided, verdicts.conflicting

    # ------------------------------------------------------------------ the lookup
    def _frame(self, records: list[dict], columns: list[str]) -> pd.DataFrame:
        frame = pd.DataFrame({"record_id": np.arange(len(records))})
        for f in columns:
            frame[f] = _as_text(pd.Series([r.get(f) for r in records], dtype=object))
        return frame

    def match(self, records: list[dict], top: int = 5) -> dict:
        timing: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timing[name] = round((now - clock) * 1000, 2)
            clock = now

        if not 1 <= int(top) <= MAX_TOP:
            raise LookupInputError(f"top must be between 1 and {MAX_TOP}, got {top}", "ask for fewer golden ids")
        ids = self.validate(records)
        incoming = [_Incoming(i, own) for i, own in ids]
        frame = self._frame(records, list(dict.fromkeys(self.key_fields + self.score_fields)))
        self.check_values(frame)
        keys = block_index.record_keys(frame, self.config, keyless_rows=False)
        for pos, key in zip(keys["record_id"].to_numpy(), keys["key"].to_numpy()):
            incoming[int(pos)].keys.append(key)
        lap("keys")
        with self.pool.connection() as conn:
            self.check_ids(conn, ids)
            self._check_index(conn)
            try:
                blocks = block_index.fetch_blocks(conn, self.config, [k for r in incoming for k in r.keys],
                                                  self.max_block_size + 1)
            except psycopg.errors.UndefinedTable:
                self._forget_index()
                block_index.check_index(conn, self.config)
                raise
            for rec in incoming:
                rec.candidates = block_index.select_candidates(blocks, rec.keys, self.max_block_size, rec.own_id)
                if not rec.keys:
                    rec.notes.append(f"no block key: the record lacks the fields every blocking pass needs "
                                     f"({', '.join(block_index.passes(self.config))})")
                if (note := rec.candidates.skipped_note(self.max_block_size)):
                    rec.notes.append(note)
            lap("blocks")
            wanted = list(dict.fromkeys(i for r in incoming for i in r.candidates.ids))
            try:
                found = self._load(conn, wanted) if wanted else pd.DataFrame(columns=["record_id", "__golden"])
            except psycopg.errors.UndefinedTable as exc:
                raise self._missing_table(conn, exc) from None
            lap("load")
            by_id = {rid: k for k, rid in enumerate(found["record_id"].tolist())}
            left_pos, right_pos = [], []
            for rec in incoming:
                for cid in rec.candidates.ids:
                    k = by_id.get(str(cid))
                    if k is not None:           # a record deleted since the index was built is absent
                        left_pos.append(rec.position)
                        right_pos.append(k)
            owned = [(incoming[l].own_id, found["record_id"].iat[r]) for l, r in zip(left_pos, right_pos)
                     if incoming[l].own_id is not None]
            label_of, conflicting = self._labels(conn, [labels.ordered(a, b) for a, b in owned if a != b])
            lap("labels")
        scored = self._score(frame, found, np.asarray(left_pos, dtype=np.int64), np.asarray(right_pos, dtype=np.int64))
        lap("score")
        results = self._assemble(incoming, found, scored, np.asarray(left_pos, dtype=np.int64),
                                 np.asarray(right_pos, dtype=np.int64), label_of, top)
        if conflicting:
            for r in results:
                r["notes"].append(f"{conflicting} pair(s) have conflicting review labels: reported without a label")
        lap("assemble")
        return {"model": {"run_id": self.run_id, "threshold": self.threshold, "table": self.config.data.table},
                "results": results, "timing_ms": timing}

    def _score(self, frame: pd.DataFrame, found: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> pd.DataFrame:
        if not len(left):
            return pd.DataFrame()
        pairs = pd.DataFrame({f + side: (frame[f].to_numpy(dtype=object)[left] if side == LEFT
                                         else found[f].to_numpy(dtype=object)[right])
                              for f in self.score_fields for side in (LEFT, RIGHT)})
        return score_pair_frame(pairs, self.model, self.config, self.threshold)

    def _assemble(self, incoming: list[_Incoming], found: pd.DataFrame, scored: pd.DataFrame, left: np.ndarray,
                  right: np.ndarray, label_of: dict, top: int) -> list[dict]:
        results = []
        golden = found["__golden"].to_numpy(dtype=object) if len(found) else np.empty(0, dtype=object)
        record_ids = found["record_id"].to_numpy(dtype=object) if len(found) else np.empty(0, dtype=object)
        if len(scored):
            weight = scored["match_weight"].to_numpy(dtype=float)
            prob = scored["match_probability"].to_numpy(dtype=float)
            is_match = scored["is_match"].to_numpy(dtype=bool)
            levels = {c: scored[f"cmp_{c}"].to_numpy(dtype=object) for c in self.comparisons}
            weights = {c: scored[f"w_{c}"].to_numpy(dtype=float) for c in self.comparisons}
        for rec in incoming:
            rows = np.flatnonzero(left == rec.position)
            groups: dict[str, dict] = {}
            for k in rows:
                rid = str(record_ids[right[k]])
                gid = golden[right[k]]
                label = label_of.get(labels.ordered(rec.own_id, rid)) if rec.own_id not in (None, rid) else None
                verdict = label or (labels.MATCH if is_match[k] else labels.NOT_MATCH)
                member = {"record_id": rid, "match_probability": float(prob[k]), "match_weight": float(weight[k]),
                          "is_match": bool(is_match[k]), "review_label": label, "verdict": verdict,
                          "comparisons": [{"comparison": c, "level": str(levels[c][k]), "weight": float(weights[c][k])}
                                          for c in self.comparisons]}
                key = rid if gid is None else str(gid)
                g = groups.setdefault(key, {"golden_id": key, "provisional": gid is None, "records": []})
                g["records"].append(member)
            ranked = []
            for g in groups.values():
                # by weight: the probability of every close pair rounds to 1.0, its weight does not
                g["records"].sort(key=lambda m: (m["verdict"] != labels.MATCH, -m["match_weight"], m["record_id"]))
                best = g["records"][0]
                g.update({"match_probability": best["match_probability"], "match_weight": best["match_weight"],
                          "is_match": best["is_match"], "review_label": best["review_label"],
                          "verdict": best["verdict"]})
                ranked.append(g)
            ranked.sort(key=lambda g: (g["verdict"] != labels.MATCH, -g["match_weight"], g["golden_id"]))
            notes = list(rec.notes)
            if any(g["provisional"] for g in ranked[:top]):
                notes.append(f"a provisional golden id is the record's own id: the record has no row in {self.map_table} "
                             "(golden records not written since it was added)")
            if not rows.size and rec.keys:
                notes.append("no record of the table shares a usable block with this one: no candidate")
            results.append({
                "input": rec.position, "record_id": rec.own_id, "keys": len(rec.keys),
                "blocks_used": rec.candidates.blocks if rec.candidates else 0,
                "candidates_scored": int(rows.size), "golden_ids": len(ranked),
                "candidates": [{k: g[k] for k in ("golden_id", "provisional", "match_probability", "match_weight",
                                                  "is_match", "review_label", "verdict", "records")}
                               for g in ranked[:top]],
                "notes": notes})
        return results

    # ------------------------------------------------------------------ health
    def health(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body): 200 when the index is there for this model, else 503 saying why."""
        body: dict[str, Any] = {"model": {"run_id": self.run_id, "threshold": self.threshold,
                                          "type": self.config.model.type},
                                "table": self.config.data.table, "index": None, "notes": list(self.notes)}
        try:
            with self.pool.connection() as conn:
                if not warehouse.table_exists(conn, self.config.data.table):
                    self._id_type = None
                    raise warehouse.missing_table_error(conn, self.config.data.table, "data.table")
                body["table_rows"] = warehouse.count_rows(conn, self.config.data.table)
                body["golden_map"] = {"table": self.map_table, "exists": self._map_table_exists(conn)}
                self._forget_index()
                info = self._check_index(conn)
        except block_index.IndexMissing as exc:
            body.update(status="unavailable", error=exc.one_line())
            return 503, body
        except GoldenRecordError as exc:
            body.update(status="unavailable", error=exc.one_line())
            return 503, body
        body["index"] = {"table": info.table, "rows": info.rows, "records": info.records, "keyless": info.keyless,
                         "passes": info.passes, "built_at": info.built_at, "updated_at": info.updated_at}
        fresh = info.records == body["table_rows"]
        body["index"]["fresh"] = fresh
        if not fresh:
            body["notes"].append(f"the index holds {info.records:,} records, the table {body['table_rows']:,}: records "
                                 "added since are not found as candidates (golden-record index rebuilds it)")
        if not body["golden_map"]["exists"]:
            body["notes"].append(f"no golden map {self.map_table}: every golden id is provisional (a record id); "
                                 "write golden records: golden-record train --write-golden")
        body["status"] = "ok"
        return 200, body
