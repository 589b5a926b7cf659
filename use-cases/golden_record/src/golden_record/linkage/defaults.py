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
  within :data:`SELECTIVE_PAIRS` pairs per record with at most :data:`MAX_SKIPPED_SHARE` of the
  records in oversized blocks, else it is a *group* key (a place, a large family); the comparisons
  use it (a selective id gets a close level), the blocking passes are costed on their own;
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

Blocking passes: a budget from the duplicates, keys chosen by what they add
---------------------------------------------------------------------------
A fixed rule (3 pairs per record for each of a fixed list of keys) fails both ways: a table
where a person has ~10 records needs far more pairs, and keys that fail when names are misspelled
and dates mistyped or missing lose pairs no budget brings back (a 50,000-record register of ~10
records a person: 0.66 of the true pairs at 4.6 pairs per record, 0.69 at 30); at 10,000,000
seeded citizens the same rule made 172.7M pairs and the run was refused by ``max_pairs``. So the
budget and the keys are measured on the data (:mod:`golden_record.linkage.pass_choice`):

0. **A small table is compared whole.** When every pair of records fits both
   :data:`FULL_COMPARISON_PAIRS` (2,000,000: about 2,000 records) and ``candidates.max_pairs``,
   the one pass is ``all()``, one block of the whole table: no duplicate is lost to blocking.
1. **Candidates**: each ``identifier``, ``phone``, ``email`` or ``address`` field alone (a
   person's id or contact, or a group: a household id, an address); and keys of two pieces of
   evidence about who a record is, every two fields' *robust forms*: a name by sound
   (``phonetic(n)``, sorted Soundex codes: respellings, transliterations) or by its first three
   letters (``prefix3(n)``: a typo further on, which changes the sound), a date or its year, a
   *place* (an ``identifier`` or ``text`` field too coarse to block alone: a postcode, a
   district, a birthplace, a residence) or a text place by sound; the two *person names* by
   sound together (``phonetic(N)``: swapped names meet) and their initials (nicknames) with each
   other field's forms; and each form alone (a date alone is selective in a small table, not in
   a large one). No rule names a field: the types, the roles and the profile choose. Fields held
   by fewer than :data:`MIN_PARTNER_PRESENT` of the records are left out.
2. **Costs**: each candidate's pairs per record and the records it leaves in blocks larger than
   ``candidates.max_block_size`` (more than half of them: too coarse), counted from its block
   sizes for the whole table.
3. **The duplicates, without ground truth**: the candidates' pairs among a uniform sample of the
   records are compared with the run's comparisons and scored by a Fellegi–Sunter model (u from
   random pairs, two classes of related non-matches: families, namesakes) fitted on the finest
   candidates' pairs; the classes' shares are fitted among all the sample's pairs, so a coarse
   key's pairs are judged with the prior of any pair. The likely duplicates per record are the
   *true partners* (a person with k records gives each k - 1).
4. **The budget**: :data:`~golden_record.linkage.pass_choice.BASE_BUDGET` (3) pairs per record
   plus :data:`~golden_record.linkage.pass_choice.PAIRS_PER_PARTNER` (7) per true partner, for
   the union of the passes, at most ``candidates.max_pairs`` for the whole table (and the passes'
   own pairs, which blocking allocates before their union, too). The candidates the budget admits
   are scored again when it grows.
5. **Greedy, by what a pass adds**: the candidate whose *new* pairs (those no chosen pass makes)
   hold the most likely duplicates per new pair is taken first, while the budget lasts. Within the
   first 3 pairs per record a pass is taken when it adds any likely duplicates (at least
   :data:`~golden_record.linkage.pass_choice.FREE_GAIN`, 0.01 %: a sample's estimate of a cheap
   pass's few new duplicates is noisy); past them, only when it adds at least
   :data:`~golden_record.linkage.pass_choice.MIN_GAIN` (0.1 %) of them for every 3 new pairs per
   record. A table with nothing to block on fails, naming the key to declare.

The progress prints every pass with its pairs per record, its new ones, the share of the likely
duplicates it adds and its reason; the budget with the partners it comes from; and the candidates
left out, grouped by why, with their numbers. A table larger than :data:`BLOCKING_SAMPLE_ROWS`
(and the Spark engine's sample) is measured on a uniform sample, every count scaled to the whole
table (a pair is in a sample holding a share s of the records with chance s²): at 10,000,000
records the budget is ``max_pairs`` (5 pairs per record), and the keys that fit are finer ones
(the whole date rather than its year).

Measured on the seeded profiles (pairs completeness, candidate pairs per record, F1 at the auto
threshold; the former fixed rule in brackets):

====================  ===========================  ===========================
profile               10,000 records               100,000 records
====================  ===========================  ===========================
citizens              0.9997, 1.42, 0.9965         0.9998, 2.27, 0.9939
                      (0.9990, 2.57, 0.9905)       (0.9996, 4.86, 0.9934)
people                0.9969, 1.14, 0.9972         0.9921, 2.00, 0.9945
                      (0.9935, 0.75, 0.9963)       (0.9914, 4.42, 0.9943)
sparse (fields only)  0.9966, 6.21, 0.9531         0.9886, 3.65, 0.9586
                      (0.9795, 2.20, 0.9356)       (0.9826, 3.01, 0.9683)
crm                   0.9961, 1.97, 0.9810         0.9889, 3.49, 0.9521
                      (0.9726, 0.81, 0.9703)       (0.9734, 2.25, 0.8252)
historical            1,000 records, compared whole: 1.0000, 499.5, 0.5768 (0.2982, 3.63, 0.3804);
                      50,000 (~13 true partners per record): 0.8843, 97.9, 0.6911 (0.1704, 1.66, 0.2768)
====================  ===========================  ===========================

On 1,000,000 seeded citizens (chosen on a 200,000-record sample) 0.9993 at 2.51 pairs per record
(0.9994 at 4.43), every pass's estimated pairs within 5 % of its count on the whole table; on
10,000,000 (a 3 % sample) 9 passes within the 5 pairs per record ``max_pairs`` allows, 42M pairs
before their union (the former rule: 172.7M, refused), the counts of the passes SQL can check
(email, mobile, the household id, the date with the postcode) within 6 % of the table's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from golden_record.config import Comparison, ModelConfig
from golden_record.errors import DataError
from golden_record.linkage import pass_choice
from golden_record.linkage.blocking import WHOLE_TABLE, block_cost

#: pairs per record a field alone may yield to be *selective* (an id, not a group key)
SELECTIVE_PAIRS = 3.0
#: share of the records a derived pass may leave in blocks larger than candidates.max_block_size
MAX_SKIPPED_SHARE = 0.05
#: share of records a field must hold to be part of a derived blocking key
MIN_PARTNER_PRESENT = 0.1
#: share of records (holding all three) in which a name's tokens are those of two other names
COMPOSITE_SHARE = 0.9
#: share of records whose text value is the one their finer field's value goes with
DETERMINED_SHARE = 0.99
#: share of a name field's values that are a single letter for an ``initial`` level
INITIALS_SHARE = 0.001
#: a table of at most this many record pairs is compared whole (no blocking)
FULL_COMPARISON_PAIRS = 2_000_000
#: records at most the blocking passes are chosen on (a uniform sample of a larger table; its
#: costs are scaled to the whole table, as the Spark engine's sample's are)
BLOCKING_SAMPLE_ROWS = 200_000
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
        return self.distinct > 1 and self.pairs_per_record <= SELECTIVE_PAIRS and self.skipped <= MAX_SKIPPED_SHARE


@dataclass
class Derivation:
    """What was derived (None: declared, kept) and why, one reason per comparison and pass."""
    comparisons: list[Comparison] | None
    blocking_fields: list[str] | None
    reasons: dict[str, str] = field(default_factory=dict)
    not_compared: dict[str, str] = field(default_factory=dict)
    #: blocking candidates left out: entry -> (the reason a group of them shares, its own numbers)
    dropped: dict[str, tuple[str, str]] = field(default_factory=dict)

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
            groups: dict[str, list[str]] = {}
            for entry, (group, numbers) in self.dropped.items():
                if group:
                    groups.setdefault(group, []).append(entry + (f" ({numbers})" if numbers else ""))
                else:
                    out.append(f"    {entry}: not used ({numbers})")
            for group, entries in groups.items():
                out.append(f"    not used, {group}: " + ", ".join(entries))
            keys = [f"{k} {self.reasons[k]}" for k in ("names", "date", "place") if k in self.reasons]
            if keys:
                out.append("    (keys: " + "; ".join(keys) + ")")
            if "budget" in self.reasons:
                out.append("    (" + self.reasons["budget"] + ")")
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
        out.blocking_fields = _blocking(config, prepared, fields, profiles, person, base_names, out.reasons,
                                        out.comparisons if out.comparisons is not None else config.comparisons or [],
                                        share, out.dropped)
    return out


def _blocking(config: ModelConfig, prepared: pd.DataFrame, fields: list[str], profiles: dict[str, FieldProfile],
              person: list[str], base_names: list[str], reasons: dict[str, str], comparisons: list[Comparison],
              share: float = 1.0, dropped: dict[str, tuple[str, str]] | None = None) -> list[str]:
    specs = config.data.fields
    settings = config.candidates
    n_records = max(round(len(prepared) / share), 1)          # the whole table's, when prepared is a sample
    whole = n_records * (n_records - 1) // 2
    if share >= 1 and whole <= min(FULL_COMPARISON_PAIRS, settings.max_pairs):
        reasons["pass:" + WHOLE_TABLE] = (f"{whole:,} pairs, {(n_records - 1) / 2:.1f} pairs/record: every pair of "
                                          f"the {n_records:,} records is compared (at most {FULL_COMPARISON_PAIRS:,} "
                                          "pairs: a table this small loses no pair to blocking)")
        return [WHOLE_TABLE]
    dropped = {} if dropped is None else dropped
    candidates = _candidates(specs, fields, profiles, person, base_names, reasons)
    if len(prepared) > BLOCKING_SAMPLE_ROWS:    # a large table: the passes are chosen on a uniform sample
        share *= BLOCKING_SAMPLE_ROWS / len(prepared)
        prepared = prepared.sample(BLOCKING_SAMPLE_ROWS, random_state=0)
    if not candidates:
        raise DataError("no blocking pass could be derived: no identifier, phone, email, address, name, date or "
                        "place field to block on", "declare model.params.blocking_fields (see the README's "
                        "configuration section)")
    choice = pass_choice.choose(prepared, candidates, comparisons, settings, share)
    for entry in choice.passes:
        reasons["pass:" + entry] = choice.reasons[entry]
    for entry, (group, numbers) in choice.dropped.items():
        reasons["dropped:" + entry] = f"{group}: {numbers}" if group and numbers else group or numbers
        dropped[entry] = (group, numbers)
    reasons["budget"] = choice.budget_line
    if not choice.passes:
        raise DataError("no blocking pass could be derived: no identifier, phone, email or address, and no name, "
                        f"date or place key finds likely duplicates within the budget ({choice.budget_line})",
                        "declare model.params.blocking_fields (see the README's configuration section)")
    return choice.passes


def _candidates(specs, fields: list[str], profiles: dict[str, FieldProfile], person: list[str],
                base_names: list[str], reasons: dict[str, str]) -> list[tuple[str, str]]:
    """The candidate passes (entry, why), in order of preference when two find the same pairs:
    each identifier, contact or address alone, then keys of two pieces of evidence about who a
    record is (two fields' robust forms: names by sound, a date or its year, a place or its sound)."""
    out: list[tuple[str, str]] = []
    for f in fields:
        p = profiles[f]
        if specs[f].type in ALONE_TYPES and p.distinct > 1:
            out.append((f, f"alone ({p.present:.0%} of records hold it)"))
    usable = [f for f in fields if profiles[f].present >= MIN_PARTNER_PRESENT and profiles[f].distinct > 1]
    alone_ids = {f for f in fields if specs[f].type in ALONE_TYPES and profiles[f].selective}
    names = [f for f in base_names if f in usable]
    dates = sorted((f for f in usable if specs[f].type == "date"), key=lambda f: -profiles[f].present)
    places = sorted((f for f in usable if specs[f].type in PLACE_TYPES and f not in alone_ids),
                    key=lambda f: (-profiles[f].distinct, fields.index(f)))
    person = sorted((f for f in person if f in names), key=fields.index)   # in declaration order, whatever the data
    if person:
        reasons["names"] = ",".join(person)
    if dates:
        reasons["date"] = ", ".join(dates)
    if places:
        reasons["place"] = ", ".join(f"{f} ({profiles[f].distinct:,} values)" for f in places)
    # the robust forms of each field: (key part, field, what it says)
    parts: list[tuple[str, str, str]] = []
    for f in names:
        parts += [(f"phonetic({f})", f, f"{f} by sound"), (f"prefix3({f})", f, f"the first 3 letters of {f}")]
    for f in dates:
        parts += [(f, f, f"the {f}"), (f"year({f})", f, f"the year of {f}")]
    for f in places:
        parts.append((f, f, f"one {f}"))
        if specs[f].type == "text":
            parts.append((f"phonetic({f})", f, f"{f} by sound"))
    joint = ([(f"phonetic({','.join(person)})", set(person), "the names by sound (any order)")]
             if len(person) == 2 else [])
    for key, covered, what in joint:
        for part, f, other in parts:
            if f not in covered:
                out.append((f"{key}+{part}", f"{what}, {other}"))
    for i, (a, fa, wa) in enumerate(parts):
        for b, fb, wb in parts[i + 1:]:
            if fa != fb:
                out.append((f"{a}+{b}", f"{wa}, {wb}"))
    if len(person) == 2:
        initials = "+".join(f"initial({name})" for name in person)
        for part, f, other in parts:
            if f not in person and not part.startswith("prefix3("):
                out.append((f"{initials}+{part}", f"the initials (nicknames, misspellings), {other}"))
    for key, _, what in joint:
        out.append((key, f"{what} alone"))
    for part, f, what in parts:
        out.append((part, f"{what} alone"))
    return out


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
