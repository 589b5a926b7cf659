"""The golden-record viewer: the review page's second tab (``/golden``).

A reviewer finds a golden record by any member's id, the golden id or a name, and sees:

* its surviving values, each with the record it came from (``field_sources`` of the golden table)
  and the survivorship rule that decided it (:func:`deciding_rule`: the rule chain of the run's
  config replayed on the members' canonical values with the survivorship's own rank keys);
* its members side by side, each value compared with the surviving one (differing characters
  marked; values in their canonical form, as survivorship compared them);
* every pair of members scored by the run's model (:func:`golden_record.linkage.scoring.score_pair_frame`,
  the one scoring path), with its review label and a waterfall chart; the *weakest link*: the
  weakest edge of the maximum spanning tree of the members' match links (what holds the golden
  record together);
* the nearest records left out: the members looked up as the lookup service does
  (:class:`golden_record.serve.lookup.Lookup`: block index, then the model), best match weight first.

Actions are labels in ``pair_labels`` (:mod:`golden_record.io.labels`), which the next golden build
honours (:mod:`golden_record.golden.clustering`: labelled matches are always linked, labelled
non-matches never end in one golden record):

* **split** member X off: ``not_match`` between X and every other member (so X joins none of them
  again, whatever the next model links);
* **merge** with another golden record: ``match`` along the strongest links joining all their
  records (a maximum spanning tree of their scored pairs; one label between two records would not
  do: the chaining guard weighs the evidence between the rest of both and may keep them apart).

Before writing, the page shows what the next build will do (:func:`preview`): the members' scored
pairs clustered by :func:`golden_record.golden.clustering.cluster_pairs` with the labels in force
and the new ones.
"""
from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
from flask import Blueprint, jsonify, render_template, request
from psycopg import sql

from golden_record.errors import DataError
from golden_record.golden.clustering import AUTO, _capped_forest, cluster_pairs
from golden_record.golden.layout import Layout
from golden_record.golden.survivorship import (_canonical_names, _frequency_key, _length_key, _source_key,
                                               _time_key, canonical_records, chain_for)
from golden_record.io import labels, warehouse
from golden_record.linkage.scoring import LEFT, RIGHT, explain_records, pair_fields, score_pair_frame

#: the most members shown and scored pairwise (a golden record is capped at golden.max_cluster_size)
MAX_MEMBERS = 40
#: search results and nearest records left out shown
MAX_RESULTS = 20
NEAREST = 5
#: waterfall charts kept in memory
_PNG_CACHE = 256


class NotFound(Exception):
    """No golden record of that id (HTTP 404 with the reason)."""


def _text(value) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.isoformat()
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------- pure parts
def deciding_rule(members: pd.DataFrame, field: str, chain: list[str], layout: Layout, priority: list[str]) -> str:
    """Which rule of ``chain`` picked the surviving value of ``field`` among ``members`` (one
    cluster, canonical values): the first rule after which the best-ranked members all hold one
    value (compared as ``most_frequent`` compares: case and spaces ignored); ``only value`` when
    the members hold one value; ``lowest record id`` when the chain left a tie."""
    col = members[field]
    null = col.isna().to_numpy()
    if null.all():
        return "no member has a value"

    def norm(v) -> str:
        return " ".join(str(v).lower().split())

    present = np.flatnonzero(~null)
    if len({norm(v) for v in col.to_numpy(dtype=object)[present]}) == 1:
        return "only value"
    labels_ = np.zeros(len(members), dtype=np.int64)
    alive = present
    for rule in chain:
        if rule == "most_recent":
            key = _time_key(members[layout.recency]) if layout.recency in members.columns else None
        elif rule == "source_priority":
            key = (_source_key(members[layout.source], _canonical_names(priority, layout))
                   if layout.source in members.columns else None)
        elif rule == "most_frequent":
            key = _frequency_key(col.reset_index(drop=True), labels_, null)
        else:
            key = _length_key(col.reset_index(drop=True), null)
        if key is None:
            continue
        best = key[alive].min()
        alive = alive[key[alive] == best]
        if len({norm(v) for v in col.to_numpy(dtype=object)[alive]}) == 1:
            return rule
    return "lowest record id (the chain left a tie)"


def verdicts_after(inside: pd.DataFrame, new: dict[tuple[str, str], str], reviewer: str | None
                   ) -> tuple[dict[tuple[str, str], str], int]:
    """The verdicts ({ordered pair: match | not_match}) once ``reviewer`` stored ``new`` (replacing
    their own labels of those pairs, as :func:`labels.record_label` does), and how many pairs
    reviewers then disagree on (left out by the build, as :func:`labels.pair_verdicts` leaves them)."""
    frame = inside[["left_id", "right_id", "reviewer", "label"]] if len(inside) else \
        pd.DataFrame(columns=["left_id", "right_id", "reviewer", "label"])
    if new:
        keys = pd.MultiIndex.from_frame(frame[["left_id", "right_id"]]) if len(frame) else pd.MultiIndex.from_tuples(
            [], names=["left_id", "right_id"])
        replaced = keys.isin(list(new)) & (frame["reviewer"] == reviewer).to_numpy()
        added = pd.DataFrame([(a, b, reviewer, v) for (a, b), v in new.items()], columns=frame.columns)
        frame = pd.concat([frame[~replaced], added], ignore_index=True)
    if frame.empty:
        return {}, 0
    decided = labels.pair_verdicts(frame)
    pairs = decided.pairs
    return {(a, b): v for a, b, v in pairs[["left_id", "right_id", "label"]].itertuples(index=False)}, decided.conflicting


def segments_against(golden: str | None, value: str | None) -> list[list]:
    """A member's value cut into ``[text, differs]`` pieces against the surviving value."""
    from golden_record.web.queue import segments

    if value is None:
        return []
    if golden is None or golden == value:
        return [[value, golden is None]]
    return segments(golden, value)[1]


def weakest_link(left: np.ndarray, right: np.ndarray, prob: np.ndarray, match: np.ndarray,
                 forced: np.ndarray) -> int | None:
    """Index of the weakest edge of the maximum spanning forest of the match links (labelled
    matches count first), i.e. the link whose loss would split the golden record soonest; None
    without a match link."""
    links = np.flatnonzero(match | forced)
    if not len(links):
        return None
    kept = links[_capped_forest(left[links], right[links], prob[links], cap=len(prob) + len(left) + 2,
                                forced=forced[links])]
    ranked = kept[np.lexsort((prob[kept], forced[kept]))]        # not forced first, then lowest probability
    return int(ranked[0])


def preview(ids: list[str], left: np.ndarray, right: np.ndarray, prob: np.ndarray, threshold: float,
            verdicts: dict[tuple[str, str], str], min_edge_probability, max_cluster_size) -> list[list[str]]:
    """The groups the next build would make of ``ids`` from their scored pairs (positions
    ``left``/``right``) and the labels ``verdicts`` ({ordered pair: match | not_match}), clustered as
    the build clusters (:func:`cluster_pairs`); largest group first."""
    pos = {r: i for i, r in enumerate(ids)}
    must = [(pos[a], pos[b]) for (a, b), v in verdicts.items() if v == labels.MATCH and a in pos and b in pos]
    cannot = [(pos[a], pos[b]) for (a, b), v in verdicts.items() if v == labels.NOT_MATCH and a in pos and b in pos]

    def pairs(items):
        return (np.array([a for a, _ in items], dtype=np.int64), np.array([b for _, b in items], dtype=np.int64))

    cap = max_cluster_size if max_cluster_size != AUTO else len(ids) + 1
    clusters = cluster_pairs(len(ids), left, right, prob, threshold, min_edge_probability, cap,
                             pairs(must) if must else None, pairs(cannot) if cannot else None)
    groups: dict[int, list[str]] = {}
    for i, c in enumerate(clusters.labels.tolist()):
        groups.setdefault(c, []).append(ids[i])
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


# --------------------------------------------------------------------------- the viewer
@dataclass
class Members:
    golden_id: str
    ids: list[str]
    raw: pd.DataFrame             # every declared field as text, by record
    canonical: pd.DataFrame       # the same in the form survivorship compares (golden.survivorship)
    more: int                     # members not shown (beyond MAX_MEMBERS)


class GoldenViewer:
    """Golden records of the run's config read from PostgreSQL, scored with the run's model."""

    def __init__(self, lookup, store):
        self.lookup, self.store = lookup, store
        self.model, self.config, self.threshold, self.run_id = lookup.model, lookup.config, lookup.threshold, lookup.run_id
        self.layout = Layout.from_config(self.config)
        self.data = self.config.data
        self.fields = list(self.data.fields)
        self.name_fields = [f for f, s in self.data.fields.items() if s.type == "name"]
        self._png: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ reading
    def _require_tables(self, conn) -> None:
        for table, key in ((self.layout.table, "golden.table"), (self.layout.map_table, "golden.map_table")):
            if not warehouse.table_exists(conn, table):
                raise DataError(f"no golden records yet: table {table} ({key}) does not exist",
                                "write them: make golden (or golden-record golden --run-id RUN_ID)")

    def _records(self, conn, where: sql.Composable, params: list, limit: int | None = None) -> pd.DataFrame:
        """Records of the data table with their golden id, every declared field as text (as the
        warehouse reads them); ``where`` names ``r.record_id``, ``r.<field>`` and ``m.golden_id``."""
        d = self.data
        inner = sql.SQL("SELECT {}::text AS record_id, {} AS __id, {} FROM {}").format(
            sql.Identifier(d.id), sql.Identifier(d.id),
            sql.SQL(", ").join(warehouse._field_select(d, f) for f in self.fields), warehouse.table_ref(d.table))
        order = sql.SQL("r.__id") if self._id_type(conn) in ("bigint", "integer", "smallint") \
            else sql.SQL('r.record_id COLLATE "C"')
        query = sql.SQL("SELECT r.record_id, m.golden_id::text AS golden_id, m.match_probability AS link_probability, "
                        "{} FROM ({}) r JOIN {} m ON m.{} = r.__id WHERE {} ORDER BY {}{}").format(
            sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(f)) for f in self.fields), inner,
            warehouse.table_ref(self.layout.map_table), sql.Identifier(self.layout.id_column), where, order,
            sql.SQL(f" LIMIT {int(limit)}") if limit else sql.SQL(""))
        cur = conn.execute(query, params)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])

    def _id_type(self, conn) -> str:
        return self.lookup._records_id_type(conn)

    def search(self, text: str) -> dict:
        """Golden records holding a record whose id, golden id or name matches ``text``."""
        text = " ".join(str(text or "").split())
        if not text:
            raise BadInput("type a record id, a golden id or a name")
        if len(text) > 200:
            raise BadInput("a search has at most 200 characters")
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        names = sql.SQL("concat_ws(' ', {})").format(sql.SQL(", ").join(
            sql.SQL("r.{}").format(sql.Identifier(f)) for f in self.name_fields)) if self.name_fields else sql.SQL("''")
        where = sql.SQL("r.record_id = %s OR m.golden_id::text = %s OR {} ILIKE %s").format(names)
        with self.store.connection() as conn:
            self._require_tables(conn)
            found = self._records(conn, where, [text, text, like], limit=200)
            counts = {}
            if len(found):
                rows = conn.execute(sql.SQL("SELECT golden_id::text, member_count FROM {} WHERE golden_id::text = ANY(%s)")
                                    .format(warehouse.table_ref(self.layout.table)),
                                    (sorted(set(found["golden_id"])),)).fetchall()
                counts = dict(rows)
        results, seen = [], set()
        for row in found.itertuples(index=False):
            row = row._asdict()
            if row["golden_id"] in seen:
                continue
            seen.add(row["golden_id"])
            results.append({"golden_id": row["golden_id"], "record_id": row["record_id"],
                            "name": " ".join(filter(None, (_text(row.get(f)) for f in self.name_fields[:1]))) or None,
                            "member_count": counts.get(row["golden_id"]),
                            "how": "record id" if row["record_id"] == text else
                                   "golden id" if row["golden_id"] == text else "name"})
        exact = [r for r in results if r["how"] != "name"]
        results = (exact + [r for r in results if r["how"] == "name"])[:MAX_RESULTS]
        return {"query": text, "results": results, "more": max(0, len(seen) - len(results))}

    def members(self, conn, golden_id: str) -> Members:
        found = self._records(conn, sql.SQL("m.golden_id::text = %s"), [golden_id], limit=MAX_MEMBERS + 1)
        more = 0
        if len(found) > MAX_MEMBERS:
            total = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE golden_id::text = %s").format(
                warehouse.table_ref(self.layout.map_table)), (golden_id,)).fetchone()[0]
            found, more = found.iloc[:MAX_MEMBERS], total - MAX_MEMBERS
        raw = found.reset_index(drop=True)
        canonical, _ = canonical_records(raw[["record_id", *self.fields]], self.data.fields)
        return Members(golden_id, raw["record_id"].tolist(), raw, canonical, more)

    def _golden_row(self, conn, golden_id: str) -> dict | None:
        cur = conn.execute(sql.SQL("SELECT * FROM {} WHERE golden_id::text = %s").format(
            warehouse.table_ref(self.layout.table)), (golden_id,))
        row = cur.fetchone()
        return None if row is None else dict(zip([c.name for c in cur.description], row))

    def _redirect(self, conn, golden_id: str) -> dict | None:
        if not warehouse.table_exists(conn, self.layout.redirect_table):
            return None
        row = conn.execute(sql.SQL("SELECT new_golden_id::text, reason FROM {} WHERE old_golden_id::text = %s").format(
            warehouse.table_ref(self.layout.redirect_table)), (golden_id,)).fetchone()
        return None if row is None else {"new_golden_id": row[0], "reason": row[1]}

    def _verdicts(self, conn, ids: set[str]) -> tuple[dict[tuple[str, str], str], pd.DataFrame]:
        """Review verdicts of pairs within ``ids`` (reviewers agreeing), and those pairs' labels."""
        every = labels.read_labels(conn, self.data.table)
        inside = every[every["left_id"].isin(ids) & every["right_id"].isin(ids)] if len(every) else every
        return verdicts_after(inside, {}, None)[0], inside

    # ------------------------------------------------------------------ scoring
    def _score_pairs(self, raw: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> pd.DataFrame:
        if not len(left):
            return pd.DataFrame(columns=["match_weight", "match_probability", "is_match"])
        frame = pd.DataFrame({f + side: raw[f].to_numpy(dtype=object)[idx]
                              for f in pair_fields(self.config) if f in raw.columns
                              for side, idx in ((LEFT, left), (RIGHT, right))})
        return score_pair_frame(frame, self.model, self.config, self.threshold)

    @staticmethod
    def _all_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
        left, right = np.triu_indices(n, k=1)
        return left.astype(np.int64), right.astype(np.int64)

    # ------------------------------------------------------------------ one golden record
    def golden(self, golden_id: str) -> dict:
        golden_id = str(golden_id).strip()
        with self.store.connection() as conn:
            self._require_tables(conn)
            row = self._golden_row(conn, golden_id)
            if row is None:
                moved = self._redirect(conn, golden_id)
                if moved:
                    where = f"golden record {moved['new_golden_id']}" if moved["new_golden_id"] else "no golden record"
                    raise NotFound(f"golden id {golden_id} was retired by a later build ({moved['reason']}): its "
                                   f"records are now in {where}")
                raise NotFound(f"no golden record {golden_id} in {self.layout.table}: search by a member's id or name")
            m = self.members(conn, golden_id)
            verdicts, inside = self._verdicts(conn, set(m.ids))
        sources = row.get("field_sources") or {}
        if isinstance(sources, str):
            sources = json.loads(sources)
        survivors = []
        g = self.config.golden
        golden_values = {f: _text(row.get(f)) for f in self.layout.fields}
        for f in self.layout.fields:
            chain = chain_for(g, f)
            if f in self.layout.composites:
                decided = "agrees with the surviving " + " and ".join(self.layout.composites[f])
            else:
                decided = deciding_rule(m.canonical, f, chain, self.layout, g.source_priority)
            survivors.append({"field": f, "value": golden_values[f], "source": _text(sources.get(f)),
                              "chain": chain, "decided_by": decided})
        members = []
        for i, rid in enumerate(m.ids):
            values = []
            for f in self.layout.fields:
                shown = _text(m.canonical[f].iat[i])
                raw_value = _text(m.raw[f].iat[i])
                values.append({"field": f, "value": shown, "raw": raw_value if raw_value != shown else None,
                               "parts": segments_against(golden_values[f], shown),
                               "status": "missing" if shown is None else
                                         "same" if golden_values[f] is not None and shown.casefold() == golden_values[f].casefold()
                                         else "differs",
                               "survived": _text(sources.get(f)) == rid})
            extra = {k: _text(m.raw[k].iat[i]) for k in (self.layout.source, self.layout.recency) if k}
            members.append({"record_id": rid, "link_probability": float(m.raw["link_probability"].iat[i]),
                            "values": values, **extra})
        left, right = self._all_pairs(len(m.ids))
        scored = self._score_pairs(m.raw, left, right)
        prob = scored["match_probability"].to_numpy(dtype=float)
        match = scored["is_match"].to_numpy(dtype=bool)
        keys = [labels.ordered(m.ids[a], m.ids[b]) for a, b in zip(left.tolist(), right.tolist())]
        forced = np.array([verdicts.get(k) == labels.MATCH for k in keys], dtype=bool)
        comparisons = [c.name for c in self.config.comparisons]
        edges = []
        for k, (a, b) in enumerate(zip(left.tolist(), right.tolist())):
            edges.append({"left_id": m.ids[a], "right_id": m.ids[b], "probability": float(prob[k]),
                          "match_weight": float(scored["match_weight"].iat[k]), "is_match": bool(match[k]),
                          "label": verdicts.get(keys[k]),
                          "comparisons": [{"name": c, "level": str(scored[f"cmp_{c}"].iat[k]),
                                           "weight": float(scored[f"w_{c}"].iat[k])} for c in comparisons]})
        weakest = weakest_link(left, right, prob, match, forced)
        order = sorted(range(len(edges)), key=lambda k: (not (match[k] or forced[k]), -prob[k]))
        pending = [{"left_id": r.left_id, "right_id": r.right_id, "label": r.label, "reviewer": r.reviewer}
                   for r in inside.itertuples(index=False)
                   if row.get("created_at") is not None and r.labelled_at > row["created_at"]]
        return {
            "golden_id": golden_id, "member_count": int(row["member_count"]), "members_shown": len(m.ids),
            "members_more": m.more, "cluster_confidence": float(row["cluster_confidence"]),
            "built_by_run": row.get("run_id"), "built_at": _text(row.get("created_at")),
            "model_run": self.run_id, "threshold": self.threshold,
            "survivors": survivors, "members": members,
            "edges": [edges[k] for k in order],
            "weakest": None if weakest is None else edges[weakest],
            "labels_since_build": pending,
            "nearest": self.nearest(m, golden_id),
        }

    def nearest(self, m: Members, golden_id: str) -> dict:
        """The records of other golden records closest to the members (the lookup service's path:
        the block index, then the model), best match weight first."""
        from golden_record.errors import GoldenRecordError
        from golden_record.linkage.schema import clean_records
        from golden_record.linkage import cleaning

        usable = [f for f in self.lookup.known_fields() if f in self.fields]
        frame = m.raw[["record_id", *usable]].copy()
        prepared, _ = clean_records(frame, {f: self.data.fields[f] for f in usable})
        records = []
        for i in range(len(frame)):
            rec = {"record_id": frame["record_id"].iat[i]}
            for f in usable:
                v = frame[f].iat[i]
                # a value the cleaner cannot read is one the lookup would refuse: left out, as training ignores it
                if v is not None and not cleaning.is_blank(np.array([v], dtype=object))[0] and not pd.isna(prepared[f].iat[i]):
                    rec[f] = v
            records.append(rec)
        try:
            answer = self.lookup.match(records, top=NEAREST + 1)
        except GoldenRecordError as exc:
            return {"records": [], "note": exc.one_line()}
        best: dict[str, dict] = {}
        for res in answer["results"]:
            for cand in res["candidates"]:
                if cand["golden_id"] == golden_id:
                    continue
                for rec in cand["records"]:
                    if rec["record_id"] in m.ids:
                        continue
                    item = {"record_id": rec["record_id"], "golden_id": cand["golden_id"],
                            "provisional": cand["provisional"], "closest_member": res["record_id"],
                            "probability": rec["match_probability"], "match_weight": rec["match_weight"],
                            "verdict": rec["verdict"], "label": rec["review_label"]}
                    if rec["record_id"] not in best or best[rec["record_id"]]["match_weight"] < item["match_weight"]:
                        best[rec["record_id"]] = item
        ranked = sorted(best.values(), key=lambda r: (-r["match_weight"], r["record_id"]))[:NEAREST]
        notes = sorted({n for res in answer["results"] for n in res["notes"]})
        return {"records": ranked, "note": "; ".join(notes) if notes else None}

    def waterfall_png(self, left_id: str, right_id: str) -> bytes:
        key = labels.ordered(left_id, right_id)
        with self._lock:
            if key in self._png:
                return self._png[key]
        with self.store.connection() as conn:
            found = self._records(conn, sql.SQL("r.record_id = ANY(%s)"), [list(key)])
        if len(found) != 2:
            raise NotFound(f"records {key[0]} and {key[1]} are not both in {self.data.table} with a golden id")
        by_id = {r["record_id"]: r for r in found.to_dict(orient="records")}
        from golden_record.tracking.waterfall import waterfall_plot

        fig = waterfall_plot(explain_records(self.model, self.config, by_id[left_id], by_id[right_id], self.threshold))
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        with self._lock:
            if len(self._png) >= _PNG_CACHE:
                self._png.pop(next(iter(self._png)))
            self._png[key] = buffer.getvalue()
        return self._png[key]

    # ------------------------------------------------------------------ actions
    def _plan_split(self, conn, golden_id: str, member: str, reviewer: str | None) -> dict:
        m = self.members(conn, golden_id)
        if member not in m.ids:
            raise BadInput(f"record {member} is not a member of golden record {golden_id} (reload the page)")
        if len(m.ids) < 2:
            raise BadInput(f"golden record {golden_id} has one member: there is nothing to split")
        if m.more:
            raise BadInput(f"golden record {golden_id} has {len(m.ids) + m.more} members, more than the "
                           f"{MAX_MEMBERS} this page scores: split it with labels in review instead")
        new = {labels.ordered(member, other): labels.NOT_MATCH for other in m.ids if other != member}
        _, inside = self._verdicts(conn, set(m.ids))
        verdicts, conflicting = verdicts_after(inside, new, reviewer)
        left, right = self._all_pairs(len(m.ids))
        prob = self._score_pairs(m.raw, left, right)["match_probability"].to_numpy(dtype=float)
        return {"labels": new, "groups": self._preview(m.ids, left, right, prob, verdicts), "ids": m.ids,
                "conflicting": conflicting}

    def _plan_merge(self, conn, golden_id: str, other: str, reviewer: str | None) -> dict:
        if other == golden_id:
            raise BadInput("pick another golden record to merge with")
        if self._golden_row(conn, other) is None:
            raise NotFound(f"no golden record {other} in {self.layout.table}")
        a, b = self.members(conn, golden_id), self.members(conn, other)
        if a.more or b.more:
            raise BadInput(f"these golden records have more than {MAX_MEMBERS} members: too many to score here")
        raw = pd.concat([a.raw, b.raw], ignore_index=True)
        ids = a.ids + b.ids
        left, right = self._all_pairs(len(ids))
        prob = self._score_pairs(raw, left, right)["match_probability"].to_numpy(dtype=float)
        # one person: match labels along the strongest links joining all the records (a maximum
        # spanning tree), so every record is forced into one group, whatever the chaining guard weighs;
        # the reviewer's own "not a match" labels between the two are replaced (a change of mind)
        tree = _capped_forest(left, right, prob, cap=len(ids) + 1)
        before, inside = self._verdicts(conn, set(ids))
        new = {labels.ordered(ids[i], ids[j]): labels.MATCH for i, j in zip(left[tree].tolist(), right[tree].tolist())}
        new = {k: v for k, v in new.items() if before.get(k) != labels.MATCH}
        side = {r: 0 for r in a.ids} | {r: 1 for r in b.ids}
        mine = inside[(inside["reviewer"] == reviewer) & (inside["label"] == labels.NOT_MATCH)] if len(inside) else inside
        for x, y in zip(mine["left_id"], mine["right_id"]) if len(mine) else ():
            if side[x] != side[y]:
                new[(x, y)] = labels.MATCH
        verdicts, conflicting = verdicts_after(inside, new, reviewer)
        return {"labels": new, "groups": self._preview(ids, left, right, prob, verdicts), "ids": ids,
                "conflicting": conflicting}

    def _preview(self, ids, left, right, prob, verdicts) -> list[list[str]]:
        g = self.config.golden
        return preview(ids, left, right, prob, self.threshold, verdicts, g.min_edge_probability, g.max_cluster_size)

    def plan(self, action: str, golden_id: str, target: str, reviewer: str | None = None) -> dict:
        """The labels ``action`` (split or merge) stores and what the next build does with them."""
        with self.store.connection() as conn:
            self._require_tables(conn)
            if action == "split":
                plan = self._plan_split(conn, golden_id, target, reviewer)
            elif action == "merge":
                plan = self._plan_merge(conn, golden_id, target, reviewer)
            else:
                raise BadInput(f"action must be split or merge, got {action!r}")
        plan["text"] = describe(action, golden_id, target, plan)
        return plan

    def apply(self, action: str, golden_id: str, target: str, reviewer: str) -> dict:
        """Write the action's labels (one transaction) and say what the next build will do."""
        plan = self.plan(action, golden_id, target, reviewer)
        with self.store.connection() as conn:
            labels.ensure_table(conn)
            with conn.transaction():
                for (a, b), label in plan["labels"].items():
                    labels.record_label(conn, data_table=self.data.table, run_id=self.run_id, left_id=a, right_id=b,
                                        label=label, reviewer=reviewer)
        return plan


class BadInput(Exception):
    """A request the page should not have sent (HTTP 400 with the reason)."""


def describe(action: str, golden_id: str, target: str, plan: dict) -> str:
    """What the next golden build will do, in one or two sentences."""
    groups = plan["groups"]
    n = len(plan["labels"])
    kind = "not a match" if action == "split" else "match"
    head = f"{n} label{'s' if n != 1 else ''} '{kind}' ({', '.join(f'{a}–{b}' for a, b in plan['labels'])}). "
    if plan.get("conflicting"):
        head += (f"{plan['conflicting']} pair(s) among these records are labelled otherwise by another reviewer: the "
                 "build leaves them out until reviewers agree. ")
    if action == "split":
        alone = next((g for g in groups if target in g), [target])
        rest = [g for g in groups if target not in g]
        if len(alone) == 1 and len(rest) == 1:
            return head + (f"Next build (make golden): record {target} leaves golden record {golden_id} (a golden "
                           f"record of its own unless it matches a record elsewhere); {len(rest[0])} member(s) stay "
                           "together.")
        return head + (f"Next build (make golden): record {target} leaves golden record {golden_id}; its "
                       f"{len(plan['ids'])} records become {len(groups)} golden records: "
                       + "; ".join("[" + ", ".join(g) + "]" for g in groups) + ".")
    if len(groups) == 1:
        return head + (f"Next build (make golden): golden records {golden_id} and {target} become one golden record "
                       f"of {len(groups[0])} records.")
    return head + ("Next build (make golden): 'not a match' labels among these records keep some of them apart; "
                   f"they become {len(groups)} golden records: "
                   + "; ".join("[" + ", ".join(g) + "]" for g in groups) + ".")


def load_viewer(client, run_id: str, store, pool_size: int = 2) -> GoldenViewer:
    """The viewer over the run's logged model (scores members' pairs and looks up the nearest
    records as the lookup service does); ``store``: the review app's :class:`LabelStore`."""
    import tempfile
    from pathlib import Path

    from golden_record.serve.lookup import ConnectionPool, Lookup
    from golden_record.tracking.model_logging import load_logged_model

    with tempfile.TemporaryDirectory() as tmp:
        model, config, threshold = load_logged_model(client, run_id, Path(tmp))
    pool = ConnectionPool(store.target.url, size=pool_size, timeout=store.timeout)
    return GoldenViewer(Lookup(model, config, threshold, run_id, pool), store)


# --------------------------------------------------------------------------- the web part
def blueprint(viewer: GoldenViewer, reviewer: str | None = None, log=None) -> Blueprint:
    """The viewer's pages and API under ``/golden`` (the app's Host/Origin check covers them)."""
    from golden_record.web.review import _reviewer

    bp = Blueprint("golden_viewer", __name__, template_folder="templates", static_folder="static",
                   url_prefix="/golden")
    say = log or (lambda text: None)

    @bp.app_context_processor
    def _tab():
        return {"golden_tab": True}          # the review page links to this tab

    @bp.errorhandler(NotFound)
    def _missing(exc):
        return jsonify(error=str(exc)), 404

    @bp.errorhandler(BadInput)
    def _bad(exc):
        return jsonify(error=str(exc)), 400

    @bp.get("/")
    def page():
        return render_template("viewer.html", page={"run_id": viewer.run_id, "table": viewer.data.table,
                                                    "golden_table": viewer.layout.table, "reviewer": reviewer})

    @bp.get("/api/search")
    def search():
        return jsonify(viewer.search(request.args.get("q", "")))

    @bp.get("/api/golden/<golden_id>")
    def golden(golden_id: str):
        return jsonify(viewer.golden(golden_id))

    @bp.get("/api/waterfall/<left_id>/<right_id>.png")
    def waterfall(left_id: str, right_id: str):
        try:
            labels.ordered(left_id, right_id)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        response = bp_response(viewer.waterfall_png(left_id, right_id))
        return response

    def bp_response(png: bytes):
        from flask import current_app

        response = current_app.response_class(png, mimetype="image/png")
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    def _body() -> tuple[str, str, str]:
        body = request.get_json(silent=True) or {}
        action, golden_id, target = body.get("action"), body.get("golden_id"), body.get("target")
        if not golden_id or not target:
            raise BadInput("a split names the golden record and the member; a merge both golden records")
        return str(action), str(golden_id), str(target)

    @bp.post("/api/preview")
    def post_preview():
        body = request.get_json(silent=True) or {}
        plan = viewer.plan(*_body(), reviewer=str(reviewer or body.get("reviewer") or "").strip() or None)
        return jsonify(text=plan["text"], groups=plan["groups"],
                       labels=[{"left_id": a, "right_id": b, "label": v} for (a, b), v in plan["labels"].items()])

    @bp.post("/api/apply")
    def post_apply():
        body = request.get_json(silent=True) or {}
        try:
            name = _reviewer(reviewer or body.get("reviewer"))
        except Exception as exc:
            raise BadInput(str(exc)) from None
        action, golden_id, target = _body()
        plan = viewer.apply(action, golden_id, target, name)
        say(f"{name}: {action} {golden_id} / {target}: {len(plan['labels'])} label(s) in {labels.TABLE}")
        return jsonify(text=plan["text"], groups=plan["groups"], recorded=True,
                       labels=[{"left_id": a, "right_id": b, "label": v} for (a, b), v in plan["labels"].items()])

    return bp
