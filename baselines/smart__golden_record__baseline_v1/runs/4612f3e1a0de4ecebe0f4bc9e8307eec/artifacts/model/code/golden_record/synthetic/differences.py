"""How hard a seeded table is: the share of true duplicate pairs that differ on each field.

One function for every seeder and profile. :func:`pair_differences` works on any frame and any
grouping of its columns into fields (raw values, as written); :func:`config_differences` first
cleans the records the way the model's config does (``data.fields``), so an abbreviated street
("Rd" for "Road"), upper case or another spelling of sex ("male" for "M") is no difference, and
measures the fields the config compares. That is the evidence that a table is hard: what share of
true duplicates the model sees disagreeing on each field.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from golden_record.config import ModelConfig
from golden_record.linkage.blocking import group_pairs
from golden_record.linkage.schema import clean_records
from golden_record.linker import records_from_frame


def true_pair_index(entity) -> tuple[np.ndarray, np.ndarray]:
    """Positions (left, right) of every pair of rows with the same entity."""
    return group_pairs(entity)


def pair_differences(table: pd.DataFrame, entity, fields: dict[str, list[str]]) -> dict:
    """``{"pairs": n, field: share, ...}``: of the true duplicate pairs (rows of ``table`` with the
    same ``entity``) where both records hold the field, the share whose values differ.

    A field is one or more columns of ``table``; it is held when any of its columns has a value,
    and differs when any column differs (a value on one side and none on the other included).
    Missing values (None, NaN, NaT) on both sides of a column count as equal."""
    entity = np.asarray(entity)
    if len(entity) != len(table):
        raise ValueError(f"entity has {len(entity):,} values for {len(table):,} rows")
    left, right = true_pair_index(entity)
    out: dict = {"pairs": int(len(left))}
    codes = {}
    for field, columns in fields.items():
        for c in columns:
            if c not in codes:      # factorised once: any dtype, missing -> -1
                codes[c] = pd.factorize(table[c], use_na_sentinel=True)[0]
        held_l = np.zeros(len(left), dtype=bool)
        held_r = np.zeros(len(left), dtype=bool)
        differ = np.zeros(len(left), dtype=bool)
        for c in columns:
            cl, cr = codes[c][left], codes[c][right]
            held_l |= cl >= 0
            held_r |= cr >= 0
            differ |= cl != cr
        both = held_l & held_r
        out[field] = float(differ[both].mean()) if both.any() else 0.0
    return out


def config_differences(table: pd.DataFrame, entity, config: ModelConfig, max_people: int | None = 20_000,
                       seed: int = 0) -> dict:
    """:func:`pair_differences` of the fields ``config`` compares, on the records cleaned as the
    model cleans them (``data.fields``). Only the records of people with duplicates are cleaned,
    and of at most ``max_people`` of them (a random sample, said in ``sampled_people`` of
    ``people_with_duplicates``; ~38,000 pairs: a share of 15 % is then known within ~0.5 point).
    With no ``comparisons`` in the config, every declared field but the recency and source roles."""
    entity = np.asarray(entity)
    _, inverse, counts = np.unique(entity, return_inverse=True, return_counts=True)
    duplicated = np.flatnonzero(counts > 1)
    chosen = duplicated
    if max_people is not None and len(duplicated) > max_people:
        chosen = np.random.default_rng(seed).choice(duplicated, size=max_people, replace=False)
    wanted = np.zeros(len(counts), dtype=bool)
    wanted[chosen] = True
    keep = wanted[inverse]
    roles = {config.data.recency, config.data.source}
    fields = list(dict.fromkeys(c.field for c in config.comparisons or [])) or [
        f for f in config.data.fields if f not in roles]        # no comparisons given: every field
    specs = {f: config.data.fields[f] for f in fields}
    compared = config.model_copy(update={"data": config.data.model_copy(update={"fields": specs})})
    columns = list(dict.fromkeys([config.data.id, *(c for f, spec in specs.items() for c in spec.source_columns(f))]))
    records = records_from_frame(table.iloc[np.flatnonzero(keep)][columns].reset_index(drop=True), compared)
    cleaned, _ = clean_records(records, specs)
    result = pair_differences(cleaned, entity[keep], {f: [f] for f in fields})
    if len(chosen) < len(duplicated):
        result.update(sampled_people=int(len(chosen)), people_with_duplicates=int(len(duplicated)))
    return result


_COUNTS = ("pairs", "sampled_people", "people_with_duplicates")


def describe(shares: dict) -> str:
    """One line: ``true duplicate pairs differing where both records hold the field: address 15.1 %, ...``"""
    fields = ", ".join(f"{k} {v * 100:.1f} %" for k, v in shares.items() if k not in _COUNTS)
    if "sampled_people" in shares:
        where = (f"{shares['pairs']:,} pairs of {shares['sampled_people']:,} sampled of the "
                 f"{shares['people_with_duplicates']:,} people with duplicates")
    else:
        where = f"all {shares['pairs']:,} pairs"
    return f"true duplicate pairs differing where both records hold the field ({where}): {fields}"
