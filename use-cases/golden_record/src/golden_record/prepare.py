"""Normalisation of citizen records before blocking and comparison.

Every string rule runs once per *distinct* value (``pd.factorize`` then map back), so the cost
grows with the vocabulary, not with the number of records.

* names: Unicode folded to ASCII, lower case, punctuation and honorifics removed, spacing
  collapsed, then a transliteration key (Mohammed/Muhammad -> mohammad, Laxmi -> lakshmi,
  Sharma/Sarma, ee/i, oo/u, v/w, th/t, doubled letters) so that spelling variants compare equal;
* addresses: abbreviations expanded (Rd -> road, Ngr -> nagar, Col -> colony, ...);
* IDs and phone numbers: digits only; placeholders (all one digit) become missing;
* blank strings become missing: a missing value is never a disagreement.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jellyfish
import numpy as np
import pandas as pd

HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "shri", "shree", "sri", "smt", "shrimati", "kumari", "km",
              "late", "prof", "md"}  # "md" is handled as Mohammad below before this filter
NAME_VARIANTS = {  # whole-token canonical spellings
    "mohammed": "mohammad", "muhammad": "mohammad", "muhammed": "mohammad", "mohamed": "mohammad",
    "mohamad": "mohammad", "mohd": "mohammad", "md": "mohammad",
}
# Ordered regex rewrites applied to each name token (transliteration key).
TRANSLIT_RULES = [
    (re.compile(r"x"), "ksh"),
    (re.compile(r"ksh"), "ks"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"w"), "v"),
    (re.compile(r"(?<=[bcdgjkpst])h"), ""),   # aspirates: bh, ch, dh, gh, jh, kh, ph, sh, th
    (re.compile(r"ee"), "i"),
    (re.compile(r"oo"), "u"),
    (re.compile(r"ou"), "u"),
    (re.compile(r"y$"), "i"),
    (re.compile(r"(.)\1+"), r"\1"),            # doubled letters
]
ADDRESS_ABBREVIATIONS = {
    "rd": "road", "ngr": "nagar", "col": "colony", "st": "street", "mn": "main", "nr": "near",
    "apt": "apartment", "apts": "apartments", "sec": "sector", "opp": "opposite", "no": "number",
    "blk": "block", "ln": "lane", "mkt": "market", "extn": "extension", "ext": "extension",
}
_NON_ALPHA = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")
_SPLIT = re.compile(r"[\s.,;:/\\()\-]+")


def _ascii_lower(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def _by_unique(series: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` to each distinct non-missing value; missing and ``None`` results stay missing."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array([fn(v) for v in uniques] + [None], dtype=object)
    out = mapped[codes]  # code -1 picks the trailing None
    result = pd.Series(out, index=series.index, dtype=object)
    return result.where(result.astype(bool) & result.notna(), None)


@lru_cache(maxsize=200_000)
def translit_token(token: str) -> str:
    for pattern, repl in TRANSLIT_RULES:
        token = pattern.sub(repl, token)
    return token


@lru_cache(maxsize=200_000)
def _token_key(token: str) -> str:
    """One raw token -> its transliteration key ('' for an honorific or punctuation)."""
    cleaned = _NON_ALPHA.sub("", _ascii_lower(token))
    cleaned = NAME_VARIANTS.get(cleaned, cleaned)
    if not cleaned or cleaned in HONORIFICS:
        return ""
    return translit_token(cleaned)


def name_key(text: str) -> str | None:
    """Cleaned name with every token reduced to its transliteration key (cached per token)."""
    keys = [_token_key(t) for t in _SPLIT.split(text)]
    return " ".join(k for k in keys if k) or None


def sorted_tokens(text: str | None) -> str | None:
    """Sorted tokens of an already keyed name (initials dropped): swapped names agree."""
    if not text:
        return None
    return " ".join(sorted(t for t in text.split() if len(t) > 1)) or None


def phonetic(text: str | None) -> str | None:
    if not text:
        return None
    return " ".join(sorted(jellyfish.soundex(t) for t in text.split() if len(t) > 1)) or None


def _arrow_clean(uniques: np.ndarray, kind: str, length: int | None = None) -> np.ndarray:
    """Vectorised (pyarrow compute, C++) cleaning of distinct values: digits only (with +91/0
    prefixes and placeholders like 0000000000 dropped), lower-cased text, or addresses with
    abbreviations expanded (Rd -> road, Ngr -> nagar ...)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(uniques, type=pa.string(), from_pandas=True)
    if kind == "digits":
        arr = pc.replace_substring_regex(arr, r"\D+", "")
        if length is not None:
            n = pc.utf8_length(arr)
            prefixed = pc.and_(pc.greater(n, length), pc.or_(pc.starts_with(arr, "91"), pc.starts_with(arr, "0")))
            arr = pc.if_else(prefixed, pc.utf8_slice_codeunits(arr, -length), arr)
            arr = pc.if_else(pc.equal(pc.utf8_length(arr), length), arr, pa.nulls(len(arr), pa.string()))
        # placeholders: empty, or one digit repeated (0000000000, 9999999999)
        placeholders = pa.array([""] + [d * (length or 1) for d in "0123456789"], type=pa.string())
        arr = pc.if_else(pc.fill_null(pc.is_in(arr, value_set=placeholders), False),
                         pa.nulls(len(arr), pa.string()), arr)
    elif kind == "lower":
        arr = pc.utf8_trim_whitespace(pc.utf8_lower(arr))
        arr = pc.replace_substring_regex(arr, r"\s+", " ")
        arr = pc.if_else(pc.equal(pc.utf8_length(arr), 0), pa.nulls(len(arr), pa.string()), arr)
    elif kind == "address":
        arr = pc.utf8_lower(pc.utf8_normalize(arr, "NFKD"))
        arr = pc.replace_substring_regex(arr, r"[^a-z0-9 ]+", " ")
        for short, long in ADDRESS_ABBREVIATIONS.items():
            arr = pc.replace_substring_regex(arr, rf"\b{short}\b", long)
        arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))
        arr = pc.if_else(pc.equal(pc.utf8_length(arr), 0), pa.nulls(len(arr), pa.string()), arr)
    return arr.to_numpy(zero_copy_only=False)


_ARROW_CLEANERS = {
    "mobile": ("digits", 10), "jan_aadhaar": ("digits", 10), "aadhaar_last4": ("digits", 4),
    "pincode": ("digits", 6), "email": ("lower", None), "district": ("lower", None), "state": ("lower", None),
    "source_system": ("lower", None), "address": ("address", None),
}


def _by_unique_arrow(series: pd.Series, kind: str, length: int | None) -> pd.Series:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned = np.append(_arrow_clean(np.asarray(uniques, dtype=object), kind, length).astype(object), None)
    return pd.Series(cleaned[codes], index=series.index, dtype=object)  # code -1 -> None


#: per-value cleaners for the fields not handled in bulk by _ARROW_CLEANERS (names: token cache)
FIELD_CLEANERS = {
    "full_name": name_key, "first_name": name_key, "last_name": name_key, "father_name": name_key,
    "gender": lambda v: (_ascii_lower(v).strip()[:1].upper() or None) if v else None,
}


def prepare(records: pd.DataFrame) -> pd.DataFrame:
    """Normalised copy of ``records`` (same rows and order) plus blocking keys.

    Adds ``name_tokens``: sorted transliteration keys of the full name, so swapped first and
    last names agree.
    """
    out = pd.DataFrame({"record_id": records["record_id"].to_numpy()})
    for field in records.columns:
        if field == "record_id":
            continue
        col = records[field]
        if field in _ARROW_CLEANERS:
            out[field] = _by_unique_arrow(col.astype(object), *_ARROW_CLEANERS[field])
        elif field in FIELD_CLEANERS:
            out[field] = _by_unique(col.astype(object), FIELD_CLEANERS[field])
        else:
            out[field] = col.to_numpy()
    if "full_name" in out.columns:
        keyed = out["full_name"]
    elif {"first_name", "last_name"} <= set(out.columns):
        keyed = (out["first_name"].fillna("") + " " + out["last_name"].fillna("")).str.strip()
    else:
        keyed = None
    if keyed is not None:
        out["name_tokens"] = _by_unique(keyed, sorted_tokens)
    return out
