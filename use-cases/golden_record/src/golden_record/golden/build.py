"""Golden records: from scored record pairs to one surviving record per person, in PostgreSQL.

This module runs the step; its parts live beside it (``layout.py``, ``clustering.py``,
``survivorship.py``), the tables are written by ``io/golden_store.py`` and the cluster metrics are
``evaluation/clusters.py``.

Three steps, all vectorised (NumPy / SciPy / pandas; no Python loop over clusters or records, only
over distinct values where strings are cleaned, over the rounds of the chaining guard, and over
the edges of the few components the size cap or a review label rebuilds):

1. **Clustering** (:func:`cluster_pairs`). The candidate pairs whose match probability is at least
   ``model.params.match_threshold`` are the edges of a graph over the records; its connected
   components (``scipy.sparse.csgraph.connected_components``) are the first clusters. Two guards
   against *chaining* (one weak link merging two people's records) follow, both derived from
   the data by default (:mod:`golden.clustering` says how; the chosen size cap and why are said in
   the output, logged as ``golden_max_cluster_size`` and the tags ``golden.*.source``):

   * **chaining guard** (``golden.min_edge_probability``), in every component of more than 2
     records. ``auto``: evidence against the rest of the cluster. Groups of records merge, best
     linked first, only when all the scored pairs between them (candidate pairs below the
     threshold too) agree: a confident match among them (or many matches), mostly matches (a
     clear non-match outweighs one match: the household chain A-B-C with A-C a clear non-match is
     split) and enough of the record pairs between them matched (one link between two groups of
     five is a chain). A number: the old fixed floor, every edge below it is dropped and the
     component re-split. A pair on its own (2 records, one edge) is kept as is.
   * **size cap** (``golden.max_cluster_size``; ``auto``: twice the 99th percentile of the
     records' expected person size, 1 + the sum of the probabilities of their pairs, within
     10..500): a component still larger is rebuilt from its strongest edges: Kruskal's algorithm
     on its edges in descending probability (a maximum spanning forest) that refuses any union
     making a cluster larger than the cap. The pieces are therefore held together by their
     strongest edges and the weakest links are the ones cut. Only the edges of such oversized
     components go through this (small) loop.

   A record without any kept edge is a golden record of its own (a singleton).

   **Clerical review labels** (table ``pair_labels`` of ``data.table``, :mod:`io.labels`) constrain
   the clusters (:mod:`golden.clustering`): a pair labelled ``match`` is always linked (even when
   blocking never produced it or the model scored it below the threshold; counted in
   ``golden_links_forced``), a pair labelled ``not_match`` never ends in one golden record (the
   components holding one are rebuilt strongest link first, refusing the union that would join it:
   ``golden_clusters_split_labels``, ``golden_edges_dropped_labels``). When ``match`` labels chain
   into a ``not_match`` pair, the ``not_match`` label wins and the contradiction is counted
   (``golden_label_contradictions``) and named in the stage's output. Unsure labels, pairs
   reviewers disagree on and labels of ids not in the table are left out and counted.

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

Cluster metrics against the ground truth (when the warehouse has one): see :func:`cluster_metrics`;
the golden records against the people and the pairwise cluster precision / recall / F1
(``cluster_precision``, ``cluster_recall``, ``cluster_f1``: record pairs placed together vs truly
together, the true pairs blocking never produced included) are printed by ``train
--write-golden`` and by :func:`main` (:func:`quality_line`).

Entry points: :func:`build_golden_records` (used by ``golden-record train --write-golden``), then
:func:`log_to_mlflow`; ``golden-record golden --run-id RUN_ID`` (:mod:`golden_record.jobs.golden`)
rebuilds the golden records from a logged model without retraining.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from golden_record.config import GoldenSettings, ModelConfig
from golden_record.errors import DataError
from golden_record.evaluation.clusters import cluster_metrics
from golden_record.evaluation import labelled
from golden_record.golden.clustering import AUTO, Clusters, _capped_forest, _components, cluster_pairs  # noqa: F401
from golden_record.golden.layout import ARTIFACT_PATH, CANONICAL_TYPES, GOLDEN_META, RULES, Layout  # noqa: F401
from golden_record.golden.survivorship import (NAMES_AGREE, NAMES_DISAGREE, NAMES_SWAPPED,  # noqa: F401
                                               _field_sources_json, canonical_records, chain_for, name_agreement,
                                               survive)
from golden_record.io import warehouse
from golden_record.io.golden_store import _ensure_tables, read_previous_ids, write_golden  # noqa: F401
from golden_record.golden.identity import assign_ids
from golden_record.io import block_index
from golden_record.linkage.pipeline import Scored, candidate_vectors, labels_for, true_pair_count

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
    notes: list[str] = field(default_factory=list)    # what the review labels did, for people
    #: golden ids this build retired: old_golden_id, new_golden_id (None: records gone), reason
    redirects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["old_golden_id", "new_golden_id", "reason"]))
    #: (distinct cluster sizes, clusters of each size) when ``clusters`` holds no per-cluster sizes
    #: (the Spark engine's view: aggregates)
    size_counts: tuple[np.ndarray, np.ndarray] | None = None
    #: run tags: how the guards were set (``golden.max_cluster_size.source``: auto or config, ...)
    tags: dict[str, str] = field(default_factory=dict)

    def size_histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct cluster sizes, clusters of each size)."""
        if self.size_counts is not None:
            return self.size_counts
        return np.unique(np.asarray(self.clusters.sizes, dtype=np.int64), return_counts=True)


def size_metrics(sizes: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """The golden records' counts from the cluster-size histogram (distinct ``sizes``, clusters of
    each): records, source records, largest cluster, singletons, mean size (both engines)."""
    sizes, counts = np.asarray(sizes, dtype=np.int64), np.asarray(counts, dtype=np.int64)
    n_clusters, n_records = int(counts.sum()), int(counts @ sizes) if len(sizes) else 0
    return {"golden_records": float(n_clusters), "golden_source_records": float(n_records),
            "largest_cluster_size": float(sizes.max()) if len(sizes) else 0.0,
            "golden_singletons": float(counts[sizes == 1].sum()),
            "golden_mean_cluster_size": n_records / n_clusters if n_clusters else 0.0}


def ids_line(metrics: dict, rebuild: bool) -> str:
    """The line saying what became of the golden ids (both engines)."""
    m = metrics
    return "  golden ids: " + (f"{int(m['golden_ids_kept']):,} kept, {int(m['golden_ids_new']):,} new, "
                               f"{int(m['golden_ids_merged']):,} merged into another (redirected), "
                               f"{int(m['golden_ids_retired']):,} retired (records gone) against the previous build"
                               if rebuild else f"{int(m['golden_ids_new']):,} new (no previous build)")


def guard_tags(settings: GoldenSettings) -> dict[str, str]:
    """Run tags saying where the guards' values came from (the params hold 'auto' or the number)."""
    return {"golden.max_cluster_size.source": "auto" if settings.max_cluster_size == AUTO else "config",
            "golden.min_edge_probability.source": "auto" if settings.min_edge_probability == AUTO else "config"}


def guard_lines(metrics: dict, settings: GoldenSettings, notes: list[str]) -> list[str]:
    """What the chaining guard and the size cap did, and the auto cap's value and why (both engines)."""
    m = metrics
    cut, split = int(m.get("golden_edges_dropped_weak", 0)), int(m.get("golden_clusters_split_weak", 0))
    if settings.min_edge_probability == AUTO:
        chaining = (f"chaining guard auto (evidence between groups of records): {cut:,} match links cut between "
                    f"groups their scored pairs do not join ({split:,} more clusters)")
    else:
        chaining = (f"chaining guard: match links below golden.min_edge_probability {settings.min_edge_probability:g} "
                    f"dropped in components of 3 or more records: {cut:,} links ({split:,} more clusters)")
    cap = int(m.get("golden_max_cluster_size", 0))
    size = (f"size cap {cap}{' (auto)' if settings.max_cluster_size == AUTO else ''}: "
            f"{int(m.get('golden_clusters_oversized', 0)):,} clusters over it split, "
            f"{int(m.get('golden_edges_cut_size', 0)):,} links cut")
    return [*notes, f"{chaining}; {size}"]


def quality_line(metrics: dict) -> str | None:
    """Golden records against people and the pairwise cluster precision / recall / F1 (record pairs
    placed together vs truly together, the true pairs blocking never produced included); None
    without a ground truth."""
    m = metrics
    if "cluster_f1" not in m:
        return None
    return (f"golden records {int(m['golden_records']):,} for {int(m['golden_true_people']):,} people: cluster "
            f"precision {m['cluster_precision']:.4f}  recall {m['cluster_recall']:.4f}  F1 {m['cluster_f1']:.4f}  "
            f"(pairwise; B-cubed F1 {m['bcubed_f1']:.4f})")


def assemble(records: pd.DataFrame, clusters: Clusters, settings: GoldenSettings, layout: Layout,
             run_id: str | None = None, entity: np.ndarray | None = None,
             previous: pd.DataFrame | None = None, retired: set | None = None,
             mapped_at: pd.Timestamp | None = None, used_elsewhere: set | None = None,
             id_floor: int | None = None) -> GoldenResult:
    """Survivorship and the output frames for already clustered records (no database access).

    Golden ids (:mod:`golden.identity`): with ``previous`` (the map of the last build: record_id,
    golden_id) each cluster keeps the previous id it shares most members with and the ids that
    disappear are redirected; without it, each cluster takes its smallest member id.

    The records are first put in their canonical form (:func:`canonical_records`): survivorship
    compares, and the golden records hold, the cleaned values. ``mapped_at``: when the records were
    read (the map's ``mapped_at``; a record whose recency is later has changed since, see
    :mod:`golden.incremental`); ``used_elsewhere`` / ``id_floor``: see :func:`identity.assign_ids`.
    """
    started = time.perf_counter()
    records, refused = canonical_records(records, layout.specs)
    labels = clusters.labels
    record_id = records["record_id"]
    identity = assign_ids(record_id.to_numpy(), labels, clusters.n_clusters, previous, retired,
                          used_elsewhere, id_floor)
    golden_id = identity.golden_ids
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
                            "match_probability": clusters.link_probability,
                            "mapped_at": mapped_at if mapped_at is not None else pd.Timestamp.now(tz="UTC")})
    metrics: dict[str, float] = {
        **size_metrics(*np.unique(np.asarray(clusters.sizes, dtype=np.int64), return_counts=True)),
        **clusters.stats,
        **identity.stats,
        **{f"golden_values_refused_{f}": float(n) for f, n in refused.items()},
    }
    for composite in layout.composites:
        if composite in sources.columns:
            metrics[f"golden_{composite}_rebuilt"] = float(((sources[composite] < 0)
                                                            & values[composite].notna()).sum())
    if entity is not None:
        metrics.update(cluster_metrics(labels, entity))
    result = GoldenResult(golden, mapping, metrics, clusters, records, entity, settings.sample_size, layout=layout,
                          redirects=identity.redirects)
    result.timings["survive"] = time.perf_counter() - started
    return result


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


def label_constraints(conn, config: ModelConfig, record_ids) -> tuple[labelled.Located | None, tuple | None,
                                                                     tuple | None]:
    """The review labels of ``data.table`` as (located, must_link, cannot_link) record positions;
    all None when there are none."""
    verdicts = labelled.read_verdicts(conn, config.data.table)
    if verdicts is None:
        return None, None, None
    loc = labelled.locate(np.asarray(record_ids), verdicts)
    return loc, (loc.left[loc.match], loc.right[loc.match]), (loc.left[~loc.match], loc.right[~loc.match])


def label_notes(loc: labelled.Located | None, clusters: Clusters, record_ids, data_table: str) -> list[str]:
    """One line on what the labels did to the clusters (and one per kind of trouble)."""
    if loc is None:
        return [f"labels: none (no clerical review labels of table {data_table} in pair_labels)"]
    m = clusters.stats
    lines = [f"labels: {loc.matches:,} match and {loc.non_matches:,} not-a-match pairs applied (left out: "
             f"{loc.left_out()}): {int(m.get('golden_links_forced', 0)):,} links forced (labelled matches the "
             f"model did not link), {int(m.get('golden_clusters_split_labels', 0)):,} clusters split and "
             f"{int(m.get('golden_edges_dropped_labels', 0)):,} match links dropped to keep labelled "
             "non-matches apart"]
    if clusters.contradictions:
        ids = np.asarray(record_ids)
        examples = ", ".join(f"{ids[a]}-{ids[b]}" for a, b in clusters.contradictions[:3])
        lines.append(f"warning: {len(clusters.contradictions):,} match label(s) not applied: each would put a pair "
                     f"labelled not a match into one golden record through other match labels (e.g. {examples}); "
                     "the not_match label wins: review these pairs again")
    return lines


def build_golden_records(scored, config: ModelConfig, conn, run_id: str | None = None,
                         write: bool = True, say=None) -> GoldenResult:
    """Cluster the scored pairs, apply survivorship, write both tables atomically, compute metrics.

    ``scored`` is a :class:`pipeline.Scored` (records, pairs, probabilities, entity); the full
    records are reloaded from ``conn`` (the trainer loads only the fields it compares) and must be
    exactly the scored ones (:func:`verify_same_records`), else a :class:`DataError` is raised and
    nothing is written.
    ``result.metrics`` are ready for ``mlflow.log_metrics``; see :func:`log_to_mlflow`.
    Review labels of ``data.table`` constrain the clusters (module doc); ``say`` (e.g.
    ``progress.say``) gets the lines saying what they did (also in ``result.notes``).
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    layout = Layout.from_config(config)
    t = time.perf_counter()
    read_at = warehouse.database_time(conn)         # the map's mapped_at: the records are as of now
    records = load_full_records(conn, config, scored.records)
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    g = config.golden
    located, must, cannot = label_constraints(conn, config, records["record_id"].to_numpy())
    clusters = cluster_pairs(len(records), scored.pairs.left, scored.pairs.right, scored.probabilities,
                             config.threshold, g.min_edge_probability, g.max_cluster_size, must, cannot)
    timings["cluster"] = time.perf_counter() - t
    previous, retired = read_previous_ids(conn, layout, records["record_id"].to_numpy())
    result = assemble(records, clusters, g, layout, run_id, scored.entity, previous, retired, read_at)
    result.tags = guard_tags(g)
    for line in guard_lines(result.metrics, g, clusters.notes):
        (say or (lambda text: None))("  " + line)
    (say or (lambda text: None))(ids_line(result.metrics, previous is not None))
    if located is not None:
        result.metrics["golden_labels_left_out"] = float(located.unsure + located.conflicting + located.unknown_ids)
    result.notes = label_notes(located, clusters, records["record_id"].to_numpy(), config.data.table)
    for line in result.notes:
        (say or (lambda text: None))("  " + line)
    timings["survive"] = result.timings["survive"]
    if write:
        t = time.perf_counter()
        write_golden(conn, result.golden, result.mapping, layout, result.redirects, run_id)
        timings["write"] = time.perf_counter() - t
        t = time.perf_counter()
        if block_index.read_info(conn, config) is not None:      # the lookup service reads it: keep it fresh
            info = block_index.build_index(conn, config, records=records)
            timings["index"] = time.perf_counter() - t
            (say or (lambda text: None))(f"  block index {info.table} rebuilt for the lookup service "
                                         f"({info.rows:,} keys, {timings['index']:.1f} s)")
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

    from golden_record.tracking import plots      # matplotlib: only when artifacts are written

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plots.save_figure(plots.cluster_size_plot(*result.size_histogram()), folder / "cluster_size_histogram.png")
    sample_frame(result).to_csv(folder / "golden_records_sample.csv", index=False)
    (folder / "golden_metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True))
    return folder


def log_to_mlflow(result: GoldenResult, run_id: str | None = None, client=None) -> None:
    """Log ``result.metrics`` and the artifacts (under ``golden/``) to ``run_id``, else to the active run."""
    import mlflow

    if run_id is None:
        mlflow.log_metrics({k: float(v) for k, v in result.metrics.items()})
        if result.tags:
            mlflow.set_tags(result.tags)
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifacts(str(write_artifacts(result, tmp)), artifact_path=ARTIFACT_PATH)
        return
    from mlflow.entities import Metric

    client = client or mlflow.MlflowClient()
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in result.metrics.items()])
    for key, value in result.tags.items():
        client.set_tag(run_id, key, value)
    with tempfile.TemporaryDirectory() as tmp:
        client.log_artifacts(run_id, str(write_artifacts(result, tmp)), artifact_path=ARTIFACT_PATH)


# =============================================================================== from a logged model


def score_with_model(records: pd.DataFrame, entity: np.ndarray | None, config: ModelConfig, model, progress):
    """prepare -> candidates -> compare -> score with an already fitted model (no EM)."""

    prepared, pairs, vectors, quality = candidate_vectors(records, config, progress)
    with progress.stage("score"):
        weights, probs = model.score(vectors.levels, vectors.agreed)
    labels = labels_for(entity, pairs) if entity is not None else None
    total = true_pair_count(entity) if entity is not None else 0
    return Scored(records, prepared, pairs, vectors, model, weights, probs, labels, entity, total, quality)
