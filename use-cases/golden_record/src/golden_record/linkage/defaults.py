"""Comparisons and blocking passes derived from the schema, when a config does not declare them.

A config may leave out ``comparisons`` and ``model.params.blocking_fields``; the pipeline then
derives them here (:func:`resolve`, called by ``pipeline.candidate_vectors`` once the data is
prepared), fills them into the config, prints one line per comparison and per pass with the
reason, and the training run logs the filled-in config (``config/resolved_config.yaml``), which
the logged model keeps: re-scoring and golden records use exactly the same comparisons. A
declared key is kept exactly as written.

Why a profile of the data, and not the types alone
--------------------------------------------------
The declared type says how to clean and compare a value, not what it means for linkage. A
10-digit national id, a 10-digit household id shared by a family, a 4-digit id suffix and a
6-digit postcode are all ``identifier``; a given name, a family name, a father's name and a
full name are all ``name``. What tells them apart is how the values are shared between records,
which the data shows cheaply (one ``factorize`` and ``bincount`` per field; string shapes on the
distinct values; composites on a sample of at most :data:`SAMPLE_ROWS` records). Declared hints
would ask the user for what the data already says, and a rule keyed to field names or to one
seeder's shapes would break on the next table; so the rules read only the types, the roles and
this profile of the cleaned values:

* ``pairs_per_record``: the candidate pairs a blocking pass on the field alone would yield
  (inside blocks of at most ``candidates.max_block_size`` records) per record, and the share of
  records in larger blocks. This is the pass's cost, whatever the reason values repeat (the
  copies of one person, a household, a postcode, chance); a field is *selective* when it stays
  within :data:`PASS_BUDGET` pairs per record with at most :data:`MAX_SKIPPED_SHARE` of the
  records in oversized blocks, else it is a *group* key (a place, a large family);
* the share of records holding a value, the distinct values, the typical (median) length and
  number of tokens, and the share of single-letter values (initials).

Comparisons (one per field, in declaration order)
-------------------------------------------------
Not compared: the ``data.recency`` and ``data.source`` roles and ``timestamp`` fields (when and
where a record was written says nothing about who it is), a field with one value or none (no
evidence either way), a *composite* name (a name field whose tokens are those of two other name
fields in at least :data:`COMPOSITE_SHARE` of the records, or declared in ``golden.composite``,
e.g. ``full_name`` = ``first_name`` + ``last_name``: comparing it too would count the same
evidence twice) and a *coarse place* (a ``text`` field determined by a group key with at least
5x more values in at least :data:`DETERMINED_SHARE` of the records, e.g. a state by the
postcode: when the postcode agrees it adds nothing, and counting it again inflates the weight of
a shared place; a selective key "determines" every field trivially, so it does not count).

========================  ==========================================================================
type                      comparison
========================  ==========================================================================
``name``, one token       ``jaro_winkler`` levels [0.92, 0.8]; the two *person names* (the two
                          single-token name fields most records hold: given and family name,
                          whatever their order) are also compared crossed (``swap_with`` each
                          other); ``initials`` when at least 0.1 % of the field's values are one
                          letter
``name``, several tokens  ``token_sort`` levels [0.9, 0.7] (a full name, a relative's name: word
                          order does not matter)
``text``                  ``jaro_winkler`` levels [0.9]
``address``               ``token_sort`` levels [0.9, 0.7]
``identifier``            ``exact``; a *selective* one of typical length L >= 4 is ``levenshtein``
                          with one level 1 - 1/L rounded down, which one wrong character reaches
                          and two do not (0.88 for 9 digits): a typo in a person's id; a group key
                          stays exact (a neighbouring postcode or household id is another place
                          or family, not a typo)
``phone``, ``email``      ``exact``
``date``                  ``date``: exact; day and month swapped or the year off by one; one digit
                          edited (typo'd or kept-text dates); different
``category``              ``exact``
========================  ==========================================================================

Blocking passes (unioned, in this order)
----------------------------------------
1. **Alone**: each *selective* ``identifier``, ``phone``, ``email`` or ``address`` field: a
   person's id or contact, or a small group (a household id, an address). Names and dates never
   block alone: at a million records a common name or a birthday is shared by hundreds.
2. **Names with a date or a place.** The *person names* N (see above; without two single-token
   names, the several-token name most records hold, else the one name field), the *date* D (the
   ``date`` field most records hold, at least :data:`MIN_PARTNER_PRESENT`) and the *place* P (the
   ``identifier`` or ``text`` group key held by at least half the records with the most distinct
   values: the finest place, the postcode rather than the state; a large household id would
   qualify too):

   * ``phonetic(N)+year(D)``: the names by sound (sorted Soundex codes: typos, swapped and
     transliterated names) within a birth year;
   * ``phonetic(N)+P``: the names by sound in one place;
   * ``D+P``: the date in one place, whatever the names;
   * ``phonetic(n)+P`` for each of two person names: one name replaced (a nickname, a new family
     name) or garbled beyond its sound, the other still meets in the place;
   * ``initial(n1)+initial(n2)+D``: the initials and the exact date (nicknames, misspellings);
   * with neither D nor P: ``phonetic(N)`` alone.

3. **Every derived pass keeps to the budget**: a pass that would yield more than
   :data:`PASS_BUDGET` pairs per record, or leave more than :data:`MAX_SKIPPED_SHARE` of the
   records in blocks too large to use, is left out and the progress says so (a name with a
   coarse place on a large table). A table with nothing to block on fails, naming the key to
   declare.

Measured at 20,000 records (pairs completeness, candidate pairs per record; hand-written config
in brackets): seeded citizens 1.0000, 2.85 (0.9995, 2.26); people (synthetic/people.py) 0.9912,
1.26 (0.9650, 0.44); a sparse table of given name, surname, date of birth and postcode 0.9377,
1.23 (0.7747, 0.36 with the people config's three name/date/place passes). The per-name place
passes cost 0.8 pairs per record on the people table for +0.0006 completeness, and bring the
sparse one from 0.86 to 0.94: a table without identifiers needs them. At 100,000 records the
derived passes yield 4.9 (citizens) and 4.4 (people) pairs per record.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from golden_record.config import Comparison, ModelConfig
from golden_record.errors import DataError
from golden_record.linkage.blocking import block_cost, pass_cost

#: pairs per record a derived blocking pass may yield (a field alone, or a name, date or place key)
PASS_BUDGET = 3.0
#: share of the records a derived pass may leave in blocks larger than candidates.max_block_size
MAX_SKIPPED_SHARE = 0.05
#: share of records a date or place must hold to be paired with the names
MIN_PARTNER_PRESENT = 0.5
#: share of records (holding all three) in which a name's tokens are those of two other names
COMPOSITE_SHARE = 0.9
#: share of records whose text value is the one their finer field's value goes with
DETERMINED_SHARE = 0.99
#: share of a name field's values that are a single letter for an ``initial`` level
INITIALS_SHARE = 0.001
#: records sampled for the string shapes (composites, token counts)
SAMPLE_ROWS = 20_000

NAME_LEVELS = [0.92, 0.8]
MULTI_TOKEN_NAME_LEVELS = [0.9, 0.7]
TEXT_LEVELS = [0.9]
ADDRESS_LEVELS = [0.9, 0.7]
ALONE_TYPES = ("identifier", "phone", "email", "address")
PLACE_TYPES = ("identifier", "text")


@dataclass(frozen=True)
class FieldProfile:
    field: str
    type: str
    present: float              # share of records holding a value
    distinct: int
    pairs_per_record: float     # a blocking pass on the field alone (blocks up to max_block_size)
    skipped: float              # share of the records in larger blocks (a pass would skip them)
    length: float               # typical (median) length of the values
    tokens: float               # typical number of tokens
    single_letters: float       # share of values that are one letter

    @property
    def selective(self) -> bool:
        """Cheap enough to block on alone, and not a few values shared by everyone."""
        return self.distinct > 1 and self.pairs_per_record <= PASS_BUDGET and self.skipped <= MAX_SKIPPED_SHARE


@dataclass
class Derivation:
    """What was derived (None: declared, kept) and why, one reason per comparison and pass."""
    comparisons: list[Comparison] | None
    blocking_fields: list[str] | None
    reasons: dict[str, str] = field(default_factory=dict)
    not_compared: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """One line per derived comparison and blocking pass, with its reason (for the progress)."""
        out = []
        if self.comparisons is not None:
            out.append(f"  derived comparisons ({len(self.comparisons)}; declare comparisons to choose them):")
            for c in self.comparisons:
                why = self.reasons.get("comparison:" + c.name)
                out.append(f"    {c.name}: {_describe(c)}" + (f" ({why})" if why else ""))
            for name, why in self.not_compared.items():
                out.append(f"    {name}: not compared ({why})")
        if self.blocking_fields is not None:
            out.append(f"  derived blocking passes ({len(self.blocking_fields)}; declare model.params.blocking_fields "
                       "to choose them):")
            for entry in self.blocking_fields:
                out.append(f"    {entry}: {self.reasons.get('pass:' + entry, '')}")
            for key, why in self.reasons.items():
                if key.startswith("dropped:"):
                    out.append(f"    {key.removeprefix('dropped:')}: not used ({why})")
            keys = [f"{k} {self.reasons[k]}" for k in ("names", "date", "place") if k in self.reasons]
            if keys:
                out.append("    (keys: " + "; ".join(keys) + ")")
        return out


def _describe(c: Comparison) -> str:
    text = c.method + (f" {c.levels}" if c.levels else "")
    if c.swap_with:
        text += f", crossed with {c.swap_with}"
    if c.initials:
        text += ", initials"
    return text


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    if len(values) == 0:
        return 0.0
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2.0)])


def profile_field(name: str, ftype: str, values: pd.Series, max_block_size: int, share: float = 1.0) -> FieldProfile:
    """The profile of one prepared field (all vectorised; string shapes on distinct values). The
    cost of a pass on it alone is for the whole table when ``values`` are a sample holding
    ``share`` of it (:func:`golden_record.linkage.blocking.block_cost`)."""
    n = max(len(values), 1)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    pairs, skipped_records = block_cost(counts, max_block_size, share)
    table_rows = n / share
    length = tokens = single = 0.0
    if ftype not in ("date", "timestamp") and len(uniques):
        text = pd.Series(np.asarray(uniques, dtype=object)).astype(str)
        lengths = text.str.len().to_numpy(dtype=float)
        length = _weighted_median(lengths, counts)
        tokens = _weighted_median(text.str.count(" ").to_numpy(dtype=float) + 1, counts)
        single = float(counts[lengths == 1].sum() / max(counts.sum(), 1))
    return FieldProfile(name, ftype, float((codes >= 0).sum() / n), int(len(uniques)), pairs / table_rows,
                        float(skipped_records / table_rows), length, tokens, single)


def _sorted_tokens(values: pd.Series) -> np.ndarray:
    return np.array([" ".join(sorted(v.split())) for v in values], dtype=object)


def composites(prepared: pd.DataFrame, names: list[str], declared: dict[str, list[str]],
               seed: int = 0) -> dict[str, tuple[str, str]]:
    """Name fields made of two others (``full_name`` = ``first_name`` + ``last_name``): declared in
    ``golden.composite``, or whose sorted tokens equal the other two's in at least
    :data:`COMPOSITE_SHARE` of (a sample of) the records holding all three."""
    found = {f: (parts[0], parts[1]) for f, parts in declared.items() if f in names and len(parts) == 2}
    sample = prepared if len(prepared) <= SAMPLE_ROWS else prepared.sample(SAMPLE_ROWS, random_state=seed)
    for whole in names:
        if whole in found:
            continue
        others = [f for f in names if f != whole and f not in found]
        for i, a in enumerate(others):
            for b in others[i + 1:]:
                rows = sample[[whole, a, b]].dropna()
                if len(rows) == 0:
                    continue
                same = _sorted_tokens(rows[whole]) == _sorted_tokens(rows[a] + " " + rows[b])
                if same.mean() >= COMPOSITE_SHARE:
                    found[whole] = (a, b)
                    break
            if whole in found:
                break
    return found


def determined_by(prepared: pd.DataFrame, target: str, candidates: list[str], profiles: dict[str, FieldProfile]
                  ) -> tuple[str, float] | None:
    """A finer field (at least 5x the distinct values) that determines ``target``: the value of
    ``target`` is the one most records with the same value of the finer field hold, in at least
    :data:`DETERMINED_SHARE` of the records holding both."""
    for finer in candidates:
        if (finer == target or profiles[finer].selective    # a near-unique field "determines" anything
                or profiles[finer].distinct < 5 * max(profiles[target].distinct, 1)):
            continue
        a, _ = pd.factorize(prepared[finer], use_na_sentinel=True)
        b, _ = pd.factorize(prepared[target], use_na_sentinel=True)
        ok = (a >= 0) & (b >= 0)
        if not ok.any():
            continue
        pair_counts = pd.Series(1, index=pd.MultiIndex.from_arrays([a[ok], b[ok]])).groupby(level=[0, 1]).size()
        share = float(pair_counts.groupby(level=0).max().sum() / ok.sum())
        if share >= DETERMINED_SHARE:
            return finer, share
    return None


def _close_level(length: float) -> float:
    """The levenshtein similarity one wrong character of ``length`` still reaches, rounded down."""
    return float(np.floor(100.0 * (1.0 - 1.0 / length) - 1e-6) / 100.0)


def derive(config: ModelConfig, prepared: pd.DataFrame, share: float = 1.0) -> Derivation:
    """The comparisons and blocking passes for the keys :meth:`ModelConfig.derived_keys` lists,
    from the declared types and the profile of ``prepared`` (the cleaned records, or a uniform
    sample holding ``share`` of them: the passes' costs are then estimated for the whole table)."""
    keys = config.derived_keys()
    specs = config.data.fields
    fields = [f for f in config.derivable_fields() if f in prepared.columns]
    max_block = config.candidates.max_block_size
    profiles = {f: profile_field(f, specs[f].type, prepared[f], max_block, share) for f in fields}
    out = Derivation(None, None)
    names = [f for f in fields if specs[f].type == "name"]
    composite = composites(prepared, names, config.golden.composite)
    base_names = [f for f in names if f not in composite]
    single = sorted((f for f in base_names if profiles[f].tokens <= 1), key=lambda f: -profiles[f].present)
    person = single[:2]
    partner = {person[0]: person[1], person[1]: person[0]} if len(person) == 2 else {}

    if "comparisons" in keys:
        comps: list[Comparison] = []
        place_like = [f for f in fields if specs[f].type in PLACE_TYPES]
        for f in fields:
            p, ftype = profiles[f], specs[f].type
            if p.distinct <= 1:
                out.not_compared[f] = f"{p.distinct} distinct value(s): no evidence either way"
                continue
            if f in composite:
                a, b = composite[f]
                out.not_compared[f] = f"made of {a} + {b}, compared as those"
                continue
            if ftype == "text":
                det = determined_by(prepared, f, place_like, profiles)
                if det:
                    out.not_compared[f] = f"determined by {det[0]} in {det[1]:.1%} of the records, counted there"
                    continue
            why = ""
            if ftype == "name" and p.tokens <= 1:
                initials = p.single_letters >= INITIALS_SHARE
                c = Comparison(field=f, method="jaro_winkler", levels=NAME_LEVELS, swap_with=partner.get(f),
                               initials=initials)
                why = ("person name" if f in partner else "name") + (
                    f"; {p.single_letters:.1%} single letters" if initials else "")
            elif ftype == "name":
                c = Comparison(field=f, method="token_sort", levels=MULTI_TOKEN_NAME_LEVELS)
                why = f"name of {p.tokens:g} tokens"
            elif ftype == "text":
                c = Comparison(field=f, method="jaro_winkler", levels=TEXT_LEVELS)
            elif ftype == "address":
                c = Comparison(field=f, method="token_sort", levels=ADDRESS_LEVELS)
            elif ftype == "identifier" and p.selective and p.length >= 4:
                c = Comparison(field=f, method="levenshtein", levels=[_close_level(p.length)])
                why = f"selective, length {p.length:g}: one wrong character still reaches the close level"
            elif ftype == "date":
                c = Comparison(field=f, method="date")
            else:
                c = Comparison(field=f, method="exact")
                if ftype == "identifier":
                    why = (f"a group key, {p.pairs_per_record:.1f} pairs/record alone" if not p.selective
                           else f"length {p.length:g}, too short for a close level")
            comps.append(c)
            out.reasons["comparison:" + c.name] = why
        for f in config.data.fields:
            if f not in fields:
                out.not_compared[f] = ("a timestamp" if specs[f].type == "timestamp" else
                                       "the data.recency role" if f == config.data.recency else "the data.source role")
        out.comparisons = comps

    if "model.params.blocking_fields" in keys:
        out.blocking_fields = _blocking(config, prepared, fields, profiles, person, base_names, out.reasons, share)
    return out


def _blocking(config: ModelConfig, prepared: pd.DataFrame, fields: list[str], profiles: dict[str, FieldProfile],
              person: list[str], base_names: list[str], reasons: dict[str, str], share: float = 1.0) -> list[str]:
    specs = config.data.fields
    max_block = config.candidates.max_block_size
    n_records = max(round(len(prepared) / share), 1)          # the whole table's, when prepared is a sample
    passes: list[str] = []

    def add(entry: str, why: str) -> None:
        if entry in passes:
            return
        pairs, skipped = pass_cost(prepared, entry, max_block, share)
        cost = pairs / n_records
        if cost > PASS_BUDGET or skipped > MAX_SKIPPED_SHARE * n_records:
            reasons["dropped:" + entry] = (f"{cost:.1f} pairs/record, {skipped:,} records in blocks of more than "
                                           f"{max_block}: too coarse")
            return
        passes.append(entry)
        reasons["pass:" + entry] = f"{cost:.2f} pairs/record; {why}"

    for f in fields:
        p = profiles[f]
        if specs[f].type in ALONE_TYPES and p.selective:
            add(f, f"alone ({p.present:.0%} of records hold it)")
    if person:
        names = person
    else:
        multi = sorted((f for f in base_names if profiles[f].tokens > 1), key=lambda f: -profiles[f].present)
        names = multi[:1] or base_names[:1]
    dates = sorted((f for f in fields if specs[f].type == "date" and profiles[f].present >= MIN_PARTNER_PRESENT),
                   key=lambda f: -profiles[f].present)
    date = dates[0] if dates else None
    places = [f for f in fields if specs[f].type in PLACE_TYPES and not profiles[f].selective
              and profiles[f].present >= MIN_PARTNER_PRESENT]
    place = max(places, key=lambda f: (profiles[f].distinct, -fields.index(f))) if places else None
    joint = ",".join(names)
    if names:
        reasons["names"] = ",".join(names)
    if date:
        reasons["date"] = date
    if place:
        reasons["place"] = (f"{place}, the finest field too coarse to block alone ({profiles[place].distinct:,} "
                            f"values, {profiles[place].pairs_per_record:.1f} pairs/record alone)")
    if names and date:
        add(f"phonetic({joint})+year({date})", "the names by sound (any order) within the birth year")
    if names and place:
        add(f"phonetic({joint})+{place}", "the names by sound (any order) in one place")
    if date and place:
        add(f"{date}+{place}", "the date in one place, whatever the names")
    if len(names) > 1:
        for name in names:     # one name changed or mistyped beyond its sound: the other one still meets
            if place:
                add(f"phonetic({name})+{place}", f"{name} by sound in one place")
        if date:
            add("+".join(f"initial({name})" for name in names) + f"+{date}",
                "the initials and the exact date: nicknames, misspellings beyond the sound")
    if names and not date and not place:
        add(f"phonetic({joint})", "the names alone: no date or place to pair them with")
    if not passes:
        raise DataError("no blocking pass could be derived: no identifier, phone, email or address selective "
                        f"enough alone (at most {PASS_BUDGET:g} pairs per record), and no name, date or place "
                        "key within that budget",
                        "declare model.params.blocking_fields (see the README's configuration section)")
    return passes


def resolve(config: ModelConfig, prepared: pd.DataFrame, progress=None, share: float = 1.0) -> Derivation | None:
    """Derive what the config leaves out, fill it in (:meth:`ModelConfig.fill_in`) and print one
    line per derived comparison and pass. A config declaring both keys is left as it is.
    ``share``: ``prepared`` is a uniform sample of that share of the records (see :func:`derive`)."""
    if not config.derived_keys():
        return None
    derivation = derive(config, prepared, share)
    lines = derivation.lines()
    config.fill_in(derivation.comparisons, derivation.blocking_fields, lines)
    if progress is not None:
        for line in lines:
            progress.say(line)
    return derivation
