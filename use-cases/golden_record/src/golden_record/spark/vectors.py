"""Comparison and scoring on Arrow batches, with the local engine's code: each batch of pairs is
a small frame of its left and right records, compared by :func:`golden_record.linkage.comparisons.compare`
and scored by the fitted model's own ``score``. A level depends only on the two values compared
and a probability only on the pattern (and the agreed values), so batches change no number."""
from __future__ import annotations

import numpy as np
import pandas as pd

from golden_record.config import Comparison


def level_column(k: int) -> str:
    return f"level_{k}"


def agreed_column(name: str) -> str:
    return f"agreed_{name}"


def compared_fields(comparisons: list[Comparison]) -> list[str]:
    return list(dict.fromkeys(f for c in comparisons for f in (c.field, c.swap_with) if f))


def with_records(pairs, prepared, fields: list[str]):
    """``pairs`` (left, right positions) with the fields of both records (``<f>__l``, ``<f>__r``)."""
    from pyspark.sql import functions as F

    def side(suffix: str, key: str):
        return prepared.select(F.col("position").alias(key), *[F.col(f).alias(f + suffix) for f in fields])

    return pairs.join(side("__l", "left"), "left").join(side("__r", "right"), "right")


def compare_pairs(pairs, prepared, comparisons: list[Comparison], agreed: bool = True):
    """(left, right, level_k..., agreed_<name>...) per pair."""
    from pyspark.sql import types as T

    fields = compared_fields(comparisons)
    tf = [c.name for c in comparisons if c.tf_adjustment] if agreed else []
    schema = T.StructType([T.StructField("left", T.LongType()), T.StructField("right", T.LongType())]
                          + [T.StructField(level_column(k), T.ByteType()) for k in range(len(comparisons))]
                          + [T.StructField(agreed_column(n), T.StringType()) for n in tf])
    from golden_record.linkage.comparisons import compare

    def vectors(batches):
        for batch in batches:
            k = len(batch)
            frame = pd.concat([batch[[f + "__l" for f in fields]].set_axis(fields, axis=1),
                               batch[[f + "__r" for f in fields]].set_axis(fields, axis=1)], ignore_index=True)
            v = compare(frame, np.arange(k), np.arange(k, 2 * k), comparisons, agreed=agreed)
            out = {"left": batch["left"].to_numpy(), "right": batch["right"].to_numpy()}
            out.update({level_column(j): v.levels[:, j] for j in range(len(comparisons))})
            for name in tf:
                values = v.agreed[name]
                out[agreed_column(name)] = np.array([None if x is None else str(x) for x in values], dtype=object)
            yield pd.DataFrame(out)

    return with_records(pairs, prepared, fields).mapInPandas(vectors, schema)


def pattern_counts(vectors, n_comparisons: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct comparison patterns and their pair counts (the only thing EM needs)."""
    cols = [level_column(k) for k in range(n_comparisons)]
    rows = vectors.groupBy(*cols).count().toPandas()
    return rows[cols].to_numpy(dtype=np.int8), rows["count"].to_numpy(dtype=np.int64)


def score_pairs(vectors, model, comparisons: list[Comparison]):
    """(left, right, match_weight, match_probability) per pair, by ``model.score``."""
    from pyspark.sql import types as T

    n = len(comparisons)
    tf = [c.name for c in comparisons if c.tf_adjustment]
    schema = T.StructType([T.StructField("left", T.LongType()), T.StructField("right", T.LongType()),
                           T.StructField("match_weight", T.DoubleType()),
                           T.StructField("match_probability", T.DoubleType())])

    def score(batches):
        for batch in batches:
            levels = batch[[level_column(k) for k in range(n)]].to_numpy(dtype=np.int8)
            agreed = {name: batch[agreed_column(name)].to_numpy(dtype=object) for name in tf} or None
            weight, prob = model.score(levels, agreed)
            yield pd.DataFrame({"left": batch["left"].to_numpy(), "right": batch["right"].to_numpy(),
                                "match_weight": weight, "match_probability": prob})

    return vectors.mapInPandas(score, schema)
