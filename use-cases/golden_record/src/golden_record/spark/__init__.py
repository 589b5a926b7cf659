"""The Spark engine (``engine: spark``): the training pipeline of :mod:`golden_record.linkage.pipeline`
on Apache Spark, for tables that outgrow one process.

read (page ranges of the table, one snapshot, cleaned by the same code) -> candidates (blocking
keys joined, blocks capped) -> compare (the same comparison code on Arrow batches) -> pattern
counts -> fit on the driver (the same model code, from the counts) -> score (the same scoring
code on batches) -> evaluation from (probability, label, count) aggregates.

Only aggregates reach the driver: pass reports, pattern counts, term-frequency counts and the
evaluation's distinct probabilities. Records and pairs stay in Spark (Parquet in a work directory).
"""
