"""Cleaning by field type, never erasing in silence.

Each declared field has a *type* (:data:`FIELD_TYPES`) that chooses its cleaner. A cleaner keeps
every value it can in a normalised form; a value that does not fit its type is kept when it is
still usable (a 4-digit postcode is a postcode of another country, a 7-digit id is an id, a
typo'd date ``1835-81-01`` is one digit from the true date) and counted as *unusual*; only a value
that cannot be used at all (a placeholder ``0000000000`` or ``0000-00-00``, a date without a digit,
a name of punctuation) becomes missing, and is counted as *dropped* with examples.
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
    #: a date / timestamp field declared without ``formats``: the formats read from a sample of its
    #: values (:func:`infer_date_formats`), and how many distinct values that sample held
    formats_inferred: list[str] | None = None
    formats_sample: int = 0

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
        return (f"  {self.field:<16} {self.type:<10} present {pb:6.1%} -> {pa:6.1%}  "
                f"distinct {self.distinct_after:>9,}") + self.notes()

    def notes(self) -> str:
        """What cleaning dropped, kept as unusual and inferred, as the end of a line ('' for nothing)."""
        text = ""
        if self.dropped:
            text += f"  dropped {self.dropped:,} ({self.dropped_share:.1%}, e.g. {self.dropped_examples[:3]})"
        if self.unusual:
            text += f"  kept {self.unusual:,} {self.unusual_reason} (e.g. {self.unusual_examples[:3]})"
        if self.formats_inferred is not None:
            text += f"  {self.formats_line()}"
        return text

    def formats_line(self) -> str:
        """What was chosen for a date field declared without formats (one line)."""
        chosen = self.formats_inferred
        if not chosen:
            return (f"no date format read any of {self.formats_sample:,} sampled values (declare "
                    f"data.fields.{self.field}.formats)")
        return (f"formats inferred from {self.formats_sample:,} sampled values: {chosen} (declare "
                f"data.fields.{self.field}.formats to choose)")

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "type": self.type, "rows": self.rows,
                "present_before": self.present_before, "present_after": self.present_after,
                "present_share_before": self.present_before / self.rows if self.rows else 0.0,
                "present_share_after": self.present_after / self.rows if self.rows else 0.0,
                "distinct_after": self.distinct_after, "dropped": self.dropped,
                "dropped_share": self.dropped_share, "dropped_examples": self.dropped_examples,
                "unusual": self.unusual, "unusual_reason": self.unusual_reason,
                "unusual_examples": self.unusual_examples,
                **({} if self.formats_inferred is None else
                   {"formats_inferred": self.formats_inferred, "formats_sample": self.formats_sample})}


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
    """datetime64[ns] per value, trying each format in turn; unparseable -> NaT (``timestamp``
    fields; a ``date`` field is cleaned by :func:`clean_dates`, which has no range limit)."""
    series = pd.Series(values, dtype=object)
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    todo = series.notna()
    for fmt in formats or ["ISO8601"]:
        if not todo.any():
            break
        # an explicit format: pandas never guesses (nor warns); offsets are read as UTC
        parsed = pd.to_datetime(series[todo].astype(str), format=fmt, errors="coerce", utc=True)
        out[todo] = parsed.dt.tz_localize(None).astype("datetime64[ns]")
        todo = todo & out.isna()
    return out.to_numpy()


# =============================================================================== dates
_DATE_ORDERS = {"Y": 4, "m": 2, "d": 2}
_ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"
_ISO_PREFIX = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?\s*$")
#: the quality report's word for the dates kept as text
DATE_UNUSUAL_REASON = "not a valid date as written (kept as text, compared digit by digit)"


def _orders(formats: list[str], compact: bool) -> list[str]:
    """The order of year, month and day in each format that has all three as numbers (``%Y%m%d``
    -> ``Ymd``; with ``compact``, only the formats writing them with nothing between), then ISO's
    ``Ymd``: how the digits of a value that does not parse are read."""
    out = []
    for fmt in formats:
        codes = re.findall(r"%([A-Za-z])", fmt)
        order = "".join(c for c in codes if c in _DATE_ORDERS)
        if compact and not re.search(r"%[Ymd]%[Ymd]%[Ymd]", fmt):
            continue
        if sorted(order) == sorted("Ymd") and not {"b", "B", "y", "j"} & set(codes) and order not in out:
            out.append(order)
    return out + ([] if "Ymd" in out else ["Ymd"])


def _canonical_text(text: str, formats: list[str]) -> str:
    """A value's normalised text (digits, runs of anything else as one ``-``) in ``YYYY-MM-DD``
    order where its digits fit the layout of one of ``formats`` or ISO's (three groups of
    4/1-2/1-2 digits, or eight digits in a row for a format that writes them so), even when it
    is no calendar date; else as it is."""
    groups = text.split("-")
    for order in _orders(formats, compact=len(groups) == 1):
        if len(groups) == 3:
            parts = dict(zip(order, groups))
            if len(parts["Y"]) == 4 and 1 <= len(parts["m"]) <= 2 and 1 <= len(parts["d"]) <= 2:
                return f"{parts['Y']}-{int(parts['m']):02d}-{int(parts['d']):02d}"
        elif len(groups) == 1 and len(text) == 8:
            parts, at = {}, 0
            for c in order:
                parts[c] = text[at:at + _DATE_ORDERS[c]]
                at += _DATE_ORDERS[c]
            return f"{parts['Y']}-{parts['m']}-{parts['d']}"
    return text


def _strptime_day(value: str, formats: list[str]) -> str | None:
    """The ISO day of ``value`` by Python's own parser (years 1-9999) and one of ``formats``, or
    as an ISO date (a timestamp's day: ``1835-02-03 00:00:00``), or None."""
    from datetime import date, datetime

    value = value.strip()
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    m = _ISO_PREFIX.match(value)      # ISO (a date, or the day of a timestamp) whatever the formats
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            return None
    return None


def clean_dates(values: np.ndarray, formats: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per value (run on distinct values): its ISO day ``YYYY-MM-DD`` when it parses by
    ``formats`` (none: ISO; a field declared without formats has them inferred first,
    :func:`infer_date_formats`), whatever the year; else, *kept*, its normalised text (ASCII digits, any other run of characters as one ``-``) put in ``YYYY-MM-DD`` order when
    its digits fit a format's layout (``1835-81-01``, ``18350230`` -> ``1835-02-30``,
    ``18350101x`` -> ``1835-01-01``); None when nothing usable is left: no digit at all (``n/a``)
    or a placeholder (``0000-00-00``, ``99999999``). Returns (cleaned text, kept-but-unparsed
    mask): the mask is the quality report's *unusual*; the None values are its *dropped*.

    pandas parses the bulk (vectorised, years 1677-2262); what it leaves goes through Python's
    ``strptime`` (any year 1-9999), and only then is a value kept as text.

    Why a cleaned date is TEXT and not datetime64[ns]: pandas' nanoseconds stop at 1677-09-21 and
    2262-04-11, so a parish register's 1529-01-01 became missing; a unit such as datetime64[D]
    holds any year but no typo'd date, which must stay comparable (one edited digit from the true
    date is strong evidence), and one column must hold both. ISO text (four-digit years) sorts in
    date order, factorizes and joins like any text, is what PostgreSQL reads into a ``date``
    column (any year from 4713 BC) and what the block index always stored as a date key, and is
    taken apart again in a vectorised pass (:func:`date_parts`) where a comparison needs year,
    month and day. A kept text is told from a date by not being a valid ISO day."""
    import pyarrow.compute as pc

    values = np.asarray(values, dtype=object)
    text = np.array([v if v is None or isinstance(v, str) else str(v) for v in values], dtype=object)
    out = np.full(len(text), None, dtype=object)
    todo = np.array([v is not None for v in text], dtype=bool)
    if not todo.any():
        return out, np.zeros(len(text), dtype=bool)
    series = pd.Series(text, dtype=object)
    for fmt in formats or ["%Y-%m-%d"]:      # (an ISO day with a time is read below)
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        # an explicit format: pandas never guesses one (nor warns about its guess)
        parsed = pd.to_datetime(series.iloc[idx], format=fmt, errors="coerce")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        days = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        ok = ~np.isnat(days)
        out[idx[ok]] = np.datetime_as_string(days[ok], unit="D").astype(object)
        todo[idx[ok]] = False
    unusual = np.zeros(len(text), dtype=bool)
    rest = np.flatnonzero(todo)
    if len(rest):
        normal = pc.utf8_trim(pc.replace_substring_regex(_arrow(to_ascii(text[rest])), r"[^0-9]+", "-"), "-")
        normal = normal.to_numpy(zero_copy_only=False)
        digits = np.array([t.replace("-", "") for t in normal], dtype=object)
        filler = _placeholder(digits) | np.array([not d or not d.strip("0") for d in digits], dtype=bool)
        for k, i in enumerate(rest):
            day = _strptime_day(text[i], formats)
            if day is not None:
                out[i] = day
            elif not filler[k]:
                out[i] = _canonical_text(normal[k], formats)
                unusual[i] = True
    return out, unusual


#: the formats a date field declared without ``formats`` may be read with, in order of preference
#: when several read every sampled value (``01/02/1990``: month first, as pandas reads it)
DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%m-%d-%Y", "%d-%m-%Y",
                "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%b %d, %Y", "%B %d, %Y", "%Y-%m-%d %H:%M:%S")
#: the same for a timestamp field (pandas' ISO 8601 reader first: any precision, offsets)
TIMESTAMP_FORMATS = ("ISO8601", "%Y%m%d%H%M%S", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                     "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M") + DATE_FORMATS[1:-1]
#: distinct values the formats are inferred from
FORMAT_SAMPLE = 2000


def _reads(values: np.ndarray, fmt: str) -> np.ndarray:
    """True where ``fmt`` reads the value (Python's ``strptime``: any year 1-9999; pandas' ISO 8601
    reader for ``ISO8601``)."""
    from datetime import datetime

    if fmt == "ISO8601":
        return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", errors="coerce",
                              utc=True).notna().to_numpy()
    out = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        try:
            datetime.strptime(v.strip(), fmt)
            out[i] = True
        except ValueError:
            pass
    return out


def infer_date_formats(values: np.ndarray, timestamp: bool = False,
                       sample: int = FORMAT_SAMPLE) -> tuple[list[str], int]:
    """The formats that read a sample of ``values`` (distinct present texts; at most ``sample``,
    spread over them): the candidate (:data:`DATE_FORMATS` / :data:`TIMESTAMP_FORMATS`) reading
    most of the sampled values, then the one reading most of the rest, and so on while a format
    reads at least 0.5 % of the sample. Returns (formats, sampled values). A value none reads is
    kept as text and counted unusual, as with declared formats."""
    texts = np.array([v for v in np.asarray(values, dtype=object) if isinstance(v, str) and v.strip()], dtype=object)
    if len(texts) > sample:
        texts = texts[np.linspace(0, len(texts) - 1, sample).astype(np.int64)]
    if not len(texts):
        return [], 0
    candidates = TIMESTAMP_FORMATS if timestamp else DATE_FORMATS
    readable = {fmt: _reads(texts, fmt) for fmt in candidates}
    chosen: list[str] = []
    left = np.ones(len(texts), dtype=bool)
    floor = max(1, int(np.ceil(0.005 * len(texts))))
    while left.any():
        gains = {fmt: int((ok & left).sum()) for fmt, ok in readable.items() if fmt not in chosen}
        best = max(gains, key=lambda f: (gains[f], -candidates.index(f)), default=None)
        if best is None or gains[best] < floor:
            break
        chosen.append(best)
        left &= ~readable[best]
    return chosen, len(texts)


def date_text(values) -> np.ndarray:
    """Cleaned dates as text (object array, None where missing): a datetime64 column (a native
    date column, or dates given to the scorer as datetimes) as ISO days, text as it is."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_localize(None)
        days = series.to_numpy().astype("datetime64[D]")
        out = np.datetime_as_string(days, unit="D").astype(object)
        out[np.isnat(days)] = None
        return out
    return np.array([None if v is None or v is pd.NaT or (isinstance(v, float) and v != v) else str(v)
                     for v in series.to_numpy(dtype=object)], dtype=object)


def _days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)[np.clip(m, 0, 12)]
    return days + ((m == 2) & leap)


@dataclass
class DateParts:
    """Cleaned date texts taken apart (vectorised): year, month, day (0 where the text is not shaped
    ``YYYY-MM-DD``), ``shaped`` (it is), ``valid`` (a calendar day, year 1-9999) and ``digits``
    (YYYYMMDD for a shaped text, else the text's own digits)."""
    year: np.ndarray
    month: np.ndarray
    day: np.ndarray
    shaped: np.ndarray
    valid: np.ndarray
    digits: np.ndarray


def date_parts(texts: np.ndarray) -> DateParts:
    """:class:`DateParts` of cleaned date texts (run it on distinct values)."""
    import pyarrow.compute as pc

    texts = np.asarray(texts, dtype=object)
    n = len(texts)
    arr = _arrow(texts)
    shaped = pc.fill_null(pc.match_substring_regex(arr, _ISO_DAY), False).to_numpy(zero_copy_only=False)
    y = np.zeros(n, dtype=np.int32)
    m = np.zeros(n, dtype=np.int32)
    d = np.zeros(n, dtype=np.int32)
    if shaped.any():
        iso = np.asarray(texts[shaped], dtype="U10")
        y[shaped] = np.array([int(t[:4]) for t in iso], dtype=np.int32)
        m[shaped] = np.array([int(t[5:7]) for t in iso], dtype=np.int32)
        d[shaped] = np.array([int(t[8:10]) for t in iso], dtype=np.int32)
    valid = shaped & (y >= 1) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= _days_in_month(y, m))
    digits = pc.replace_substring_regex(arr, r"[^0-9]+", "").to_numpy(zero_copy_only=False).astype(object)
    return DateParts(y, m, d, shaped, valid, digits)


def date_years(values) -> np.ndarray:
    """The year of each cleaned date (float, NaN where none): a date's, or a kept text's when
    its year digits are plausible (shaped ``YYYY-..`` with a year from 1, or one group of four
    digits among others, e.g. ``1529-13`` or ``12-1529``)."""
    texts = date_text(values)
    codes, uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    years = np.full(len(uniques) + 1, np.nan)
    if len(uniques):
        parts = date_parts(uniques)
        for k, t in enumerate(uniques):
            if parts.shaped[k]:
                year = int(parts.year[k])
            else:
                four = [g for g in re.split(r"[^0-9]+", t) if len(g) == 4]
                year = int(four[0]) if len(four) == 1 else 0
            if year >= 1:
                years[k] = year
    return years[codes]


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
