"""Golden records: from scored record pairs to one surviving record per person, in PostgreSQL.

Three steps, all vectorised (NumPy / SciPy / pandas; no Python loop over clusters or records, only
over distinct values where strings are cleaned):

1. **Clustering** (:func:`cluster_pairs`). The candidate pairs whose match probability is at least
   ``model.params.match_threshold`` are the edges of a graph over the records; its connected
   components (``scipy.sparse.csgraph.connected_components``) are the first clusters. Two guards
   against *chaining* (one weak link merging two people's records) follow:

   * **weak-edge guard**: in every component of more than 2 records, the edges below
     ``golden.min_edge_probability`` are dropped and the component is re-split into the connected
     components of its remaining edges. A pair on its own (2 records, one edge) is kept as is.
   * **size cap**: a component still larger than ``golden.max_cluster_size`` is rebuilt from its
     strongest edges: Kruskal's algorithm on its edges in descending probability (a maximum
     spanning forest) that refuses any union making a cluster larger than the cap. The pieces are
     therefore held together by their strongest edges and the weakest links are the ones cut.
     Only the edges of such oversized components go through this (small) loop.

   A record without any kept edge is a golden record of its own (a singleton).

2. **Survivorship** (:func:`survive`), on the records' *canonical* values
   (:func:`canonical_records`): identifiers, phones, e-mails, categories, dates and timestamps as
   their type's cleaner makes them (the same cleaner as training: a phone as its digits, ``Male``
   as ``M`` when the category declares it; values the cleaner cannot use become missing and are
   counted in ``golden_values_refused_<field>``); names, text and addresses as written, spacing
   trimmed. Per golden field a *rule chain* (``golden.rules.<field>``, else
   ``golden.default_rule``) picks the value among the cluster's non-null values. Rules, by name
   (registry :data:`RULES` = ``config.SURVIVORSHIP_RULES``):

   * ``most_recent``: the latest value of the ``data.recency`` field;
   * ``most_frequent``: the value held by most members (compared case- and space-insensitively);
   * ``most_complete``: the longest value;
   * ``source_priority``: the record whose ``data.source`` value comes first in
     ``golden.source_priority`` (unlisted sources rank after every listed one).

   The chain is a fallback chain: each next rule breaks the ties the previous ones left (a
   record without the rule's key ranks last for that rule), and the lowest record id breaks any
   tie left. Implemented as one ``np.lexsort`` per field on (cluster, value is null, rule keys...,
   record id), taking the first row of each cluster. ``field_sources`` records, per golden field,
   the id of the record the value came from.

   A *composite* field (``golden.composite``, e.g. ``full_name: [first_name, last_name]``) agrees
   with its surviving parts (:func:`_survive_composite`): the parts survive by their own chains (a
   vote per part beats a vote on whole names, which all differ when each copy has its own typo);
   the composite is then the best-ranked member value that agrees with them, else the three come
   together from one record consistent in itself, else it is rebuilt from the parts
   (``golden_<field>_rebuilt``). On a seeded warehouse of 20,000 records this makes 100 % of
   golden names consistent (91 % before) and raises the share of multi-record golden full names
   equal to the person's true name from 72 % to 74 %.

3. **Output** (:func:`write_golden`): the golden table (``golden.table``) and the map table
   (``golden.map_table``: record id -> golden_id), created from the schema (:class:`Layout`: text
   for every field but dates and timestamps, the id column's type for the ids), replaced in one
   transaction (TRUNCATE + COPY; a table shaped otherwise is dropped and recreated in the same
   transaction): all new rows, or, on any failure, the previous rows untouched and an error naming
   the column and row refused.

Before any of this, the records are reloaded (the trainer loads only the fields it compares) and
checked to be exactly the scored ones (:func:`verify_same_records`): same ids, same values in every
column training loaded. A table changed since (re-seeded, updated) fails with a :class:`DataError`
and nothing is written: pairs scored on other data would make golden records of strangers.

* ``golden_id`` is the smallest record id of the cluster (stable across re-runs);
* ``cluster_confidence`` is the lowest probability among the kept match edges inside the
  cluster (1.0 for a singleton);
* the map's ``match_probability`` is the best probability of a kept edge linking the record into
  its cluster (1.0 for a singleton).

Cluster metrics against the ground truth (when the warehouse has one): see :func:`cluster_metrics`.

Entry points: :func:`build_golden_records` (used by ``src/train.py --write-golden``), then
:func:`log_to_mlflow`; :func:`main` is ``scripts/build_golden_records.py --run-id RUN_ID``, which
rebuilds the golden records from a logged model without retraining.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from golden_record.linkage.decision import is_match, pairs_within
from golden_record.io import warehouse
from golden_record.config import SURVIVORSHIP_RULES, ConfigError, GoldenSettings, ModelConfig
from golden_record.errors import DataError, TrackingError, WarehouseError
from golden_record.linkage.schema import FieldSpec, clean_field

#: Survivorship rule registry (names validated by :class:`config.GoldenSettings`).
RULES = SURVIVORSHIP_RULES
#: Columns of the golden table after the fields
GOLDEN_META = ("member_count", "cluster_confidence", "field_sources", "run_id", "created_at")
ARTIFACT_PATH = "golden"
_NO_KEY = np.iinfo(np.int64).max
#: Field types whose cleaned value is the canonical one a golden record holds; names, free text
#: and addresses keep their written form (spacing trimmed): their cleaned form is a matching key
CANONICAL_TYPES = ("identifier", "phone", "email", "category", "date", "timestamp")


@dataclass(frozen=True)
class Layout:
    """What the golden records of a schema look like: the fields (all declared fields but the
    recency and source roles), their specs, the roles, composite fields and the output tables."""
    fields: tuple[str, ...]
    specs: dict[str, FieldSpec]
    id_column: str = "record_id"
    recency: str | None = None
    source: str | None = None
    composites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    table: str = "golden_records"
    map_table: str = "golden_record_map"

    @classmethod
    def from_config(cls, config: ModelConfig) -> "Layout":
        d, g = config.data, config.golden
        return cls(tuple(config.golden_fields()), dict(d.fields), d.id, d.recency, d.source,
                   {k: tuple(v) for k, v in g.composite.items()}, g.table, g.map_table)

    @property
    def golden_columns(self) -> tuple[str, ...]:
        return ("golden_id", *self.fields, *GOLDEN_META)

    @property
    def map_columns(self) -> tuple[str, ...]:
        return (self.id_column, "golden_id", "match_probability")

    def column_types(self, id_type: str) -> dict[str, dict[str, str]]:
        """table -> column -> type (as PostgreSQL's format_type names it) of both output tables."""
        kinds = {"date": "date", "timestamp": "timestamp with time zone"}
        golden = {"golden_id": id_type, **{f: kinds.get(self.specs[f].type, "text") for f in self.fields},
                  "member_count": "integer", "cluster_confidence": "double precision", "field_sources": "jsonb",
                  "run_id": "text", "created_at": "timestamp with time zone"}
        mapping = {self.id_column: id_type, "golden_id": id_type, "match_probability": "double precision"}
        return {self.table: golden, self.map_table: mapping}

    def ddl(self, id_type: str) -> str:
        """CREATE TABLE statements of both tables: text for every field but dates and timestamps."""
        from psycopg import sql as _sql  # noqa: F401 - quoting below uses the same rules

        def q(name: str) -> str:
            return ".".join('"' + p.replace('"', '""') + '"' for p in name.split("."))

        kinds = {"date": "date", "timestamp": "timestamptz"}
        cols = ",\n    ".join(f"{q(f)} {kinds.get(self.specs[f].type, 'text')}" for f in self.fields)
        return (f"CREATE TABLE {q(self.table)} (\n    golden_id {id_type} PRIMARY KEY,\n    {cols},\n"
                "    member_count integer NOT NULL,\n    cluster_confidence double precision NOT NULL,\n"
                "    field_sources jsonb NOT NULL DEFAULT '{}'::jsonb,\n    run_id text,\n"
                "    created_at timestamptz NOT NULL DEFAULT now()\n);\n"
                f"CREATE TABLE {q(self.map_table)} (\n    {q(self.id_column)} {id_type} PRIMARY KEY,\n"
                f"    golden_id {id_type} NOT NULL,\n    match_probability double precision NOT NULL\n);\n"
                f"CREATE INDEX ON {q(self.map_table)} (golden_id);")


# =============================================================================== clustering
@dataclass
class Clusters:
    """Cluster of every record position, with per-cluster and per-record figures."""
    labels: np.ndarray              # cluster index (0..k-1) per record position
    sizes: np.ndarray               # records per cluster
    confidence: np.ndarray          # per cluster: lowest kept edge probability inside (1.0 singletons)
    link_probability: np.ndarray    # per record: best kept edge probability into its cluster (1.0 singletons)
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        return len(self.sizes)


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _capped_forest(left: np.ndarray, right: np.ndarray, prob: np.ndarray, cap: int) -> np.ndarray:
    """Boolean mask of edges accepted by Kruskal (strongest first) under a cluster-size cap."""
    order = np.lexsort((right, left, -prob))          # descending probability, ties deterministic
    parent = {}
    size = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:               # path compression
            parent[x], x = root, parent[x]
        return root

    accepted = np.zeros(len(left), dtype=bool)
    for e in order.tolist():
        a, b = find(int(left[e])), find(int(right[e]))
        if a == b:
            continue
        sa, sb = size.get(a, 1), size.get(b, 1)
        if sa + sb > cap:
            continue
        if sa < sb:
            a, b = b, a
        parent[b] = a
        size[a] = sa + sb
        accepted[e] = True
    return accepted


def cluster_pairs(n: int, left: np.ndarray, right: np.ndarray, probabilities: np.ndarray, threshold: float,
                  min_edge_probability: float, max_cluster_size: int) -> Clusters:
    """Cluster ``n`` records from scored pairs (positions ``left``/``right``); see the module doc."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    prob = np.asarray(probabilities, dtype=np.float64)
    match = is_match(prob, threshold)
    l, r, p = left[match], right[match], prob[match]
    stats: dict[str, float] = {"golden_match_edges": float(len(l))}

    # 1. connected components of the match edges
    labels = _components(n, l, r)
    sizes = np.bincount(labels)
    # 2. weak-edge guard: in components of more than 2 records, drop edges below min_edge_probability
    keep = (sizes[labels[l]] <= 2) | (p >= min_edge_probability)
    stats["golden_edges_dropped_weak"] = float((~keep).sum())
    if not keep.all():
        before = len(sizes)
        l, r, p = l[keep], r[keep], p[keep]
        labels = _components(n, l, r)
        sizes = np.bincount(labels)
        stats["golden_clusters_split_weak"] = float(len(sizes) - before)
    else:
        stats["golden_clusters_split_weak"] = 0.0
    # 3. size cap: rebuild oversized components from their strongest edges
    oversized = sizes[labels[l]] > max_cluster_size
    stats["golden_clusters_oversized"] = float((sizes > max_cluster_size).sum())
    if oversized.any():
        accepted = np.ones(len(l), dtype=bool)
        accepted[oversized] = _capped_forest(l[oversized], r[oversized], p[oversized], max_cluster_size)
        before = len(sizes)
        labels = _components(n, l[accepted], r[accepted])
        sizes = np.bincount(labels)
        stats["golden_clusters_split_size"] = float(len(sizes) - before)
    else:
        stats["golden_clusters_split_size"] = 0.0
    # kept edges inside the final clusters: confidence and link probability
    inside = labels[l] == labels[r]
    stats["golden_edges_cut_size"] = float((~inside).sum())
    li, ri, pi = l[inside], r[inside], p[inside]
    stats["golden_edges_kept"] = float(len(li))
    confidence = np.ones(len(sizes))
    np.minimum.at(confidence, labels[li], pi)
    link = np.zeros(n)
    np.maximum.at(link, li, pi)
    np.maximum.at(link, ri, pi)
    link[sizes[labels] == 1] = 1.0
    return Clusters(labels, sizes, confidence, link, stats)


# =============================================================================== canonical values
_NAME_TOKEN = re.compile(r"[^\W_]+")


def _squash(value) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _map_distinct(values: pd.Series, fn) -> pd.Series:
    """``fn`` applied once per distinct non-missing value (missing stays missing)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([fn(v) for v in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def canonical_records(records: pd.DataFrame, specs: dict[str, FieldSpec]) -> tuple[pd.DataFrame, dict[str, int]]:
    """The records with every declared field in the form a golden record holds, and per field the
    number of present values its cleaner could not use (they become missing, as in training).

    Identifiers, phones, e-mails, categories, dates and timestamps take their cleaned value (the
    same cleaner as training: ``+91 98765 43210`` and ``098765 43210`` are one number, ``Male`` is
    ``M`` when the category declares it); names, text and addresses keep their written form with
    the spacing trimmed (their cleaned form is a matching key, not a value to show).
    """
    new: dict[str, pd.Series] = {}
    refused: dict[str, int] = {}
    for f, spec in specs.items():
        if f not in records.columns:
            continue
        if spec.type in CANONICAL_TYPES:
            cleaned, quality = clean_field(f, spec, records[f])
            new[f] = pd.Series(cleaned.to_numpy(), index=records.index)
            refused[f] = quality.dropped
        else:
            new[f] = _map_distinct(records[f], _squash)
    # only the cleaned columns are new; the others are shared with ``records`` (never modified)
    out = pd.DataFrame({c: new.get(c, records[c]) for c in records.columns}, index=records.index, copy=False)
    return out, refused


def _name_tokens(value) -> tuple[str, ...]:
    return tuple(_NAME_TOKEN.findall(value.casefold())) if isinstance(value, str) else ()


#: :func:`name_agreement` ranks (lower is better)
NAMES_AGREE, NAMES_SWAPPED, NAMES_DISAGREE = 0, 1, 2


def _agreement(full: tuple, first: tuple, last: tuple) -> int:
    n, a, b = len(full), len(first), len(last)
    if a + b > n:
        return NAMES_DISAGREE
    if full[:a] == first and full[n - b:] == last:
        return NAMES_AGREE
    if full[:b] == last and full[n - a:] == first:
        return NAMES_SWAPPED
    return NAMES_DISAGREE


def name_agreement(full: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Per row: how ``full`` agrees with ``first`` and ``last``: :data:`NAMES_AGREE` (0),
    :data:`NAMES_SWAPPED` (1, only as "last ... first", e.g. "Sharma Seema") or
    :data:`NAMES_DISAGREE` (2).

    Compared as word tokens (case, punctuation and spacing ignored): the full name starts with the
    first name and ends with the last name, middle names allowed. A missing part constrains
    nothing; a missing full name agrees. "Esema Sharma" disagrees with first name "Seema";
    "R. Kumar" agrees with "R." and "Kumar". Exact "first last" is checked vectorised, the rest
    once per distinct (full, first, last).
    """
    full_n, first_n, last_n = (_map_distinct(pd.Series(np.asarray(v, dtype=object)),
                                             lambda x: " ".join(_name_tokens(x))).fillna("").to_numpy(dtype=object)
                               for v in (full, first, last))
    joined = np.where(first_n == "", last_n, np.where(last_n == "", first_n, first_n + " " + last_n))
    rank = np.where((full_n == "") | (full_n == joined), NAMES_AGREE, NAMES_DISAGREE).astype(np.int64)
    rest = np.flatnonzero(rank != NAMES_AGREE)
    if len(rest):
        triples = pd.MultiIndex.from_arrays([full_n[rest], first_n[rest], last_n[rest]])
        codes, uniques = pd.factorize(triples)
        ranks = np.array([_agreement(tuple(f.split()), tuple(a.split()), tuple(b.split())) for f, a, b in uniques],
                         dtype=np.int64)
        rank[rest] = ranks[codes]
    return rank


# =============================================================================== survivorship
def _time_key(values: pd.Series) -> np.ndarray:
    """Rank key for most_recent: later is smaller; missing is last."""
    ts = pd.DatetimeIndex(pd.to_datetime(values, errors="coerce", utc=True)).asi8
    missing = ts == np.iinfo(np.int64).min
    return np.where(missing, _NO_KEY, -ts)


def _source_key(values: pd.Series, priority: list[str]) -> np.ndarray:
    """Rank key for source_priority: position in the list; unlisted or missing sources last."""
    rank = {s: i for i, s in enumerate(priority)}
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([rank.get(u, len(priority)) for u in uniques] + [len(priority)], dtype=np.int64)
    return table[codes]                                       # code -1 (missing) picks the last entry


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or isinstance(values.dtype, pd.StringDtype)


def _frequency_key(values: pd.Series, labels: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Rank key for most_frequent: minus the number of cluster members holding the same value
    (text compared case- and space-insensitively; each distinct value is normalised once)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if _is_text(values) and len(uniques):
        norm = pd.Series(np.asarray(uniques, dtype=object)).astype(str).str.lower().str.split().str.join(" ")
        remap, norm_uniques = pd.factorize(norm)
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        n_values = len(norm_uniques)
    else:
        n_values = len(uniques)
    combined = labels * (n_values + 1) + codes + 1
    _, inverse, counts = np.unique(combined, return_inverse=True, return_counts=True)
    key = -counts[inverse.ravel()].astype(np.int64)
    key[null] = 0
    return key


def _length_key(values: pd.Series, null: np.ndarray) -> np.ndarray:
    """Rank key for most_complete: minus the length of the value (missing last)."""
    if _is_text(values):
        lengths = values.str.len().fillna(0).to_numpy(dtype=np.int64)
    else:
        lengths = np.zeros(len(values), dtype=np.int64)
    key = -lengths
    key[null] = 0
    return key


def chain_for(settings: GoldenSettings, field_name: str) -> list[str]:
    return list(settings.rules.get(field_name, settings.default_rule))


def survive(records: pd.DataFrame, labels: np.ndarray, n_clusters: int, settings: GoldenSettings,
            layout: Layout, fields: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Surviving value per cluster and field, and the position of the record it came from (-1: all
    null, or a composite rebuilt from its parts).

    ``records`` holds ``record_id``, the fields, and (as the rules need) the layout's recency and
    source fields; row i belongs to cluster ``labels[i]`` (0..n_clusters-1, every cluster
    non-empty). Returns two frames indexed by cluster: the values, and the source record positions
    (int64). Only the members of clusters of two or more records are ranked; a singleton keeps its
    own values.

    A composite field (``golden.composite``, e.g. full_name of first_name and last_name) survives
    last, agreeing with its surviving parts (see :func:`name_agreement`, :func:`_survive_composite`).
    """
    fields = [f for f in (fields or layout.fields) if f in records.columns]
    labels = np.asarray(labels, dtype=np.int64)
    positions = np.arange(len(records), dtype=np.int64)
    sizes = np.bincount(labels, minlength=n_clusters)
    if len(sizes) != n_clusters or (sizes == 0).any():
        raise ValueError(f"labels must cover clusters 0..{n_clusters - 1}, each at least once")
    multi = np.flatnonzero(sizes[labels] > 1)          # records ranked by the rules
    single = np.flatnonzero(sizes[labels] == 1)
    sub = records.iloc[multi].reset_index(drop=True)
    sub_labels = labels[multi]
    sub_order = _id_order(records["record_id"])[multi]   # lowest id breaks the last ties
    base_pos = np.empty(n_clusters, dtype=np.int64)
    base_pos[labels[single]] = single
    shared: dict[str, np.ndarray] = {}

    def pick(f: str, rank: np.ndarray | None = None) -> np.ndarray:
        """Record position of the surviving value of ``f`` per cluster; with ``rank`` (per record,
        lower first) the rules only order the members of equal rank, nulls rank last."""
        col = sub[f]
        null = col.isna().to_numpy()
        keys = []
        for rule in chain_for(settings, f):
            if rule == "most_recent":
                if "most_recent" not in shared:
                    shared["most_recent"] = _time_key(sub[layout.recency])
                keys.append(shared["most_recent"])
            elif rule == "source_priority":
                if "source_priority" not in shared:
                    shared["source_priority"] = _source_key(sub[layout.source],
                                                            _canonical_names(settings.source_priority, layout))
                keys.append(shared["source_priority"])
            elif rule == "most_frequent":
                keys.append(_frequency_key(col, sub_labels, null))
            elif rule == "most_complete":
                keys.append(_length_key(col, null))
            else:  # pragma: no cover - the config validates rule names
                raise ConfigError(f"golden: unknown survivorship rule {rule!r}; allowed: {list(RULES)}")
        last = null if rank is None else np.where(null, NAMES_DISAGREE + 1, rank[multi])
        order = np.lexsort((sub_order, *reversed(keys), last, sub_labels))
        sorted_labels = sub_labels[order]
        first = order[np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])] if len(order) else order
        pos = base_pos.copy()
        pos[sub_labels[first]] = multi[first]
        return pos

    composites = {c: parts for c, parts in layout.composites.items()
                  if c in fields and any(p in fields for p in parts)}
    values_out: dict[str, pd.Series] = {}
    sources_out: dict[str, np.ndarray] = {}
    for f in fields:
        if f not in composites:
            pos = pick(f)
            values_out[f] = records[f].iloc[pos].reset_index(drop=True)
            sources_out[f] = np.where(records[f].isna().to_numpy()[pos], -1, positions[pos])
    for composite, parts in composites.items():
        _survive_composite(records, labels, composite, parts, pick, values_out, sources_out)
    values_frame = pd.DataFrame({f: values_out[f] for f in fields}, index=pd.RangeIndex(n_clusters))
    sources_frame = pd.DataFrame({f: sources_out[f] for f in fields}, index=pd.RangeIndex(n_clusters),
                                 dtype=np.int64)
    return values_frame, sources_frame


def _canonical_names(priority: list[str], layout: Layout) -> list[str]:
    """The configured source names in the form the source field's cleaner gives its values."""
    spec = layout.specs.get(layout.source) if layout.source else None
    if spec is None or spec.type not in CANONICAL_TYPES or not priority:
        return list(priority)
    cleaned, _ = clean_field(layout.source, spec, pd.Series(list(priority), dtype=object))
    return [c if c is not None else p for c, p in zip(cleaned.tolist(), priority)]


def _id_order(ids: pd.Series) -> np.ndarray:
    """Rank of each record id (integers numerically, text ids as text)."""
    return pd.Series(ids.to_numpy()).rank(method="dense").to_numpy(dtype=np.int64)


def _survive_composite(records: pd.DataFrame, labels: np.ndarray, composite: str, parts: tuple[str, ...], pick,
                       values_out: dict[str, pd.Series], sources_out: dict[str, np.ndarray]) -> None:
    """A composite field (full name) agreeing with its two parts (first and last name, which have
    survived already), in place:

    1. the best-ranked member value (by the composite's rule chain) that agrees with the surviving
       parts ("first ... last" before "last ... first");
    2. where no member's does (the parts came from different records), the composite and its
       parts together from the best-ranked record whose composite agrees with its own complete
       parts: the golden name is then a name some record holds;
    3. where no record is consistent with itself, the composite rebuilt as "first last" (source
       -1: field_sources leaves it out).
    """
    first_name, last_name = parts
    part_names = [p for p in parts if p in values_out]
    full = records[composite].to_numpy(dtype=object)
    present = records[composite].notna().to_numpy()
    positions = np.arange(len(records), dtype=np.int64)

    def parts_of(frame_values: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [frame_values[p] if p in frame_values else np.full(len(full), None, dtype=object)
                for p in (first_name, last_name)]

    # 1. agreeing with the surviving parts
    survived = parts_of({p: values_out[p].to_numpy(dtype=object)[labels] for p in part_names})
    agreement = name_agreement(full, *survived)
    pos = pick(composite, rank=agreement)
    values = records[composite].iloc[pos].to_numpy(dtype=object)
    sources = np.where(present[pos], positions[pos], -1)
    mixed = present[pos] & (agreement[pos] == NAMES_DISAGREE)
    if mixed.any():
        # 2. one consistent record for all three (only the members of mixed clusters are checked)
        rows = np.flatnonzero(mixed[labels])
        own = parts_of({p: records[p].to_numpy(dtype=object)[rows] for p in part_names})
        complete = np.logical_and.reduce([records[p].notna().to_numpy()[rows] for p in part_names])
        group_rank = np.full(len(full), NAMES_DISAGREE, dtype=np.int64)
        group_rank[rows] = np.where(complete, name_agreement(full[rows], *own), NAMES_DISAGREE)
        group_pos = pick(composite, rank=group_rank)
        take = np.flatnonzero(mixed & (group_rank[group_pos] != NAMES_DISAGREE))
        values[take] = full[group_pos[take]]
        sources[take] = positions[group_pos[take]]
        for p in part_names:
            part = values_out[p].astype(object).to_numpy(copy=True)
            part[take] = records[p].to_numpy(dtype=object)[group_pos[take]]
            values_out[p] = pd.Series(part, dtype=object)
            sources_out[p] = sources_out[p].copy()
            sources_out[p][take] = positions[group_pos[take]]
        # 3. rebuilt from the surviving parts
        rebuild = np.flatnonzero(mixed & (group_rank[group_pos] == NAMES_DISAGREE))
        firsts, lasts = parts_of({p: values_out[p].to_numpy(dtype=object)[rebuild] for p in part_names})
        values[rebuild] = [" ".join(x for x in (a, b) if isinstance(x, str) and x) or None
                           for a, b in zip(firsts, lasts)]
        sources[rebuild] = -1
    values_out[composite] = pd.Series(values, dtype=object)
    sources_out[composite] = sources


def _field_sources_json(sources: pd.DataFrame, ids: np.ndarray | None = None) -> np.ndarray:
    """One JSON object string per row: {"field": record id, ...} (null values left out).

    ``sources`` holds record positions (-1: none); ``ids`` maps a position to its record id
    (integer or text; the positions themselves when None). Most golden records take every field
    from one record (all singletons do): those rows are filled from one template per pattern of
    null fields; the mixed rest goes through json.dumps.
    """
    names = list(sources.columns)
    pos = sources.to_numpy(dtype=np.int64)
    out = np.full(len(pos), "{}", dtype=object)
    if not names or not len(pos):
        return out
    ids = np.arange(int(pos.max()) + 1) if ids is None else np.asarray(ids)
    as_json = np.array([json.dumps(v.item() if hasattr(v, "item") else v) for v in ids], dtype=object) \
        if len(ids) else np.empty(0, dtype=object)
    present = pos >= 0
    top = pos.max(axis=1)
    uniform = ((pos == top[:, None]) | ~present).all(axis=1) & (top >= 0)
    masks = present.astype(np.int64) @ (np.int64(1) << np.arange(len(names), dtype=np.int64))
    texts = np.full(len(pos), "", dtype=object)
    texts[uniform] = as_json[top[uniform]]
    for mask in np.unique(masks[uniform]).tolist():
        rows = np.flatnonzero(uniform & (masks == mask))
        template = "{" + ", ".join(f'"{f}": \x00' for j, f in enumerate(names) if mask >> j & 1) + "}"
        out[rows] = [template.replace("\x00", t) for t in texts[rows].tolist()]
    mixed = np.flatnonzero(~uniform & present.any(axis=1))
    out[mixed] = ["{" + ", ".join(f'"{f}": {as_json[v]}' for f, v in zip(names, row) if v >= 0) + "}"
                  for row in pos[mixed].tolist()]
    return out


# =============================================================================== metrics
def _pairs(counts: np.ndarray) -> int:
    return pairs_within(counts)


def cluster_metrics(labels: np.ndarray, entity: np.ndarray) -> dict[str, float]:
    """Clusters (golden records) against the true people.

    * ``cluster_precision`` / ``cluster_recall`` / ``cluster_f1``: pairwise over clusters: of the
      record pairs inside a golden record, the share that are one person; of the record pairs of
      one person, the share inside one golden record;
    * ``bcubed_*``: B-cubed precision and recall (per record: share of its golden record that is
      its person, share of its person that is in its golden record; averaged over records);
    * ``adjusted_rand_index`` of the two partitions;
    * ``people_split_share``: people whose records are spread over several golden records, over
      all people (``people_split`` counts them); ``golden_merged_share``: golden records holding
      records of several people, over all golden records (``golden_merged`` counts them).
    """
    labels = np.asarray(labels, dtype=np.int64)
    ent_codes = pd.factorize(np.asarray(entity))[0].astype(np.int64)
    n = len(labels)
    n_people = int(ent_codes.max()) + 1 if n else 0
    cluster_sizes = np.bincount(labels)
    people_sizes = np.bincount(ent_codes, minlength=n_people)
    cells, cell_inverse, cell_counts = np.unique(labels * max(n_people, 1) + ent_codes, return_inverse=True,
                                                 return_counts=True)
    cell_inverse = cell_inverse.ravel()
    tp = _pairs(cell_counts)
    predicted, true = _pairs(cluster_sizes), _pairs(people_sizes)
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    in_cell = cell_counts[cell_inverse].astype(np.float64)
    b_precision = float(np.mean(in_cell / cluster_sizes[labels])) if n else 1.0
    b_recall = float(np.mean(in_cell / people_sizes[ent_codes])) if n else 1.0
    total = pairs_within([n])
    expected = predicted * true / total if total else 0.0
    maximum = (predicted + true) / 2
    ari = (tp - expected) / (maximum - expected) if maximum != expected else 1.0
    cell_cluster = cells // max(n_people, 1)
    cell_person = cells % max(n_people, 1)
    clusters_per_person = np.bincount(cell_person, minlength=n_people)
    people_per_cluster = np.bincount(cell_cluster, minlength=len(cluster_sizes))
    split, merged = int((clusters_per_person > 1).sum()), int((people_per_cluster > 1).sum())
    return {
        "golden_true_people": float(n_people),
        "cluster_precision": precision, "cluster_recall": recall,
        "cluster_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "bcubed_precision": b_precision, "bcubed_recall": b_recall,
        "bcubed_f1": 2 * b_precision * b_recall / (b_precision + b_recall) if b_precision + b_recall else 0.0,
        "adjusted_rand_index": float(ari),
        "people_split": float(split), "people_split_share": split / n_people if n_people else 0.0,
        "golden_merged": float(merged),
        "golden_merged_share": merged / len(cluster_sizes) if len(cluster_sizes) else 0.0,
    }


# =============================================================================== the whole step
@dataclass
class GoldenResult:
    golden: pd.DataFrame            # rows of the golden table (columns layout.golden_columns)
    mapping: pd.DataFrame           # rows of the map table (columns layout.map_columns)
    metrics: dict[str, float]
    clusters: Clusters
    records: pd.DataFrame           # the full source records (survivorship input), scored order
    entity: np.ndarray | None
    sample_size: int = 200
    timings: dict[str, float] = field(default_factory=dict)
    layout: Layout | None = None


def _golden_ids(ids: pd.Series, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """The smallest member id of each cluster (integers numerically, text ids as text)."""
    values = ids.to_numpy()
    if np.issubdtype(values.dtype, np.integer):
        out = np.full(n_clusters, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(out, labels, values.astype(np.int64))
        return out
    return pd.Series(values, dtype=object).groupby(labels).min().reindex(range(n_clusters)).to_numpy(dtype=object)


def assemble(records: pd.DataFrame, clusters: Clusters, settings: GoldenSettings, layout: Layout,
             run_id: str | None = None, entity: np.ndarray | None = None) -> GoldenResult:
    """Survivorship and the output frames for already clustered records (no database access).

    The records are first put in their canonical form (:func:`canonical_records`): survivorship
    compares, and the golden records hold, the cleaned values.
    """
    started = time.perf_counter()
    records, refused = canonical_records(records, layout.specs)
    labels = clusters.labels
    record_id = records["record_id"]
    golden_id = _golden_ids(record_id, labels, clusters.n_clusters)
    values, sources = survive(records, labels, clusters.n_clusters, settings, layout)
    golden = pd.DataFrame({"golden_id": golden_id})
    for f in layout.fields:
        golden[f] = values[f].to_numpy() if f in values.columns else None
    golden["member_count"] = clusters.sizes.astype(np.int64)
    golden["cluster_confidence"] = clusters.confidence
    golden["field_sources"] = _field_sources_json(sources, record_id.to_numpy())
    golden["run_id"] = run_id
    golden["created_at"] = pd.Timestamp.now(tz="UTC")
    order = np.argsort(golden_id, kind="stable")
    golden = golden.iloc[order].reset_index(drop=True)
    mapping = pd.DataFrame({layout.id_column: record_id.to_numpy(), "golden_id": golden_id[labels],
                            "match_probability": clusters.link_probability})
    metrics: dict[str, float] = {
        "golden_records": float(clusters.n_clusters),
        "golden_source_records": float(len(record_id)),
        "largest_cluster_size": float(clusters.sizes.max()) if len(clusters.sizes) else 0.0,
        "golden_singletons": float((clusters.sizes == 1).sum()),
        "golden_mean_cluster_size": float(clusters.sizes.mean()) if len(clusters.sizes) else 0.0,
        **clusters.stats,
        **{f"golden_values_refused_{f}": float(n) for f, n in refused.items()},
    }
    for composite in layout.composites:
        if composite in sources.columns:
            metrics[f"golden_{composite}_rebuilt"] = float(((sources[composite] < 0)
                                                            & values[composite].notna()).sum())
    if entity is not None:
        metrics.update(cluster_metrics(labels, entity))
    result = GoldenResult(golden, mapping, metrics, clusters, records, entity, settings.sample_size, layout=layout)
    result.timings["survive"] = time.perf_counter() - started
    return result


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


def _same_values(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Elementwise equality of two aligned columns, missing equal to missing."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    if a.dtype != b.dtype:
        a, b = a.astype(str).where(a.notna(), None), b.astype(str).where(b.notna(), None)
    return ((a == b) | (a.isna() & b.isna())).to_numpy(dtype=bool)


def verify_same_records(full: pd.DataFrame, scored: pd.DataFrame, table: str, id_column: str) -> pd.DataFrame:
    """``full`` (reloaded) in the order of ``scored`` (the records training loaded and scored), after
    checking that both hold the same ids and, in every column ``scored`` has, the same values.

    Raises :class:`DataError` naming the table, how many records were added, removed and changed,
    and an example id: the pairs were scored on other data, so golden records built from them
    would be wrong (clusters of different people under one golden_id).
    """
    ids = scored["record_id"].to_numpy()
    got = full["record_id"].to_numpy()
    if len(got) == len(ids) and np.array_equal(got, ids):
        aligned, kept = full, np.ones(len(ids), dtype=bool)
    else:
        kept = np.isin(ids, got)
        aligned = full.set_index("record_id").loc[ids[kept]].reset_index()
    removed = ids[~kept]
    added = np.setdiff1d(got, ids)
    changed_mask = np.zeros(int(kept.sum()), dtype=bool)
    for column in scored.columns:
        if column != "record_id" and column in aligned.columns:
            changed_mask |= ~_same_values(scored[column][kept], aligned[column])
    changed = ids[kept][changed_mask]
    if len(removed) or len(added) or len(changed):
        example = next(x[0] for x in (removed, changed, added) if len(x))
        example = example.item() if hasattr(example, "item") else example
        raise DataError(
            f"table {table} changed since its records were scored: {len(added):,} records added, "
            f"{len(removed):,} removed, {len(changed):,} changed (e.g. {id_column} {example})",
            "the table changed while the run was training: run again when nothing writes to it; "
            "the golden tables were not changed")
    return aligned


def load_full_records(conn, config: ModelConfig, scored_records: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    """Every declared field of the scored records, in their order, verified to be the records that
    were scored: same ids and the same values in every column training loaded (``scored_records``
    is ``scored.records``; an array of ids checks the ids only). See :func:`verify_same_records`."""
    if not isinstance(scored_records, pd.DataFrame):
        scored_records = pd.DataFrame({"record_id": np.asarray(scored_records)})
    full = warehouse.load_records(conn, config.data, list(config.data.fields), allow_null=True)
    return verify_same_records(full, scored_records, config.data.table, config.data.id)


def build_golden_records(scored, config: ModelConfig, conn, run_id: str | None = None,
                         write: bool = True) -> GoldenResult:
    """Cluster the scored pairs, apply survivorship, write both tables atomically, compute metrics.

    ``scored`` is a :class:`pipeline.Scored` (records, pairs, probabilities, entity); the full
    records are reloaded from ``conn`` (the trainer loads only the fields it compares) and must be
    exactly the scored ones (:func:`verify_same_records`), else a :class:`DataError` is raised and
    nothing is written.
    ``result.metrics`` are ready for ``mlflow.log_metrics``; see :func:`log_to_mlflow`.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    layout = Layout.from_config(config)
    t = time.perf_counter()
    records = load_full_records(conn, config, scored.records)
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    g = config.golden
    clusters = cluster_pairs(len(records), scored.pairs.left, scored.pairs.right, scored.probabilities,
                             config.threshold, g.min_edge_probability, g.max_cluster_size)
    timings["cluster"] = time.perf_counter() - t
    result = assemble(records, clusters, g, layout, run_id, scored.entity)
    timings["survive"] = result.timings["survive"]
    if write:
        t = time.perf_counter()
        write_golden(conn, result.golden, result.mapping, layout)
        timings["write"] = time.perf_counter() - t
    result.timings = timings
    result.metrics.update({f"seconds_golden_{k}": v for k, v in timings.items()})
    result.metrics["seconds_golden"] = time.perf_counter() - started
    return result


# =============================================================================== artifacts
def sample_frame(result: GoldenResult, size: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Golden records with their member records below each: half the largest clusters, half random
    multi-member clusters (singletons fill up when there are too few)."""
    size = result.sample_size if size is None else size
    golden = result.golden
    if size <= 0 or golden.empty:
        return pd.DataFrame()
    counts = golden["member_count"].to_numpy()
    by_size = np.lexsort((golden["golden_id"].to_numpy(), -counts))
    chosen = list(by_size[: size // 2])
    rest = np.setdiff1d(np.flatnonzero(counts > 1), chosen)
    rng = np.random.default_rng(seed)
    chosen += list(rng.permutation(rest)[: size - len(chosen)])
    if len(chosen) < size:
        chosen += list(np.setdiff1d(np.arange(len(golden)), chosen)[: size - len(chosen)])
    picked = golden.iloc[sorted(chosen)]
    layout = result.layout or Layout(tuple(c for c in result.records.columns if c != "record_id"), {})
    fields = [f for f in layout.fields if f in result.records.columns]
    idc = layout.id_column
    ids = result.records["record_id"]
    id_array = (lambda values: pd.array(values, dtype="Int64")) if np.issubdtype(ids.to_numpy().dtype, np.integer) \
        else (lambda values: pd.array(values, dtype=object))
    head = pd.DataFrame({"golden_id": picked["golden_id"].to_numpy(), "row": "golden",
                         idc: id_array([None] * len(picked)),
                         "member_count": picked["member_count"].to_numpy(),
                         "cluster_confidence": picked["cluster_confidence"].to_numpy(),
                         "match_probability": np.nan})
    for f in fields:
        head[f] = picked[f].to_numpy()
    head["field_sources"] = picked["field_sources"].to_numpy()
    in_sample = np.isin(result.mapping["golden_id"].to_numpy(), head["golden_id"].to_numpy())
    rec = result.records.loc[in_sample]
    members = pd.DataFrame({"golden_id": result.mapping["golden_id"].to_numpy()[in_sample], "row": "member",
                            idc: id_array(rec["record_id"].to_numpy())})
    members["member_count"] = pd.array([pd.NA] * len(rec), dtype="Int64")
    members["cluster_confidence"] = np.nan
    members["match_probability"] = result.mapping["match_probability"].to_numpy()[in_sample]
    if result.entity is not None:
        members["true_entity_id"] = pd.array(np.asarray(result.entity)[in_sample], dtype="Int64")
    for c in (layout.source, layout.recency, *fields):
        if c in rec.columns:
            members[c] = rec[c].to_numpy()
    members["field_sources"] = ""
    head["member_count"] = pd.array(head["member_count"], dtype="Int64")
    members = members.loc[:, ~members.columns.duplicated()]
    for c in members.columns:
        if c not in head.columns:
            head[c] = pd.Series(pd.array([None] * len(head), dtype=members[c].dtype), index=head.index)
    frame = pd.concat([head[members.columns], members], ignore_index=True)
    frame["_order"] = (frame["row"] == "member").astype(int)
    frame = frame.sort_values(["golden_id", "_order", idc], kind="stable").drop(columns="_order")
    return frame.reset_index(drop=True)


def write_artifacts(result: GoldenResult, folder: str | Path) -> Path:
    """Write ``cluster_size_histogram.png``, ``golden_records_sample.csv`` and ``golden_metrics.json``
    into ``folder`` (log it as artifacts under ``golden/``)."""
    from golden_record.tracking import plots

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plots.save_figure(plots.cluster_size_plot(result.clusters.sizes), folder / "cluster_size_histogram.png")
    sample_frame(result).to_csv(folder / "golden_records_sample.csv", index=False)
    (folder / "golden_metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True))
    return folder


def log_to_mlflow(result: GoldenResult, run_id: str | None = None, client=None) -> None:
    """Log ``result.metrics`` and the artifacts (under ``golden/``) to ``run_id``, else to the active run."""
    import mlflow

    if run_id is None:
        mlflow.log_metrics({k: float(v) for k, v in result.metrics.items()})
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifacts(str(write_artifacts(result, tmp)), artifact_path=ARTIFACT_PATH)
        return
    from mlflow.entities import Metric

    client = client or mlflow.MlflowClient()
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in result.metrics.items()])
    with tempfile.TemporaryDirectory() as tmp:
        client.log_artifacts(run_id, str(write_artifacts(result, tmp)), artifact_path=ARTIFACT_PATH)


# =============================================================================== from a logged model
_OVERRIDABLE = ("golden.", "model.params.match_threshold")


def score_with_model(records: pd.DataFrame, entity: np.ndarray | None, config: ModelConfig, model, progress):
    """prepare -> candidates -> compare -> score with an already fitted model (no EM)."""
    from golden_record.linkage.pipeline import Scored, candidate_vectors, labels_for, true_pair_count

    prepared, pairs, vectors, quality = candidate_vectors(records, config, progress)
    with progress.stage("score"):
        weights, probs = model.score(vectors.levels)
    labels = labels_for(entity, pairs) if entity is not None else None
    total = true_pair_count(entity) if entity is not None else 0
    return Scored(records, prepared, pairs, vectors, model, weights, probs, labels, entity, total, quality)


def _model_file(client, run_id: str, dst: Path) -> Path:
    """Download the run's logged model and return its ``fellegi_sunter.json``."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    errors: list[str] = []

    def candidates():
        yield f"runs:/{run_id}/model"
        try:  # MLflow 3: the run's LoggedModel, should the runs:/ URI not resolve
            logged = mlflow.search_logged_models(filter_string=f"source_run_id = '{run_id}'", output_format="list")
        except Exception as exc:  # noqa: BLE001 - stores without logged models
            errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return
        yield from (m.artifact_location for m in logged if m.name == "model")

    for i, uri in enumerate(candidates()):
        try:
            folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst / str(i))))
        except Exception as exc:  # noqa: BLE001
            errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        found = sorted(folder.rglob("fellegi_sunter.json"))
        if found:
            return found[0]
    raise TrackingError(f"MLflow run {run_id} has no logged model with fellegi_sunter.json"
                        + (f" ({errors[-1][:200]})" if errors else ""),
                        "train with tracking.log_model true (the default): python src/train.py")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build_golden_records.py",
                                description="Build the golden records from a logged model, without retraining: "
                                            "score the warehouse, cluster, apply survivorship, replace "
                                            "the golden table and its map, and log the cluster metrics "
                                            "to the same MLflow run.")
    p.add_argument("--run-id", required=True, help="MLflow run whose logged model scores the pairs")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override golden.* or model.params.match_threshold of the logged config, "
                        "e.g. --set golden.max_cluster_size=6 (repeatable)")
    p.add_argument("--no-log", action="store_true", help="do not log metrics and artifacts to the run")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--verbose", action="store_true", help="print the full traceback on failure")
    return p


def main(argv: list[str] | None = None) -> int:
    """``scripts/build_golden_records.py --run-id RUN_ID`` (wrapped by :func:`cli.run_main`)."""
    import mlflow

    from golden_record.tracking import store as tracking
    from pydantic import ValidationError

    from golden_record.config import _format_validation_error, apply_overrides, load_settings, parse_override
    from golden_record.cli import Progress
    from golden_record.linkage.pipeline import load
    from golden_record.linkage.scoring import load_model_files

    args = build_parser().parse_args(argv)
    for text in args.overrides:
        key = ".".join(parse_override(text)[0])
        if not key.startswith(_OVERRIDABLE):
            raise ConfigError(f"--set {text}: only golden.* and model.params.match_threshold can be changed "
                              "for a logged model")
    started = time.perf_counter()
    settings = load_settings()
    uri = tracking.configure(settings)
    client = mlflow.MlflowClient(uri)
    try:
        run = client.get_run(args.run_id)
    except Exception as exc:  # noqa: BLE001 - MlflowException: RESOURCE_DOES_NOT_EXIST
        raise TrackingError(f"MLflow run {args.run_id!r} not found in {tracking.redact(uri)}",
                            "pass the run id printed by python src/train.py (or copy it from the MLflow UI)") \
            from exc
    if run.info.lifecycle_stage == "deleted":
        raise TrackingError(f"MLflow run {args.run_id} is deleted", "restore it in the MLflow UI or pick another run")
    progress = Progress(quiet=args.quiet)
    with tempfile.TemporaryDirectory() as tmp:
        with progress.stage("model"):
            path = _model_file(client, args.run_id, Path(tmp))
            try:
                model, config, _ = load_model_files(path)
            except ValidationError as err:
                raise ConfigError(f"run {args.run_id} was trained with a config this version cannot read "
                                  f"({_format_validation_error('its model', err).splitlines()[0]}): train a new "
                                  "model (python src/train.py) and build from its run") from None
    if args.overrides:
        data = apply_overrides(config.model_dump(mode="json"), args.overrides)
        try:
            config = ModelConfig.model_validate(data)
        except ValidationError as err:
            raise ConfigError(_format_validation_error("--set", err)) from None
    target = warehouse.resolve_target(settings, announce=not args.quiet)
    with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn:
        records, entity = load(conn, config, progress)
        scored = score_with_model(records, entity, config, model, progress)
        with progress.stage("golden"):
            result = build_golden_records(scored, config, conn, run_id=args.run_id)
    if not args.no_log:
        with progress.stage("log"):
            log_to_mlflow(result, run_id=run.info.run_id, client=client)
            client.set_tag(run.info.run_id, "golden.database", target.safe_url)
    m = result.metrics
    quality = (f", B-cubed F1 {m['bcubed_f1']:.4f}, {int(m['people_split']):,} people split, "
               f"{int(m['golden_merged']):,} merged" if "bcubed_f1" in m else "")
    print(f"golden records: {int(m['golden_records']):,} from {int(m['golden_source_records']):,} records "
          f"(largest cluster {int(m['largest_cluster_size'])}{quality}) written to {target.safe_url} "
          f"in {m['seconds_golden']:.1f} s (total {time.perf_counter() - started:.1f} s)"
          + ("" if args.no_log else f"; metrics logged to run {args.run_id}"))
    return 0


def cli() -> None:
    from golden_record.cli import run_main

    sys.exit(run_main(main))


if __name__ == "__main__":
    cli()
