"""The few pairs a run shows, brought to the driver as a local :class:`~golden_record.linkage.pipeline.Scored`.

A training run's pair-level artifacts (the review files, the waterfalls, the training samples,
the labelled pairs, the logged model's input example) each show at most a few thousand pairs. On
Spark those pairs are chosen where the pairs are, by the rules the local artifacts use: the pairs
nearest the threshold, the most confident false positives and false negatives (``CAP`` each), the
true pairs blocking missed (``CAP``), the labelled pairs, and a sample of matches and non-matches.
Their records are read back from PostgreSQL by id and cleaned by the local code, so the view is a
``Scored`` the artifact code reads unchanged. Figures over every pair (metrics, curves,
calibration, histograms, intervals) never come from the view: they come from Spark's aggregates.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from golden_record.config import ModelConfig
from golden_record.errors import WarehouseError
from golden_record.evaluation.review import BAND_BITS, CAP
from golden_record.io import labels as labels_io
from golden_record.io import warehouse
from golden_record.linkage.blocking import Candidates
from golden_record.linkage.comparisons import ComparisonVectors
from golden_record.linkage.decision import snap
from golden_record.linkage.pipeline import Scored
from golden_record.linkage.schema import clean_records
from golden_record.spark import read as read_mod
from golden_record.spark import vectors as vectors_mod


def _logit2(F, column):
    p = F.least(F.greatest(column, F.lit(1e-15)), F.lit(1 - 1e-15))
    return F.log2(p / (1 - p))


def chosen_pairs(run, threshold: float, sample_pairs: int, verdicts: labels_io.Verdicts | None):
    """(left, right) of the pairs the artifacts show, and the missed true pairs (not candidates)."""
    from pyspark.sql import functions as F

    spark = run.scored.sparkSession
    t = snap(threshold)
    scored = run.scored
    p = F.col("match_probability")
    distance = F.abs(_logit2(F, p) - float(np.log2(min(max(t, 1e-15), 1 - 1e-15) / (1 - min(max(t, 1e-15), 1 - 1e-15)))))
    picks = [scored.where(distance <= BAND_BITS).orderBy(distance, "left", "right").limit(CAP),
             scored.limit(5)]
    if run.n_people is not None:
        picks += [scored.where((p >= t) & ~F.col("label")).orderBy(p.desc(), "left", "right").limit(CAP),
                  scored.where((p < t) & F.col("label")).orderBy(p.desc(), "left", "right").limit(CAP)]
    counts = run.score_counts
    matched = int(counts.loc[counts["match_probability"] >= t, "count"].sum())
    half = sample_pairs // 2
    for where, available in (((p >= t), matched), ((p < t), run.n_pairs - matched)):
        if available and half:
            fraction = min(1.0, 3.0 * half / available)
            picks.append(scored.where(where).sample(fraction=fraction, seed=0).limit(half)
                         .withColumn("sampled", F.lit(True)))
    if verdicts is not None and len(verdicts.pairs):
        ids = run.prepared.select("position", F.col("record_id").cast("string").alias("id"))
        wanted = spark.createDataFrame(verdicts.pairs[["left_id", "right_id"]].astype(str))
        located = wanted.join(ids.withColumnRenamed("id", "left_id").withColumnRenamed("position", "a"), "left_id") \
            .join(ids.withColumnRenamed("id", "right_id").withColumnRenamed("position", "b"), "right_id") \
            .select(F.least("a", "b").alias("left"), F.greatest("a", "b").alias("right"))
        picks.append(scored.join(located, ["left", "right"], "left_semi"))
    def flagged(df):
        return df.select("left", "right", (F.col("sampled") if "sampled" in df.columns else F.lit(False)).alias("sampled"))

    pairs = flagged(picks[0])
    for more in picks[1:]:
        pairs = pairs.unionByName(flagged(more))
    pairs = pairs.groupBy("left", "right").agg(F.max("sampled").alias("sampled"))
    missed = None
    if run.n_people is not None:
        people = run.prepared.where(F.col(read_mod.ENTITY).isNotNull()).select("position", read_mod.ENTITY)
        a, b = people.alias("a"), people.alias("b")
        true_pairs = a.join(b, (F.col(f"a.{read_mod.ENTITY}") == F.col(f"b.{read_mod.ENTITY}"))
                            & (F.col("a.position") < F.col("b.position"))) \
            .select(F.col("a.position").alias("left"), F.col("b.position").alias("right"))
        missed = true_pairs.join(scored, ["left", "right"], "left_anti").orderBy("left", "right").limit(CAP).toPandas()
    return pairs, missed


def build(run, config: ModelConfig, target: warehouse.DatabaseTarget, threshold: float,
          verdicts: labels_io.Verdicts | None, fields: list[str]) -> Scored:
    """The view: a local ``Scored`` over the chosen pairs and the records they and the labels name."""
    from pyspark.sql import functions as F

    spark = run.scored.sparkSession
    pairs, missed = chosen_pairs(run, threshold, config.tracking.sample_pairs, verdicts)
    n_comparisons = len(run.names)
    tf = [c.name for c in config.comparisons if c.tf_adjustment]
    vectors = spark.read.parquet(f"{run.work_dir}/vectors")
    rows = run.scored.join(pairs, ["left", "right"]).join(vectors, ["left", "right"]) \
        .orderBy("left", "right").toPandas()
    positions = set(rows["left"]).union(rows["right"])
    if missed is not None:
        positions |= set(missed["left"]).union(missed["right"])
    if verdicts is not None and len(verdicts.pairs):
        wanted = set(verdicts.pairs["left_id"].astype(str)) | set(verdicts.pairs["right_id"].astype(str))
        positions |= set(run.prepared.where(F.col("record_id").cast("string").isin(sorted(wanted)))
                         .select("position").toPandas()["position"])
    chosen = spark.createDataFrame(pd.DataFrame({"position": sorted(positions)}, dtype="int64"))
    people = run.prepared.join(F.broadcast(chosen), "position").select("position", "record_id", read_mod.ENTITY) \
        .orderBy("position").toPandas()
    with warehouse.connect(target) as conn:
        raw = warehouse.load_records(conn, config.data, fields, only_ids=people["record_id"].tolist())
    # the view's records in position order (the ids as read; one the table lost since is said)
    raw = raw.set_index(raw["record_id"].astype(str)).reindex(people["record_id"].astype(str)).reset_index(drop=True)
    if raw["record_id"].isna().any():
        raise WarehouseError(f"{int(raw['record_id'].isna().sum()):,} records changed or left "
                                       f"{config.data.table} while the run read it",
                                       "run again; the run's figures were computed on the table as first read")
    prepared, _ = clean_records(raw, config.data.fields)
    local = pd.Series(np.arange(len(people)), index=people["position"].to_numpy())
    left, right = local[rows["left"]].to_numpy(), local[rows["right"]].to_numpy()
    entity_text = people[read_mod.ENTITY]
    codes = pd.factorize(entity_text.where(entity_text.notna(), "#record " + people["position"].astype(str)))[0]
    levels = rows[[vectors_mod.level_column(k) for k in range(n_comparisons)]].to_numpy(dtype=np.int8)
    agreed = {n: rows[vectors_mod.agreed_column(n)].to_numpy(dtype=object) for n in tf} or None
    labels = [list(x) for x in run.labels]
    scored = Scored(raw, prepared, Candidates(left.astype(np.int64), right.astype(np.int64), run.passes),
                    ComparisonVectors(levels, list(run.names), labels, agreed), run.model,
                    rows["match_weight"].to_numpy(), rows["match_probability"].to_numpy(),
                    rows["label"].to_numpy(dtype=bool) if run.n_people is not None else None,
                    codes.astype(np.int64) if run.n_people is not None else None, run.total_true_pairs, run.quality)
    scored.sampled = np.flatnonzero(rows["sampled"].to_numpy(dtype=bool))
    if missed is not None:
        scored.missed = (local[missed["left"]].to_numpy().astype(np.int64),
                         local[missed["right"]].to_numpy().astype(np.int64))
    return scored
