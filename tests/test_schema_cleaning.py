"""Cleaning by declared type keeps what it can, drops only the unusable, and says so (fast: no
database)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from golden_record.linkage.schema import FieldSpec, clean_field


def _clean(spec: dict, values: list, name: str = "f"):
    return clean_field(name, FieldSpec(**spec), pd.Series(values, dtype=object))


def test_foreign_postcodes_and_ids_are_kept_not_erased():
    cleaned, q = _clean({"type": "identifier"}, ["2000", "3141", "SW1A 1AA", "10115", None, ""])
    assert cleaned.tolist() == ["2000", "3141", "SW1A1AA", "10115", None, None]
    assert q.present_before == 4 and q.present_after == 4 and q.dropped == 0
    cleaned, q = _clean({"type": "identifier", "digits": True, "length": 7}, ["1234567", "123-4567", "12345"])
    assert cleaned.tolist() == ["1234567", "1234567", "12345"]
    assert q.dropped == 0 and q.unusual == 1 and "another length" in q.unusual_reason


def test_placeholders_are_dropped_and_counted_with_examples():
    cleaned, q = _clean({"type": "phone", "length": 10, "prefixes": ["91", "0"]},
                        ["+91 98765 43210", "098765 43210", "0000000000", "9876543210", "12345"])
    assert cleaned.tolist() == ["9876543210", "9876543210", None, "9876543210", "12345"]
    assert q.dropped == 1 and q.dropped_examples == ["0000000000"] and q.unusual == 1
    assert q.dropped_share == pytest.approx(0.2)


def test_names_in_other_scripts_are_transliterated_not_dropped():
    cleaned, q = _clean({"type": "name"}, ["Иван", "José", "राम", "O'Brien", "Mary-Jane", "12"])
    assert cleaned.tolist()[:5] == ["ivan", "jose", "ram", "obrien", "mary jane"]
    assert cleaned.iloc[5] is None and q.dropped == 1 and q.dropped_examples == ["12"]


def test_indian_rules_are_an_option_of_the_name_type():
    cleaned, _ = _clean({"type": "name", "rules": "indian"}, ["Smt. Laxmi", "Lakshmi", "Mohammed", "Muhammad"])
    assert cleaned.iloc[0] == cleaned.iloc[1] and cleaned.iloc[2] == cleaned.iloc[3] == "mohamad"
    plain, _ = _clean({"type": "name"}, ["Laxmi", "Lakshmi"])
    assert plain.iloc[0] != plain.iloc[1]


def test_invalid_text_dates_are_kept_as_text_and_placeholders_dropped():
    cleaned, q = _clean({"type": "date", "formats": ["%Y%m%d"]}, ["19370412", "19371233", "00000000", None])
    assert cleaned.tolist() == ["1937-04-12", "1937-12-33", None, None]        # ISO text, the typo kept
    assert q.present_before == 3 and q.present_after == 2 and q.dropped_examples == ["00000000"]
    assert q.unusual == 1 and q.unusual_examples == ["19371233"] and "not a valid date" in q.unusual_reason


def test_native_dates_pass_through():
    raw = pd.Series(pd.to_datetime(["1990-01-02", None]))
    cleaned, q = clean_field("dob", FieldSpec(type="date"), raw)
    assert cleaned.tolist() == ["1990-01-02", None] and q.dropped == 0


def test_categories_map_spellings_and_keep_the_rest():
    cleaned, q = _clean({"type": "category", "values": {"M": ["male", "m"], "F": ["female", "f"]}},
                        ["Male", "f", "FEMALE", "x", None])
    assert cleaned.tolist() == ["M", "F", "F", "x", None]
    assert q.unusual == 1 and q.dropped == 0


def test_addresses_expand_abbreviations_by_preset():
    cleaned, _ = _clean({"type": "address", "abbreviations": "english"}, ["12 Smith St", "12 smith street"])
    assert cleaned.iloc[0] == cleaned.iloc[1]


def test_options_that_do_not_fit_the_type_are_rejected():
    with pytest.raises(ValidationError, match="do not apply to type 'name'"):
        FieldSpec(type="name", length=4)
    with pytest.raises(ValidationError, match="unknown name rules"):
        FieldSpec(type="name", rules="martian")
    with pytest.raises(ValidationError):
        FieldSpec(type="shoe_size")


def test_quality_line_names_the_field_and_the_shares():
    _, q = _clean({"type": "date", "formats": ["%Y%m%d"]}, ["19370412", "bad"], name="date_of_birth")
    line = q.line()
    assert "date_of_birth" in line and "100.0% ->  50.0%" in line and "bad" in line
