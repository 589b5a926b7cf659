"""Blocking as joins: every record's block keys (the local engine's key strings, computed on Arrow
batches), block sizes counted, blocks over ``candidates.max_block_size`` dropped before any join
(so no block can make more than max_block_size² / 2 pairs, and adaptive execution splits what
skew is left), the pair budget checked from the sizes, then each pass a self-join on the key,
unioned and de-duplicated in Spark. Pairs never reach the driver; only the pass reports do."""
from __future__ import annotations

import pandas as pd

from golden_record.config import ModelConfig
from golden_record.linkage.blocking import PassReport, block_key_strings, check_pair_budget, indexable_passes
from golden_record.linkage.keys import WHOLE_TABLE


def block_keys(prepared, config: ModelConfig, key_fields: list[str]):
    """(position, pass, key) for every record and pass whose key is present."""
    from pyspark.sql import types as T

    blocking = list(config.model.params.blocking_fields or [])
    settings = config.candidates
    spec_types = {f: s.type for f, s in config.data.fields.items()}
    schema = T.StructType([T.StructField("position", T.LongType()), T.StructField("pass", T.StringType()),
                           T.StructField("key", T.StringType())])

    def keys(batches):
        for batch in batches:
            rows = block_key_strings(batch, blocking, settings, spec_types)
            yield pd.DataFrame({"position": batch["position"].to_numpy()[rows["position"].to_numpy()],
                                "pass": rows["key"].str.split("=", n=1).str[0], "key": rows["key"]})

    return prepared.select("position", *key_fields).mapInPandas(keys, schema)


def generate(keys, config: ModelConfig, progress=None):
    """(pairs DataFrame of ``left < right`` positions, pass reports in the local engine's order)."""
    from pyspark.sql import functions as F

    settings = config.candidates
    cap = settings.max_block_size
    sizes = keys.groupBy("pass", "key").agg(F.count("*").alias("n")).persist()
    # the whole-table pass (all()) is one block of every record: compared whole, no size limit
    usable = (F.col("n") >= 2) & ((F.col("n") <= cap) | (F.col("pass") == WHOLE_TABLE))
    per_pass = {r["pass"]: r for r in sizes.groupBy("pass").agg(
        F.sum(F.when(usable, 1).otherwise(0)).alias("blocks"),
        F.sum(F.when(usable, F.col("n") * (F.col("n") - 1) / 2).otherwise(0)).cast("long").alias("pairs"),
        F.sum(F.when(~usable & (F.col("n") > cap), 1).otherwise(0)).alias("skipped_blocks"),
        F.sum(F.when(~usable & (F.col("n") > cap), F.col("n")).otherwise(0)).alias("skipped_records")).collect()}
    reports = []
    for name in indexable_passes(config.model.params.blocking_fields, settings):
        r = per_pass.get(name)
        reports.append(PassReport(name, int(r["blocks"]), int(r["pairs"]), int(r["skipped_blocks"]),
                                  int(r["skipped_records"])) if r else PassReport(name))
    check_pair_budget([(r.name, r.pairs) for r in reports], settings)
    if progress:
        for r in reports:
            progress(r)
    in_blocks = keys.join(sizes.where(usable).select("pass", "key"), ["pass", "key"], "left_semi")
    a, b = in_blocks.alias("a"), in_blocks.alias("b")
    pairs = a.join(b, (F.col("a.pass") == F.col("b.pass")) & (F.col("a.key") == F.col("b.key"))
                   & (F.col("a.position") < F.col("b.position"))) \
        .select(F.col("a.position").alias("left"), F.col("b.position").alias("right")).distinct()
    sizes.unpersist()
    return pairs, reports
