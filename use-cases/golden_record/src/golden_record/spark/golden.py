"""Golden records on Spark: the local engine's clustering and survivorship, run on whole
connected components at a time, with the components found by a distributed algorithm and the
tables written in parallel, then swapped in one transaction.

1. **Edges.** The scored pairs at or above the threshold (the local rule, :func:`is_match`), the
   pairs labelled ``match`` in review (probability 1, forced) and the pairs labelled
   ``not_match`` (they join nothing; they travel with their component).
2. **Connected components** of the match and forced edges: large-star / small-star (Kiveris et
   al., "Connected Components in MapReduce and Beyond", SoCC 2014), alternated until every edge
   points from a record to the smallest record of its component: O(log² n) rounds of joins and
   group-bys, each written to Parquet (no lineage grows with the rounds); rounds are printed.
3. **Clustering and survivorship per component.** Every step of :func:`cluster_pairs` (the
   chaining guard, the size cap, the labelled non-matches) and of survivorship (:func:`survive`)
   looks inside one component only, so the components are dealt into buckets (a hash of the
   component) and each bucket runs the local code (``cogroup(...).applyInPandas``): the same
   clusters, values and field sources as the local engine, whatever the bucket holds. The auto
   chaining guard weighs every scored pair inside a component, those below the threshold too, so
   with ``min_edge_probability: auto`` these travel with their component; the auto size cap is
   derived once for the whole table (:func:`_auto_cap`: the histogram of the records' expected
   person sizes, by aggregates) and handed to every bucket as a number. Records in no component
   (singletons) go through the same function batch by batch, without a shuffle.
4. **Golden ids.** A first build takes each cluster's smallest member id, in Spark. A rebuild
   hands :func:`golden.identity.assign_ids` the clusters of every record and the previous map on
   the driver (two integers a record: the one step that still holds per-record data on the driver;
   docs/spark.md says how it moves to Spark for 100 million records).
5. **Write.** Both tables are created as staging tables, filled by the Spark tasks in parallel
   (COPY, one connection each), then swapped for the old ones in one transaction, with the
   redirects of the retired ids: readers see all the old rows or all the new ones; on any failure
   the staging tables are dropped and the old tables are untouched.

Metrics are the local engine's (:func:`golden.build.assemble`): counts from aggregates, the
cluster metrics against the truth from the (golden record, person) cells
(:func:`evaluation.clusters.metrics_from_sums`), the guards' and labels' counts summed over the
buckets. The artifacts come from a small local view: the size histogram and the sampled golden
records with their members.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import replace

import numpy as np
import pandas as pd
from psycopg import sql

from golden_record.config import ModelConfig
from golden_record.errors import GoldenRecordError
from golden_record.evaluation import labelled
from golden_record.evaluation.clusters import ClusterSums, metrics_from_sums
from golden_record.golden.build import GoldenResult, guard_lines, guard_tags, ids_line, label_notes, size_metrics
from golden_record.golden.clustering import AUTO, Clusters, cap_from_histogram, cluster_pairs
from golden_record.golden.identity import _first_build, assign_ids
from golden_record.golden.layout import Layout
from golden_record.golden.survivorship import _field_sources_json, canonical_records, survive
from golden_record.io import block_index, golden_store, warehouse
from golden_record.linkage.decision import snap
from golden_record.spark import read as read_mod

log = logging.getLogger(__name__)

EDGE, MUST, CANNOT = 0, 1, 2
_STATS = "_bucket_stats_"


# =============================================================================== components
def connected_components(spark, edges, work: str, say=log.info, max_rounds: int = 100):
    """``(node, component)`` for every node of ``edges`` (columns ``u``, ``v``: longs), the
    component named by its smallest node: large-star and small-star alternated until the edges
    form stars (every node has one edge, to its component's smallest node)."""
    from pyspark.sql import functions as F

    E = edges.select(F.least("u", "v").alias("u"), F.greatest("u", "v").alias("v")).where("u != v").distinct()
    E.write.mode("overwrite").parquet(f"{work}/cc/0")
    E = spark.read.parquet(f"{work}/cc/0")
    for rounds in range(1, max_rounds + 1):
        E = _small_star(_large_star(E, F), F)
        E.write.mode("overwrite").parquet(f"{work}/cc/{rounds}")
        E = spark.read.parquet(f"{work}/cc/{rounds}")
        # stars: no node has two parents, no parent has a parent (one job)
        children = E.select(F.col("u").alias("v"), F.lit(1).alias("parent_is_child")).distinct()
        row = E.join(children, "v", "left").groupBy("u") \
            .agg(F.count("*").alias("parents"), F.max("parent_is_child").alias("chained")) \
            .agg(F.max("parents").alias("parents"), F.max("chained").alias("chained")).collect()[0]
        if (row["parents"] or 0) <= 1 and not row["chained"]:
            say(f"  connected components: {rounds} round(s) of large-star/small-star")
            return E.select(F.col("u").alias("node"), F.col("v").alias("component")) \
                .unionAll(E.select(F.col("v").alias("node"), F.col("v").alias("component")).distinct())
    raise GoldenRecordError(f"connected components did not converge in {max_rounds} rounds",
                            "a bug: large-star/small-star converges in O(log^2 n) rounds; report it")


def _large_star(E, F):
    """Each node links its larger neighbours to the smallest of itself and its neighbours."""
    both = E.unionAll(E.select(F.col("v").alias("u"), F.col("u").alias("v")))
    low = both.groupBy("u").agg(F.min("v").alias("m"))
    return both.join(low, "u").where(F.col("v") > F.col("u")) \
        .select(F.col("v").alias("u"), F.least(F.col("m"), F.col("u")).alias("v")).distinct()


def _small_star(E, F):
    """Each node links itself and its smaller neighbours to the smallest of them."""
    down = E.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v")).where("u != v").distinct()
    low = down.groupBy("u").agg(F.min("v").alias("m"))
    return down.join(low, "u").select(F.col("v").alias("u"), F.col("m").alias("v")) \
        .unionAll(low.select("u", F.col("m").alias("v"))).where("u != v").distinct()


# =============================================================================== per component
def _output_schema(layout: Layout, integer_id: bool):
    from pyspark.sql import types as T

    rid = T.LongType() if integer_id else T.StringType()
    return T.StructType([T.StructField("position", T.LongType()), T.StructField("record_id", rid),
                         T.StructField("cluster", T.LongType()), T.StructField("link_probability", T.DoubleType()),
                         T.StructField("head", T.BooleanType()), T.StructField("member_count", T.LongType()),
                         T.StructField("cluster_confidence", T.DoubleType()), T.StructField("smallest", rid),
                         T.StructField("field_sources", T.StringType())]
                        + [T.StructField(f, read_mod._spark_type(layout.specs[f].type)) for f in layout.fields]
                        + [T.StructField(_STATS, T.StringType())])


def _cluster_and_survive(config: ModelConfig, layout: Layout, labels_given: bool, names: list[str], cap: int):
    """The local engine's clustering and survivorship on whole components (``edges``: left,
    right, probability, kind; ``recs``: position, record_id and the raw fields); ``cap``: the
    size cap in force (the auto one derived for the whole table)."""
    g = config.golden

    def run(edges: pd.DataFrame, recs: pd.DataFrame) -> pd.DataFrame:
        recs = recs.sort_values("position", kind="stable").reset_index(drop=True)
        pos = recs["position"].to_numpy(np.int64)
        n = len(recs)
        kind = edges["kind"].to_numpy()

        def at(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
            return (np.searchsorted(pos, part["left"].to_numpy(np.int64)),
                    np.searchsorted(pos, part["right"].to_numpy(np.int64)))

        match, must, cannot = edges[kind == EDGE], edges[kind == MUST], edges[kind == CANNOT]
        left, right = at(match)
        clusters = cluster_pairs(n, left, right, match["probability"].to_numpy(np.float64), config.threshold,
                                 g.min_edge_probability, cap,
                                 at(must) if labels_given else None, at(cannot) if labels_given else None)
        records = recs.drop(columns="position")
        canon, refused = canonical_records(records, layout.specs)
        k, labels = clusters.n_clusters, clusters.labels
        values, sources = survive(canon, labels, k, g, layout)
        ids = records["record_id"].to_numpy()
        key = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(key, labels, pos)
        out = pd.DataFrame({"position": pos, "record_id": ids, "cluster": key[labels],
                            "link_probability": clusters.link_probability, "head": pos == key[labels],
                            "member_count": clusters.sizes[labels].astype(np.int64),
                            "cluster_confidence": clusters.confidence[labels],
                            "smallest": _first_build(ids, labels, k)[labels]})
        head = out["head"].to_numpy()
        row_cluster = labels[head]
        out["field_sources"] = None
        out.loc[head, "field_sources"] = _field_sources_json(sources, ids)[row_cluster]
        for f in layout.fields:
            column = np.full(n, None, dtype=object)
            if f in values.columns:
                column[head] = values[f].to_numpy(dtype=object)[row_cluster]
            out[f] = _spark_value(column, layout.specs[f].type)
        stats = dict(clusters.stats)
        stats.update({f"golden_values_refused_{f}": float(v) for f, v in refused.items()})
        for composite in layout.composites:
            if composite in sources.columns:
                stats[f"golden_{composite}_rebuilt"] = float(((sources[composite] < 0) & values[composite].notna()).sum())
        stats["_contradictions"] = [[int(pos[a]), int(pos[b])] for a, b in clusters.contradictions]
        out[_STATS] = None                     # the bucket's counts ride on its first record
        out.loc[0, _STATS] = json.dumps(stats)
        return out[names]

    return run


def _spark_value(column: np.ndarray, field_type: str) -> pd.Series:
    """A golden value column as Spark takes it: timestamps naive UTC, the rest text (a date is
    its ISO day, any year)."""
    if field_type == "timestamp":
        values = pd.to_datetime(pd.Series(column), errors="coerce", utc=True)
        return values.dt.tz_localize(None)
    return pd.Series(column, dtype=object)


def _auto_cap(scored, threshold: float, F) -> tuple[int, str]:
    """``golden.max_cluster_size: auto`` for the whole table, as the local engine derives it
    (:func:`clustering.expected_person_sizes`): per record with a match, 1 + the sum of its
    scored pairs' probabilities, rounded; the histogram of that, then :func:`cap_from_histogram`."""
    p = F.col("match_probability")
    ends = scored.select(F.col("left").alias("position"), p.alias("p")) \
        .unionAll(scored.select(F.col("right").alias("position"), p.alias("p")))
    per = ends.groupBy("position").agg(F.sum("p").alias("total"),
                                       F.max((F.col("p") >= F.lit(snap(threshold))).cast("int")).alias("linked"))
    hist = per.where("linked = 1").groupBy(F.floor(F.lit(1.0) + F.col("total") + F.lit(0.5)).alias("size")) \
        .count().toPandas()
    return cap_from_histogram(hist["size"].to_numpy(np.int64), hist["count"].to_numpy(np.int64))


# =============================================================================== the stage
def build_golden_records(spark_run, loaded_raw, read_at, config: ModelConfig, target, run_id: str | None,
                         say=log.info, write: bool = True) -> GoldenResult:
    """Cluster, survive, name and write the golden records of a Spark training run
    (``spark_run``: :class:`spark.pipeline.SparkScored`; ``loaded_raw``: the raw records read in its
    snapshot); the result holds the metrics and a small view for the artifacts."""
    from pyspark.sql import functions as F

    spark = spark_run.scored.sparkSession
    work = f"{spark_run.work_dir}/golden"
    started = time.perf_counter()
    timings: dict[str, float] = {}
    layout = Layout.from_config(config)
    g = config.golden
    integer_id = dict(spark_run.prepared.dtypes)["record_id"] in ("bigint", "int")
    id_type = "bigint" if integer_id else "text"
    empty_ids = np.empty(0, dtype=np.int64 if integer_id else object)

    # ---- edges: matches, and the review labels placed on record positions
    t = time.perf_counter()
    with warehouse.connect(target) as conn:
        verdicts = labelled.read_verdicts(conn, config.data.table)
        previous, retired = golden_store.read_previous_ids(conn, layout, empty_ids)
        index_info = block_index.read_info(conn, config)
    located = None
    matches = spark_run.scored.where(F.col("match_probability") >= F.lit(snap(config.threshold))) \
        .select("left", "right", F.col("match_probability").alias("probability"), F.lit(EDGE).alias("kind"))
    edges = matches
    if verdicts is not None:
        wanted = pd.unique(np.concatenate([verdicts.pairs["left_id"].astype(str).to_numpy(),
                                           verdicts.pairs["right_id"].astype(str).to_numpy()]))
        found = spark_run.prepared.where(F.col("record_id").cast("string").isin(list(wanted))) \
            .select("record_id", "position").toPandas()
        located = labelled.locate(found["record_id"].to_numpy(), verdicts)
        global_pos = found["position"].to_numpy(np.int64)
        rows = pd.DataFrame({"left": global_pos[located.left], "right": global_pos[located.right],
                             "probability": 1.0, "kind": np.where(located.match, MUST, CANNOT)})
        lo, hi = np.minimum(rows["left"], rows["right"]), np.maximum(rows["left"], rows["right"])
        rows = rows.assign(left=lo, right=hi).drop_duplicates(["left", "right"])
        edges = matches.unionAll(spark.createDataFrame(rows, "left long, right long, probability double, kind int"))
    edges.write.mode("overwrite").parquet(f"{work}/edges")
    edges = spark.read.parquet(f"{work}/edges")
    counted = spark_run.score_counts      # the matches, counted by the scoring stage already
    n_match_edges = int(counted["count"].to_numpy()[counted["match_probability"].to_numpy() >= snap(config.threshold)].sum())

    # ---- connected components of the match and forced edges
    components = connected_components(
        spark, edges.where(F.col("kind") != CANNOT).select(F.col("left").alias("u"), F.col("right").alias("v")),
        work, say)
    components.write.mode("overwrite").parquet(f"{work}/components")
    components = spark.read.parquet(f"{work}/components")
    timings["components"] = time.perf_counter() - t

    # ---- the size cap in force (auto: derived once for the whole table)
    notes: list[str] = []
    if g.max_cluster_size == AUTO:
        cap, why = _auto_cap(spark_run.scored, config.threshold, F)
        notes.append(why)
    else:
        cap = int(g.max_cluster_size)

    # ---- the local clustering and survivorship per bucket of whole components; singletons by batch
    t = time.perf_counter()
    raw = loaded_raw.join(spark_run.prepared.select("record_id", "position"), "record_id")
    schema = _output_schema(layout, integer_id)
    names = schema.fieldNames()
    record_cols = ["position", "record_id", *config.data.fields]
    buckets = int(spark.conf.get("spark.sql.shuffle.partitions"))
    comp = components.withColumnRenamed("node", "position")
    linked = raw.join(comp, "position").withColumn("bucket", F.pmod(F.xxhash64("component"), F.lit(buckets)))
    if g.min_edge_probability == AUTO:     # the auto chaining guard weighs the pairs below the threshold too
        below = spark_run.scored.where(F.col("match_probability") < F.lit(snap(config.threshold))) \
            .select("left", "right", F.col("match_probability").alias("probability"), F.lit(EDGE).alias("kind"))
        edges = edges.unionAll(below)
    e = edges.join(comp.withColumnRenamed("position", "left"), "left") \
        .join(comp.withColumnRenamed("position", "right").withColumnRenamed("component", "right_component"), "right")
    e = e.where(F.col("component") == F.col("right_component")) \
        .withColumn("bucket", F.pmod(F.xxhash64("component"), F.lit(buckets))) \
        .select("left", "right", "probability", "kind", "bucket")
    fn = _cluster_and_survive(config, layout, verdicts is not None, names, cap)
    grouped = e.groupBy("bucket").cogroup(linked.select("bucket", *record_cols).groupBy("bucket")) \
        .applyInPandas(lambda a, b: fn(a, b.drop(columns="bucket")), schema)
    empty_edges = pd.DataFrame({"left": np.empty(0, np.int64), "right": np.empty(0, np.int64),
                                "probability": np.empty(0), "kind": np.empty(0, np.int32)})

    def singletons(batches):
        for batch in batches:
            yield fn(empty_edges, batch)

    alone = raw.join(comp, "position", "left_anti").select(*record_cols).mapInPandas(singletons, schema)
    grouped.unionAll(alone).write.mode("overwrite").parquet(f"{work}/clustered")
    clustered = spark.read.parquet(f"{work}/clustered")
    stats_rows = [json.loads(r[0]) for r in clustered.where(F.col(_STATS).isNotNull()).select(_STATS).collect()]
    members = clustered.drop(_STATS)
    timings["cluster_survive"] = time.perf_counter() - t

    # ---- golden ids
    t = time.perf_counter()
    sizes = members.where("head").groupBy("member_count").count().toPandas().sort_values("member_count")
    size_values, size_counts = sizes["member_count"].to_numpy(np.int64), sizes["count"].to_numpy(np.int64)
    n_clusters = int(size_counts.sum())
    if previous is None:      # a first build: every cluster's smallest member id (on each member's row)
        named = members.withColumn("golden_id", F.col("smallest"))
        identity_stats = {"golden_ids_kept": 0.0, "golden_ids_new": float(n_clusters), "golden_ids_merged": 0.0,
                          "golden_ids_retired": 0.0}
        redirects = pd.DataFrame(columns=["old_golden_id", "new_golden_id", "reason"])
    else:     # the previous map is on the driver already: assign_ids, as the local engine does
        every = members.select("record_id", "cluster").toPandas()
        key, labels = np.unique(every["cluster"].to_numpy(np.int64), return_inverse=True)
        identity = assign_ids(every["record_id"].to_numpy(), labels.ravel(), len(key), previous, retired)
        ids = spark.createDataFrame(pd.DataFrame({"cluster": key, "golden_id": identity.golden_ids}),
                                    f"cluster long, golden_id {'long' if integer_id else 'string'}")
        identity_stats, redirects = identity.stats, identity.redirects
        named = members.join(F.broadcast(ids) if n_clusters < 1_000_000 else ids, "cluster")
    named.write.mode("overwrite").parquet(f"{work}/named")
    named = spark.read.parquet(f"{work}/named")
    timings["ids"] = time.perf_counter() - t

    # ---- metrics (the local engine's, from aggregates)
    t = time.perf_counter()
    stats: dict[str, float] = {}
    contradictions: list[list[int]] = []
    for row in stats_rows:
        contradictions += row.pop("_contradictions", [])
        for k, v in row.items():
            merge = max if k == "golden_chaining_rounds" else (lambda a, b: a + b)
            stats[k] = merge(stats.get(k, 0.0), float(v))
    stats["golden_match_edges"] = float(n_match_edges)
    stats["golden_max_cluster_size"] = float(cap)       # one value for every bucket, not a sum
    if located is not None:
        stats["golden_labels_match"] = float(located.matches)
        stats["golden_labels_not_match"] = float(located.non_matches)
    metrics: dict[str, float] = {**size_metrics(size_values, size_counts), **stats, **identity_stats}
    n_records = int(metrics["golden_source_records"])
    if spark_run.n_people is not None:
        predicted = int((size_counts * (size_values * (size_values - 1) // 2)).sum())
        metrics.update(metrics_from_sums(_cluster_sums(named, spark_run.prepared, n_records, n_clusters, predicted, F)))
    if located is not None:
        metrics["golden_labels_left_out"] = float(located.unsure + located.conflicting + located.unknown_ids)
    timings["metrics"] = time.perf_counter() - t

    # ---- the view the artifacts are drawn from, the notes on labels
    result = _view(named, raw, spark_run, layout, config, metrics, redirects, size_values, size_counts, F)
    result.clusters.stats = stats
    if contradictions:
        pairs = np.asarray(contradictions, dtype=np.int64)
        found = spark_run.prepared.where(F.col("position").isin([int(x) for x in np.unique(pairs)])) \
            .select("position", "record_id").toPandas().sort_values("position")
        where = np.searchsorted(found["position"].to_numpy(np.int64), pairs)
        result.clusters.contradictions = [(int(a), int(b)) for a, b in where]
        result.notes = label_notes(located, result.clusters, found["record_id"].to_numpy(), config.data.table)
    else:
        result.notes = label_notes(located, result.clusters, empty_ids, config.data.table)
    result.tags = guard_tags(g)
    for line in guard_lines(metrics, g, notes):
        say("  " + line)
    say(ids_line(metrics, previous is not None))
    for line in result.notes:
        say("  " + line)

    if write:
        t = time.perf_counter()
        mapped_at = read_at if read_at is not None else pd.Timestamp.now(tz="UTC")
        _write(spark, target, layout, named, redirects, id_type, run_id, mapped_at, say)
        timings["write"] = time.perf_counter() - t
        if index_info is not None:
            say(f"  warning: the block index {index_info.table} of the lookup service was not rebuilt (the Spark "
                "engine does not build it): run golden-record index before serving")
    result.timings = timings
    result.metrics.update({f"seconds_golden_{k}": v for k, v in timings.items()})
    result.metrics["seconds_golden"] = time.perf_counter() - started
    return result


def _cluster_sums(named, prepared, n: int, n_clusters: int, predicted: int, F) -> ClusterSums:
    """The sums of :class:`ClusterSums` from the (golden record, person) cells, in Spark (three jobs)."""
    from golden_record.spark.pipeline import entity_key

    people = prepared.select("position", entity_key(F).alias("entity"))
    rows = named.select("position", "cluster", "member_count").join(people, "position")
    cells = rows.groupBy("cluster", "entity").agg(F.count("*").alias("c"), F.first("member_count").alias("size")) \
        .persist()
    pairs = lambda c: F.col(c).cast("long") * (F.col(c).cast("long") - 1) / 2   # noqa: E731
    person = cells.groupBy("entity").agg(F.sum("c").alias("person_size"), F.count("*").alias("cells"))
    p = person.agg(F.count("*").alias("people"), F.sum(pairs("person_size")).alias("true"),
                   F.sum((F.col("cells") > 1).cast("long")).alias("split")).collect()[0]
    s = cells.join(person, "entity").agg(
        F.sum(pairs("c")).alias("tp"), F.sum(F.col("c") * F.col("c") / F.col("size")).alias("bp"),
        F.sum(F.col("c") * F.col("c") / F.col("person_size")).alias("br")).collect()[0]
    merged = cells.groupBy("cluster").count().where("count > 1").count()
    cells.unpersist()
    return ClusterSums(records=n, people=int(p["people"]), clusters=n_clusters, tp=int(s["tp"] or 0),
                       predicted=predicted, true=int(p["true"] or 0), bcubed_precision_sum=float(s["bp"] or 0),
                       bcubed_recall_sum=float(s["br"] or 0), people_split=int(p["split"] or 0),
                       golden_merged=int(merged))


def _view(named, raw, spark_run, layout: Layout, config: ModelConfig, metrics: dict, redirects: pd.DataFrame,
          size_values: np.ndarray, size_counts: np.ndarray, F) -> GoldenResult:
    """A small :class:`GoldenResult` for the artifacts: the sampled golden records (half the
    largest, half other multi-record ones chosen by a hash of their id) with their members."""
    size = config.golden.sample_size
    heads = named.where("head")
    largest = heads.orderBy(F.col("member_count").desc(), F.col("golden_id")).limit(size // 2).select("cluster")
    chosen = largest.toPandas()["cluster"].to_numpy(np.int64)
    others = heads.where((F.col("member_count") > 1) & ~F.col("cluster").isin([int(c) for c in chosen])) \
        .orderBy(F.xxhash64(F.col("golden_id").cast("string"))).limit(max(size - len(chosen), 0)).select("cluster")
    chosen = np.concatenate([chosen, others.toPandas()["cluster"].to_numpy(np.int64)])
    picked = named.where(F.col("cluster").isin([int(c) for c in chosen])).toPandas() \
        .sort_values("position", kind="stable").reset_index(drop=True)
    head = picked[picked["head"]].sort_values("golden_id", kind="stable")
    golden = pd.DataFrame({"golden_id": head["golden_id"].to_numpy()})
    for f in layout.fields:
        golden[f] = head[f].to_numpy()
    golden["member_count"] = head["member_count"].to_numpy()
    golden["cluster_confidence"] = head["cluster_confidence"].to_numpy()
    golden["field_sources"] = head["field_sources"].to_numpy()
    records = raw.where(F.col("position").isin([int(p) for p in picked["position"]])).toPandas() \
        .sort_values("position", kind="stable").reset_index(drop=True)
    entity = None
    if spark_run.n_people is not None:
        truth = spark_run.prepared.where(F.col("position").isin([int(p) for p in picked["position"]])) \
            .select("position", read_mod.ENTITY).toPandas().set_index("position")[read_mod.ENTITY]
        entity = pd.to_numeric(truth.reindex(records["position"].to_numpy()), errors="coerce").to_numpy()
    canon, _ = canonical_records(records.drop(columns="position"), layout.specs)
    mapping = pd.DataFrame({layout.id_column: picked["record_id"].to_numpy(), "golden_id": picked["golden_id"].to_numpy(),
                            "match_probability": picked["link_probability"].to_numpy()})
    clusters = Clusters(labels=np.empty(0, np.int64), sizes=np.empty(0, np.int64), confidence=np.empty(0),
                        link_probability=np.empty(0))
    result = GoldenResult(golden, mapping, metrics, clusters, canon, entity, size, layout=layout, redirects=redirects)
    result.size_counts = (size_values, size_counts)
    return result


# =============================================================================== the write
def _swap(conn, final: str, stage: str, columns: dict[str, str]) -> str:
    """Inside the caller's transaction: the staging table takes ``final``'s place, by the seeder's
    rule (:func:`warehouse.swap_staging`): its rows replace ``final``'s in place when dropping it
    would lose or break something (views, grants, triggers, foreign keys…:
    :func:`warehouse.in_place_reasons`) and its columns are the layout's; else DROP (refused if
    anything depends on it) and RENAME. Returns why in place ("" when swapped)."""
    reasons = warehouse.in_place_reasons(conn, final) if warehouse.table_exists(conn, final) else []
    in_place = bool(reasons) and warehouse.table_columns(conn, final) == columns
    warehouse.swap_staging(conn, final, stage, in_place)
    return ", ".join(reasons) if in_place else ""


def _write(spark, target, layout: Layout, named, redirects: pd.DataFrame, id_type: str, run_id: str | None,
           mapped_at: pd.Timestamp, say) -> None:
    """Fill staging tables from the Spark tasks (COPY, in parallel), then swap them for the golden
    tables and add the redirects in one transaction; on failure drop the staging tables."""
    import psycopg
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    tag = uuid.uuid4().hex[:8]
    staging = replace(layout, table=warehouse.staging_table(layout.table, tag, "__staging_"),
                      map_table=warehouse.staging_table(layout.map_table, tag, "__staging_"))
    counted = T.StructType([T.StructField("rows", T.LongType())])

    def writer(table: str, columns: list[str], frame_of):
        def write(batches):
            with warehouse.connect(target) as conn:
                for batch in batches:
                    frame = frame_of(batch)[columns]
                    with conn.transaction():
                        warehouse.copy_in(conn, table, frame)
                    yield pd.DataFrame({"rows": [len(frame)]})
        return write

    def golden_rows(batch: pd.DataFrame) -> pd.DataFrame:
        batch = batch.assign(run_id=run_id, created_at=pd.Timestamp.now(tz="UTC"))
        for f in layout.fields:
            if layout.specs[f].type == "timestamp":
                batch[f] = batch[f].dt.tz_localize("UTC")
        return golden_store._for_copy(batch, layout)

    def map_rows(batch: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({layout.id_column: batch["record_id"].to_numpy(), "golden_id": batch["golden_id"].to_numpy(),
                             "match_probability": batch["link_probability"].to_numpy(), "mapped_at": mapped_at})

    with warehouse.connect(target) as conn:
        try:
            with conn.transaction():
                conn.execute(staging.ddl(id_type))
            golden_cols = ["golden_id", *layout.fields, "member_count", "cluster_confidence", "field_sources"]
            heads = named.where("head").select(*golden_cols)
            written = heads.mapInPandas(writer(staging.table, list(layout.golden_columns), golden_rows), counted) \
                .agg(F.sum("rows")).collect()[0][0] or 0
            mapped = named.select("record_id", "golden_id", "link_probability") \
                .mapInPandas(writer(staging.map_table, list(layout.map_columns), map_rows), counted) \
                .agg(F.sum("rows")).collect()[0][0] or 0
            with conn.transaction():
                golden_store.lock(conn, layout)
                kept = []
                for final, stage in ((layout.table, staging.table), (layout.map_table, staging.map_table)):
                    why = _swap(conn, final, stage, layout.column_types(id_type)[final])
                    if why:
                        kept.append(f"{final}: rows replaced in place, for its {why}")
                golden_store._write_redirects(conn, layout, redirects, id_type, run_id)
            say(f"  {written:,} golden records and {mapped:,} map rows written in parallel, swapped in one transaction"
                + (f" ({'; '.join(kept)})" if kept else ""))
        except psycopg.Error as exc:
            raise golden_store._write_error(exc, {}, f"writing {layout.table} and {layout.map_table}",
                                            "nothing was changed: the previous golden records are intact") from exc
        finally:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
            for stage in (staging.table, staging.map_table):
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(warehouse.table_ref(stage)))
            conn.commit()
