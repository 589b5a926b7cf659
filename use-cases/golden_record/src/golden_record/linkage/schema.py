"""The record schema: declared fields, each with a column (or several) and a type.

``data.fields`` in the model config maps a logical field name to a :class:`FieldSpec`::

    given_name:  {column: given_name, type: name, rules: english}
    address:     {columns: [street_number, address_1, address_2], type: address}
    postcode:    {column: postcode, type: identifier}
    date_of_birth: {column: date_of_birth, type: date, formats: ["%Y%m%d"]}
    soc_sec_id:  {column: soc_sec_id, type: identifier, digits: true, length: 7}
    phone:       {column: phone, type: phone, length: 9, prefixes: ["61", "0"]}
    sex:         {column: sex, type: category, values: {M: [m, male], F: [f, female]}}

The type chooses the cleaner (:mod:`.cleaning`); :func:`clean_field` applies it and reports what
it did (:class:`.cleaning.FieldQuality`). No field name means anything to the code: all that
matters is the declared type and options.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import cleaning
from .cleaning import FieldQuality, examples
from .regions import ADDRESS_ABBREVIATIONS, NAME_RULES

FieldType = Literal["name", "text", "address", "identifier", "phone", "email", "date", "category", "timestamp"]
#: the options each type accepts (anything else is a configuration error naming the key)
TYPE_OPTIONS = {
    "name": {"rules"}, "text": set(), "address": {"abbreviations"},
    "identifier": {"digits", "length"}, "phone": {"length", "prefixes"}, "email": set(),
    "date": {"formats"}, "category": {"values"}, "timestamp": {"formats"},
}


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: FieldType
    #: the column holding the field (default: the field's own name)
    column: str | None = None
    #: several columns joined with a space, in order (e.g. street number + address lines)
    columns: list[str] | None = Field(None, min_length=1)
    #: name: region preset for honorifics and transliteration (none, english, indian)
    rules: str = "none"
    #: address: abbreviation preset (none, english, indian)
    abbreviations: str = "english"
    #: identifier: keep digits only (else upper-case letters and digits)
    digits: bool = False
    #: identifier / phone: the expected number of characters; other lengths are kept and counted
    length: int | None = Field(None, ge=1, le=64)
    #: phone: prefixes (country code, trunk 0) cut from numbers longer than ``length``
    prefixes: list[str] = Field(default_factory=list)
    #: date / timestamp: text formats tried in order (strftime codes); none: ISO and native types
    formats: list[str] = Field(default_factory=list)
    #: category: canonical value -> its spellings (compared case-insensitively)
    values: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("rules", "abbreviations")
    @classmethod
    def _known_preset(cls, value: str, info) -> str:
        what, presets = {"rules": ("name rules", NAME_RULES),
                         "abbreviations": ("abbreviations", ADDRESS_ABBREVIATIONS)}[info.field_name]
        if value not in presets:
            raise ValueError(f"unknown {what} {value!r}; allowed: {sorted(presets)}")
        return value

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> "FieldSpec":
        if self.column and self.columns:
            raise ValueError("give column or columns, not both")
        # options set away from their defaults (a dumped-and-reloaded spec carries every key)
        given = {k for k in self.model_fields_set if k not in ("type", "column", "columns")
                 and getattr(self, k) != type(self).model_fields[k].get_default(call_default_factory=True)}
        wrong = sorted(given - TYPE_OPTIONS[self.type])
        if wrong:
            allowed = sorted(TYPE_OPTIONS[self.type]) or "none"
            raise ValueError(f"option(s) {wrong} do not apply to type {self.type!r} (its options: {allowed})")
        return self

    def source_columns(self, name: str) -> list[str]:
        return list(self.columns) if self.columns else [self.column or name]


def _lower_map(values: dict[str, list[str]]) -> dict[str, str]:
    out = {}
    for canonical, spellings in values.items():
        out[canonical.lower()] = canonical
        for s in spellings:
            out[str(s).strip().lower()] = canonical
    return out


def clean_field(name: str, spec: FieldSpec, raw: pd.Series) -> tuple[pd.Series, FieldQuality]:
    """The cleaned values of one field and the report of what cleaning did.

    ``raw`` holds strings (text columns), or dates/timestamps for native date columns. Missing
    stays missing; blank strings count as missing before cleaning (they never held a value).
    Everything runs on the distinct values (``pd.factorize``); row counts come from their counts.
    """
    if pd.api.types.is_datetime64_any_dtype(raw):     # a native date or timestamp column
        values = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        cleaned = pd.Series(values.to_numpy(), index=raw.index)
        if spec.type == "date":      # as text dates are: ISO days (see cleaning.clean_dates)
            cleaned = pd.Series(cleaning.date_text(cleaned), index=raw.index, dtype=object)
        present = int(cleaned.notna().sum())
        return cleaned, FieldQuality(field=name, type=spec.type, rows=len(raw), present_before=present,
                                     present_after=present, distinct_after=int(cleaned.nunique()))
    codes, uniques = pd.factorize(raw.astype(object), use_na_sentinel=True)
    raw_u = np.asarray(uniques, dtype=object)
    counts = np.bincount(codes[codes >= 0], minlength=len(raw_u))
    blank = cleaning.is_blank(raw_u)
    raw_u = np.where(blank, None, raw_u).astype(object)
    unusual = np.zeros(len(raw_u), dtype=bool)
    reason = ""
    formats, inferred = spec.formats, None
    if spec.type in ("date", "timestamp") and not formats:
        # read once from a sample and said in the quality report: pandas never guesses per value
        formats, sampled = cleaning.infer_date_formats(raw_u, timestamp=spec.type == "timestamp")
        inferred = (formats, sampled)
    if spec.type == "date":
        # ISO day text, any year; a value that does not parse is kept as its normalised text
        # (counted unusual), only one with nothing usable left is dropped
        clean_u, unusual = cleaning.clean_dates(raw_u, formats)
        cleaned = pd.Series(np.append(clean_u, None)[codes], index=raw.index, dtype=object)
        reason = cleaning.DATE_UNUSUAL_REASON
    elif spec.type == "timestamp":
        parsed_u = cleaning.parse_dates(raw_u, formats)
        cleaned = pd.Series(np.append(parsed_u, np.datetime64("NaT"))[codes].astype("datetime64[ns]"),
                            index=raw.index)
        clean_u = np.where(np.isnat(parsed_u), None, parsed_u).astype(object)
    else:
        clean_u = np.asarray(_cleaner(spec)(raw_u), dtype=object) if len(raw_u) else np.empty(0, dtype=object)
        clean_u = np.where(pd.isna(clean_u), None, clean_u).astype(object)
        cleaned = pd.Series(np.append(clean_u, None)[codes], index=raw.index, dtype=object)
        if spec.type in ("identifier", "phone") and spec.length:
            lengths = pd.Series(clean_u, dtype=object).str.len().to_numpy()
            unusual = (lengths == lengths) & (lengths != spec.length)      # present, another length
            reason = f"of another length than {spec.length}"
        elif spec.type == "category" and spec.values:
            unusual = np.array([v is not None and v not in spec.values for v in clean_u], dtype=bool)
            reason = f"outside {sorted(spec.values)}"
        elif spec.type == "email":
            unusual = cleaning.unusual_email(clean_u)
            reason = "not shaped like an address"
    present_u = ~blank
    kept_u = np.array([c is not None for c in clean_u], dtype=bool)
    dropped_u = present_u & ~kept_u
    report = FieldQuality(field=name, type=spec.type, rows=len(raw), present_before=int(counts[present_u].sum()),
                          present_after=int(counts[kept_u].sum()),
                          distinct_after=int(pd.Series(clean_u[kept_u]).nunique()),
                          dropped_examples=examples(raw_u[dropped_u]))
    if inferred is not None:
        report.formats_inferred, report.formats_sample = inferred
    if unusual.any():
        report.unusual = int(counts[unusual].sum())
        report.unusual_examples = examples(raw_u[unusual])
        report.unusual_reason = reason
    return cleaned, report


def _cleaner(spec: FieldSpec):
    if spec.type == "name":
        rules = NAME_RULES[spec.rules]
        return lambda v: cleaning.clean_name(v, rules)
    if spec.type == "text":
        return cleaning.clean_text
    if spec.type == "address":
        abbreviations = ADDRESS_ABBREVIATIONS[spec.abbreviations]
        return lambda v: cleaning.clean_address(v, abbreviations)
    if spec.type == "identifier":
        return lambda v: cleaning.clean_identifier(v, spec.digits)
    if spec.type == "phone":
        return lambda v: cleaning.clean_phone(v, spec.length, spec.prefixes)
    if spec.type == "email":
        return cleaning.clean_email
    if spec.type == "category":
        mapping = _lower_map(spec.values)

        def category(values: np.ndarray) -> np.ndarray:
            text = cleaning.clean_text(values)
            return np.array([None if t is None else mapping.get(t, t) for t in text], dtype=object)
        return category
    raise ValueError(f"no cleaner for type {spec.type!r}")  # pragma: no cover - Literal guards it


def settle_formats(fields: dict[str, FieldSpec], reports: list[FieldQuality]) -> dict[str, list[str]]:
    """Write the formats inferred for the date fields declared without them into ``fields`` (the
    config's ``data.fields``), so that the logged model, the golden records and the lookup service
    read the field's values as training did. Returns field -> the formats written."""
    out = {}
    for q in reports:
        spec = fields.get(q.field)
        if q.formats_inferred and spec is not None and not spec.formats:
            fields[q.field] = spec.model_copy(update={"formats": list(q.formats_inferred)})
            out[q.field] = list(q.formats_inferred)
    return out


def clean_records(records: pd.DataFrame, fields: dict[str, FieldSpec]) -> tuple[pd.DataFrame, list[FieldQuality]]:
    """Every declared field of ``records`` cleaned by its type (same rows and order, ``record_id``
    first), and one quality report per field. Columns that are not declared fields pass through."""
    out = pd.DataFrame({"record_id": records["record_id"].to_numpy()})
    reports = []
    for name in records.columns:
        if name == "record_id":
            continue
        if name in fields:
            cleaned, report = clean_field(name, fields[name], records[name])
            out[name] = cleaned.to_numpy()
            reports.append(report)
        else:
            out[name] = records[name].to_numpy()
    return out, reports
