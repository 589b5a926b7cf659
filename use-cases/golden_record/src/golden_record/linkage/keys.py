"""Blocking keys: a declared field, or a transform of one or more fields, joined with ``+``.

    soc_sec_id                               the cleaned field itself
    date_of_birth+postcode                   both must agree
    sorted_tokens(full_name)+postcode        name tokens in any order (swapped names meet)
    phonetic(given_name,surname)+year(date_of_birth)   Soundex codes of the name tokens
    all()                                    every record in one block: the whole table compared
                                             (no blocking; ``candidates.max_block_size`` does not
                                             apply to it, ``candidates.max_pairs`` does)

A transform applies to fields of the types listed in :data:`TRANSFORMS`; the config rejects any
other use, naming the entry. A key whose parts are missing for a record puts it in no block.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import jellyfish
import numpy as np
import pandas as pd

from golden_record.linkage.cleaning import date_years

_TEXTUAL = frozenset({"name", "text", "address"})
#: transform -> the field types it applies to
TRANSFORMS: dict[str, frozenset[str]] = {
    "phonetic": _TEXTUAL,             # sorted Soundex codes of the tokens: survives typos, swaps, transliteration
    "sorted_tokens": _TEXTUAL,        # the tokens sorted (initials dropped): swapped names agree
    "initial": _TEXTUAL,              # the first letter
    "first_token": _TEXTUAL | {"identifier"},
    "year": frozenset({"date", "timestamp"}),
    "prefix3": frozenset({"identifier", "phone", "text", "name"}),   # the district part of a postcode; a
                                                                     # name's start (typos further on)
}
#: the entry that compares the whole table: one block of every record
WHOLE_TABLE = "all()"
_PART = re.compile(r"^\s*(?:(?P<fn>[a-z_0-9]+)\((?P<args>[^()]*)\)|(?P<field>[^()+\s]+))\s*$")


@dataclass(frozen=True)
class KeyPart:
    transform: str | None     # None: the field itself
    fields: tuple[str, ...]

    def label(self) -> str:
        if self.transform == "all":
            return WHOLE_TABLE
        return self.fields[0] if self.transform is None else f"{self.transform}({','.join(self.fields)})"


def parse_key(entry: str) -> list[KeyPart]:
    """``a+phonetic(b,c)`` -> parts; raises ValueError with the reason."""
    if entry.strip() == WHOLE_TABLE:
        return [KeyPart("all", ())]
    parts = []
    for text in entry.split("+"):
        m = _PART.match(text)
        if not m:
            raise ValueError(f"cannot read blocking key part {text.strip()!r} in {entry!r}: write FIELD or "
                             f"TRANSFORM(FIELD[,FIELD]) with a transform from {sorted(TRANSFORMS)}")
        if m["field"]:
            parts.append(KeyPart(None, (m["field"],)))
            continue
        if m["fn"] == "all":
            raise ValueError(f"all() in {entry!r} stands alone: it is the whole table, in one block")
        if m["fn"] not in TRANSFORMS:
            raise ValueError(f"unknown transform {m['fn']!r} in {entry!r}; allowed: {sorted(TRANSFORMS)}")
        fields = tuple(a.strip() for a in m["args"].split(",") if a.strip())
        if not fields:
            raise ValueError(f"{m['fn']}() in {entry!r} names no field")
        parts.append(KeyPart(m["fn"], fields))
    return parts


def _joined(prepared: pd.DataFrame, fields: tuple[str, ...]) -> pd.Series:
    combined = prepared[fields[0]].astype(object)
    if len(fields) == 1:
        return combined
    combined = combined.fillna("")
    for f in fields[1:]:
        combined = combined + " " + prepared[f].astype(object).fillna("")
    combined = combined.str.strip()
    return combined.where(combined != "", None)


def _phonetic(text: str) -> str | None:
    return " ".join(sorted(jellyfish.soundex(t) for t in text.split() if len(t) > 1 and t.isalpha())) or None


def _sorted_tokens(text: str) -> str | None:
    return " ".join(sorted(t for t in text.split() if len(t) > 1)) or None


def _text_transform(prepared: pd.DataFrame, part: KeyPart) -> tuple[np.ndarray, np.ndarray]:
    """A text transform run once per distinct input: (the input's code per record, -1 where
    missing; the transformed value per code, None last for the missing)."""
    values = _joined(prepared, part.fields).astype(object)
    codes, uniques = pd.factorize(values.where(values.notna(), None).astype(object), use_na_sentinel=True)
    fn = _TEXT_TRANSFORMS[part.transform]
    return codes, np.array([fn(str(u)) for u in uniques] + [None], dtype=object)


_TEXT_TRANSFORMS = {"phonetic": _phonetic, "sorted_tokens": _sorted_tokens,
                    "initial": lambda t: t[:1] or None, "first_token": lambda t: (t.split() or [None])[0],
                    "prefix3": lambda t: t[:3] if len(t) >= 3 else None}


def key_values(prepared: pd.DataFrame, part: KeyPart) -> pd.Series:
    """The values of one key part for every record (missing -> None / NaN)."""
    if part.transform == "all":
        return pd.Series(np.zeros(len(prepared), dtype=np.int64), index=prepared.index)
    if part.transform is None:
        return prepared[part.fields[0]]
    if part.transform == "year":
        values = prepared[part.fields[0]]
        if pd.api.types.is_datetime64_any_dtype(values):          # a timestamp field
            return values.dt.year
        # a date field: ISO text of any year, or a kept text whose year digits are plausible
        return pd.Series(date_years(values), index=values.index)
    codes, mapped = _text_transform(prepared, part)
    return pd.Series(mapped[codes], index=prepared.index)


def part_codes(prepared: pd.DataFrame, part: KeyPart) -> np.ndarray:
    """int64 code per record of :func:`key_values` (-1 where missing; codes in order of first
    appearance, as ``pd.factorize`` of the values gives them), a text transform's values factorized
    on the distinct inputs rather than on every record."""
    if part.transform in _TEXT_TRANSFORMS:
        codes, mapped = _text_transform(prepared, part)
        return pd.factorize(mapped, use_na_sentinel=True)[0].astype(np.int64)[codes]
    return pd.factorize(key_values(prepared, part), use_na_sentinel=True)[0].astype(np.int64)
