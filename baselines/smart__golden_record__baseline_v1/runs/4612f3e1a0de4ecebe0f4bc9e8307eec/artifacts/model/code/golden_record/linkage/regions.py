"""Region presets for the name and address types (``rules:`` and ``abbreviations:`` options).

A preset is data, chosen in the config: the citizen config uses ``indian`` (honorifics such as
Shri/Smt, Mohammed/Muhammad -> mohammad, a transliteration key for Laxmi/Lakshmi, Sharma/Sarma);
a table of Western names uses ``english``; ``none`` only folds case, script and punctuation.
"""
from __future__ import annotations

from .cleaning import NameRules

_ENGLISH_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "jr", "sr"})

NAME_RULES: dict[str, NameRules] = {
    "none": NameRules(),
    "english": NameRules(honorifics=_ENGLISH_HONORIFICS),
    "indian": NameRules(
        honorifics=_ENGLISH_HONORIFICS | {"shri", "shree", "sri", "smt", "shrimati", "kumari", "km", "late"},
        variants=(("mohammed", "mohammad"), ("muhammad", "mohammad"), ("muhammed", "mohammad"),
                  ("mohamed", "mohammad"), ("mohamad", "mohammad"), ("mohd", "mohammad"), ("md", "mohammad")),
        rewrites=(("x", "ksh"), ("ksh", "ks"), ("ph", "f"), ("w", "v"),
                  ("(?<=[bcdgjkpst])h", ""),   # aspirates: bh, ch, dh, gh, jh, kh, ph, sh, th
                  ("ee", "i"), ("oo", "u"), ("ou", "u"), ("y$", "i"),
                  (r"(.)\1+", r"\1")),           # doubled letters
    ),
}

_COMMON_ABBREVIATIONS = {
    "rd": "road", "st": "street", "ln": "lane", "apt": "apartment", "apts": "apartments", "no": "number",
    "blk": "block", "opp": "opposite", "nr": "near", "ext": "extension", "extn": "extension",
}
ADDRESS_ABBREVIATIONS: dict[str, dict[str, str]] = {
    "none": {},
    "english": {**_COMMON_ABBREVIATIONS, "ave": "avenue", "av": "avenue", "dr": "drive", "ct": "court",
                "cres": "crescent", "pl": "place", "hwy": "highway", "pde": "parade", "tce": "terrace",
                "cl": "close", "sq": "square", "mt": "mount", "unit": "unit", "flat": "flat", "po": "po",
                "bldg": "building", "fl": "floor"},
    "indian": {**_COMMON_ABBREVIATIONS, "ngr": "nagar", "col": "colony", "mn": "main", "sec": "sector",
               "mkt": "market"},
}
