"""Synthetic historical person records (parish and census registers), with ground truth.

A shape the product finds hard: the same person is transcribed many times (1-30 records, a long
tail, about 8 on average at the default duplicate rate) by different registers over five
centuries (born 1500-2020), with heavy clerical noise and many look-alike people.

People come in sibling groups (a family: surname, father's name, birthplace and home parish
shared, births a few years apart; now and then a younger sibling is given the name of an elder
one) and from towns whose few local families share surnames; some people are namesakes of
another (same given name, surname and birthplace, born within five years). Names are English
(Faker ``en_GB`` lists mixed with the traditional names of the time) or German (Faker
``de_DE``), read with :mod:`golden_record.synthetic.people`'s helpers.

Every record after a person's first carries 1-6 corruptions (:data:`CORRUPTION_KINDS`, mean
about 2.6, each recorded in ``HistoricalData.corruptions``): name typos (insert, delete,
substitute, transpose), phonetic respellings (Smith/Smyth, Meyer/Meier, ph/f, doubled letters),
nicknames, initials, Latinised given names (William/Gulielmus), swapped first and last name, an
error in the father's name, a wrong sex, another spelling of the birthplace or another
birthplace altogether, and dates of birth with a digit typed wrong or two digits transposed
(``1835-81-01`` is kept as written: it makes impossible dates), day and month swapped, the
year off by one to five, or the year only (``1835-01-01`` or ``1835-00-00``). Independently,
a record may show the person after a move (another residence, shared by all such records of
the person) or in another occupation (a new one, or another word for the same). Finally every
field but the id, source and ``updated_at`` is missing in about 20 % of all records,
independently of the others (a first record included).

Dates of birth are text ``YYYY-MM-DD``; a third of the people were born before 1677, which
pandas' nanosecond timestamps cannot hold. Everything is drawn with numpy; only the duplicates go
through a light Python loop. Deterministic for a seed.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from golden_record.synthetic.people import (
    NICKNAMES, _ascii_fold, _choice, _digits, _norm_weights, _obj, _typo, _vocab, _zipf, typo_one_name,
)

HISTORICAL_COLUMNS = [
    "rec_id", "first_name", "surname", "sex", "date_of_birth", "birthplace", "occupation",
    "father_name", "residence", "source", "updated_at",
]
TRUTH_COLUMNS = ["rec_id", "person_id"]
#: the fields that go missing, each in about MISSING_SHARE of all records, independently
MISSING_FIELDS = ("first_name", "surname", "sex", "date_of_birth", "birthplace", "occupation",
                  "father_name", "residence")
MISSING_SHARE = 0.20
CORRUPTION_KINDS = (
    "typo_insert", "typo_delete", "typo_substitute", "typo_transpose", "phonetic", "variant_spelling",
    "nickname", "initial", "latinised", "name_swap", "father_name_error", "sex_error",
    "dob_digit", "dob_transpose", "dob_day_month_swap", "dob_year_off", "dob_year_only",
    "birthplace_spelling", "birthplace_other",
)
#: besides CORRUPTION_KINDS, drawn independently per duplicate
LIFE_KINDS = ("moved", "occupation_change", "occupation_synonym")
# Relative frequency of each kind (order of CORRUPTION_KINDS); a kind that does not apply to a
# record is redrawn. Per duplicate record this makes about 0.6 changes to the given name, 0.5 to
# the surname, 0.85 to the date of birth, 0.3 to the father's name and 0.35 to the birthplace.
_KIND_WEIGHTS = (
    0.035, 0.035, 0.04, 0.03, 0.07, 0.06,
    0.035, 0.045, 0.045, 0.01, 0.11, 0.005,
    0.06, 0.03, 0.04, 0.1, 0.07,
    0.08, 0.05,
)
_N_CORRUPTIONS_P = (0.2, 0.3, 0.25, 0.15, 0.07, 0.03)      # 1-6 per duplicate record, mean ~2.65
_MOVED_P = 0.30             # a duplicate shows the person at their later residence
_OCCUPATION_P = 0.25        # ... in another occupation (40 % of them: another word for the same)

DEFAULT_DUPLICATE_RATE = 0.85   # share of people with more than one record
MAX_RECORDS = 30
#: a duplicated person has 2 + NB(r, p) records, redrawn above MAX_RECORDS: mean ~9.5
_NB_R, _NB_P = 1.2, 0.125
_FAMILY_SIZE_P = (0.65, 0.14, 0.09, 0.06, 0.035, 0.025)    # sibling groups of 1-6
_NAMESAKE_P = 0.05          # of the people without siblings: named like another person of their town
_NECRONYM_P = 0.08          # a younger sibling given the name of an elder one of the same sex
_LOCAL_SURNAME_P = 0.35     # a family's surname from its town's own few families
_TRADITIONAL_P = 0.7        # given names from the period list, else Faker's (modern) lists
_REGION_P = {"en": 0.6, "de": 0.4}
_YEAR_FIRST, _YEAR_LAST = 1500, 2020
_TS_START = np.datetime64("2005-01-01T00:00:00", "s").astype(np.int64)
_TS_END = np.datetime64("2024-12-31T23:59:59", "s").astype(np.int64)

SOURCES = ("baptism_register", "marriage_register", "burial_register", "census", "tax_roll", "muster_roll",
           "civil_register")
_SOURCE_P = (0.25, 0.15, 0.15, 0.2, 0.1, 0.05, 0.1)
_SOURCE_PREFIX = ("BAP", "MAR", "BUR", "CEN", "TAX", "MUS", "CIV")


@dataclass
class HistoricalData:
    records: pd.DataFrame      # exactly HISTORICAL_COLUMNS, rows shuffled
    truth: pd.DataFrame        # rec_id (str), person_id (int64)
    corruptions: pd.DataFrame  # rec_id, kind: one row per corruption (and life change) of a duplicate
    stats: dict


# =============================================================================== vocabulary
_EN_MALE = (("John", 25), ("William", 15), ("Thomas", 12), ("Richard", 6), ("James", 5), ("Robert", 5),
            ("George", 4), ("Henry", 3), ("Edward", 3), ("Joseph", 3), ("Samuel", 2), ("Charles", 2),
            ("Francis", 1.5), ("Christopher", 1), ("Nicholas", 1), ("Matthew", 1), ("Peter", 1), ("Hugh", 1),
            ("Benjamin", 1), ("Daniel", 1), ("Jonathan", 0.5), ("Edmund", 0.5), ("Ralph", 0.5), ("Walter", 0.5),
            ("Humphrey", 0.3), ("Roger", 0.5), ("Isaac", 0.5), ("Abraham", 0.3), ("Stephen", 0.5), ("Michael", 0.5))
_EN_FEMALE = (("Mary", 20), ("Elizabeth", 15), ("Anne", 10), ("Sarah", 8), ("Margaret", 6), ("Jane", 5),
              ("Ann", 5), ("Catherine", 3), ("Hannah", 3), ("Alice", 3), ("Martha", 2), ("Susanna", 2),
              ("Frances", 1.5), ("Joan", 2), ("Agnes", 2), ("Ellen", 2), ("Isabel", 1), ("Dorothy", 1.5),
              ("Grace", 1), ("Rebecca", 1), ("Esther", 1), ("Eleanor", 1), ("Judith", 0.5), ("Bridget", 0.5))
_DE_MALE = (("Johann", 25), ("Johannes", 8), ("Georg", 8), ("Heinrich", 7), ("Friedrich", 6), ("Wilhelm", 5),
            ("Jakob", 5), ("Peter", 4), ("Andreas", 3), ("Christian", 4), ("Karl", 3), ("Michael", 3),
            ("Philipp", 3), ("Adam", 2), ("Konrad", 2), ("Martin", 2), ("Matthias", 2), ("Caspar", 1),
            ("Nikolaus", 1.5), ("Franz", 2), ("Joseph", 2), ("Anton", 1.5), ("Ludwig", 1.5), ("Hans", 2))
_DE_FEMALE = (("Anna", 20), ("Maria", 15), ("Katharina", 10), ("Elisabeth", 8), ("Margaretha", 7),
              ("Barbara", 5), ("Magdalena", 4), ("Christina", 4), ("Eva", 3), ("Sophia", 3), ("Dorothea", 3),
              ("Regina", 1), ("Susanna", 2), ("Johanna", 3), ("Wilhelmine", 1), ("Friederike", 1),
              ("Louise", 1), ("Apollonia", 0.5), ("Ursula", 1.5), ("Agnes", 1))
_EN_SURNAMES = (("Smith", 14), ("Jones", 8), ("Taylor", 7), ("Brown", 7), ("Williams", 6), ("Wilson", 5),
                ("Johnson", 5), ("Davies", 4), ("Robinson", 4), ("Wright", 4), ("Thompson", 4), ("Evans", 3),
                ("Walker", 3), ("White", 3), ("Roberts", 3), ("Green", 3), ("Hall", 3), ("Wood", 3),
                ("Jackson", 3), ("Clarke", 3), ("Cooke", 2), ("Harris", 2), ("Baker", 2), ("Turner", 2),
                ("Hill", 2), ("Moore", 2), ("Ward", 2), ("Phillips", 2), ("Reed", 2), ("Miller", 2))
_EN_TOWNS = ("Whitby", "Kendal", "Ludlow", "Bideford", "Stamford", "Wells", "Ely", "Thirsk", "Malton",
             "Beverley", "Hexham", "Alnwick", "Penrith", "Keswick", "Ripon", "Richmond", "Skipton", "Settle",
             "Otley", "Halifax", "York", "Norwich", "Ipswich", "Colchester", "Bury St Edmunds", "King's Lynn",
             "Boston", "Lincoln", "Grantham", "Newark", "Derby", "Leicester", "Coventry", "Warwick", "Banbury",
             "Abingdon", "Salisbury", "Exeter", "Tiverton", "Barnstaple", "Truro", "Bodmin", "Taunton", "Bath",
             "Gloucester", "Tewkesbury", "Hereford", "Shrewsbury", "Chester", "Lancaster", "Preston")
_DE_TOWNS = ("Nürnberg", "Augsburg", "Ulm", "Würzburg", "Bamberg", "Rothenburg ob der Tauber", "Nördlingen",
             "Heilbronn", "Tübingen", "Esslingen", "Reutlingen", "Speyer", "Worms", "Mainz", "Trier", "Koblenz",
             "Marburg", "Gießen", "Fulda", "Kassel", "Göttingen", "Hildesheim", "Braunschweig", "Lüneburg",
             "Celle", "Goslar", "Quedlinburg", "Halberstadt", "Erfurt", "Weimar", "Jena", "Gotha", "Eisenach",
             "Zwickau", "Freiberg", "Meißen", "Bautzen", "Görlitz", "Köln", "München")
#: other names of a town in the registers (exonyms, old spellings)
TOWN_VARIANTS = {
    "Nürnberg": ("Nuremberg", "Nuernberg", "Nurnberg"), "Köln": ("Cologne", "Coeln", "Cöln"),
    "München": ("Munich", "Muenchen"), "Braunschweig": ("Brunswick",), "Mainz": ("Mayence", "Maintz"),
    "Trier": ("Treves", "Trever"), "Koblenz": ("Coblenz", "Coblentz"), "Kassel": ("Cassel",),
    "Meißen": ("Meissen",), "Gießen": ("Giessen",), "Würzburg": ("Wuerzburg", "Wirzburg"),
    "Rothenburg ob der Tauber": ("Rothenburg", "Rotenburg o.d.T."), "Lüneburg": ("Lueneburg",),
    "Görlitz": ("Goerlitz",), "Göttingen": ("Goettingen", "Gottingen"), "Tübingen": ("Tuebingen",),
    "Nördlingen": ("Noerdlingen",), "Bury St Edmunds": ("Bury St. Edmunds", "St Edmundsbury", "Bury"),
    "King's Lynn": ("Lynn Regis", "Kings Lynn", "Lynn"), "Salisbury": ("New Sarum", "Sarum"),
    "Shrewsbury": ("Salop", "Shrewesbury"), "York": ("Yorke",), "Whitby": ("Whitbie",), "Kendal": ("Kendall",),
}
_EN_OCCUPATIONS = {
    True: (("Agricultural Labourer", 20), ("Labourer", 12), ("Farmer", 8), ("Husbandman", 5), ("Yeoman", 3),
           ("Weaver", 4), ("Tailor", 3), ("Shoemaker", 3), ("Blacksmith", 3), ("Carpenter", 3), ("Mason", 2),
           ("Miller", 2), ("Baker", 2), ("Butcher", 2), ("Mariner", 2), ("Fisherman", 2), ("Miner", 3),
           ("Clerk", 1), ("Merchant", 1), ("Innkeeper", 1), ("Schoolmaster", 0.5), ("Soldier", 1),
           ("Servant", 2), ("Gentleman", 0.5)),
    False: (("Servant", 15), ("Spinster", 8), ("Housewife", 10), ("Spinner", 5), ("Seamstress", 4),
            ("Dressmaker", 4), ("Laundress", 3), ("Weaver", 3), ("Widow", 3), ("Agricultural Labourer", 2),
            ("Schoolmistress", 1), ("Milliner", 1)),
}
_DE_OCCUPATIONS = {
    True: (("Bauer", 15), ("Tagelöhner", 15), ("Knecht", 6), ("Weber", 5), ("Schneider", 4), ("Schuhmacher", 4),
           ("Schmied", 3), ("Zimmermann", 3), ("Maurer", 2), ("Müller", 2), ("Bäcker", 2), ("Metzger", 2),
           ("Bergmann", 3), ("Händler", 1), ("Wirt", 1), ("Lehrer", 0.5), ("Soldat", 1), ("Schreiber", 1)),
    False: (("Magd", 15), ("Ehefrau", 12), ("Hausfrau", 8), ("Spinnerin", 5), ("Näherin", 4), ("Wäscherin", 3),
            ("Witwe", 3), ("Tagelöhnerin", 3), ("Dienstmagd", 4)),
}
#: occupations written otherwise for the same work
OCCUPATION_SYNONYMS = (
    ("Agricultural Labourer", "Ag Lab", "Farm Labourer", "Ag. Labourer"), ("Labourer", "Laborer", "Lab."),
    ("Shoemaker", "Cordwainer", "Boot Maker"), ("Husbandman", "Farmer"), ("Blacksmith", "Smith"),
    ("Spinster", "Single Woman"), ("Housewife", "Wife", "Home Duties"), ("Servant", "Domestic Servant", "Serv."),
    ("Mariner", "Seaman", "Sailor"), ("Miner", "Coal Miner", "Collier"), ("Tagelöhner", "Taglöhner"),
    ("Schuhmacher", "Schuster"), ("Metzger", "Fleischer"), ("Ehefrau", "Eheweib"), ("Magd", "Dienstmagd"),
    ("Bauer", "Ackermann", "Landwirt"), ("Schmied", "Hufschmied"), ("Näherin", "Naeherin"),
)
#: vernacular given name -> Latin forms of the parish registers
LATIN_NAMES = {
    "John": ("Johannes", "Joannes"), "William": ("Gulielmus", "Willelmus"), "Thomas": ("Thomas",),
    "Richard": ("Ricardus",), "James": ("Jacobus",), "Robert": ("Robertus",), "George": ("Georgius",),
    "Henry": ("Henricus",), "Edward": ("Edwardus",), "Joseph": ("Josephus",), "Charles": ("Carolus",),
    "Francis": ("Franciscus",), "Christopher": ("Christophorus",), "Nicholas": ("Nicolaus",),
    "Matthew": ("Matthaeus",), "Peter": ("Petrus",), "Hugh": ("Hugo",), "Stephen": ("Stephanus",),
    "Edmund": ("Edmundus",), "Ralph": ("Radulphus",), "Walter": ("Gualterus",), "Roger": ("Rogerus",),
    "Mary": ("Maria",), "Elizabeth": ("Elizabetha", "Elisabetha"), "Anne": ("Anna",), "Ann": ("Anna",),
    "Sarah": ("Sara",), "Margaret": ("Margareta", "Margaretta"), "Jane": ("Joanna",), "Joan": ("Johanna",),
    "Catherine": ("Catharina",), "Alice": ("Alicia",), "Frances": ("Francisca",), "Agnes": ("Agneta",),
    "Ellen": ("Elena",), "Isabel": ("Isabella",), "Dorothy": ("Dorothea",), "Eleanor": ("Elianora",),
    "Johann": ("Johannes", "Joannes"), "Georg": ("Georgius",), "Heinrich": ("Henricus",),
    "Friedrich": ("Fridericus",), "Wilhelm": ("Guilelmus", "Wilhelmus"), "Jakob": ("Jacobus",),
    "Karl": ("Carolus",), "Philipp": ("Philippus",), "Konrad": ("Conradus",), "Martin": ("Martinus",),
    "Matthias": ("Matthias",), "Caspar": ("Casparus",), "Nikolaus": ("Nicolaus",), "Franz": ("Franciscus",),
    "Anton": ("Antonius",), "Ludwig": ("Ludovicus",), "Andreas": ("Andreas",), "Christian": ("Christianus",),
    "Michael": ("Michael",), "Katharina": ("Catharina",), "Elisabeth": ("Elisabetha",),
    "Margaretha": ("Margaretha", "Margareta"), "Sophia": ("Sophia",), "Christina": ("Christina",),
    "Johanna": ("Joanna",), "Susanna": ("Susanna",),
}
#: names of the time's own familiar forms, besides people.NICKNAMES
HISTORICAL_NICKNAMES = {
    "Mary": ("Polly", "Molly", "May"), "Margaret": ("Peg", "Peggy", "Maggie"), "Anne": ("Nan", "Nancy"),
    "Ann": ("Nan", "Nancy"), "Elizabeth": ("Bess", "Betty", "Eliza", "Bet"), "Henry": ("Hal", "Harry"),
    "John": ("Jack", "Jno."), "Christopher": ("Kit",), "Edward": ("Ned", "Ted"), "Sarah": ("Sally",),
    "Martha": ("Patty", "Matty"), "Dorothy": ("Dolly", "Dot"), "Catherine": ("Kitty", "Kate"),
    "Isabel": ("Bella", "Ibbot"), "Eleanor": ("Nell", "Ellie"), "Ellen": ("Nell",), "Hannah": ("Nan",),
    "William": ("Will", "Wm.", "Bill"), "Thomas": ("Tom", "Thos."), "James": ("Jas.", "Jem"),
    "Richard": ("Dick", "Richd."), "Robert": ("Bob", "Robt."), "Charles": ("Chas.", "Charlie"),
    "Joseph": ("Jos.", "Joe"), "Samuel": ("Saml.", "Sam"), "Benjamin": ("Benj.", "Ben"),
    "Johann": ("Hans", "Joh."), "Johannes": ("Hans", "Joh."), "Jakob": ("Jockel",), "Georg": ("Jörg", "Schorsch"),
    "Nikolaus": ("Klaus", "Nickel"), "Katharina": ("Käthe", "Trine"), "Margaretha": ("Grete", "Gretchen"),
    "Elisabeth": ("Liese", "Elise"), "Barbara": ("Bärbel",), "Magdalena": ("Lene",), "Joseph": ("Sepp", "Jos."),
    "Maria": ("Mariechen", "Mia"), "Christina": ("Stine",), "Friedrich": ("Fritz",),
}
#: surname spelling variants found for one family
SURNAME_VARIANTS = (
    ("Smith", "Smyth", "Smythe"), ("Brown", "Browne"), ("Clarke", "Clark", "Clerk"), ("Green", "Greene"),
    ("Taylor", "Tailor", "Taylour"), ("Miller", "Millar"), ("Johnson", "Jonson", "Johnsen"),
    ("Thompson", "Thomson", "Tomson"), ("White", "Whyte"), ("Wood", "Woode"), ("Hall", "Halle"),
    ("Cooke", "Cook"), ("Moore", "More", "Moor"), ("Harris", "Harries"), ("Phillips", "Philips"),
    ("Reed", "Reid", "Read"), ("Davies", "Davis", "Davys"), ("Evans", "Evens"), ("Wright", "Wrighte"),
    ("Walker", "Walcker"), ("Jones", "Johnes"), ("Williams", "Willyams"), ("Robinson", "Robynson"),
    ("Meyer", "Meier", "Maier", "Mayer", "Mayr"), ("Schmidt", "Schmid", "Schmitt", "Schmitz"),
    ("Müller", "Mueller", "Muller", "Miller"), ("Schneider", "Schnyder", "Sneider"),
    ("Hoffmann", "Hofmann", "Hoffman"), ("Schulz", "Schultz", "Schulze", "Scholz"), ("Fischer", "Fischer", "Vischer"),
    ("Becker", "Bäcker", "Becher"), ("Wagner", "Wegner", "Wagener"), ("Weber", "Webber"),
    ("Schäfer", "Schaefer", "Schäffer"), ("Koch", "Kock"), ("Bauer", "Baur", "Pauer"), ("Richter", "Richtter"),
    ("Klein", "Kleyn", "Klain"), ("Wolf", "Wolff", "Wulf"), ("Neumann", "Neuman", "Naumann"),
    ("Schwarz", "Schwartz", "Schwarze"), ("Zimmermann", "Zimmerman"), ("Braun", "Brun", "Praun"),
    ("Krüger", "Krueger", "Kruger"), ("Hartmann", "Hartman"), ("Lange", "Lang"), ("Werner", "Wernher"),
    ("Krause", "Kraus", "Krauss"), ("Lehmann", "Lehman", "Leemann"), ("König", "Koenig", "Konig"),
)
#: phonetic respellings: (pattern on the lower-case name, replacement); one applicable rule is drawn
RESPELLINGS = tuple((re.compile(p), r) for p, r in (
    (r"ph", "f"), (r"(?<=[aeiou])f(?=[aeiou])", "ph"), (r"(?<=[^aeiouy])y(?=[^aeiou]|$)", "i"),
    (r"(?<=[^aeiou])i(?=[^aeiou])", "y"), (r"ck", "k"), (r"(?<=[aeiou])k(?=[^k]|$)", "ck"),
    (r"^c(?=[aou])", "k"), (r"^k(?=[aou])", "c"), (r"th", "t"), (r"(?<=[aeiou])([lnrstmpf])(?=[aeiou]|$)", r"\1\1"),
    (r"([lnrstmpf])\1", r"\1"), (r"(?<=[^aeiou])e$", ""), (r"(?<=[bdgklmnprst])$", "e"), (r"ei", "ai"),
    (r"ai", "ei"), (r"ey", "ay"), (r"ie$", "y"), (r"(?<=[^aeiou])y$", "ie"), (r"ou", "ow"), (r"ow", "ou"),
    (r"tz", "z"), (r"(?<=[aeiou])z", "tz"), (r"dt$", "t"), (r"ss", "ß"), (r"ß", "ss"), (r"sch", "sh"),
    (r"mann$", "man"), (r"(?<=[^n])man$", "mann"), (r"son$", "sen"), (r"sen$", "son"), (r"ä", "ae"),
    (r"ö", "oe"), (r"ü", "ue"), (r"^w(?=[aeiou])", "v"), (r"ea", "ee"), (r"ee", "ea"), (r"(?<=.)j", "i"),
))


def _latin_form(name: str, male: bool, r: random.Random) -> str | None:
    """The Latin form of a given name: the registers' own (William -> Gulielmus), else the common
    endings (Bernhard -> Bernhardus, Gertrud -> Gertruda). None when the name has no other form."""
    forms = [f for f in LATIN_NAMES.get(name, ()) if f != name]
    if forms:
        return r.choice(forms)
    if name in LATIN_NAMES or not name.isalpha() or len(name) < 3:
        return None
    if male and name[-1] not in "aeiouys":
        return name + "us"
    if not male and name[-1] not in "aeiou":
        return name + "a"
    if not male and name.endswith("e"):
        return name[:-1] + "a"
    return None


def _recap(low: str) -> str:
    """Capitals back after a rewrite of the lower-case name: first letter, and after - ' or a space."""
    out, cap = [], True
    for ch in low:
        out.append(ch.upper() if cap else ch)
        cap = ch in "-' "
    return "".join(out)


def respell(name: str, r: random.Random) -> str | None:
    """One phonetic respelling of ``name`` (Smith -> Smyth, Philipp -> Filipp, Meier -> Maier),
    drawn among the rules that apply; None when none does."""
    low = name.lower()
    rules = list(RESPELLINGS)
    r.shuffle(rules)
    for pattern, repl in rules:
        matches = list(pattern.finditer(low))
        if not matches:
            continue
        m = r.choice(matches)
        new = low[:m.start()] + m.expand(repl) + low[m.end():]
        if new != low and len(new) >= 2:
            return _recap(new)
    return None


class _HistVocab:
    def __init__(self):
        V = _vocab()
        self.given, self.surnames, self.towns, self.occupations = {}, {}, {}, {}
        for region, faker_loc, period, sur, towns, occ in (
                ("en", "en_GB", (_EN_MALE, _EN_FEMALE), _EN_SURNAMES, _EN_TOWNS, _EN_OCCUPATIONS),
                ("de", "de_DE", (_DE_MALE, _DE_FEMALE), None, _DE_TOWNS, _DE_OCCUPATIONS)):
            male, female, faker_sur = V.names[faker_loc]
            self.given[region] = {
                True: (_weighted(period[0]), male), False: (_weighted(period[1]), female)}
            if sur is None:             # de_DE's surnames are weighted, the commonest first
                self.surnames[region] = faker_sur
            else:                       # en_GB's are not: the period's commonest mixed in by half
                names = np.concatenate([_obj([n for n, _ in sur]), faker_sur[0]])
                w = np.concatenate([0.5 * _norm_weights([w for _, w in sur]), 0.5 * faker_sur[1]])
                self.surnames[region] = (names, _norm_weights(w))
            self.towns[region] = (_obj(towns), _norm_weights(_zipf(len(towns), offset=3.0, power=0.8)))
            self.occupations[region] = {k: _weighted(v) for k, v in occ.items()}
        self.nicknames = {k: tuple(v) for k, v in NICKNAMES.items()}
        for k, v in HISTORICAL_NICKNAMES.items():
            self.nicknames[k] = tuple(dict.fromkeys(v + self.nicknames.get(k, ())))
        self.surname_variants = {}
        for group in SURNAME_VARIANTS:
            for n in group:
                self.surname_variants[n] = tuple(x for x in dict.fromkeys(group) if x != n)
        self.occupation_synonyms = {}
        for group in OCCUPATION_SYNONYMS:
            for n in group:
                self.occupation_synonyms[n] = tuple(x for x in dict.fromkeys(group) if x != n)
        self.region_towns = {region: list(t[0]) for region, t in self.towns.items()}


def _weighted(pairs) -> tuple[np.ndarray, np.ndarray]:
    return _obj([n for n, _ in pairs]), _norm_weights([w for _, w in pairs])


@lru_cache(maxsize=1)
def _hist_vocab() -> _HistVocab:
    return _HistVocab()


# =============================================================================== arguments and plan
def check_arguments(rows, duplicate_rate) -> tuple[int, float]:
    """``rows`` an integer >= 1 and ``duplicate_rate`` a number in [0, 1), or ValueError."""
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ValueError(f"rows must be an integer >= 1, got {rows!r}")
    try:
        duplicate_rate = float(duplicate_rate)
    except (TypeError, ValueError):
        raise ValueError(f"duplicate_rate must be a number in [0, 1), got {duplicate_rate!r}") from None
    if not 0.0 <= duplicate_rate < 1.0:
        raise ValueError(f"duplicate_rate must be in [0, 1), got {duplicate_rate}")
    return int(rows), duplicate_rate


def fill_rows(rows: int, draw, rng: np.random.Generator) -> np.ndarray:
    """Records per person, drawn ``draw(rng, n)`` person by person until ``rows`` are reached; the
    last person gets the rows left over. The counts sum to ``rows`` exactly."""
    out, total = [], 0
    while total < rows:
        k = draw(rng, max(16, (rows - total) // 2))
        cs = total + np.cumsum(k)
        j = int(np.searchsorted(cs, rows, side="right"))
        out.append(k[:j])
        total = int(cs[j - 1]) if j else total
        if j < len(k) and total < rows:
            out.append(np.array([rows - total], dtype=np.int64))
            total = rows
    return np.concatenate(out).astype(np.int64)


def _records_per_person(duplicate_rate: float):
    def draw(rng, n):
        extra = rng.negative_binomial(_NB_R, _NB_P, n)
        while (big := extra > MAX_RECORDS - 2).any():
            extra[big] = rng.negative_binomial(_NB_R, _NB_P, int(big.sum()))
        return np.where(rng.random(n) < duplicate_rate, 2 + extra, 1).astype(np.int64)
    return draw


# =============================================================================== population
def _population(n: int, rng: np.random.Generator, H: _HistVocab, r: random.Random) -> dict:
    """People in sibling groups: region, town, surname, father, birth years, names, occupations."""
    sizes = rng.choice(np.arange(1, len(_FAMILY_SIZE_P) + 1), size=n, p=_norm_weights(_FAMILY_SIZE_P))
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    fam = np.repeat(np.arange(len(sizes)), sizes)[:n]
    n_fam = int(fam[-1]) + 1
    order = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)[:n]     # sibling rank
    fam_size = np.bincount(fam, minlength=n_fam)

    regions = np.array(list(_REGION_P))
    f_region = regions[rng.choice(len(regions), size=n_fam, p=_norm_weights(list(_REGION_P.values())))]
    f_town = np.empty(n_fam, dtype=object)
    f_home = np.empty(n_fam, dtype=object)
    f_surname = np.empty(n_fam, dtype=object)
    f_father = np.empty(n_fam, dtype=object)
    for region in _REGION_P:
        m = f_region == region
        k = int(m.sum())
        towns, tp = H.towns[region]
        f_town[m] = _choice(rng, towns, tp, k)
        other = _choice(rng, towns, tp, k)
        f_home[m] = np.where(rng.random(k) < 0.65, f_town[m], other)
        names, sp = H.surnames[region]
        national = _choice(rng, names, sp, k)
        # each town's few old families: 12 surnames of the region, fixed for the town in this run
        local_pool = {t: _choice(rng, names, sp, 12) for t in towns.tolist()}
        local = np.array([local_pool[t][j] for t, j in zip(f_town[m].tolist(), rng.integers(0, 12, k).tolist())],
                         dtype=object)
        f_surname[m] = np.where(rng.random(k) < _LOCAL_SURNAME_P, local, national)
        f_father[m] = _given(rng, H, region, np.ones(k, dtype=bool))
    f_year = rng.integers(_YEAR_FIRST, _YEAR_LAST - 5, n_fam)

    region = f_region[fam]
    male = rng.random(n) < 0.5
    given = np.empty(n, dtype=object)
    for reg in _REGION_P:
        m = region == reg
        given[m] = _given(rng, H, reg, male[m])
    gaps = rng.integers(1, 5, n)                         # 1-4 years between siblings
    gaps[order == 0] = 0
    cs = np.cumsum(gaps)
    starts = np.cumsum(fam_size) - fam_size
    year = f_year[fam] + cs - cs[starts][fam]
    year = np.minimum(year, _YEAR_LAST)
    surname, town, home = f_surname[fam], f_town[fam], f_home[fam]
    father_given = f_father[fam].copy()

    # necronyms: a younger sibling named after an elder one of the same sex
    necronyms = 0
    for f in np.flatnonzero(fam_size > 1).tolist():
        idx = range(starts[f], starts[f] + fam_size[f])
        for j in idx[1:]:
            if r.random() < _NECRONYM_P:
                elder = [e for e in idx if e < j and male[e] == male[j] and given[e] != given[j]]
                if elder:
                    given[j] = given[r.choice(elder)]
                    necronyms += 1

    # namesakes: a person without siblings named like another person of the same town
    alone = np.flatnonzero(fam_size[fam] == 1)
    k_ns = int(round(_NAMESAKE_P * len(alone)))
    ns = rng.choice(alone, size=k_ns, replace=False) if k_ns else np.array([], dtype=np.int64)
    models = rng.integers(0, n, len(ns))
    keep = models != ns
    ns, models = ns[keep], models[keep]
    given[ns], surname[ns], male[ns] = given[models], surname[models], male[models]
    town[ns], region[ns] = town[models], region[models]
    home[ns] = np.where(rng.random(len(ns)) < 0.5, town[models], home[models])
    year[ns] = np.clip(year[models] + rng.integers(-5, 6, len(ns)), _YEAR_FIRST, _YEAR_LAST)
    for reg in _REGION_P:   # their fathers: of their (new) region
        m = region[ns] == reg
        father_given[ns[m]] = _given(rng, H, reg, np.ones(int(m.sum()), dtype=bool))

    # month and day: any valid date of the year
    doy = rng.random(n)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ndays = np.where(leap, 366, 365)
    day_of_year = (doy * ndays).astype(np.int64)
    cum = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365])
    shift = np.where(leap & (day_of_year >= 59), 1, 0)
    d0 = day_of_year - shift                               # day of a common year, 0..364
    month = np.searchsorted(cum, d0, side="right")
    day = d0 - cum[month - 1] + 1
    feb29 = leap & (day_of_year == 59)
    month[feb29], day[feb29] = 2, 29

    occ0 = np.empty(n, dtype=object)
    occ1 = np.empty(n, dtype=object)
    moved_to = np.empty(n, dtype=object)
    for reg in _REGION_P:
        for g in (True, False):
            m = (region == reg) & (male == g)
            names, p = H.occupations[reg][g]
            occ0[m] = _choice(rng, names, p, int(m.sum()))
            occ1[m] = _choice(rng, names, p, int(m.sum()))
        m = region == reg
        towns, tp = H.towns[reg]
        moved_to[m] = _choice(rng, towns, tp, int(m.sum()))
    same = occ1 == occ0
    for _ in range(10):          # a change of occupation is to another one
        if not same.any():
            break
        for reg in _REGION_P:
            for g in (True, False):
                m = same & (region == reg) & (male == g)
                names, p = H.occupations[reg][g]
                occ1[m] = _choice(rng, names, p, int(m.sum()))
        same = occ1 == occ0
    stay = moved_to == home
    for reg in _REGION_P:         # a move is to another town
        m = stay & (region == reg)
        towns = H.towns[reg][0]
        at = np.array([H.region_towns[reg].index(t) for t in home[m].tolist()], dtype=np.int64)
        moved_to[m] = towns[(at + rng.integers(1, len(towns), int(m.sum()))) % len(towns)]
    father = father_given + " " + surname
    return {"region": region, "male": male, "given": given, "surname": surname, "y": year, "m": month,
            "d": day, "town": town, "home": home, "moved_to": moved_to, "occ0": occ0, "occ1": occ1,
            "father": father, "family": fam, "n_families": n_fam,
            "families_with_siblings": int((fam_size > 1).sum()), "necronyms": necronyms, "namesakes": int(len(ns))}


def _given(rng, H: _HistVocab, region: str, male: np.ndarray) -> np.ndarray:
    """Given names of one region by sex: the period list, else (30 %) Faker's lists."""
    out = np.empty(len(male), dtype=object)
    for g in (True, False):
        m = male == g
        k = int(m.sum())
        if not k:
            continue
        (pn, pp), (fn, fp) = H.given[region][g]
        out[m] = np.where(rng.random(k) < _TRADITIONAL_P, _choice(rng, pn, pp, k), _choice(rng, fn, fp, k))
    return out


# =============================================================================== corruptions
def _date_text(y: int, m: int, d: int) -> str:
    return f"{y:04d}-{m:02d}-{d:02d}"


#: kinds of which a record gets one at most: each replaces the given name, or the date's precision
_EXCLUSIVE = ({"latinised", "nickname", "initial"}, {"dob_day_month_swap", "dob_year_only"})
#: the order kinds apply in: replacements of the given name before respellings and typos; the
#: date's year, order and precision before the digit errors made on it as written
_ORDER = {k: i for i, k in enumerate((
    "latinised", "nickname", "initial", "variant_spelling", "phonetic", "typo_insert", "typo_delete",
    "typo_substitute", "typo_transpose", "name_swap", "father_name_error", "sex_error",
    "dob_year_off", "dob_year_only", "dob_day_month_swap", "dob_digit", "dob_transpose",
    "birthplace_other", "birthplace_spelling"))}


def _applies(kind: str, C: dict, i: int, H: _HistVocab) -> bool:
    """Whether ``kind`` can change duplicate ``i`` as generated (before any corruption)."""
    if kind == "latinised":
        g = C["given"][i]
        return any(f != g for f in LATIN_NAMES.get(g, ())) or (
            g not in LATIN_NAMES and g.isalpha() and len(g) >= 3
            and (g[-1] not in "aeiouys" if C["male"][i] else (g[-1] not in "aiou")))
    if kind == "nickname":
        return C["given"][i] in H.nicknames
    if kind == "initial":
        return len(C["given"][i]) > 1
    if kind.startswith("typo_"):
        return max(len(C["given"][i]), len(C["surname"][i])) >= 3
    if kind == "name_swap":
        return C["given"][i] != C["surname"][i]
    if kind == "dob_day_month_swap":
        return C["d"][i] != C["m"][i]
    return True


def _corrupt(C: dict, n_corr: list, kind_draws: list, r: random.Random, H: _HistVocab) -> list:
    """Apply the drawn corruptions to each duplicate in ``C`` (lists, changed in place); return
    [(duplicate index, kind), ...]. Each kind at most once per record; a kind that does not apply
    (no nickname, no Latin form, a second replacement of the given name...) is redrawn."""
    kinds = CORRUPTION_KINDS
    cum = np.cumsum(_KIND_WEIGHTS).tolist()
    out = []
    rand = r.random
    for i in range(len(n_corr)):
        want = n_corr[i]
        chosen: list = []
        pre = kind_draws[i]
        attempts = 0
        while len(chosen) < want and attempts < 40:
            kind = kinds[pre[attempts]] if attempts < len(pre) else r.choices(kinds, cum_weights=cum)[0]
            attempts += 1
            if kind in chosen or any(kind in g and g & set(chosen) for g in _EXCLUSIVE) \
                    or not _applies(kind, C, i, H):
                continue
            chosen.append(kind)
        chosen.sort(key=_ORDER.__getitem__)
        y, mo, d = C["y"][i], C["m"][i], C["d"][i]
        dob = None                          # written once the year and order are settled
        done = []
        for kind in chosen:
            ok = False
            male = C["male"][i]
            if kind == "latinised":
                new = _latin_form(C["given"][i], male, r)
                if new:
                    C["given"][i] = new
                    ok = True
            elif kind == "nickname":
                options = H.nicknames.get(C["given"][i])
                if options:
                    C["given"][i] = r.choice(options)
                    ok = True
            elif kind == "initial":
                g = C["given"][i]
                if len(g) > 1:
                    dot = "." if rand() < 0.6 else ""
                    C["given"][i] = " ".join(t[0].upper() + dot for t in g.split())
                    ok = True
            elif kind == "variant_spelling":
                s = C["surname"][i]
                options = H.surname_variants.get(s)
                new = r.choice(options) if options else respell(s, r)
                if new and new != s:
                    C["surname"][i] = new
                    ok = True
            elif kind == "phonetic":
                f = "given" if rand() < 0.5 else "surname"
                for field in (f, "surname" if f == "given" else "given"):
                    new = respell(C[field][i], r)
                    if new:
                        C[field][i] = new
                        ok = True
                        break
            elif kind.startswith("typo_"):
                ok = typo_one_name(C, i, kind, r) or ok
            elif kind == "name_swap":
                if C["given"][i] != C["surname"][i]:
                    C["given"][i], C["surname"][i] = C["surname"][i], C["given"][i]
                    ok = True
            elif kind == "father_name_error":
                fg, _, fs = C["father"][i].partition(" ")
                x = rand()
                if x < 0.35:
                    new = (_typo(fg, r.choice(("typo_insert", "typo_delete", "typo_substitute")), r) or fg) + " " + fs
                elif x < 0.6:
                    new = fg + " " + (respell(fs, r) or fs)
                elif x < 0.85:
                    new = fg[0] + ". " + fs
                else:
                    new = fg                  # the father's given name only
                if new != C["father"][i]:
                    C["father"][i] = new
                    ok = True
            elif kind == "sex_error":
                C["male"][i] = not male
                ok = True
            elif kind == "dob_year_off":
                step = r.choice((-1, 1)) * (1 if rand() < 0.65 else r.randint(2, 5))
                y = y + step
                ok = True
            elif kind == "dob_day_month_swap":
                if d != mo:
                    mo, d = d, mo                      # day > 12: an impossible month, kept as written
                    ok = True
            elif kind == "dob_year_only":
                mo = d = 1 if rand() < 0.75 else 0
                ok = True
            elif kind in ("dob_digit", "dob_transpose"):
                text = dob or _date_text(y, mo, d)
                positions = [1, 2, 3, 5, 6, 8, 9]     # not the millennium, not the dashes
                r.shuffle(positions)
                for p in positions:
                    if kind == "dob_digit":
                        new = text[:p] + str(r.randrange(10)) + text[p + 1:]
                    else:
                        q = p + 1
                        if q in (4, 7, 10) or text[p] == text[q]:
                            continue
                        new = text[:p] + text[q] + text[p] + text[q + 1:]
                    if new != text:
                        dob = new
                        ok = True
                        break
            elif kind == "birthplace_spelling":
                t = C["town"][i]
                options = TOWN_VARIANTS.get(t)
                new = r.choice(options) if options and rand() < 0.8 else (_ascii_fold(t) if not t.isascii()
                                                                          else respell(t, r))
                if new and new != t:
                    C["town"][i] = new
                    ok = True
            elif kind == "birthplace_other":
                # the clerk wrote where the person lived, or another town of the region
                other = C["residence"][i] if rand() < 0.6 else r.choice(H.region_towns[C["region"][i]])
                if other != C["town"][i]:
                    C["town"][i] = other
                    ok = True
            if ok:
                done.append(kind)
        C["dob"][i] = dob or _date_text(y, mo, d)
        out.extend((i, k) for k in done)
    return out


# =============================================================================== generate
def generate(rows: int, duplicate_rate: float = DEFAULT_DUPLICATE_RATE, seed: int = 0) -> HistoricalData:
    """``rows`` historical person records; ``duplicate_rate`` = share of people with more than one
    record (they have 2-30, mean ~9.5: about 8 records per person at the default rate)."""
    rows, duplicate_rate = check_arguments(rows, duplicate_rate)
    seed = int(seed)
    rng = np.random.default_rng(seed)
    r = random.Random(int(rng.integers(0, 2**63 - 1)))
    H = _hist_vocab()
    mult = fill_rows(rows, _records_per_person(duplicate_rate), rng)
    n_people = len(mult)
    P = _population(n_people, rng, H, r)

    # ---- records: each person's first record, then the duplicates
    dup_people = np.flatnonzero(mult > 1)
    extra = mult[dup_people] - 1
    copy_person = np.repeat(dup_people, extra)
    n_c = len(copy_person)
    rec_person = np.concatenate([np.arange(n_people), copy_person])

    # life changes of a duplicate: the later residence, another occupation
    moved = rng.random(n_c) < _MOVED_P
    occ_change = rng.random(n_c) < _OCCUPATION_P
    synonym_try = rng.random(n_c) < 0.4
    residence_c = np.where(moved, P["moved_to"][copy_person], P["home"][copy_person])
    occupation_c = np.where(occ_change, P["occ1"][copy_person], P["occ0"][copy_person])
    syn_applied = np.zeros(n_c, dtype=bool)
    for j in np.flatnonzero(occ_change & synonym_try).tolist():
        options = H.occupation_synonyms.get(P["occ0"][copy_person[j]])
        if options:
            occupation_c[j] = r.choice(options)
            syn_applied[j] = True

    C = {"given": P["given"][copy_person].tolist(), "surname": P["surname"][copy_person].tolist(),
         "y": P["y"][copy_person].tolist(), "m": P["m"][copy_person].tolist(), "d": P["d"][copy_person].tolist(),
         "male": P["male"][copy_person].tolist(), "father": P["father"][copy_person].tolist(),
         "town": P["town"][copy_person].tolist(), "region": P["region"][copy_person].tolist(),
         "residence": residence_c.tolist(), "dob": [None] * n_c}
    n_corr = (rng.choice(len(_N_CORRUPTIONS_P), size=n_c, p=_norm_weights(_N_CORRUPTIONS_P)) + 1).tolist()
    kind_draws = rng.choice(len(CORRUPTION_KINDS), size=(n_c, 12), p=_norm_weights(_KIND_WEIGHTS)).tolist()
    applied = _corrupt(C, n_corr, kind_draws, r, H)
    del kind_draws

    def col(original, name) -> np.ndarray:
        return np.concatenate([_obj(original), _obj(C[name])])

    dob0 = (_digits(P["y"], 4) + "-" + _digits(P["m"], 2) + "-" + _digits(P["d"], 2))
    male = np.concatenate([P["male"], np.array(C["male"], dtype=bool)])
    region = P["region"][rec_person]
    # sex as each register writes it: English M/F, German m/w (half of them)
    german_style = (region == "de") & (rng.random(rows) < 0.5)
    sex = np.where(german_style, np.where(male, "m", "w"), np.where(male, "M", "F")).astype(object)
    data = {
        "first_name": col(P["given"], "given"), "surname": col(P["surname"], "surname"), "sex": sex,
        "date_of_birth": col(dob0, "dob"), "birthplace": col(P["town"], "town"),
        "occupation": np.concatenate([P["occ0"], occupation_c]).astype(object),
        "father_name": col(P["father"], "father"),
        "residence": np.concatenate([P["home"], residence_c]).astype(object),
    }
    # every field missing in MISSING_SHARE of the records, independently
    missing = {}
    for f in MISSING_FIELDS:
        gone = rng.random(rows) < MISSING_SHARE
        data[f] = np.where(gone, None, data[f]).astype(object)
        missing[f] = float(gone.mean())

    src = rng.choice(len(SOURCES), size=rows, p=_norm_weights(_SOURCE_P))
    data["source"] = _obj(SOURCES)[src]
    number = rng.permutation(rows) + 1
    data["rec_id"] = _obj(_SOURCE_PREFIX)[src] + "-" + _digits(number, 7)
    updated = rng.integers(_TS_START, _TS_END + 1, rows).astype("datetime64[s]")
    data["updated_at"] = pd.DatetimeIndex(updated.astype("datetime64[ns]")).tz_localize("UTC")

    person_no = rng.permutation(n_people).astype(np.int64) + 1
    pno = person_no[rec_person]
    perm = rng.permutation(rows)
    records = pd.DataFrame({c: data[c][perm] for c in HISTORICAL_COLUMNS}, columns=HISTORICAL_COLUMNS)
    for c in HISTORICAL_COLUMNS:
        if c != "updated_at":
            records[c] = records[c].astype(object)
    truth = pd.DataFrame({"rec_id": data["rec_id"][perm], "person_id": pno[perm]})

    dup_ids = data["rec_id"][n_people:]
    life = [(j, "moved") for j in np.flatnonzero(moved).tolist()]
    life += [(j, "occupation_synonym" if syn_applied[j] else "occupation_change")
             for j in np.flatnonzero(occ_change).tolist()]
    rows_c = applied + life
    corruptions = pd.DataFrame({
        "rec_id": np.array([dup_ids[j] for j, _ in rows_c], dtype=object),
        "kind": np.array([k for _, k in rows_c], dtype=object)})
    counts = corruptions["kind"].value_counts()
    dob = records["date_of_birth"]
    held = dob.notna()
    years = pd.to_numeric(dob[held].str.slice(0, 4), errors="coerce")
    valid = pd.to_datetime(dob[held], format="%Y-%m-%d", errors="coerce").notna() | (years < 1677)
    stats = {
        "records": rows,
        "people": int(n_people),
        "duplicate_records": int(n_c),
        "true_duplicate_pairs": int((mult * (mult - 1) // 2).sum()),
        "people_with_duplicates": int(len(dup_people)),
        "records_per_person_max": int(mult.max()),
        "records_per_person_mean": round(float(mult.mean()), 3),
        "records_per_person_median": float(np.median(mult)),
        "corruptions": {k: int(counts.get(k, 0)) for k in CORRUPTION_KINDS + LIFE_KINDS},
        "corruptions_per_duplicate": round(len(applied) / max(n_c, 1), 3),
        "missing_share": {f: round(v, 4) for f, v in missing.items()},
        "date_of_birth_before_1677": int((years < 1677).sum()),
        "date_of_birth_impossible": int((~valid & years.notna()).sum() + years.isna().sum()),
        "families": int(P["n_families"]),
        "families_with_siblings": P["families_with_siblings"],
        "necronyms": P["necronyms"],
        "namesakes": P["namesakes"],
    }
    return HistoricalData(records=records, truth=truth, corruptions=corruptions, stats=stats)
