"""The training pipeline on Spark, stage for stage as :mod:`golden_record.linkage.pipeline`:

read+prepare -> candidates -> compare -> fit (driver, pattern counts) -> score -> evaluate (aggregates)

The same config gives the same candidate pairs, pattern counts, m/u and metrics as the local
engine (tests/test_spark.py). Timings per stage are in ``progress.timings``.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from golden_record.progress import Progress
from golden_record.config import ModelConfig
from golden_record.errors import DataError, ModelError
from golden_record.evaluation.pairs import Evaluation, evaluate
from golden_record.io import warehouse
from golden_record.linkage import defaults
from golden_record.linkage.blocking import PassReport
from golden_record.linkage.comparisons import level_labels
from golden_record.linkage.fitting import Model, fit_model
from golden_record.linkage.schema import settle_formats
from golden_record.linkage.model import RandomPairStats
from golden_record.linkage.pipeline import DataQuality, check_decisions, random_positions, settle_threshold
from golden_record.spark import candidates as candidates_mod
from golden_record.spark import read as read_mod
from golden_record.spark import vectors as vectors_mod

#: records at most collected to the driver to derive comparisons or blocking the config leaves out
DERIVE_SAMPLE = 200_000


@dataclass
class SparkScored:
    """What a Spark run leaves for logging: aggregates on the driver, pairs in Spark."""
    n_records: int
    n_people: int | None
    quality: DataQuality
    passes: list[PassReport]
    n_pairs: int
    names: list[str]
    labels: list[list[str]]
    patterns: np.ndarray             # distinct comparison patterns (int8, one row each)
    pattern_counts: np.ndarray       # pairs per pattern
    model: Model
    #: distinct (match_weight, match_probability, label: a true pair) with their pair counts
    score_counts: pd.DataFrame
    total_true_pairs: int
    scored: object                   # Spark DataFrame: left, right, match_weight, match_probability
    prepared: object                 # Spark DataFrame: record_id, position, the fields
    work_dir: str
    timings: dict[str, float] = field(default_factory=dict)
    raw: object = None               # Spark DataFrame: every declared field as stored (golden records)
    read_at: object = None           # the database's clock at the snapshot the records were read in

    def evaluate(self, threshold: float) -> Evaluation | None:
        if self.n_people is None:
            return None
        c = self.score_counts
        return evaluate(c["match_probability"].to_numpy(), c["label"].to_numpy(), threshold,
                        self.total_true_pairs, self.n_records, counts=c["count"].to_numpy())

    def digest(self) -> str:
        """A digest of every prepared record, whatever their order (Spark's own: it differs from the
        local engine's digest of the loaded records)."""
        import hashlib

        from pyspark.sql import functions as F

        columns = [c for c in self.prepared.columns if c not in ("position", read_mod.ENTITY)]
        row = self.prepared.agg(F.sum(F.xxhash64(*columns).cast("decimal(38,0)")).alias("s"),
                                F.count("*").alias("n")).collect()[0]
        return hashlib.sha256(f"{row['s']}|{row['n']}|{','.join(columns)}".encode()).hexdigest()[:16]

    def figures(self):
        """The distinct (weight, probability, label) rows and their pair counts."""
        from golden_record.linkage.pipeline import PairFigures

        c = self.score_counts
        return PairFigures(c["match_probability"].to_numpy(), c["match_weight"].to_numpy(),
                           c["label"].to_numpy(dtype=bool) if self.n_people is not None else None,
                           c["count"].to_numpy(dtype=np.int64))

    def view(self, config: ModelConfig, target, threshold: float, verdicts, fields: list[str]):
        """The pairs the run's artifacts show, as a local ``Scored`` (:mod:`golden_record.spark.view`)."""
        from golden_record.spark import view

        return view.build(self, config, target, threshold, verdicts, fields)

    def bootstrap(self, threshold: float, iterations: int = 1000, seed: int = 0):
        """:func:`golden_record.evaluation.bootstrap.bootstrap_intervals` of the run, people
        resampled: the entity profiles (tp, 2 fp, true pairs) aggregated in Spark."""
        from golden_record.evaluation.bootstrap import intervals_from_profiles

        profiles, counts = entity_profiles(self.scored, self.prepared, threshold)
        return intervals_from_profiles(profiles, counts, iterations, seed)

    def close(self) -> None:
        """Drop the work directory's Parquet (the run has logged what it keeps)."""
        shutil.rmtree(self.work_dir, ignore_errors=True)


def entity_key(F):
    """The person of a record: its ground-truth entity, or itself when it has no truth entry."""
    return F.coalesce(F.col(read_mod.ENTITY), F.concat(F.lit("#record "), F.col("position").cast("string")))


def entity_profiles(scored, prepared, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per person: classified-match pairs inside it (tp), classified-match pairs it shares with
    another person (2 fp: half each), its true pairs over all its records; then the distinct
    profiles with their number of people, sorted as the local bootstrap sorts them."""
    from pyspark.sql import functions as F

    from golden_record.linkage.decision import snap

    matched = scored.where(F.col("match_probability") >= F.lit(snap(threshold)))
    tp = matched.where("label").groupBy(F.col("left_entity").alias("entity")).agg(F.count("*").alias("tp"))
    wrong = matched.where(~F.col("label"))
    fp2 = wrong.select(F.col("left_entity").alias("entity")).unionAll(wrong.select(F.col("right_entity").alias("entity"))) \
        .groupBy("entity").agg(F.count("*").alias("fp2"))
    people = prepared.groupBy(entity_key(F).alias("entity")).agg(F.count("*").alias("k")) \
        .select("entity", (F.col("k") * (F.col("k") - 1) / 2).cast("long").alias("true_pairs"))
    rows = people.join(tp, "entity", "left").join(fp2, "entity", "left").fillna(0, ["tp", "fp2"]) \
        .groupBy("tp", "fp2", "true_pairs").count().toPandas()
    rows = rows.sort_values(["tp", "fp2", "true_pairs"], ignore_index=True)
    return rows[["tp", "fp2", "true_pairs"]].to_numpy(dtype=np.int64), rows["count"].to_numpy(dtype=np.int64)


def random_pair_u(spark, prepared, n: int, config: ModelConfig, n_levels: list[int], seed: int = 0
                  ) -> RandomPairStats:
    """u (and which comparisons agree together) from random record pairs, the local engine's pairs (same generator, seed and positions):
    the positions are drawn on the driver (``model.em.random_pairs`` of them, the records never),
    the records joined and compared in Spark, the level counts aggregated."""
    left, right = random_positions(n, config, seed)
    drawn = spark.sparkContext.broadcast(np.stack([left, right]))   # 16 bytes a pair, once
    from pyspark.sql import types as T

    def positions(batches):
        for batch in batches:
            rows = batch["id"].to_numpy()
            yield pd.DataFrame({"left": drawn.value[0][rows], "right": drawn.value[1][rows]})

    pairs = spark.range(0, len(left), numPartitions=max(spark.sparkContext.defaultParallelism, 1)) \
        .mapInPandas(positions, T.StructType([T.StructField("left", T.LongType()), T.StructField("right", T.LongType())]))
    vectors = vectors_mod.compare_pairs(pairs, prepared, config.comparisons, agreed=False)
    patterns, counts = vectors_mod.pattern_counts(vectors, len(config.comparisons))
    drawn.unpersist()
    return RandomPairStats.of(patterns, n_levels, counts)


def _value_counts(prepared):
    """For term frequencies: (records per value held by 2 or more, records holding a value)."""
    from pyspark.sql import functions as F

    def counts(field_name: str) -> tuple[pd.Series, int]:
        grouped = prepared.where(F.col(field_name).isNotNull()).groupBy(field_name).count()
        present = grouped.agg(F.sum("count")).collect()[0][0] or 0
        kept = grouped.where("count >= 2").toPandas()
        return pd.Series(kept["count"].to_numpy(), index=kept[field_name].to_numpy()), int(present)
    return counts


def fit_and_score(spark, target: warehouse.DatabaseTarget, config: ModelConfig, progress: Progress,
                  work_dir: str | None = None, golden: bool = False) -> SparkScored:
    """Every stage of a training run on Spark; the driver holds aggregates only. ``golden``: also
    read every declared field as stored, in the same snapshot (what golden records survive from)."""
    from pyspark.sql import functions as F

    work = tempfile.mkdtemp(prefix="golden-spark-", dir=work_dir or config.spark.work_dir)
    try:
        return _run(spark, target, config, progress, work, F, golden)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _run(spark, target, config: ModelConfig, progress: Progress, work: str, F, golden: bool = False) -> SparkScored:
    fields = config.needed_fields()
    with progress.stage("load"):
        loaded = read_mod.read(spark, target, config, fields, work, say=progress.say,
                               raw_fields=list(config.data.fields) if golden else None)
        n = loaded.n_records
        progress.counts["records"] = n
        progress.say(f"  {n:,} records, {len(fields)} fields, read in {loaded.parts} part(s)"
                     + (f", ground truth for {loaded.truth_entries:,}" if loaded.has_truth else ""))
    prepared = loaded.prepared
    with progress.stage("prepare"):
        quality = DataQuality(loaded.quality, config.data.quality.max_dropped_share)
        settle_formats(config.data.fields, loaded.quality)   # inferred date formats: logged with the model
        progress.say("  data quality (present before -> after cleaning):")
        for q in quality.fields:
            progress.say(q.line())
        bad = [q for q in quality.fields if q.dropped_share > quality.max_dropped_share]
        if bad:
            q = bad[0]
            raise DataError(
                f"field {q.field} (type {q.type}) lost {q.dropped_share:.1%} of its {q.present_before:,} present "
                f"values in cleaning, more than data.quality.max_dropped_share={quality.max_dropped_share:g} "
                f"(e.g. {q.dropped_examples[:3]})",
                f"declare the field's type and options to fit its values (data.fields.{q.field}), map it to another "
                "column, or raise data.quality.max_dropped_share")
        if config.derived_keys():
            share = min(1.0, DERIVE_SAMPLE / n)
            sample = (prepared.sample(fraction=share, seed=0) if share < 1 else prepared) \
                .drop(read_mod.ENTITY).orderBy("position").toPandas()
            progress.say(f"  deriving {', '.join(config.derived_keys())} from "
                         + (f"a sample of {len(sample):,} records (the passes' pairs estimated for all {n:,})"
                            if share < 1 else "every record"))
            # the passes' costs scaled to the whole table: a sample's blocks are smaller by its share
            defaults.resolve(config, sample.drop(columns="position"), progress, share=len(sample) / n)
    with progress.stage("candidates"):
        key_fields = sorted({f for entry in _pass_entries(config) for f in _entry_fields(entry)})
        # the keys are computed once (Python on Arrow batches) and read twice: block sizes, then the joins
        candidates_mod.block_keys(prepared, config, key_fields).write.mode("overwrite").parquet(f"{work}/keys")
        keys = spark.read.parquet(f"{work}/keys")
        pairs, passes = candidates_mod.generate(keys, config, progress=lambda r: progress.say(
            f"  pass {r.name}: {r.pairs:,} pairs in {r.blocks:,} blocks"
            + (f" ({r.skipped_blocks:,} blocks of > {config.candidates.max_block_size} records skipped)"
               if r.skipped_blocks else "")))
        pairs.write.mode("overwrite").parquet(f"{work}/pairs")
        pairs = spark.read.parquet(f"{work}/pairs")
        n_pairs = pairs.count()
        empty = [r.name for r in passes if r.pairs == 0]
        for name in empty:
            progress.say(f"  warning: blocking pass {name} yielded no pairs: its keys never agree between two "
                         "records (check the fields' cleaning in the quality lines above, or drop the pass)")
        quality.empty_passes = empty
        progress.counts["candidate_pairs"] = n_pairs
        progress.say(f"  {n_pairs:,} candidate pairs after union")
        if n_pairs == 0:
            raise DataError("blocking yielded no candidate pairs",
                            "check model.params.blocking_fields: the fields may be empty or all different")
    comparisons = config.comparisons
    with progress.stage("compare"):
        vectors = vectors_mod.compare_pairs(pairs, prepared, comparisons)
        vectors.write.mode("overwrite").parquet(f"{work}/vectors")
        vectors = spark.read.parquet(f"{work}/vectors")
        patterns, counts = vectors_mod.pattern_counts(vectors, len(comparisons))
        progress.say(f"  {len(patterns):,} distinct patterns over {int(counts.sum()):,} pairs")
    names = [c.name for c in comparisons]
    labels = [level_labels(c) for c in comparisons]
    with progress.stage("fit"):
        em = config.model.em
        n_levels = [len(x) for x in labels]
        model = fit_model(config.model.type, names, labels, patterns, counts=counts,
                          random_u=(lambda: random_pair_u(spark, prepared, n, config, n_levels))
                          if em.u_from_random_pairs else None, say=progress.say,
                          max_iterations=em.max_iterations, tolerance=em.tolerance,
                          initial_match_share=em.initial_match_share, related_classes=em.related_classes,
                          max_related_classes=em.max_related_classes, match_class_agreement=em.match_class_agreement)
        model.learn_term_frequencies(None, comparisons, value_counts=_value_counts(prepared))
        rep = model.report
        progress.say(f"  EM: {rep.iterations} iterations, converged={rep.converged}, "
                     f"match share {rep.match_share:.4f}, {rep.patterns:,} distinct patterns")
        if not rep.converged:
            raise ModelError(f"EM did not converge in {rep.iterations} iterations (tolerance {em.tolerance:g})",
                             "raise model.em.max_iterations or loosen model.em.tolerance; check the comparisons")
    with progress.stage("score"):
        # each pair with the people of its two records (a record without a truth entry is its own)
        entity = prepared.select("position", entity_key(F).alias("entity"))
        labelled = vectors_mod.score_pairs(vectors, model, comparisons) \
            .join(entity.withColumnRenamed("position", "left").withColumnRenamed("entity", "left_entity"), "left") \
            .join(entity.withColumnRenamed("position", "right").withColumnRenamed("entity", "right_entity"), "right") \
            .withColumn("label", F.col("left_entity") == F.col("right_entity"))
        labelled.write.mode("overwrite").parquet(f"{work}/scored")
        scored = spark.read.parquet(f"{work}/scored")
        score_counts = scored.groupBy("match_weight", "match_probability", "label").count().toPandas()
        probs = score_counts["match_probability"].to_numpy()
        pair_counts = score_counts["count"].to_numpy(dtype=np.int64)
        progress.say("  the true pairs blocking missed are not estimated on the Spark engine yet: estimated "
                     "recall counts the candidates only")
        settle_threshold(config, probs, pair_counts, None, progress)
        check_decisions(config, probs, pair_counts, rep.match_share, progress)
    n_people, total = None, 0
    if loaded.has_truth:
        people = prepared.groupBy(read_mod.ENTITY).count()
        row = people.agg(F.sum(F.when(F.col(read_mod.ENTITY).isNotNull(), 1).otherwise(F.col("count"))).alias("people"),
                         F.sum(F.when(F.col(read_mod.ENTITY).isNotNull(),
                                      F.col("count") * (F.col("count") - 1) / 2).otherwise(0)).cast("long")
                         .alias("pairs")).collect()[0]
        n_people, total = int(row["people"]), int(row["pairs"] or 0)
    return SparkScored(n, n_people, quality, passes, n_pairs, names, labels, patterns, counts, model,
                       score_counts, total, scored, prepared, work, dict(progress.timings), loaded.raw, loaded.read_at)


def _pass_entries(config: ModelConfig) -> list[str]:
    entries = list(config.model.params.blocking_fields or [])
    fuzzy = config.candidates.fuzzy
    if fuzzy.method == "phonetic":
        entries.append(f"phonetic({','.join(fuzzy.fields)})")
    return entries


def _entry_fields(entry: str) -> list[str]:
    from golden_record.linkage.keys import parse_key
    return [f for part in parse_key(entry) for f in part.fields]
