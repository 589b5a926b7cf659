"""Synthetic person records of a second, differently shaped registry, with duplicates and ground truth.

The citizens seeder (:mod:`golden_record.synthetic.citizens`) makes one shape: Indian households, integer
ids, a real ``date`` column. This module makes another one, to prove the product on tables it was
not written for: independent people (no households) from four locales (en_AU, en_US, en_GB,
de_DE) with their own postcode, phone and address formats, a text id (``rec-12-org``,
``rec-12-dup-0``), the date of birth as text ``YYYYMMDD`` with a share of invalid values,
a 7-digit national id, and four source systems that encode sex differently.

A share of the people (``duplicate_rate``) has 1-3 duplicates. Each duplicate gets 1-4
corruptions (:data:`CORRUPTION_KINDS`, each recorded in ``PeopleData.corruptions``): name typos,
nicknames, swapped names, initials, missing fields, national-id and date-of-birth errors, a new
address, phone or e-mail, abbreviated street types, upper case or stray spaces, diacritics and a
few Cyrillic spellings. Hard non-matches are built in: namesakes (same given name, surname and
birth year, different people) and unrelated people sharing a common surname and suburb.

Names come from Faker's en_US, en_GB and de_DE name lists (read once, with their frequencies);
places and streets from small tables below. Everything is drawn with numpy and vectorised string
operations; only the duplicates go through a light Python loop. Deterministic for a seed.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from golden_record.io import warehouse

PEOPLE_COLUMNS = [
    "rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb",
    "postcode", "state", "date_of_birth", "soc_sec_id", "phone", "email", "sex", "source",
    "updated_at",
]
TRUTH_COLUMNS = ["rec_id", "person_id"]
CORRUPTION_KINDS = (
    "typo_insert", "typo_delete", "typo_substitute", "typo_transpose", "nickname", "name_swap",
    "initial", "upper_case", "extra_spaces", "diacritics", "cyrillic",
    "missing_phone", "missing_email", "missing_soc_sec_id", "missing_address_2", "soc_sec_id_digit",
    "dob_day_month_swap", "dob_digit", "dob_year_off",
    "moved", "new_phone", "new_email", "address_abbreviation",
)
#: The columns a corruption of each kind may change (besides rec_id, source, sex, updated_at).
CORRUPTION_COLUMNS = {
    "typo_insert": ("given_name", "surname"), "typo_delete": ("given_name", "surname"),
    "typo_substitute": ("given_name", "surname"), "typo_transpose": ("given_name", "surname"),
    "nickname": ("given_name",), "name_swap": ("given_name", "surname"), "initial": ("given_name",),
    "upper_case": ("given_name", "surname"), "extra_spaces": ("given_name", "surname"),
    "diacritics": ("given_name", "surname"), "cyrillic": ("given_name", "surname"),
    "missing_phone": ("phone",), "missing_email": ("email",), "missing_soc_sec_id": ("soc_sec_id",),
    "missing_address_2": ("address_2",), "soc_sec_id_digit": ("soc_sec_id",),
    "dob_day_month_swap": ("date_of_birth",), "dob_digit": ("date_of_birth",),
    "dob_year_off": ("date_of_birth",),
    "moved": ("street_number", "address_1", "address_2", "suburb", "postcode", "state"),
    "new_phone": ("phone",), "new_email": ("email",), "address_abbreviation": ("address_1", "address_2"),
}
SOURCES = ("crm", "billing", "web_portal", "legacy_registry")
LOCALES = ("en_AU", "en_US", "en_GB", "de_DE")

# Relative frequency of each kind (order of CORRUPTION_KINDS). A kind that does not apply to a
# duplicate (no nickname for the given name, no phone to change...) is redrawn, so the measured
# shares differ a little from these (diacritics and cyrillic apply to few people only).
_KIND_WEIGHTS = (
    0.045, 0.045, 0.055, 0.04, 0.05, 0.03, 0.04, 0.035, 0.03, 0.03, 0.02,
    0.035, 0.035, 0.035, 0.02, 0.04,
    0.03, 0.03, 0.03,
    0.065, 0.065, 0.065, 0.05,
)
_DEFERRED = ("upper_case", "extra_spaces")      # formatting, applied after the other corruptions
_DUPS_P = (0.6, 0.3, 0.1)                       # 1, 2 or 3 duplicates per duplicated person
_N_CORRUPTIONS_P = (0.35, 0.35, 0.2, 0.1)       # 1-4 corruptions per duplicate
_LOCALE_P = (0.45, 0.25, 0.15, 0.15)
_SOURCE_P = (0.35, 0.25, 0.25, 0.15)
_MISSING = {"phone": 0.35, "email": 0.40, "soc_sec_id": 0.10}
_ADDRESS_2_P = {"en_AU": 0.20, "en_US": 0.25, "en_GB": 0.20, "de_DE": 0.15}
_DIASPORA_P = 0.05          # people with Hispanic (60 %) or Russian (40 %) names, in any locale
_ACCENTED_BASE_P = 0.6      # Hispanic names written with their accents in the original record
_NAMESAKE_P = 0.02          # same given name, surname and birth year as another person
_SURNAME_PLACE_P = 0.05     # same surname and suburb/postcode as another (unrelated) person
_INVALID_DOB_P = 0.02       # records whose date of birth is "", "00000000" or impossible
_MALE_P = 0.49

_REF_DATE = np.datetime64("2025-07-01", "D")
_DOB_FIRST = np.datetime64("1930-01-01", "D")
_DOB_LAST = np.datetime64("2007-06-30", "D")
_TS_START = np.datetime64("2016-01-01T00:00:00", "s").astype(np.int64)
_TS_END = np.datetime64("2025-06-30T23:59:59", "s").astype(np.int64)


@dataclass
class PeopleData:
    records: pd.DataFrame      # exactly PEOPLE_COLUMNS, in that order, rows shuffled
    truth: pd.DataFrame        # rec_id (str), person_id (int64)
    corruptions: pd.DataFrame  # rec_id, kind: one row per corruption applied to a duplicate
    stats: dict


# =============================================================================== vocabulary
NICKNAMES = {
    "William": ("Bill", "Will", "Billy", "Liam"), "Elizabeth": ("Liz", "Beth", "Betty", "Eliza"),
    "Robert": ("Bob", "Rob", "Bobby"), "Richard": ("Rick", "Dick", "Rich"), "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Jack", "Johnny"), "Michael": ("Mike", "Mick"), "Margaret": ("Maggie", "Peggy", "Meg"),
    "Katherine": ("Kate", "Kathy"), "Catherine": ("Cathy", "Kate"), "Jennifer": ("Jen", "Jenny"),
    "Thomas": ("Tom", "Tommy"), "Charles": ("Charlie", "Chuck"), "Joseph": ("Joe", "Joey"),
    "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",), "Christopher": ("Chris",), "Anthony": ("Tony",),
    "Edward": ("Ed", "Ted", "Eddie"), "Alexander": ("Alex", "Sandy"), "Andrew": ("Andy", "Drew"),
    "Benjamin": ("Ben",), "Samuel": ("Sam",), "Nicholas": ("Nick",), "Patricia": ("Pat", "Patty", "Trish"),
    "Susan": ("Sue", "Susie"), "Deborah": ("Deb", "Debbie"), "Rebecca": ("Becky", "Bec"),
    "Victoria": ("Vicky", "Tori"), "Jessica": ("Jess",), "Stephanie": ("Steph",), "Samantha": ("Sam",),
    "Christine": ("Chris", "Tina"), "Barbara": ("Barb",), "Dorothy": ("Dot",), "Gregory": ("Greg",),
    "Jonathan": ("Jon",), "Kenneth": ("Ken",), "Lawrence": ("Larry",), "Peter": ("Pete",),
    "Raymond": ("Ray",), "Ronald": ("Ron",), "Timothy": ("Tim",), "Zachary": ("Zach",),
    "Abigail": ("Abby",), "Alexandra": ("Alex", "Lexi"), "Kimberly": ("Kim",), "Pamela": ("Pam",),
    "Theodore": ("Ted", "Theo"), "Steven": ("Steve",), "Stephen": ("Steve",), "Donald": ("Don",),
    "David": ("Dave",), "Douglas": ("Doug",), "Gerald": ("Gerry",), "Harold": ("Harry",),
    "Henry": ("Harry", "Hank"), "Jacob": ("Jake",), "Joshua": ("Josh",), "Leonard": ("Len", "Leo"),
    "Nathan": ("Nate",), "Philip": ("Phil",), "Frederick": ("Fred",), "Vincent": ("Vince",),
    "Walter": ("Walt",), "Amanda": ("Mandy",), "Cynthia": ("Cindy",), "Judith": ("Judy",),
    "Kathleen": ("Kathy",), "Johannes": ("Hans", "Jo"), "Friedrich": ("Fritz",), "Katharina": ("Kathi",),
    "Elisabeth": ("Lisa", "Sissi"), "Gabriele": ("Gabi",), "Stefanie": ("Steffi",), "Christian": ("Chris",),
    "Wolfgang": ("Wolf",), "Ivan": ("Vanya",), "Dmitri": ("Dima",), "Aleksandr": ("Sasha",),
    "Francisco": ("Paco",), "José": ("Pepe",), "Jose": ("Pepe",), "Ignacio": ("Nacho",),
}
_FEMALE_FORMAL = {
    "Elizabeth", "Margaret", "Katherine", "Catherine", "Jennifer", "Patricia", "Susan", "Deborah", "Rebecca",
    "Victoria", "Jessica", "Stephanie", "Samantha", "Christine", "Barbara", "Dorothy", "Abigail", "Alexandra",
    "Kimberly", "Pamela", "Amanda", "Cynthia", "Judith", "Kathleen", "Katharina", "Elisabeth", "Gabriele",
    "Stefanie",
}
#: (nickname, is male) -> formal names of that sex: Chris -> Christopher (male) or Christine (female)
_NICK_TO_FORMAL: dict[tuple[str, bool], list[str]] = {}
for _formal, _nicks in NICKNAMES.items():
    for _nick in _nicks:
        _NICK_TO_FORMAL.setdefault((_nick, _formal not in _FEMALE_FORMAL), []).append(_formal)

#: Latin spelling -> Cyrillic, for the few people with Russian names
CYRILLIC = {
    "Ivan": "Иван", "Olga": "Ольга", "Sergei": "Сергей", "Dmitri": "Дмитрий", "Natalia": "Наталья",
    "Anna": "Анна", "Tatiana": "Татьяна", "Mikhail": "Михаил", "Alexei": "Алексей", "Elena": "Елена",
    "Yuri": "Юрий", "Irina": "Ирина", "Nikolai": "Николай", "Svetlana": "Светлана", "Aleksandr": "Александр",
    "Ivanov": "Иванов", "Ivanova": "Иванова", "Petrov": "Петров", "Petrova": "Петрова",
    "Smirnov": "Смирнов", "Smirnova": "Смирнова", "Volkov": "Волков", "Volkova": "Волкова",
    "Popov": "Попов", "Popova": "Попова", "Sokolov": "Соколов", "Sokolova": "Соколова",
    "Kuznetsov": "Кузнецов", "Kuznetsova": "Кузнецова", "Morozov": "Морозов", "Morozova": "Морозова",
}
_RU_MALE = ("Ivan", "Sergei", "Dmitri", "Mikhail", "Alexei", "Yuri", "Nikolai", "Aleksandr")
_RU_FEMALE = ("Olga", "Natalia", "Anna", "Tatiana", "Elena", "Irina", "Svetlana")
_RU_SURNAMES = ("Ivanov", "Petrov", "Smirnov", "Volkov", "Popov", "Sokolov", "Kuznetsov", "Morozov")
_ES_MALE = ("José", "Jesús", "Ramón", "Andrés", "Raúl", "Ángel", "Joaquín", "Francisco", "Carlos",
            "Ignacio", "Sebastián", "Martín")
_ES_FEMALE = ("María", "Sofía", "Lucía", "Inés", "Mónica", "Begoña", "Verónica", "Ana", "Carmen",
              "Raquel", "Beatriz")
_ES_SURNAMES = ("García", "Hernández", "Martínez", "López", "Pérez", "Rodríguez", "Gómez", "Núñez",
                "Sánchez", "Díaz", "Fernández", "Álvarez", "Jiménez", "Muñoz", "Ortiz", "Castillo")
_DE_COMMON_SURNAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
    "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann",
    "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller",
    "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger",
)
_DE_COMMON_MALE = ("Peter", "Michael", "Thomas", "Andreas", "Wolfgang", "Klaus", "Jürgen", "Stefan",
                   "Günter", "Hans", "Uwe", "Werner", "Frank", "Christian", "Matthias", "Jörg",
                   "Alexander", "Johannes", "Friedrich", "Lukas", "Jonas", "Felix")
_DE_COMMON_FEMALE = ("Ursula", "Sabine", "Monika", "Petra", "Renate", "Claudia", "Andrea", "Susanne",
                     "Birgit", "Gabriele", "Stefanie", "Katharina", "Elisabeth", "Julia", "Anna",
                     "Brigitte", "Jana", "Sophie", "Lena", "Karin")

#: (suburb, first postcode, number of postcodes, state, popularity)
_PLACES = {
    "en_AU": [
        ("Parramatta", "2150", 1, "NSW", 5), ("Blacktown", "2148", 1, "NSW", 5), ("Bondi", "2026", 1, "NSW", 3),
        ("Chatswood", "2067", 1, "NSW", 3), ("Penrith", "2750", 1, "NSW", 4), ("Liverpool", "2170", 1, "NSW", 4),
        ("Newtown", "2042", 1, "NSW", 2), ("Hornsby", "2077", 1, "NSW", 3), ("Newcastle", "2300", 1, "NSW", 4),
        ("Wollongong", "2500", 1, "NSW", 4), ("Richmond", "2753", 1, "NSW", 2), ("Fitzroy", "3065", 1, "VIC", 2),
        ("Richmond", "3121", 1, "VIC", 3), ("St Kilda", "3182", 1, "VIC", 3), ("Footscray", "3011", 1, "VIC", 3),
        ("Dandenong", "3175", 1, "VIC", 4), ("Geelong", "3220", 1, "VIC", 4), ("Ballarat", "3350", 1, "VIC", 3),
        ("Frankston", "3199", 1, "VIC", 3), ("Toowong", "4066", 1, "QLD", 2), ("Southport", "4215", 1, "QLD", 3),
        ("Cairns", "4870", 1, "QLD", 3), ("Townsville", "4810", 1, "QLD", 3), ("Ipswich", "4305", 1, "QLD", 3),
        ("Fremantle", "6160", 1, "WA", 2), ("Joondalup", "6027", 1, "WA", 3), ("Subiaco", "6008", 1, "WA", 2),
        ("Glenelg", "5045", 1, "SA", 2), ("Norwood", "5067", 1, "SA", 2), ("Elizabeth", "5112", 1, "SA", 2),
        ("Hobart", "7000", 1, "TAS", 3), ("Launceston", "7250", 1, "TAS", 2), ("Belconnen", "2617", 1, "ACT", 2),
        ("Tuggeranong", "2900", 1, "ACT", 2), ("Darwin", "0800", 1, "NT", 2), ("Palmerston", "0830", 1, "NT", 1),
    ],
    "en_US": [
        ("New York", "10001", 30, "NY", 8), ("Brooklyn", "11201", 20, "NY", 6), ("Los Angeles", "90001", 40, "CA", 8),
        ("San Diego", "92101", 20, "CA", 4), ("San Francisco", "94102", 20, "CA", 4), ("Chicago", "60601", 40, "IL", 6),
        ("Houston", "77001", 40, "TX", 6), ("Austin", "78701", 20, "TX", 3), ("Dallas", "75201", 20, "TX", 4),
        ("Phoenix", "85001", 20, "AZ", 4), ("Philadelphia", "19102", 20, "PA", 4), ("Seattle", "98101", 20, "WA", 3),
        ("Denver", "80201", 15, "CO", 3), ("Boston", "02108", 15, "MA", 3), ("Miami", "33101", 15, "FL", 3),
        ("Atlanta", "30301", 15, "GA", 3), ("Portland", "97201", 10, "OR", 2), ("Portland", "04101", 3, "ME", 1),
        ("Springfield", "62701", 5, "IL", 1), ("Springfield", "65801", 5, "MO", 1), ("Columbus", "43085", 15, "OH", 3),
        ("Detroit", "48201", 15, "MI", 3), ("Minneapolis", "55401", 10, "MN", 2), ("Newark", "07101", 5, "NJ", 2),
        ("Richmond", "23218", 5, "VA", 1),
    ],
    "de_DE": [
        ("Berlin", "10115", 60, "Berlin", 8), ("Hamburg", "20095", 40, "Hamburg", 6),
        ("München", "80331", 40, "Bayern", 6),
        ("Köln", "50667", 30, "Nordrhein-Westfalen", 5), ("Frankfurt am Main", "60311", 20, "Hessen", 4),
        ("Stuttgart", "70173", 20, "Baden-Württemberg", 4), ("Düsseldorf", "40210", 20, "Nordrhein-Westfalen", 4),
        ("Leipzig", "04103", 15, "Sachsen", 3), ("Dresden", "01067", 15, "Sachsen", 3),
        ("Hannover", "30159", 15, "Niedersachsen", 3), ("Nürnberg", "90402", 15, "Bayern", 3),
        ("Bremen", "28195", 10, "Bremen", 2), ("Essen", "45127", 10, "Nordrhein-Westfalen", 3),
        ("Freiburg im Breisgau", "79098", 5, "Baden-Württemberg", 2), ("Mainz", "55116", 5, "Rheinland-Pfalz", 2),
        ("Kiel", "24103", 5, "Schleswig-Holstein", 2), ("Erfurt", "99084", 5, "Thüringen", 2),
        ("Rostock", "18055", 5, "Mecklenburg-Vorpommern", 1), ("Potsdam", "14467", 5, "Brandenburg", 1),
        ("Saarbrücken", "66111", 5, "Saarland", 1), ("Magdeburg", "39104", 5, "Sachsen-Anhalt", 1),
    ],
    "en_GB": [   # postcode: outward codes (space separated); the inward code is drawn per address
        ("London", "SW1A E1 N1 SE1 W1 NW1 E14 SW11", 0, "Greater London", 10),
        ("Manchester", "M1 M14 M20", 0, "Greater Manchester", 4), ("Birmingham", "B1 B15 B29", 0, "West Midlands", 4),
        ("Leeds", "LS1 LS6", 0, "West Yorkshire", 3), ("Glasgow", "G1 G12", 0, "Glasgow City", 3),
        ("Edinburgh", "EH1 EH3", 0, "City of Edinburgh", 3), ("Bristol", "BS1 BS8", 0, "Bristol", 3),
        ("Liverpool", "L1 L8", 0, "Merseyside", 3), ("Cardiff", "CF10 CF24", 0, "South Glamorgan", 2),
        ("Oxford", "OX1 OX4", 0, "Oxfordshire", 2), ("Cambridge", "CB1 CB4", 0, "Cambridgeshire", 2),
        ("Brighton", "BN1 BN2", 0, "East Sussex", 2), ("Sheffield", "S1 S10", 0, "South Yorkshire", 2),
        ("Newcastle upon Tyne", "NE1 NE6", 0, "Tyne and Wear", 2), ("Norwich", "NR1 NR2", 0, "Norfolk", 1),
        ("Richmond", "TW9 TW10", 0, "Greater London", 1),
    ],
}
_EN_STREETS = (
    "High", "Church", "Station", "Park", "Victoria", "George", "King", "Queen", "Elizabeth", "Albert",
    "Bridge", "Mill", "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Willow", "Hill", "Lake", "River",
    "Forest", "Sunset", "Ocean", "Beach", "Market", "School", "Green", "Spring", "Chapel", "North",
    "South", "West", "East", "Grove", "Wattle", "Banksia", "Acacia", "Jacaranda", "Washington",
    "Lincoln", "Jefferson", "Franklin", "Madison", "Monroe", "Jackson", "Highland", "Meadow", "Orchard",
    "Harbour", "Bay", "Cliff", "Rose", "Windsor", "York", "Cambridge", "Oxford", "Wellington", "Nelson",
    "Darling", "Murray", "Macquarie", "Bourke", "Collins", "Flinders", "Pitt", "Cook", "Hume",
    "Princes", "Pacific", "Railway", "Canal", "Glebe", "Ashfield", "Beaumont", "Carlton", "Denison",
)
_STREET_SUFFIXES = {
    "en_AU": (("Street", 30), ("Road", 20), ("Avenue", 10), ("Drive", 8), ("Court", 5), ("Place", 5),
              ("Crescent", 5), ("Lane", 4), ("Parade", 3), ("Terrace", 3), ("Close", 3), ("Way", 3),
              ("Circuit", 1), ("Highway", 1)),
    "en_US": (("Street", 30), ("Avenue", 20), ("Road", 10), ("Drive", 10), ("Boulevard", 5), ("Lane", 8),
              ("Court", 5), ("Place", 4), ("Way", 4), ("Circle", 2), ("Parkway", 2)),
    "en_GB": (("Road", 30), ("Street", 20), ("Lane", 10), ("Avenue", 8), ("Close", 8), ("Drive", 6),
              ("Gardens", 5), ("Crescent", 5), ("Way", 4), ("Terrace", 4), ("Place", 3), ("Square", 1)),
    "de_DE": (("straße", 55), ("weg", 20), ("allee", 7), ("platz", 5), ("gasse", 5), ("ring", 8)),
}
_DE_STREETS = (
    "Haupt", "Bahnhof", "Schul", "Kirch", "Garten", "Berg", "Linden", "Birken", "Eichen", "Buchen",
    "Wald", "Feld", "Wiesen", "Mühlen", "Goethe", "Schiller", "Mozart", "Beethoven", "Kant", "Bismarck",
    "Rosen", "Tulpen", "Sonnen", "Dorf", "Markt", "Schloss", "Burg", "Brunnen", "Tannen", "Ahorn",
    "Friedrich-Ebert-", "Karl-Marx-", "Konrad-Adenauer-", "Heinrich-Heine-", "Albert-Schweitzer-",
    "Robert-Koch-", "Max-Planck-", "Geschwister-Scholl-",
)
ADDRESS_ABBREVIATIONS = {
    "Street": "St", "Road": "Rd", "Avenue": "Ave", "Drive": "Dr", "Court": "Ct", "Place": "Pl",
    "Crescent": "Cres", "Lane": "Ln", "Parade": "Pde", "Terrace": "Tce", "Close": "Cl",
    "Boulevard": "Blvd", "Highway": "Hwy", "Circuit": "Cct", "Parkway": "Pkwy", "Circle": "Cir",
    "Gardens": "Gdns", "Square": "Sq", "Apartment": "Apt",
}
_ABBR_RE = re.compile(r"\b(" + "|".join(ADDRESS_ABBREVIATIONS) + r")\b")
_STRASSE_RE = re.compile(r"(s|S)traße\b")
_EMAIL_DOMAINS = {
    "en_AU": (("gmail.com", 35), ("bigpond.com", 15), ("outlook.com", 12), ("hotmail.com", 10),
              ("yahoo.com.au", 10), ("optusnet.com.au", 8), ("icloud.com", 10)),
    "en_US": (("gmail.com", 40), ("yahoo.com", 20), ("hotmail.com", 12), ("outlook.com", 10),
              ("aol.com", 8), ("icloud.com", 10)),
    "en_GB": (("gmail.com", 35), ("hotmail.co.uk", 20), ("btinternet.com", 12), ("yahoo.co.uk", 12),
              ("outlook.com", 11), ("sky.com", 10)),
    "de_DE": (("gmx.de", 25), ("web.de", 25), ("gmail.com", 20), ("t-online.de", 15), ("outlook.de", 8),
              ("yahoo.de", 7)),
}
_UK_INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)
_GERMAN_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
_NAME_RE = re.compile(r"[^\W\d_]{2,}(?:[-'][^\W\d_]{2,})*")


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).replace(
        "ß", "ss")


def _ascii_fold(text: str) -> str:
    """ASCII spelling of a Latin name: German umlauts as ae/oe/ue, other accents dropped."""
    return _strip_accents(text.translate(_GERMAN_FOLD))


def _norm_weights(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w / w.sum()


def _zipf(n: int, offset: float = 3.0, power: float = 1.0) -> np.ndarray:
    return 1.0 / (np.arange(n) + offset) ** power


def _faker_names(locale: str):
    """(male, female, surnames) of a Faker locale: name tuples with probabilities. Faker's lists
    with frequencies keep them; unweighted lists (de_DE) get Zipf weights after a fixed shuffle,
    with the commonest German names first."""
    from faker import Faker

    person = next(p for p in Faker(locale).providers if hasattr(p, "last_names"))
    shuffle = random.Random(f"people-{locale}")
    out = []
    for attr, common in (("first_names_male", _DE_COMMON_MALE), ("first_names_female", _DE_COMMON_FEMALE),
                         ("last_names", _DE_COMMON_SURNAMES)):
        raw = getattr(person, attr)
        if hasattr(raw, "items"):
            pairs = [(n, float(w)) for n, w in raw.items() if _NAME_RE.fullmatch(n)]
            seen: dict[str, float] = {}
            for n, w in pairs:
                seen[n] = seen.get(n, 0.0) + w
            names, w = list(seen), np.array(list(seen.values()))
        else:
            # plain lists: en_GB's first names are in order of popularity; de_DE's are
            # alphabetical, so its commonest names go first and the rest in a fixed random order
            names = [n for n in dict.fromkeys(raw) if _NAME_RE.fullmatch(n) and n[0].isupper()]
            if locale == "de_DE":
                rest = [n for n in names if n not in common]
                shuffle.shuffle(rest)
                names = list(dict.fromkeys(common)) + rest
            w = _zipf(len(names), offset=4.0, power=1.1)
        out.append((np.array(names, dtype=object), _norm_weights(w)))
    return tuple(out)


class _Vocab:
    def __init__(self):
        us, gb, de = _faker_names("en_US"), _faker_names("en_GB"), _faker_names("de_DE")
        self.names = {"en_AU": us, "en_US": us, "en_GB": gb, "de_DE": de}
        self.places = {}
        for loc, rows in _PLACES.items():
            self.places[loc] = {
                "suburb": np.array([r[0] for r in rows], dtype=object),
                "code": [r[1] for r in rows],
                "n_codes": np.array([r[2] for r in rows]),
                "state": np.array([r[3] for r in rows], dtype=object),
                "p": _norm_weights([r[4] for r in rows]),
            }
        streets_en = np.array(_EN_STREETS, dtype=object)
        # a few streets named after people, drawn from the surname list (fixed, seed-independent)
        extra = us[2][0][:150]
        self.street_bases = {"en": np.concatenate([streets_en, extra]), "de_DE": np.array(_DE_STREETS, dtype=object)}
        self.suffixes = {loc: (np.array([s for s, _ in v], dtype=object), _norm_weights([w for _, w in v]))
                         for loc, v in _STREET_SUFFIXES.items()}
        self.domains = {loc: (np.array([d for d, _ in v], dtype=object), _norm_weights([w for _, w in v]))
                        for loc, v in _EMAIL_DOMAINS.items()}
        self.es = (np.array(_ES_MALE, dtype=object), np.array(_ES_FEMALE, dtype=object),
                   np.array(_ES_SURNAMES, dtype=object))
        self.ru = (np.array(_RU_MALE, dtype=object), np.array(_RU_FEMALE, dtype=object),
                   np.array(_RU_SURNAMES, dtype=object))
        # ASCII spelling -> accented spelling (José <- Jose), for the diacritics corruption
        self.accent = {_ascii_fold(n): n for n in _ES_MALE + _ES_FEMALE + _ES_SURNAMES if not n.isascii()}
        for arr in (de[0][0], de[1][0], de[2][0]):
            for n in arr:
                if not n.isascii():
                    self.accent.setdefault(_strip_accents(n), n)


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    return _Vocab()


# =============================================================================== vectorised helpers
def _obj(a) -> np.ndarray:
    return np.asarray(a, dtype=object)


def _digits(values, width: int) -> np.ndarray:
    """int array -> object array of zero-padded decimal strings."""
    return np.strings.zfill(np.asarray(values, dtype=np.int64).astype(str), width).astype(object)


def _choice(rng, values: np.ndarray, p: np.ndarray | None, n: int) -> np.ndarray:
    return values[rng.choice(len(values), size=n, p=p)]


def _pick(rng, n, *options):
    """Object array choosing among the (weight, array) ``options`` row by row."""
    w = _norm_weights([o[0] for o in options])
    which = rng.choice(len(options), size=n, p=w)
    out = np.empty(n, dtype=object)
    for k, (_, arr) in enumerate(options):
        m = which == k
        out[m] = arr[m]
    return out


#: landline area codes (without the trunk 0) by place: AU by state, DE and GB by town
_AU_AREA = {"NSW": 2, "ACT": 2, "VIC": 3, "TAS": 3, "QLD": 7, "SA": 8, "WA": 8, "NT": 8}
_AREA = {
    "de_DE": {"Berlin": "30", "Hamburg": "40", "München": "89", "Köln": "221", "Frankfurt am Main": "69",
              "Stuttgart": "711", "Düsseldorf": "211", "Leipzig": "341", "Dresden": "351", "Hannover": "511",
              "Nürnberg": "911", "Bremen": "421", "Essen": "201", "Freiburg im Breisgau": "761", "Mainz": "6131",
              "Kiel": "431", "Erfurt": "361", "Rostock": "381", "Potsdam": "331", "Saarbrücken": "681",
              "Magdeburg": "391"},
    "en_GB": {"London": "20", "Manchester": "161", "Birmingham": "121", "Leeds": "113", "Glasgow": "141",
              "Edinburgh": "131", "Bristol": "117", "Liverpool": "151", "Cardiff": "29", "Oxford": "1865",
              "Cambridge": "1223", "Brighton": "1273", "Sheffield": "114", "Newcastle upon Tyne": "191",
              "Norwich": "1603", "Richmond": "20"},
}


def _phones(rng, V: "_Vocab", locales: np.ndarray, place: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(key: country code + national number as an int, number as written) per row. Mobiles and
    landlines in each country's usual formats; a landline has its town's (state's) area code."""
    n = len(locales)
    key = np.zeros(n, dtype=np.int64)
    text = np.empty(n, dtype=object)
    for loc in LOCALES:
        idx = np.flatnonzero(locales == loc)
        m = len(idx)
        if not m:
            continue
        mobile = rng.random(m) < {"en_AU": 0.65, "en_US": 1.0, "en_GB": 0.6, "de_DE": 0.55}[loc]
        pl = place[idx]
        if loc == "en_AU":
            # mobile 04xx xxx xxx / +61 4xx xxx xxx; landline (0A) Bxxx xxxx
            area = np.array([_AU_AREA[st] for st in V.places[loc]["state"]])[pl]
            land_nsn = area * 100_000_000 + rng.integers(2, 10, m) * 10_000_000 + rng.integers(0, 10_000_000, m)
            nsn = np.where(mobile, 400_000_000 + rng.integers(0, 100_000_000, m), land_nsn)
            key[idx] = 61 * 10**9 + nsn
            s = _digits(nsn, 9)
            mob = _pick(rng, m, (0.4, "+61 " + _sl(s, 0, 3) + " " + _sl(s, 3, 6) + " " + _sl(s, 6, 9)),
                        (0.6, "0" + _sl(s, 0, 3) + " " + _sl(s, 3, 6) + " " + _sl(s, 6, 9)))
            land = _pick(rng, m, (0.6, "(0" + _sl(s, 0, 1) + ") " + _sl(s, 1, 5) + " " + _sl(s, 5, 9)),
                         (0.4, "0" + _sl(s, 0, 1) + " " + _sl(s, 1, 5) + " " + _sl(s, 5, 9)))
            text[idx] = np.where(mobile, mob, land)
        elif loc == "en_US":
            area, exch, line = rng.integers(201, 990, m), rng.integers(200, 1000, m), rng.integers(0, 10_000, m)
            key[idx] = 10**10 + area * 10_000_000 + exch * 10_000 + line
            A, E, L = _digits(area, 3), _digits(exch, 3), _digits(line, 4)
            text[idx] = _pick(rng, m, (0.5, "(" + A + ") " + E + "-" + L), (0.3, A + "-" + E + "-" + L),
                              (0.2, "+1 " + A + " " + E + " " + L))
        else:
            # national significant number: area code + subscriber number (GB: 10 digits in all)
            area = _obj([_AREA[loc][sub] for sub in V.places[loc]["suburb"]])[pl]
            alen = np.array([len(a) for a in area.tolist()])
            if loc == "en_GB":
                sub_len = 10 - alen
                mob_area = "7" + _digits(rng.integers(400, 1000, m), 3)            # 07xxx xxxxxx
                mob_sub = _digits(rng.integers(0, 1_000_000, m), 6)
            else:
                sub_len = np.where(alen <= 3, 7, 6)
                mob_area = _obj(["151", "152", "157", "160", "170", "171", "176"])[rng.integers(0, 7, m)]
                mob_sub = _digits(rng.integers(10_000_000, 100_000_000, m), 8)
            subscriber = np.strings.zfill((rng.integers(2, 10, m) * 10**7 + rng.integers(0, 10**7, m)).astype(str),
                                          8).astype(object)
            land_sub = np.array([x[:k] for x, k in zip(subscriber.tolist(), sub_len.tolist())], dtype=object)
            a = np.where(mobile, mob_area, area)
            sub = np.where(mobile, mob_sub, land_sub)
            cc = "44" if loc == "en_GB" else "49"
            key[idx] = np.array([int(cc + x + y) for x, y in zip(a.tolist(), sub.tolist())], dtype=np.int64)
            if loc == "en_GB":
                # 020 7946 0123, 0161 496 0123, 01865 496012, 07700 900123; or +44 ...
                split = np.where(alen == 2, 4, np.where(alen == 3, 3, 6))
                body = np.array([x[:k] + (" " + x[k:] if x[k:] else "") for x, k in
                                 zip(sub.tolist(), np.where(mobile, 6, split).tolist())], dtype=object)
                text[idx] = np.where(rng.random(m) < 0.7, "0" + a + " " + body, "+44 " + a + " " + body)
            else:
                text[idx] = _pick(rng, m, (0.5, "0" + a + " " + sub), (0.25, "(0" + a + ") " + sub),
                                  (0.25, "+49 " + a + " " + sub))
    return key, text


def _sl(s: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Slice every string of an object array (vectorised)."""
    return np.strings.slice(s.astype(str), start, stop).astype(object)


def _unique_phones(rng, V, locales: np.ndarray, place: np.ndarray, max_rounds: int = 50):
    """Phones (key, text) per row, no number shared by two rows: no households."""
    key, value = _phones(rng, V, locales, place)
    for _ in range(max_rounds):
        dup = pd.Series(key).duplicated().to_numpy()
        if not dup.any():
            return key, value
        k2, v2 = _phones(rng, V, locales[dup], place[dup])
        key = key.copy()
        key[dup] = k2
        value[dup] = v2
    raise RuntimeError("could not draw distinct values")  # pragma: no cover


def _addresses(rng, V: _Vocab, locales: np.ndarray, place: np.ndarray) -> dict:
    """street_number, address_1, address_2, suburb, postcode, state for people in ``place``
    (an index into their locale's place table)."""
    n = len(locales)
    out = {k: np.empty(n, dtype=object) for k in ("street_number", "address_1", "address_2", "suburb",
                                                   "postcode", "state")}
    for loc in LOCALES:
        idx = np.flatnonzero(locales == loc)
        m = len(idx)
        if not m:
            continue
        P = V.places[loc]
        pl = place[idx]
        out["suburb"][idx] = P["suburb"][pl]
        out["state"][idx] = P["state"][pl]
        suffixes, sp = V.suffixes[loc]
        suf = _choice(rng, suffixes, sp, m)
        num = rng.integers(1, 200, m)
        if loc == "de_DE":
            base = _choice(rng, V.street_bases["de_DE"], None, m)
            hyph = np.array([b.endswith("-") for b in base.tolist()], dtype=bool)
            suf_cap = np.array([s[0].upper() + s[1:] for s in suf.tolist()], dtype=object)
            out["address_1"][idx] = base + np.where(hyph, suf_cap, suf)
            letters = np.array(list("abc"), dtype=object)[rng.integers(0, 3, m)]
            N = _digits(num, 1)
            out["street_number"][idx] = _pick(rng, m, (0.8, N), (0.15, N + letters),
                                              (0.05, N + "-" + _digits(num + 2, 1)))
            codes = np.array([int(c) for c in P["code"]])[pl] + rng.integers(0, 1 << 30, m) % P["n_codes"][pl]
            out["postcode"][idx] = _digits(codes, 5)
            a2 = _pick(rng, m, (0.4, _digits(rng.integers(1, 6, m), 1) + ". OG"), (0.2, _obj(["Hinterhaus"] * m)),
                       (0.25, "Whg. " + _digits(rng.integers(1, 30, m), 1)),
                       (0.15, "c/o " + _choice(rng, V.names["de_DE"][2][0], V.names["de_DE"][2][1], m)))
        else:
            base = _choice(rng, V.street_bases["en"], None, m)
            out["address_1"][idx] = base + " " + suf
            N = _digits(num, 1)
            if loc == "en_AU":
                unit = _digits(rng.integers(1, 20, m), 1)
                out["street_number"][idx] = _pick(rng, m, (0.8, N), (0.1, N + np.array(list("AB"), dtype=object)[
                    rng.integers(0, 2, m)]), (0.1, unit + "/" + N))
                out["postcode"][idx] = _obj(P["code"])[pl]
                a2 = _pick(rng, m, (0.5, "Unit " + _digits(rng.integers(1, 40, m), 1)),
                           (0.3, "Level " + _digits(rng.integers(1, 20, m), 1)),
                           (0.2, "Suite " + _digits(rng.integers(1, 30, m), 1)))
            elif loc == "en_US":
                out["street_number"][idx] = _digits(rng.integers(1, 9999, m), 1)
                codes = np.array([int(c) for c in P["code"]])[pl] + rng.integers(0, 1 << 30, m) % P["n_codes"][pl]
                out["postcode"][idx] = _digits(codes, 5)
                apt = _digits(rng.integers(1, 40, m), 1)
                a2 = _pick(rng, m, (0.45, "Apt " + apt), (0.2, "Apartment " + apt),
                           (0.2, "Suite " + _digits(rng.integers(100, 999, m), 1)),
                           (0.15, "Unit " + apt + np.array(list("ABCD"), dtype=object)[rng.integers(0, 4, m)]))
            else:  # en_GB
                out["street_number"][idx] = N
                outward = _gb_outward(rng, P["code"], pl)
                inward = (_digits(rng.integers(1, 10, m), 1) + _UK_INWARD_LETTERS[rng.integers(0, 20, m)]
                          + _UK_INWARD_LETTERS[rng.integers(0, 20, m)])
                out["postcode"][idx] = outward + " " + inward
                flat = _digits(rng.integers(1, 30, m), 1)
                a2 = _pick(rng, m, (0.6, "Flat " + flat),
                           (0.2, "Flat " + flat + np.array(list("ABC"), dtype=object)[rng.integers(0, 3, m)]),
                           (0.2, _choice(rng, V.street_bases["en"][:60], None, m) + " House"))
        out["address_2"][idx] = np.where(rng.random(m) < _ADDRESS_2_P[loc], a2, "")
    return out


def _gb_outward(rng, codes: list[str], pl: np.ndarray) -> np.ndarray:
    split = [c.split() for c in codes]
    lens = np.array([len(s) for s in split])
    flat = np.array([c for s in split for c in s], dtype=object)
    start = np.concatenate([[0], np.cumsum(lens)[:-1]])
    return flat[start[pl] + rng.integers(0, 1 << 30, len(pl)) % lens[pl]]


def _address_key(street_number, address_1, suburb, postcode) -> np.ndarray:
    return _obj(street_number) + "|" + _obj(address_1) + "|" + _obj(suburb) + "|" + _obj(postcode)


def _unique_addresses(rng, V, locales, place) -> dict:
    """Addresses with no (street_number, address_1, suburb, postcode) shared by two rows: no
    households."""
    A = _addresses(rng, V, locales, place)
    for _ in range(50):
        key = _address_key(A["street_number"], A["address_1"], A["suburb"], A["postcode"])
        dup = pd.Series(key).duplicated().to_numpy()
        if not dup.any():
            return A
        B = _addresses(rng, V, locales[dup], place[dup])
        for k in A:
            A[k][dup] = B[k]
    raise RuntimeError("could not draw distinct addresses")  # pragma: no cover


_EMAIL_PATTERNS = ("{g}.{s}", "{g}{s}{nn}", "{i}{s}", "{s}.{g}{yy}", "{g}_{s}{nn}", "{g}{nn}", "{g}.{s}{yy}")
_EMAIL_P = _norm_weights((30, 15, 12, 10, 10, 10, 13))


def _email_part(names: np.ndarray) -> np.ndarray:
    """Lower-case ASCII e-mail token of each name (cached per distinct name)."""
    uniq, inv = np.unique(names.astype(str), return_inverse=True)
    folded = np.array([re.sub(r"[^a-z]", "", _ascii_fold(u).lower()) or "x" for u in uniq.tolist()], dtype=object)
    return folded[inv]


def _emails(rng, V, given, surname, year, locales) -> np.ndarray:
    n = len(given)
    g, s = _email_part(given), _email_part(surname)
    comps = {"g": g, "s": s, "i": _sl(g, 0, 1), "nn": _digits(rng.integers(1, 100, n), 1),
             "yy": _digits(np.asarray(year) % 100, 2)}
    which = rng.choice(len(_EMAIL_PATTERNS), size=n, p=_EMAIL_P)
    local = np.empty(n, dtype=object)
    for k, pat in enumerate(_EMAIL_PATTERNS):
        m = which == k
        if not m.any():
            continue
        out = np.full(int(m.sum()), "", dtype=object)
        for i, piece in enumerate(re.split(r"\{(\w+)\}", pat)):
            if piece:
                out = out + (comps[piece][m] if i % 2 else piece)
        local[m] = out
    domain = np.empty(n, dtype=object)
    for loc in LOCALES:
        m = locales == loc
        if m.any():
            d, p = V.domains[loc]
            domain[m] = _choice(rng, d, p, int(m.sum()))
    return local + "@" + domain


def _unique_emails(rng, V, given, surname, year, locales) -> np.ndarray:
    """E-mail addresses, none shared by two rows: no households."""
    e = _emails(rng, V, given, surname, year, locales)
    for _ in range(50):
        dup = pd.Series(e).duplicated().to_numpy()
        if not dup.any():
            return e
        k = np.flatnonzero(dup)
        # a longer random number makes the address distinct quickly
        e2 = _emails(rng, V, given[k], surname[k], year[k], locales[k])
        local, _, domain = np.strings.partition(e2.astype(str), "@")
        e[k] = (local.astype(object) + _digits(rng.integers(100, 10_000, len(k)), 1) + "@" + domain.astype(object))
    raise RuntimeError("could not draw distinct e-mail addresses")  # pragma: no cover


# =============================================================================== population
def _plan_people(rows: int, duplicate_rate: float, rng: np.random.Generator):
    """Number of people and records per person (1 + 1-3 duplicates) so that the total is ``rows``."""
    dups_p = np.array(_DUPS_P)
    mean_dups = float((np.arange(1, len(dups_p) + 1) * dups_p).sum())
    people_guess = rows / (1.0 + duplicate_rate * mean_dups)
    n_dup = int(round(duplicate_rate * people_guess))
    ks = rng.choice(np.arange(2, len(dups_p) + 2), size=n_dup, p=dups_p)   # records per duplicated person
    ks = ks[np.cumsum(ks) <= rows]
    n_people = int(rows - (ks - 1).sum())
    mult = np.ones(n_people, dtype=np.int64)
    if len(ks):
        mult[rng.permutation(n_people)[: len(ks)]] = ks
    return n_people, mult


def _population(n: int, rng: np.random.Generator, V: _Vocab) -> dict:
    locales = _obj(LOCALES)[rng.choice(len(LOCALES), size=n, p=_norm_weights(_LOCALE_P))]
    male = rng.random(n) < _MALE_P
    given = np.empty(n, dtype=object)
    surname = np.empty(n, dtype=object)
    for loc in LOCALES:
        for g in (True, False):
            m = (locales == loc) & (male == g)
            if m.any():
                names, p = V.names[loc][0 if g else 1]
                given[m] = _choice(rng, names, p, int(m.sum()))
        m = locales == loc
        names, p = V.names[loc][2]
        surname[m] = _choice(rng, names, p, int(m.sum()))

    # a few people with Hispanic or Russian names, in any locale
    diaspora = rng.random(n) < _DIASPORA_P
    russian = diaspora & (rng.random(n) < 0.4)
    hispanic = diaspora & ~russian
    for group, (gm, gf, gs) in ((hispanic, V.es), (russian, V.ru)):
        for g, pool in ((True, gm), (False, gf)):
            m = group & (male == g)
            given[m] = _choice(rng, pool, None, int(m.sum()))
        given_s = _choice(rng, gs, None, int(group.sum()))
        if group is russian:   # feminine surname forms: Ivanova
            given_s = np.where(male[group], given_s, given_s + "a")
        surname[group] = given_s
    plain = hispanic & (rng.random(n) >= _ACCENTED_BASE_P)       # recorded without accents
    if plain.any():
        given[plain] = np.array([_strip_accents(x) for x in given[plain].tolist()], dtype=object)
        surname[plain] = np.array([_strip_accents(x) for x in surname[plain].tolist()], dtype=object)

    days = rng.integers(0, int((_DOB_LAST - _DOB_FIRST).astype(int)) + 1, n)
    dob = _DOB_FIRST + days.astype("timedelta64[D]")
    y = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    mo = dob.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (dob - dob.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1

    place = np.zeros(n, dtype=np.int64)
    for loc in LOCALES:
        m = locales == loc
        place[m] = rng.choice(len(V.places[loc]["p"]), size=int(m.sum()), p=V.places[loc]["p"])

    # ---- hard non-matches: namesakes (same name and birth year) and same surname + suburb
    order = rng.permutation(n)
    k_name = int(round(_NAMESAKE_P * n)) if n > 1 else 0
    k_place = int(round(_SURNAME_PLACE_P * n)) if n > 1 else 0
    namesakes, models = order[:k_name], rng.integers(0, n, k_name)
    keep = models != namesakes
    namesakes, models = namesakes[keep], models[keep]
    given[namesakes], surname[namesakes], male[namesakes] = given[models], surname[models], male[models]
    y[namesakes] = y[models]
    yn = y[namesakes]
    leap = (yn % 4 == 0) & ((yn % 100 != 0) | (yn % 400 == 0))
    d[namesakes[(mo[namesakes] == 2) & (d[namesakes] == 29) & ~leap]] = 28
    same_place = rng.random(len(namesakes)) < 0.5           # half of them in the same suburb too
    src, dst = models[same_place], namesakes[same_place]
    locales[dst], place[dst] = locales[src], place[src]
    sharers, models2 = order[k_name:k_name + k_place], rng.integers(0, n, k_place)
    keep = models2 != sharers
    sharers, models2 = sharers[keep], models2[keep]
    surname[sharers], locales[sharers], place[sharers] = surname[models2], locales[models2], place[models2]
    # a sharer moved to another locale keeps a given name of their own locale: fine (migrants)

    A = _unique_addresses(rng, V, locales, place)
    ssn = (rng.choice(9_000_000, size=n, replace=False) + 1_000_000).astype(np.int64)
    phone_key, phone = _unique_phones(rng, V, locales, place)
    email = _unique_emails(rng, V, given, surname, y, locales)
    return {
        "locale": locales, "male": male, "given": given, "surname": surname, "y": y, "m": mo, "d": d,
        "ssn": ssn, "has_ssn": rng.random(n) >= _MISSING["soc_sec_id"],
        "phone_key": phone_key, "phone": phone, "has_phone": rng.random(n) >= _MISSING["phone"],
        "email": email, "has_email": rng.random(n) >= _MISSING["email"],
        "place": place, **A,
        "namesakes": len(namesakes), "surname_place_sharers": len(sharers),
    }


# =============================================================================== corruptions
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_KEYBOARD = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij", "i": "uok",
    "o": "ipl", "p": "ol", "a": "qsz", "s": "adwx", "d": "sfec", "f": "dgrv", "g": "fhtb", "h": "gjyn",
    "j": "hkum", "k": "jli", "l": "kop", "z": "asx", "x": "zsc", "c": "xdv", "v": "cfb", "b": "vgn",
    "n": "bhm", "m": "njk",
}


def _typo(value: str, kind: str, r: random.Random) -> str | None:
    """One typo of ``kind`` in a name, never on its first letter, only between letters (so that
    O'Neill keeps its apostrophe); capitals are restored. None when the name is too short."""
    n = len(value)
    if n < 3:
        return None
    low = value.lower()
    for _ in range(6):
        if kind == "typo_insert":
            p = r.randint(1, n)
            ref = low[p - 1]
            if not ref.isalpha():
                continue
            c = ref if r.random() < 0.35 else r.choice(_KEYBOARD.get(ref, _LETTERS))
            new = low[:p] + c + low[p:]
        elif kind == "typo_delete":
            p = r.randrange(1, n)
            if not low[p].isalpha():
                continue
            new = low[:p] + low[p + 1:]
        elif kind == "typo_substitute":
            p = r.randrange(1, n)
            ch = low[p]
            if not ch.isalpha():
                continue
            c = r.choice(_KEYBOARD.get(ch, _LETTERS)) if r.random() < 0.7 else r.choice(_LETTERS)
            new = low[:p] + c + low[p + 1:]
        else:  # typo_transpose
            p = r.randrange(1, n - 1)
            if not (low[p].isalpha() and low[p + 1].isalpha()):
                continue
            new = low[:p] + low[p + 1] + low[p] + low[p + 2:]
        if new != low:
            out, cap = [], True
            for ch in new:          # capitals back: first letter, and after - ' or a space
                out.append(ch.upper() if cap else ch)
                cap = ch in "-' "
            out = "".join(out)
            if out != value:
                return out
    return None


def typo_one_name(C: dict, i: int, kind: str, r: random.Random) -> bool:
    """Put a typo of ``kind`` into the given name or the surname of copy ``i`` (in random order,
    the first that can take it); False when neither can. Shared by the seeders."""
    fields = ["given", "surname"]
    r.shuffle(fields)
    for f in fields:
        new = _typo(C[f][i], kind, r)
        if new is not None:
            C[f][i] = new
            return True
    return False


def _is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid(y: int, m: int, d: int, ref: tuple) -> bool:
    if not (1900 <= y and 1 <= m <= 12 and 1 <= d <= _MONTH_DAYS[m - 1]):
        return False
    if m == 2 and d == 29 and not _is_leap(y):
        return False
    return (y, m, d) < ref


def _corrupt(C: dict, n_corr: list, kind_draws: list, pools: dict, taken: dict, r: random.Random, V: _Vocab):
    """Apply 1-4 corruptions to each duplicate in ``C`` (lists, changed in place); return
    [(duplicate index, kind), ...]."""
    kinds = CORRUPTION_KINDS
    cum = np.cumsum(_KIND_WEIGHTS).tolist()
    ref = (int(str(_REF_DATE)[:4]), int(str(_REF_DATE)[5:7]), int(str(_REF_DATE)[8:10]))
    accent = V.accent
    out = []
    choices, rand = r.choices, r.random
    name_fields = ("given", "surname")

    for i in range(len(n_corr)):
        locked: set = set()
        done: list = []
        deferred: list = []
        want = n_corr[i]
        attempts = 0
        pre = kind_draws[i]
        while len(done) + len(deferred) < want and attempts < 60:
            kind = kinds[pre[attempts]] if attempts < len(pre) else choices(kinds, cum_weights=cum)[0]
            attempts += 1
            if kind in done or kind in deferred:
                continue
            ok = False
            if kind in _DEFERRED:
                deferred.append(kind)
                continue
            if kind.startswith("typo_"):
                fields = [f for f in name_fields if f not in locked]
                r.shuffle(fields)
                for f in fields:
                    new = _typo(C[f][i], kind, r)
                    if new is not None:
                        C[f][i] = new
                        locked.add(f)
                        ok = True
                        break
            elif kind == "nickname":
                g = C["given"][i]
                options = NICKNAMES.get(g) or _NICK_TO_FORMAL.get((g, C["male"][i]))
                if "given" not in locked and options:
                    C["given"][i] = r.choice(options)
                    locked.add("given")
                    ok = True
            elif kind == "name_swap":
                if not locked & {"given", "surname"} and C["given"][i] != C["surname"][i]:
                    C["given"][i], C["surname"][i] = C["surname"][i], C["given"][i]
                    locked.update(("given", "surname"))
                    ok = True
            elif kind == "initial":
                g = C["given"][i]
                if "given" not in locked and len(g) > 1:
                    C["given"][i] = g[0].upper() + ("." if rand() < 0.5 else "")
                    locked.add("given")
                    ok = True
            elif kind == "diacritics":
                fields = [f for f in name_fields if f not in locked]
                r.shuffle(fields)
                for f in fields:
                    v = C[f][i]
                    if not v.isascii():
                        german = any(c in v for c in "äöüÄÖÜß")
                        new = v.translate(_GERMAN_FOLD) if german and rand() < 0.7 else _strip_accents(v)
                    else:
                        new = accent.get(v)
                    if new and new != v:
                        C[f][i] = new
                        locked.add(f)
                        ok = True
                        break
            elif kind == "cyrillic":
                for f in name_fields:
                    if f not in locked and C[f][i] in CYRILLIC:
                        C[f][i] = CYRILLIC[C[f][i]]
                        locked.add(f)
                        ok = True
            elif kind in ("missing_phone", "missing_email", "missing_soc_sec_id"):
                f = {"missing_phone": "phone", "missing_email": "email", "missing_soc_sec_id": "ssn"}[kind]
                if f not in locked and C[f][i] is not None:
                    C[f][i] = None
                    locked.add(f)
                    ok = True
            elif kind == "missing_address_2":
                if "address" not in locked and C["address_2"][i]:
                    C["address_2"][i] = None
                    locked.add("address")
                    ok = True
            elif kind == "soc_sec_id_digit":
                s = C["ssn"][i]
                if "ssn" not in locked and s is not None:
                    for _ in range(10):
                        p = r.randrange(7)
                        c = str(r.randrange(1 if p == 0 else 0, 10))
                        new = s[:p] + c + s[p + 1:]
                        if new != s and new not in taken["ssn"]:
                            taken["ssn"].add(new)
                            C["ssn"][i] = new
                            locked.add("ssn")
                            ok = True
                            break
            elif kind.startswith("dob_"):
                if "dob" not in locked:
                    y, m, d = C["y"][i], C["m"][i], C["d"][i]
                    new = None
                    if kind == "dob_day_month_swap":
                        if d <= 12 and d != m and _valid(y, d, m, ref):
                            new = (y, d, m)
                    elif kind == "dob_year_off":
                        step = 1 if rand() < 0.5 else -1
                        for s in (step, -step):
                            nd = 28 if (m == 2 and d == 29 and not _is_leap(y + s)) else d
                            if _valid(y + s, m, nd, ref):
                                new = (y + s, m, nd)
                                break
                    else:  # dob_digit: one digit of YYYYMMDD typed wrong, still a valid date
                        text = f"{y:04d}{m:02d}{d:02d}"
                        for _ in range(12):
                            p = r.randrange(2, 8)
                            t = text[:p] + str(r.randrange(10)) + text[p + 1:]
                            cand = (int(t[:4]), int(t[4:6]), int(t[6:]))
                            if t != text and _valid(*cand, ref):
                                new = cand
                                break
                    if new is not None:
                        C["y"][i], C["m"][i], C["d"][i] = new
                        locked.add("dob")
                        ok = True
            elif kind == "moved":
                if "address" not in locked:
                    for cand in pools["address"][i]:
                        key = "|".join((cand[0], cand[1], cand[3], cand[4]))
                        if key not in taken["address"] and (cand[1], cand[3]) != (C["address_1"][i], C["suburb"][i]):
                            taken["address"].add(key)
                            for f, v in zip(("street_number", "address_1", "address_2", "suburb", "postcode",
                                             "state"), cand):
                                C[f][i] = v
                            locked.add("address")
                            ok = True
                            break
            elif kind in ("new_phone", "new_email"):
                f = kind[4:]
                if f not in locked and C[f][i] is not None:
                    for key, cand in pools[f][i]:
                        if key not in taken[f]:
                            taken[f].add(key)
                            C[f][i] = cand
                            locked.add(f)
                            ok = True
                            break
            elif kind == "address_abbreviation":
                a1, a2 = C["address_1"][i], C["address_2"][i] or ""
                if "address" not in locked and (_ABBR_RE.search(a1) or _STRASSE_RE.search(a1)
                                                or "Apartment" in a2):
                    dot = "." if rand() < 0.25 else ""
                    new1 = _ABBR_RE.sub(lambda mt: ADDRESS_ABBREVIATIONS[mt.group(1)] + dot, a1)
                    new1 = _STRASSE_RE.sub(lambda mt: mt.group(1) + "tr.", new1)
                    C["address_1"][i] = new1
                    if a2:
                        C["address_2"][i] = a2.replace("Apartment", "Apt")
                    locked.add("address")
                    ok = True
            if ok:
                done.append(kind)

        for kind in deferred:   # formatting last, so that it shows on the corrupted names too
            if kind == "upper_case":
                fields = [f for f in name_fields if C[f][i].upper() != C[f][i]]
                if fields:
                    pick = fields if rand() < 0.4 else [r.choice(fields)]
                    for f in pick:
                        C[f][i] = C[f][i].upper()
                    done.append(kind)
            else:  # extra_spaces
                f = r.choice(name_fields)
                v = C[f][i]
                x = rand()
                if " " in v.strip() or "-" in v:
                    new = re.sub(r"\s*-\s*", " - ", v, count=1) if "-" in v else v.replace(" ", "  ", 1)
                elif x < 0.45:
                    new = v + (" " if rand() < 0.6 else "  ")
                elif x < 0.8:
                    new = " " + v
                else:
                    new = " " + v + " "
                C[f][i] = new
                done.append(kind)
        out.extend((i, k) for k in done)
    return out


# =============================================================================== generate
def generate(rows: int, duplicate_rate: float = 0.3, seed: int = 0) -> PeopleData:
    """``rows`` person records; ``duplicate_rate`` = share of people with 1-3 duplicates."""
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ValueError(f"rows must be an integer >= 1, got {rows!r}")
    try:
        duplicate_rate = float(duplicate_rate)
    except (TypeError, ValueError):
        raise ValueError(f"duplicate_rate must be a number in [0, 1), got {duplicate_rate!r}") from None
    if not 0.0 <= duplicate_rate < 1.0:
        raise ValueError(f"duplicate_rate must be in [0, 1), got {duplicate_rate}")
    rows, seed = int(rows), int(seed)

    rng = np.random.default_rng(seed)
    V = _vocab()
    n_people, mult = _plan_people(rows, duplicate_rate, rng)
    P = _population(n_people, rng, V)

    # ---- duplicates: which person, and their number (dup-0, dup-1, ...)
    dup_people = np.flatnonzero(mult > 1)
    extra = mult[dup_people] - 1
    copy_person = np.repeat(dup_people, extra)
    copy_no = np.arange(len(copy_person)) - np.repeat(np.cumsum(extra) - extra, extra)
    n_c = len(copy_person)

    ssn_s = _digits(P["ssn"], 7)
    ssn_o = np.where(P["has_ssn"], ssn_s, None)
    phone_o = np.where(P["has_phone"], P["phone"], None)
    email_o = np.where(P["has_email"], P["email"], None)
    addr_fields = ("street_number", "address_1", "address_2", "suburb", "postcode", "state")
    C = {"given": P["given"][copy_person].tolist(), "surname": P["surname"][copy_person].tolist(),
         "y": P["y"][copy_person].tolist(), "m": P["m"][copy_person].tolist(), "d": P["d"][copy_person].tolist(),
         "ssn": ssn_o[copy_person].tolist(), "phone": phone_o[copy_person].tolist(),
         "email": email_o[copy_person].tolist(), "male": P["male"][copy_person].tolist()}
    for f in addr_fields:
        C[f] = P[f][copy_person].tolist()

    # values no two people may share (no households): every person's, and every new one drawn
    taken = {
        "ssn": set(ssn_s.tolist()),
        "phone": set(P["phone_key"].tolist()),
        "email": set(P["email"].tolist()),
        "address": set(_address_key(P["street_number"], P["address_1"], P["suburb"], P["postcode"]).tolist()),
    }
    # candidates for new phones, e-mails and addresses: two per duplicate, drawn in bulk
    loc_c = P["locale"][copy_person]
    pools: dict = {}
    if n_c:
        loc2 = np.concatenate([loc_c, loc_c])
        pk, pv = _phones(rng, V, loc2, np.concatenate([P["place"][copy_person]] * 2))
        pools["phone"] = list(zip(zip(pk[:n_c].tolist(), pv[:n_c].tolist()), zip(pk[n_c:].tolist(), pv[n_c:].tolist())))
        given2 = np.concatenate([P["given"][copy_person]] * 2)
        sur2 = np.concatenate([P["surname"][copy_person]] * 2)
        y2 = np.concatenate([P["y"][copy_person]] * 2)
        ev = _emails(rng, V, given2, sur2, y2, loc2)
        ev = (np.strings.partition(ev.astype(str), "@")[0].astype(object)
              + np.where(rng.random(2 * n_c) < 0.5, _digits(rng.integers(1, 1000, 2 * n_c), 1), "")
              + "@" + np.strings.partition(ev.astype(str), "@")[2].astype(object))
        pools["email"] = list(zip(zip(ev[:n_c].tolist(), ev[:n_c].tolist()), zip(ev[n_c:].tolist(), ev[n_c:].tolist())))
        # a move: 30 % within the same suburb (new street), else anywhere in the same country
        place2 = np.concatenate([P["place"][copy_person]] * 2)
        moved_away = rng.random(2 * n_c) >= 0.3
        for loc in LOCALES:
            m = moved_away & (loc2 == loc)
            place2[m] = rng.choice(len(V.places[loc]["p"]), size=int(m.sum()), p=V.places[loc]["p"])
        A = _addresses(rng, V, loc2, place2)
        cand = list(zip(*(A[f].tolist() for f in addr_fields)))
        pools["address"] = list(zip(cand[:n_c], cand[n_c:]))
    n_corr = (rng.choice(4, size=n_c, p=_N_CORRUPTIONS_P) + 1).tolist()
    kind_draws = rng.choice(len(CORRUPTION_KINDS), size=(n_c, 10), p=_norm_weights(_KIND_WEIGHTS)).tolist()
    r = random.Random(int(rng.integers(0, 2**63 - 1)))
    applied = _corrupt(C, n_corr, kind_draws, pools, taken, r, V)
    del kind_draws, pools

    # ---- all records: originals first, then duplicates
    rec_person = np.concatenate([np.arange(n_people), copy_person])

    def col(original: np.ndarray, name: str) -> np.ndarray:
        """Originals' values, then the (corrupted) duplicates' values."""
        return np.concatenate([_obj(original), _obj(C[name])])

    given, surname = col(P["given"], "given"), col(P["surname"], "surname")
    y = np.concatenate([P["y"], np.array(C["y"], dtype=np.int64)])
    mo = np.concatenate([P["m"], np.array(C["m"], dtype=np.int64)])
    d = np.concatenate([P["d"], np.array(C["d"], dtype=np.int64)])
    dob = _digits(y * 10_000 + mo * 100 + d, 8)

    # invalid dates of birth, on records whose date was not corrupted
    dob_corrupted = np.zeros(rows, dtype=bool)
    for ci, k in applied:
        if k.startswith("dob_"):
            dob_corrupted[n_people + ci] = True
    bad = (rng.random(rows) < _INVALID_DOB_P) & ~dob_corrupted
    nb = int(bad.sum())
    if nb:
        how = rng.choice(3, size=nb, p=[0.4, 0.15, 0.45])
        yb = y[bad]
        impossible = np.where(rng.random(nb) < 0.5,
                              yb * 10_000 + mo[bad] * 100 + rng.integers(32, 40, nb),             # day 32-39
                              yb * 10_000 + np.where(rng.random(nb) < 0.5, 13, 0) * 100 + d[bad])  # month 13 / 00
        dob[bad] = np.where(how == 0, "", np.where(how == 1, "00000000", _digits(impossible, 8)))

    # sources: a duplicate comes from another system than its original where possible
    src = rng.choice(len(SOURCES), size=rows, p=_norm_weights(_SOURCE_P))
    if n_c:
        orig_src = src[copy_person]
        shift = rng.integers(1, len(SOURCES), n_c)
        src[n_people:] = (orig_src + shift) % len(SOURCES)
    source = _obj(SOURCES)[src]
    male = P["male"][rec_person]
    # each system writes sex its own way: crm male/female, billing M/F, the others mixed or blank
    long_ = np.where(male, "male", "female").astype(object)
    short = np.where(male, "M", "F").astype(object)
    u = rng.random(rows)
    sex = np.select(
        [src == 0, src == 1, src == 2, src == 3],
        [long_, short, np.where(u < 0.25, "", long_), np.where(u < 0.15, "", np.where(u < 0.6, short, long_))],
        default=short).astype(object)

    updated = rng.integers(_TS_START, _TS_END + 1, rows)
    # a duplicate that carries news (a move, a new phone or e-mail) was updated after its original
    news = np.unique([ci for ci, k in applied if k in ("moved", "new_phone", "new_email")]).astype(np.int64)
    for dup_row, org_row in zip((n_people + news).tolist(), copy_person[news].tolist()):
        if updated[dup_row] < updated[org_row]:
            updated[dup_row], updated[org_row] = updated[org_row], updated[dup_row]
    updated = updated.astype("datetime64[s]")

    # rec_id: rec-<person number>-org / rec-<person number>-dup-<k>; person numbers shuffled
    person_no = rng.permutation(n_people).astype(np.int64)
    pno = person_no[rec_person]
    tail = np.concatenate([np.full(n_people, "org", dtype=object),
                           "dup-" + _digits(copy_no, 1) if n_c else np.array([], dtype=object)])
    rec_id = "rec-" + _digits(pno, 1) + "-" + tail

    data = {
        "rec_id": rec_id, "given_name": given, "surname": surname,
        **{f: col(P[f], f) for f in addr_fields},
        "date_of_birth": dob, "soc_sec_id": col(ssn_o, "ssn"), "phone": col(phone_o, "phone"),
        "email": col(email_o, "email"), "sex": sex, "source": source,
        "updated_at": pd.DatetimeIndex(updated.astype("datetime64[ns]")).tz_localize("UTC"),
    }
    perm = rng.permutation(rows)
    records = pd.DataFrame({c: (data[c][perm]) for c in PEOPLE_COLUMNS}, columns=PEOPLE_COLUMNS)
    for c in PEOPLE_COLUMNS:
        if c != "updated_at":
            records[c] = records[c].astype(object)
    truth = pd.DataFrame({"rec_id": rec_id[perm], "person_id": pno[perm]})

    if applied:
        ci = np.fromiter((a for a, _ in applied), dtype=np.int64, count=len(applied))
        corruptions = pd.DataFrame({"rec_id": rec_id[n_people + ci],
                                    "kind": np.array([k for _, k in applied], dtype=object)})
    else:
        corruptions = pd.DataFrame({"rec_id": np.array([], dtype=object), "kind": np.array([], dtype=object)})

    counts = corruptions["kind"].value_counts()
    stats = {
        "records": rows,
        "people": int(n_people),
        "duplicate_records": int(n_c),
        "true_duplicate_pairs": int((mult * (mult - 1) // 2).sum()),
        "people_with_duplicates": int(len(dup_people)),
        "corruptions": {k: int(counts.get(k, 0)) for k in CORRUPTION_KINDS},
        "invalid_date_of_birth": nb,
        "namesake_people": int(P["namesakes"]),
        "surname_place_sharers": int(P["surname_place_sharers"]),
    }
    return PeopleData(records=records, truth=truth, corruptions=corruptions, stats=stats)


# =============================================================================== warehouse
def write_table(conn, table: str, data: PeopleData, truth_table: str) -> None:
    """Create (dropping any previous) ``table`` and ``truth_table`` and load ``data``, in one
    transaction (:func:`golden_record.io.warehouse.replace_tables`). Columns are text except
    ``updated_at`` (timestamptz); ``rec_id`` is the primary key of both; ``person_id`` is bigint.
    Table names may be schema-qualified."""
    warehouse.replace_tables(conn, {table: data.records[PEOPLE_COLUMNS], truth_table: data.truth[TRUTH_COLUMNS]},
                             create={table: "rec_id", truth_table: "rec_id"})
