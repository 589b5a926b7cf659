"""Survivorship: canonical values by field type, one rule chain per field (most_recent,
most_frequent, most_complete, source_priority), composite fields kept in agreement with their
parts, and field_sources naming the record each value came from."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from golden_record.config import ConfigError, GoldenSettings
from golden_record.golden.layout import _NO_KEY, CANONICAL_TYPES, RULES, Layout
from golden_record.linkage.cleaning import date_parts
from golden_record.linkage.schema import FieldSpec, clean_field

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
    ``M`` when the category declares it; a date is its ISO day ``YYYY-MM-DD``, any year, and one
    that training kept as text because it is no calendar day is counted here as refused); names, text and addresses keep their written form with
    the spacing trimmed (their cleaned form is a matching key, not a value to show).
    """
    new: dict[str, pd.Series] = {}
    refused: dict[str, int] = {}
    for f, spec in specs.items():
        if f not in records.columns:
            continue
        if spec.type in CANONICAL_TYPES:
            cleaned, quality = clean_field(f, spec, records[f])
            values, lost = cleaned.to_numpy(), quality.dropped
            if spec.type == "date":
                # a date that is no calendar day (kept as text for matching: ``1835-81-01``) is
                # evidence, not a value to publish: the golden record takes a real one or none
                values = values.copy()
                texts = np.asarray(values, dtype=object)
                codes, uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=True)
                invalid = ~np.append(date_parts(np.asarray(uniques, dtype=object)).valid, True)[codes]
                values[invalid] = None
                lost += int(invalid.sum())
            new[f] = pd.Series(values, index=records.index)
            refused[f] = lost
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
