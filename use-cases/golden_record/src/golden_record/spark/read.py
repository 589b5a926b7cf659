"""Reading the warehouse in parallel: the table split into ranges of its pages, each read by one
Spark task through its own connection, all inside one exported snapshot (so the parts, and the
ground truth, are one consistent state of the tables, as the local engine's single read is).

Each task reads its part with :func:`golden_record.io.warehouse.load_records` and cleans it with
:func:`golden_record.linkage.schema.clean_records`: the local engine's code. The prepared
records are written to Parquet while the snapshot is held, then numbered in the local engine's
order (an integer id by value, any other by the bytes of its text), so both engines give a record
the same position.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import pandas as pd
from psycopg import sql

from golden_record.config import ModelConfig
from golden_record.errors import DataError, GoldenRecordError
from golden_record.io import warehouse
from golden_record.linkage.cleaning import FieldQuality
from golden_record.linkage.schema import clean_records

log = logging.getLogger(__name__)

#: column of the prepared records holding the ground-truth entity (text; null: no truth entry)
ENTITY = "_truth_entity_"
#: column of the read's output carrying one part's quality reports (or its error), as JSON
_REPORT = "_part_report_"


@dataclass
class Loaded:
    prepared: "object"           # Spark DataFrame: record_id, position, the fields, ENTITY
    n_records: int
    quality: list[FieldQuality]
    parts: int
    has_truth: bool
    truth_entries: int = 0
    #: Spark DataFrame: record_id and every declared field as stored (not cleaned), read in the
    #: same snapshot as ``prepared`` (golden records survive from these); None when not asked for
    raw: "object" = None
    read_at: "pd.Timestamp | None" = None    # the database's clock when the snapshot was taken


def _page_ranges(pages: int | None, parts: int) -> list[tuple[int, int]]:
    """[start, end) page ranges (end -1: to the end of the table); one part when pages are unknown."""
    if pages is None or pages == 0 or parts <= 1:
        return [(0, -1)]
    step = -(-pages // parts)
    starts = list(range(0, pages, step))
    return [(s, starts[i + 1] if i + 1 < len(starts) else -1) for i, s in enumerate(starts)]


def _spark_type(field_type: str):
    """A prepared field's Spark type: timestamps as naive UTC; a date is text as the local engine
    cleans it (an ISO day of any year, or a value kept as text: cleaning.clean_dates)."""
    from pyspark.sql import types as T
    return T.TimestampNTZType() if field_type == "timestamp" else T.StringType()


def _id_type(integer: bool):
    from pyspark.sql import types as T
    return T.LongType() if integer else T.StringType()


def read(spark, target: warehouse.DatabaseTarget, config: ModelConfig, fields: list[str], work_dir: str,
         say=log.info, raw_fields: list[str] | None = None) -> Loaded:
    """Read, clean and number the records (and join their ground truth) into Parquet under
    ``work_dir``; the field quality summed over the parts. ``raw_fields``: also read these fields
    as stored, uncleaned, in the same snapshot (``Loaded.raw``: what golden records survive from)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    source = config.data
    with warehouse.connect(target) as conn:
        columns = warehouse.check_source(conn, source, fields)
        truth_columns = warehouse.check_truth(conn, source)
        integer_id = columns[source.id].startswith(warehouse._INTEGER_TYPES)
        pages = warehouse.table_pages(conn, source.table)
        ranges = _page_ranges(pages, config.spark.read_partitions)
        if pages is None:
            say(f"  {source.table} is not a plain table (a view or a partitioned table): read by one task")
        with warehouse.snapshot(conn):    # held until every part is in Parquet
            snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            read_at = pd.Timestamp(conn.execute("SELECT clock_timestamp()").fetchone()[0]).tz_convert("UTC")
            say(f"  {len(ranges)} part(s) of {pages if pages is not None else '?'} pages, one snapshot")
            specs = spark.sparkContext.parallelize(ranges, len(ranges)).toDF(["start", "end"])
            schema = T.StructType([T.StructField("record_id", _id_type(integer_id))]
                                  + [T.StructField(f, _spark_type(source.fields[f].type)) for f in fields]
                                  + [T.StructField(_REPORT, T.StringType())])
            part_path = f"{work_dir}/parts"
            specs.mapInPandas(_reader(target, snapshot_id, source, fields, schema.fieldNames()), schema) \
                .write.mode("overwrite").parquet(part_path)
            truth = None
            if source.truth is not None:
                truth_pages = warehouse.table_pages(conn, source.truth.table)
                truth_ranges = _page_ranges(truth_pages, config.spark.read_partitions)
                truth_integer = truth_columns[source.truth.id_column].startswith(warehouse._INTEGER_TYPES)
                truth_schema = T.StructType([T.StructField("truth_id", _id_type(truth_integer)),
                                             T.StructField(ENTITY, T.StringType())])
                truth_path = f"{work_dir}/truth"
                spark.sparkContext.parallelize(truth_ranges, len(truth_ranges)).toDF(["start", "end"]) \
                    .mapInPandas(_truth_reader(target, snapshot_id, source, truth_integer), truth_schema) \
                    .write.mode("overwrite").parquet(truth_path)
                truth = spark.read.parquet(truth_path)
            if raw_fields is not None:
                raw_schema = T.StructType([T.StructField("record_id", _id_type(integer_id))]
                                          + [T.StructField(f, T.StringType()) for f in raw_fields]   # as text
                                          + [T.StructField(_REPORT, T.StringType())])
                specs.mapInPandas(_reader(target, snapshot_id, source, raw_fields, raw_schema.fieldNames(),
                                          clean=False), raw_schema).write.mode("overwrite").parquet(f"{work_dir}/raw")
    # the snapshot is released: everything read is in Parquet
    parts = spark.read.parquet(part_path)
    reports = [json.loads(r[0]) for r in parts.where(F.col(_REPORT).isNotNull()).select(_REPORT).collect()]
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise DataError(errors[0]["message"], errors[0]["hint"])
    records = parts.where(F.col(_REPORT).isNull()).drop(_REPORT)
    quality = _sum_quality([r["quality"] for r in reports], records, fields)
    n = quality[0].rows if quality else records.count()
    if n == 0:
        raise warehouse.empty_table_error(source)
    for q in quality:
        if q.present_before == 0:
            raise warehouse.null_field_error(source, q.field)
    duplicated = records.groupBy("record_id").count().where("count > 1").limit(1).collect()
    if duplicated:
        raise DataError(f"ids in {source.table}.{source.id} (data.id) are not unique: records share an id "
                        f"(e.g. {duplicated[0]['record_id']!r})", "data.id must name a column unique per record")
    truth_entries = 0
    if truth is not None:
        key = "record_id"
        if dict(truth.dtypes)["truth_id"] != dict(records.dtypes)["record_id"]:   # as the local engine: as text
            records = records.withColumn("_rid_text", F.col("record_id").cast("string"))
            truth = truth.withColumn("truth_id", F.col("truth_id").cast("string"))
            key = "_rid_text"
        records = records.join(truth.withColumnRenamed("truth_id", key), key, "left")
        if key != "record_id":
            records = records.drop(key)
    else:
        records = records.withColumn(ENTITY, F.lit(None).cast("string"))
    numbered = _numbered(spark, records, config.spark.read_partitions)
    prepared_path = f"{work_dir}/prepared"
    numbered.write.mode("overwrite").parquet(prepared_path)
    prepared = spark.read.parquet(prepared_path)
    if truth is not None:
        truth_entries = prepared.where(F.col(ENTITY).isNotNull()).count()
    raw = None
    if raw_fields is not None:
        raw = spark.read.parquet(f"{work_dir}/raw")
        raw = raw.where(F.col(_REPORT).isNull()).drop(_REPORT)
    return Loaded(prepared, n, quality, len(ranges), truth is not None, truth_entries, raw, read_at)


def _numbered(spark, records, parts: int):
    """``position`` 0..n-1 in record_id order (strings by their bytes, as PostgreSQL's COLLATE "C"),
    computed without one partition: range-partition, sort within, offset each partition."""
    from pyspark.sql import functions as F

    ordered = records.repartitionByRange(max(parts, 1), "record_id").sortWithinPartitions("record_id") \
        .withColumn("_pid", F.spark_partition_id()).withColumn("_row", F.monotonically_increasing_id())
    ordered = ordered.persist()
    sizes = sorted((r["_pid"], r["count"]) for r in ordered.groupBy("_pid").count().collect())
    offsets, total = [], 0
    for pid, count in sizes:
        offsets.append((pid, total))
        total += count
    offset = spark.createDataFrame(offsets, "_pid int, _offset long")
    numbered = ordered.join(F.broadcast(offset), "_pid") \
        .withColumn("position", F.col("_offset") + F.col("_row") - (F.col("_pid").cast("long") * (1 << 33))) \
        .drop("_pid", "_row", "_offset")
    cols = ["record_id", "position"] + [c for c in numbered.columns if c not in ("record_id", "position")]
    return numbered.select(*cols)


def _reader(target, snapshot_id: str, source, fields: list[str], names: list[str], clean: bool = True):
    """Each part's records, cleaned by the local engine's code (``clean``) or as stored; a part's
    quality reports (or its error) in one extra row."""
    def read_parts(specs):
        for frame in specs:
            for start, end in zip(frame["start"], frame["end"]):
                try:
                    with warehouse.connect(target) as conn, warehouse.snapshot(conn, shared=snapshot_id):
                        raw = warehouse.load_records(conn, source, fields,
                                                     pages=(int(start), None if end < 0 else int(end)))
                    if not clean:
                        raw[_REPORT] = None
                        yield raw[names]
                        continue
                    prepared, quality = clean_records(raw, source.fields)
                except GoldenRecordError as exc:      # said by the driver, in one line
                    yield _report_row(names, {"error": {"message": exc.message, "hint": exc.hint}})
                    continue
                if len(prepared):
                    prepared[_REPORT] = None
                    yield prepared[names]
                yield _report_row(names, {"quality": [q.to_dict() for q in quality]})
    return read_parts


def _report_row(names: list[str], report: dict) -> pd.DataFrame:
    row = {n: [None] for n in names}
    row[_REPORT] = [json.dumps(report, default=str)]
    return pd.DataFrame(row)


def _truth_reader(target, snapshot_id: str, source, integer_id: bool):
    truth = source.truth

    def read_parts(specs):
        for frame in specs:
            for start, end in zip(frame["start"], frame["end"]):
                query = sql.SQL("SELECT {}::text AS truth_id, {}::text AS {} FROM {} WHERE {}").format(
                    sql.Identifier(truth.id_column), sql.Identifier(truth.entity_column), sql.Identifier(ENTITY),
                    warehouse.table_ref(truth.table),
                    warehouse.page_range((int(start), None if end < 0 else int(end))))
                with warehouse.connect(target) as conn, warehouse.snapshot(conn, shared=snapshot_id):
                    df = warehouse.copy_out(conn, query)
                if integer_id:
                    df["truth_id"] = df["truth_id"].astype("int64")
                yield df[["truth_id", ENTITY]]
    return read_parts


def _sum_quality(parts: list[list[dict]], records, fields: list[str]) -> list[FieldQuality]:
    """One report per field over every part; distinct values counted in Spark over all parts."""
    from pyspark.sql import functions as F

    if not parts:
        return []
    distinct = records.agg(*[F.countDistinct(f).alias(f) for f in fields]).collect()[0].asDict()
    out = []
    for field in fields:
        rows = [r for part in parts for r in part if r["field"] == field]
        if not rows:
            continue
        q = FieldQuality(field=field, type=rows[0]["type"], rows=sum(r["rows"] for r in rows),
                         present_before=sum(r["present_before"] for r in rows),
                         present_after=sum(r["present_after"] for r in rows),
                         distinct_after=int(distinct[field]),
                         unusual=sum(r["unusual"] for r in rows),
                         # distinct values, as one part's are (a value is an example once)
                         dropped_examples=list(dict.fromkeys(e for r in rows for e in r["dropped_examples"]))[:5],
                         unusual_examples=list(dict.fromkeys(e for r in rows for e in r["unusual_examples"]))[:5],
                         unusual_reason=next((r["unusual_reason"] for r in rows if r["unusual_reason"]), ""))
        inferred = [r for r in rows if r.get("formats_inferred") is not None]
        if inferred:
            # each part infers a date field's formats from a sample of its own values: said once when
            # the parts agree; when they do not, every format any part chose, most sampled first
            chosen = list(dict.fromkeys(f for r in sorted(inferred, key=lambda r: -r["formats_sample"])
                                        for f in r["formats_inferred"]))
            q.formats_inferred, q.formats_sample = chosen, max(r["formats_sample"] for r in inferred)
        out.append(q)
    return out

