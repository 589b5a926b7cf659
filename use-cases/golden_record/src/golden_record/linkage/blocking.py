"""Candidate pairs by blocking: one exact pass per blocking field, unioned, plus a fuzzy pass.

Pairs are positional indices ``(i, j)`` into the prepared frame with ``i < j``. Everything is
vectorised: blocks of the same size are expanded together with one ``triu_indices`` template,
and passes are unioned by sorting 64-bit pair codes.

Guards: missing keys never form a block; blocks larger than ``max_block_size`` are skipped (a
placeholder household id must not pair everyone with everyone) and reported; when the passes
would yield more than ``max_pairs`` pairs we stop *before* allocating them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from golden_record.linkage.decision import pairs_within
from golden_record.config import CandidateSettings
from golden_record.errors import DataError
from golden_record.linkage.keys import WHOLE_TABLE, KeyPart, key_values, parse_key, part_codes


#: the largest blocks a pass report names (:attr:`PassReport.largest_blocks`)
LARGEST_BLOCKS = 5


@dataclass
class PassReport:
    name: str
    blocks: int = 0
    pairs: int = 0
    skipped_blocks: int = 0
    skipped_records: int = 0
    #: pairs no earlier pass made (the passes in order): what this pass adds to the union (None: not
    #: counted, the Spark engine)
    new_pairs: int | None = None
    #: the largest blocks, [key, records] each, largest first (skipped ones too: > max_block_size);
    #: None: not listed (the Spark engine)
    largest_blocks: list | None = None
    #: with a ground truth given to :func:`generate`: the pass's pairs of one person's records
    true_pairs: int | None = None


@dataclass
class Candidates:
    left: np.ndarray    # int64 positions, left < right
    right: np.ndarray
    passes: list[PassReport] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.left)


def key_codes(prepared: pd.DataFrame, entry: str, parts: dict[str, np.ndarray | None] | None = None) -> np.ndarray:
    """int64 block code per record for ``a+transform(b)`` (missing in any part -> -1); ``parts``:
    label -> the codes of a key part several passes share (None until computed here)."""
    codes = None
    for part in parse_key(entry):
        if parts is None or part.label() not in parts:
            c = part_codes(prepared, part)
        else:
            c = parts[part.label()]
            if c is None:
                c = parts[part.label()] = part_codes(prepared, part)
        if codes is None:
            codes = c
        else:
            missing = (codes < 0) | (c < 0)
            codes = codes * (int(c.max()) + 2 if len(c) else 1) + c
            codes[missing] = -1
            codes, _ = pd.factorize(codes)
            codes = codes.astype(np.int64)
            codes[missing] = -1
    return codes


def block_limit(entry: str, max_block_size: int) -> int | None:
    """The largest block a pass uses: ``max_block_size``, or None (no limit) for :data:`WHOLE_TABLE`,
    whose one block is the table (compared whole because it is small; ``max_pairs`` still holds)."""
    return None if entry == WHOLE_TABLE else max_block_size


def is_whole_table_key(key: str) -> bool:
    """Whether a key string (:func:`block_key_strings`) is the :data:`WHOLE_TABLE` pass's."""
    return key.startswith(WHOLE_TABLE + "=")


def _blocks(codes: np.ndarray, max_block_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, PassReport]:
    """Sorted record order, block start offsets and sizes of the usable blocks."""
    valid = np.flatnonzero(codes >= 0)
    order = valid[np.argsort(codes[valid], kind="stable")]
    sorted_codes = codes[order]
    if len(order) == 0:
        return order, np.empty(0, np.int64), np.empty(0, np.int64), PassReport("")
    boundaries = np.flatnonzero(np.diff(sorted_codes)) + 1
    starts = np.concatenate(([0], boundaries))
    sizes = np.diff(np.concatenate((starts, [len(order)])))
    too_big = sizes > max_block_size
    report = PassReport("", skipped_blocks=int(too_big.sum()), skipped_records=int(sizes[too_big].sum()))
    keep = (sizes >= 2) & ~too_big
    return order, starts[keep], sizes[keep], report


def _expand(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs inside each block, grouped by block size (one template per distinct size)."""
    lefts, rights = [], []
    for size in np.flatnonzero(np.bincount(sizes)):
        block_starts = starts[sizes == size]
        ti, tj = np.triu_indices(int(size), 1)
        lefts.append(order[(block_starts[:, None] + ti[None, :]).ravel()])
        rights.append(order[(block_starts[:, None] + tj[None, :]).ravel()])
    if not lefts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(lefts), np.concatenate(rights)


def group_pairs(keys) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions (left < right) with equal keys: the pairs inside each group, made
    as a blocking pass makes them, without a size limit (the true pairs of a ground truth, for
    instance). A missing key pairs with nothing."""
    codes = pd.factorize(np.asarray(keys), use_na_sentinel=True)[0].astype(np.int64)
    order, starts, sizes, _ = _blocks(codes, max_block_size=len(codes) + 1)
    return _expand(order, starts, sizes)


def pass_cost(prepared: pd.DataFrame, entry: str, max_block_size: int, share: float = 1.0) -> tuple[int, int]:
    """(pairs, records in blocks too large to use) of a pass on ``entry``, without making the pairs;
    for the whole table when ``prepared`` is a sample holding ``share`` of it (:func:`block_cost`)."""
    codes = key_codes(prepared, entry)
    _, _, sizes, _ = _blocks(codes, max_block_size=len(codes) + 1)      # every block of 2 or more
    return block_cost(sizes, max_block_size, share)


def block_cost(sizes: np.ndarray, max_block_size: int, share: float = 1.0) -> tuple[int, int]:
    """(pairs, records in blocks larger than ``max_block_size``) of blocks of these sizes.

    The sizes may come from a uniform sample holding ``share`` of the table's records: the counts
    are then estimated for the whole table. A pair is in the sample with probability share², so the
    sample's pairs / share² estimate the table's; a sample block of b records stands for a block of
    about b / share, which is what ``max_block_size`` is held against. A sample's own counts would
    fall short by 1 / share: its blocks are that much smaller.
    """
    sizes = np.asarray(sizes)
    sizes = sizes[sizes >= 2]
    usable = sizes / share <= max_block_size
    if share >= 1:
        return _pair_count(sizes[usable]), int(sizes[~usable].sum())
    return int(round(_pair_count(sizes[usable]) / share ** 2)), int(round(sizes[~usable].sum() / share))


def _pair_count(sizes: np.ndarray) -> int:
    return pairs_within(sizes)


def fuzzy_key(prepared: pd.DataFrame, fields: list[str]) -> pd.Series:
    """Sorted Soundex codes of the tokens of ``fields`` (so a typo or a swap keeps the key)."""
    return key_values(prepared, KeyPart("phonetic", tuple(fields)))


def check_pair_budget(pass_pairs: list[tuple[str, int]], settings: CandidateSettings, extra: int = 0) -> None:
    """Stop before any pair is made when the passes (name, pairs) would yield more than
    ``candidates.max_pairs`` pairs (both engines count them from the block sizes first)."""
    expected = sum(pairs for _, pairs in pass_pairs) + extra
    if expected > settings.max_pairs:
        detail = ", ".join(f"{name}: {pairs:,}" for name, pairs in pass_pairs)
        raise DataError(
            f"blocking would yield {expected:,} candidate pairs, more than candidates.max_pairs="
            f"{settings.max_pairs:,} ({detail})",
            "use more selective blocking_fields, lower candidates.max_block_size, or raise candidates.max_pairs")


def _value_text(value) -> str:
    """A key part's value as text: a year 1985, not 1985.0."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _largest_blocks(prepared: pd.DataFrame, entry: str | None, codes: np.ndarray,
                    k: int = LARGEST_BLOCKS) -> list[list]:
    """[key, records] of the ``k`` largest blocks of a pass (a key's parts joined by `` + ``;
    ``entry`` None: the codes are the fuzzy key's, ``key_text`` one part)."""
    valid = codes[codes >= 0]
    if len(valid) == 0:
        return []
    sizes = np.bincount(valid)
    top = np.argsort(-sizes, kind="stable")[:k]
    out = []
    for code in top[sizes[top] >= 2]:
        row = prepared.iloc[[int(np.argmax(codes == code))]]
        if entry == WHOLE_TABLE:
            key = "the whole table"
        elif entry is None:
            key = str(row.iloc[0, 0])
        else:
            key = " + ".join(_value_text(key_values(row, part).iloc[0]) for part in parse_key(entry))
        out.append([key, int(sizes[code])])
    return out


def generate(prepared: pd.DataFrame, blocking_fields: list[str], settings: CandidateSettings,
             progress=None, entity: np.ndarray | None = None) -> Candidates:
    """The candidate pairs of the passes, unioned in pass order (a pair first made by pass k comes
    before those first made by pass k + 1). Each pass's report says its pairs, the pairs it adds
    to the earlier passes' (``new_pairs``), its largest blocks and, with ``entity`` (a person code
    per record), its pairs of one person's records (``true_pairs``)."""
    n = len(prepared)
    plans: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, PassReport]] = []
    labels = [part.label() for entry in blocking_fields for part in parse_key(entry)]
    parts = {label: None for label in labels if labels.count(label) > 1}   # shared by passes: coded once
    for entry in blocking_fields:
        limit = block_limit(entry, settings.max_block_size)
        codes = key_codes(prepared, entry, parts)
        order, starts, sizes, report = _blocks(codes, limit or n + 1)
        report.name = entry
        report.largest_blocks = _largest_blocks(prepared, entry, codes)
        plans.append((entry, order, starts, sizes, report))
    fuzzy = settings.fuzzy
    sn_window = None
    if fuzzy.method == "phonetic":
        key = fuzzy_key(prepared, fuzzy.fields)
        codes, _ = pd.factorize(key, use_na_sentinel=True)
        order, starts, sizes, report = _blocks(codes.astype(np.int64), settings.max_block_size)
        report.name = "phonetic(" + "+".join(fuzzy.fields) + ")"
        report.largest_blocks = _largest_blocks(key.to_frame(), None, codes.astype(np.int64))
        plans.append((report.name, order, starts, sizes, report))
    elif fuzzy.method == "sorted_neighbourhood":
        sn_window = fuzzy.window

    check_pair_budget([(p[0], _pair_count(p[3])) for p in plans], settings,
                      n * (sn_window - 1) if sn_window else 0)

    codes_all = []
    reports = []
    for name, order, starts, sizes, report in plans:
        left, right = _expand(order, starts, sizes)
        report.blocks, report.pairs = len(starts), len(left)
        if entity is not None:
            report.true_pairs = int((entity[left] == entity[right]).sum())
        codes_all.append(np.minimum(left, right) * n + np.maximum(left, right))
        reports.append(report)
        if progress:
            progress(report)
    if sn_window:
        key = fuzzy_key(prepared, fuzzy.fields).fillna("")
        order = np.argsort(key.to_numpy(dtype=str), kind="stable")
        report = PassReport(f"sorted_neighbourhood(window={sn_window})", true_pairs=0 if entity is not None else None)
        window = []
        for k in range(1, sn_window):
            left, right = order[:-k], order[k:]
            window.append(np.minimum(left, right) * n + np.maximum(left, right))
            report.pairs += len(left)
            if entity is not None:
                report.true_pairs += int((entity[left] == entity[right]).sum())
        codes_all.append(np.concatenate(window))
        reports.append(report)
    if not codes_all:
        return Candidates(np.empty(0, np.int64), np.empty(0, np.int64), reports)
    every = np.concatenate(codes_all)
    first = ~pd.Series(every, copy=False).duplicated(keep="first").to_numpy()   # hash-based union, first-seen order
    found = np.concatenate(([0], np.cumsum(first)))            # first-seen pairs before each position
    ends = np.cumsum([len(c) for c in codes_all])
    for report, start, end in zip(reports, np.concatenate(([0], ends[:-1])), ends):
        report.new_pairs = int(found[end] - found[start])
    left, right = np.divmod(every[first], n)
    return Candidates(left.astype(np.int64), right.astype(np.int64), reports)


# --------------------------------------------------------------------------- block keys as text
#: separator of a multi-part key's values in a key string (``|`` and ``\`` inside a value are escaped)
KEY_PART_SEPARATOR = "|"


def fuzzy_pass_name(fields: list[str]) -> str:
    """The name of the phonetic fuzzy pass, as :func:`generate` reports it."""
    return "phonetic(" + "+".join(fields) + ")"


def indexable_passes(blocking_fields: list[str] | None, settings: CandidateSettings) -> list[str]:
    """The passes a block index can hold: every ``blocking_fields`` entry, and the phonetic fuzzy
    pass. A sorted-neighbourhood pass pairs records by their rank in the sorted table, which no
    key of one record can express: it is left out (:func:`unindexable_pass` names it)."""
    names = list(blocking_fields or [])
    if settings.fuzzy.method == "phonetic":
        names.append(fuzzy_pass_name(settings.fuzzy.fields))
    return list(dict.fromkeys(names))


def unindexable_pass(settings: CandidateSettings) -> str | None:
    """The pass of the config a block index cannot hold (the sorted-neighbourhood one), or None."""
    if settings.fuzzy.method == "sorted_neighbourhood":
        return f"sorted_neighbourhood(window={settings.fuzzy.window})"
    return None


def _key_text(values: pd.Series, spec_type: str | None) -> np.ndarray:
    """One key part's values as text (an object array, None where missing), injectively and
    whatever the batch (a year is ``1985`` whether or not the column had gaps; a date
    ``1985-03-02``), ``|`` and ``\\`` escaped for joining. Runs on the distinct values."""
    if pd.api.types.is_datetime64_any_dtype(values):
        arr = values.to_numpy(dtype="datetime64[ns]")
        text = np.datetime_as_string(arr, unit="D" if spec_type == "date" else "ns").astype(object)
        text[np.isnat(arr)] = None
        return text
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        codes, uniques = pd.factorize(values.to_numpy(dtype=np.float64, na_value=np.nan), use_na_sentinel=True)
        return np.array([str(int(u)) if float(u).is_integer() else repr(float(u)) for u in uniques] + [None],
                        dtype=object)[codes]
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    return np.array([str(u).replace("\\", "\\\\").replace(KEY_PART_SEPARATOR, "\\" + KEY_PART_SEPARATOR)
                     for u in uniques] + [None], dtype=object)[codes]


def _key_array(prepared: pd.DataFrame, entry: str, spec_types: dict[str, str]) -> np.ndarray:
    """``"<entry>=<key value>"`` per record as an object array (None where a part is missing)."""
    joined = None
    for part in parse_key(entry):
        spec_type = spec_types.get(part.fields[0]) if part.transform is None else None
        text = _key_text(key_values(prepared, part), spec_type)
        if joined is None:
            joined = text
            continue
        both = np.not_equal(joined, None) & np.not_equal(text, None)
        out = np.full(len(text), None, dtype=object)
        out[both] = joined[both] + KEY_PART_SEPARATOR + text[both]
        joined = out
    present = np.not_equal(joined, None)
    out = np.full(len(joined), None, dtype=object)
    out[present] = (entry + "=") + joined[present]
    return out


def pass_key_strings(prepared: pd.DataFrame, entry: str, spec_types: dict[str, str] | None = None) -> pd.Series:
    """``"<entry>=<key value>"`` per record for one pass (None where a part is missing): two
    records get the same string exactly when :func:`key_codes` puts them in one block of the pass.
    ``spec_types`` (field -> declared type) tells dates from timestamps."""
    return pd.Series(_key_array(prepared, entry, spec_types or {}), index=prepared.index, dtype=object)


def block_key_strings(prepared: pd.DataFrame, blocking_fields: list[str] | None, settings: CandidateSettings,
                      spec_types: dict[str, str] | None = None) -> pd.DataFrame:
    """Every record's block keys, one row per (record, indexable pass) whose key is present:
    ``position`` (into ``prepared``) and ``key`` (``"<pass>=<key value>"``). The passes are
    :func:`indexable_passes`: the sorted-neighbourhood pass cannot be indexed.

    Two records share a key string exactly when a pass of :func:`generate` puts them in one block
    (before the ``max_block_size`` guard, which depends on the block's size, not on the key).
    """
    passes = [(entry, entry) for entry in blocking_fields or []]
    if settings.fuzzy.method == "phonetic":   # the same key as the entry phonetic(a,b), named as generate does
        passes.append((fuzzy_pass_name(settings.fuzzy.fields), f"phonetic({','.join(settings.fuzzy.fields)})"))
    positions, keys = [], []
    for name, entry in passes:
        values = _key_array(prepared, entry, spec_types or {})
        present = np.flatnonzero(np.not_equal(values, None))
        values = values[present]
        if entry != name:
            values = np.array([name + v[len(entry):] for v in values], dtype=object)
        positions.append(present.astype(np.int64))
        keys.append(values)
    out = pd.DataFrame({"position": np.concatenate(positions) if positions else np.empty(0, np.int64),
                        "key": np.concatenate(keys) if keys else np.empty(0, dtype=object)})
    # a one-field fuzzy pass is named like the entry phonetic(f): one row, not two
    return out.drop_duplicates(ignore_index=True) if len(passes) != len(set(p[0] for p in passes)) else out
