"""Cleaning by field type, never erasing in silence.

Each declared field has a *type* (:data:`FIELD_TYPES`) that chooses its cleaner. A cleaner keeps
every value it can in a normalised form; a value that does not fit its type is kept when it is
still usable (a 4-digit postcode is a postcode of another country, a 7-digit id is an id) and
counted as *unusual*; only a value that cannot be used at all (an invalid date, a placeholder
``0000000000``, a name of punctuation) becomes missing, and is counted as *dropped* with examples.
The counts feed the data-quality report (:func:`quality_report`), which fails a field that
loses more than a configured share of its values.

Every rule runs once per *distinct* value (``pd.factorize``), and the heavy string work is
vectorised with pyarrow's compute kernels, so the cost grows with the vocabulary, not the rows.
Non-Latin scripts are transliterated to ASCII with ``anyascii`` before anything else, so a name
written in Devanagari or Cyrillic is compared, not dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

#: the types a field can be declared with (``data.fields.<name>.type``)
FIELD_TYPES = ("name", "text", "address", "identifier", "phone", "email", "date", "category", "timestamp")


@dataclass
class FieldQuality:
    """What cleaning did to one field: present before and after, distinct values, and examples
    of the values that were dropped (became missing) or kept but looked unusual."""
    field: str
    type: str
    rows: int
    present_before: int
    present_after: int
    distinct_after: int
    unusual: int = 0
    dropped_examples: list[str] = field(default_factory=list)
    unusual_examples: list[str] = field(default_factory=list)
    unusual_reason: str = ""

    @property
    def dropped(self) -> int:
        return self.present_before - self.present_after

    @property
    def dropped_share(self) -> float:
        """Share of the present values that cleaning turned into missing."""
        return self.dropped / self.present_before if self.present_before else 0.0

    def line(self) -> str:
        pb = self.present_before / self.rows if self.rows else 0.0
        pa = self.present_after / self.rows if self.rows else 0.0
        text = (f"  {self.field:<16} {self.type:<10} present {pb:6.1%} -> {pa:6.1%}  "
                f"distinct {self.distinct_after:>9,}")
        if self.dropped:
            text += f"  dropped {self.dropped:,} ({self.dropped_share:.1%}, e.g. {self.dropped_examples[:3]})"
        if self.unusual:
            text += f"  kept {self.unusual:,} {self.unusual_reason} (e.g. {self.unusual_examples[:3]})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "type": self.type, "rows": self.rows,
                "present_before": self.present_before, "present_after": self.present_after,
                "present_share_before": self.present_before / self.rows if self.rows else 0.0,
                "present_share_after": self.present_after / self.rows if self.rows else 0.0,
                "distinct_after": self.distinct_after, "dropped": self.dropped,
                "dropped_share": self.dropped_share, "dropped_examples": self.dropped_examples,
                "unusual": self.unusual, "unusual_reason": self.unusual_reason,
                "unusual_examples": self.unusual_examples}


# =============================================================================== text primitives
def to_ascii(values: np.ndarray) -> np.ndarray:
    """Any script to ASCII (Devanagari, Cyrillic, accents…) with anyascii; only the values that are
    not ASCII already (found by one vectorised check) go through Python."""
    import pyarrow.compute as pc
    from anyascii import anyascii

    values = np.asarray(values, dtype=object)
    if not len(values):
        return values
    ascii_mask = pc.fill_null(pc.string_is_ascii(_arrow(values)), True).to_numpy(zero_copy_only=False)
    todo = np.flatnonzero(~ascii_mask)
    if not len(todo):
        return values
    out = values.copy()
    out[todo] = [anyascii(v) for v in values[todo]]
    return out


def is_blank(values: np.ndarray) -> np.ndarray:
    """True for missing values and strings of white space only (vectorised)."""
    import pyarrow.compute as pc

    values = np.asarray(values, dtype=object)
    if not len(values):
        return np.zeros(0, dtype=bool)
    text = np.array([v if isinstance(v, str) else None for v in values], dtype=object) \
        if not all(isinstance(v, str) for v in values) else values
    arr = _arrow(text)
    return pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0), True).to_numpy(
        zero_copy_only=False)


def _arrow(values: np.ndarray):
    import pyarrow as pa

    return pa.array(values, type=pa.string(), from_pandas=True)


def _empty_to_null(arr):
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pc.equal(pc.utf8_length(arr), 0), pa.nulls(len(arr), pa.string()), arr)


def clean_text(values: np.ndarray) -> np.ndarray:
    """ASCII, lower case, punctuation (but ``@ . _ - '``) to spaces, spacing collapsed; empty -> missing."""
    import pyarrow.compute as pc

    arr = pc.utf8_lower(_arrow(to_ascii(values)))
    arr = pc.replace_substring_regex(arr, r"[^a-z0-9@._\-' ]+", " ")
    arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))
    return _empty_to_null(arr).to_numpy(zero_copy_only=False)


def clean_address(values: np.ndarray, abbreviations: dict[str, str]) -> np.ndarray:
    import pyarrow.compute as pc

    arr = pc.utf8_lower(_arrow(to_ascii(values)))
    arr = pc.replace_substring_regex(arr, r"[^a-z0-9 ]+", " ")
    for short, long in abbreviations.items():
        arr = pc.replace_substring_regex(arr, rf"\b{re.escape(short)}\b", long)
    arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))
    return _empty_to_null(arr).to_numpy(zero_copy_only=False)


def _placeholder(values: np.ndarray) -> np.ndarray:
    """True for filler values: all zeros (0000), or one character repeated six times or more
    (9999999999, XXXXXX). A short repeat such as 5555 can be a real value and is kept.
    Vectorised: a string is one repeated character when it equals itself shifted by one."""
    import pyarrow.compute as pc

    arr = _arrow(np.asarray(values, dtype=object))
    n = pc.utf8_length(arr)
    repeated = pc.and_(pc.greater(n, 0), pc.equal(pc.utf8_slice_codeunits(arr, 1),
                                                  pc.utf8_slice_codeunits(arr, 0, -1)))
    filler = pc.and_(repeated, pc.or_(pc.starts_with(arr, "0"), pc.greater_equal(n, 6)))
    return pc.fill_null(filler, False).to_numpy(zero_copy_only=False)


def clean_identifier(values: np.ndarray, digits_only: bool) -> np.ndarray:
    """Upper-case alphanumerics (or digits only); placeholders (one repeated character) -> missing."""
    import pyarrow.compute as pc

    arr = _arrow(to_ascii(values))
    arr = pc.replace_substring_regex(arr, r"\D+" if digits_only else r"[^0-9A-Za-z]+", "")
    arr = pc.utf8_upper(arr)
    out = _empty_to_null(arr).to_numpy(zero_copy_only=False).astype(object)
    out[_placeholder(out)] = None
    return out


def clean_phone(values: np.ndarray, length: int | None, prefixes: list[str]) -> np.ndarray:
    """Digits only; a number longer than ``length`` that starts with a listed prefix (country
    code, trunk 0) is cut to its last ``length`` digits; placeholders -> missing."""
    import pyarrow.compute as pc

    out = clean_identifier(values, digits_only=True)
    if length and prefixes and len(out):
        arr = _arrow(out)
        prefixed = pc.starts_with(arr, prefixes[0])
        for prefix in prefixes[1:]:
            prefixed = pc.or_(prefixed, pc.starts_with(arr, prefix))
        cut = pc.fill_null(pc.and_(pc.greater(pc.utf8_length(arr), length), prefixed), False)
        arr = pc.if_else(cut, pc.utf8_slice_codeunits(arr, -length), arr)
        out = arr.to_numpy(zero_copy_only=False).astype(object)
        out[_placeholder(out)] = None
    return out


_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def unusual_email(values: np.ndarray) -> np.ndarray:
    """True for present values not shaped like an e-mail address (vectorised)."""
    import pyarrow.compute as pc

    arr = _arrow(np.asarray(values, dtype=object))
    return pc.fill_null(pc.invert(pc.match_substring_regex(arr, _EMAIL)), False).to_numpy(zero_copy_only=False)


def clean_email(values: np.ndarray) -> np.ndarray:
    import pyarrow.compute as pc

    arr = pc.utf8_trim_whitespace(pc.utf8_lower(_arrow(to_ascii(values))))
    return _empty_to_null(arr).to_numpy(zero_copy_only=False)


def parse_dates(values: np.ndarray, formats: list[str]) -> np.ndarray:
    """datetime64[ns] per value, trying each format in turn; unparseable -> NaT."""
    series = pd.Series(values, dtype=object)
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    todo = series.notna()
    for fmt in formats or [None]:
        if not todo.any():
            break
        if fmt is None:
            parsed = pd.to_datetime(series[todo], errors="coerce")
        else:
            parsed = pd.to_datetime(series[todo].astype(str), format=fmt, errors="coerce")
        parsed = parsed.dt.tz_localize(None) if getattr(parsed.dt, "tz", None) is not None else parsed
        out[todo] = parsed
        todo = todo & out.isna()
    return out.to_numpy()


# =============================================================================== names
@dataclass(frozen=True)
class NameRules:
    """Region-specific name normalisation: honorifics dropped, whole-token variants, and ordered
    regex rewrites (a transliteration key) that make spelling variants compare equal."""
    honorifics: frozenset[str] = frozenset()
    variants: tuple[tuple[str, str], ...] = ()
    rewrites: tuple[tuple[str, str], ...] = ()

    @lru_cache(maxsize=None)  # noqa: B019 - one instance per config, few in a process
    def _compiled(self) -> tuple[dict[str, str], list[tuple[re.Pattern, str]]]:
        return dict(self.variants), [(re.compile(p), r) for p, r in self.rewrites]

    def token_key(self, token: str) -> str:
        variants, rewrites = self._compiled()
        token = variants.get(token, token)
        if not token or token in self.honorifics:
            return ""
        for pattern, repl in rewrites:
            token = pattern.sub(repl, token)
        return token


_NAME_SPLIT = re.compile(r"[\s.,;:/\\()\-_]+")
_NON_LETTER = re.compile(r"[^a-z']+")


def clean_name(values: np.ndarray, rules: NameRules) -> np.ndarray:
    """Each name to its key: ASCII (any script), lower case, tokens of letters, honorifics
    dropped, variants and rewrites applied. A name with no letters left is missing."""
    ascii_values = to_ascii(values)
    out = np.empty(len(values), dtype=object)
    cache: dict[str, str] = {}
    for i, v in enumerate(ascii_values):
        if not isinstance(v, str):
            out[i] = None
            continue
        keys = []
        for raw in _NAME_SPLIT.split(v.lower()):
            tok = _NON_LETTER.sub("", raw).replace("'", "")
            if tok not in cache:
                cache[tok] = rules.token_key(tok)
            if cache[tok]:
                keys.append(cache[tok])
        out[i] = " ".join(keys) or None
    return out


def examples(values: np.ndarray, n: int = 5) -> list[str]:
    return [str(v) for v in values[:n]]
