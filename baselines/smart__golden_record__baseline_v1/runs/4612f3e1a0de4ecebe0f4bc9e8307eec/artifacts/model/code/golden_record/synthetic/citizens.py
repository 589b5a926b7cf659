"""Synthetic citizens of an Indian state registry, with realistic duplicates and ground truth.

``generate`` builds a population of people living in households, then lets a share of
the people appear 2-4 times, as if recorded by different departments (source systems).
Every copy after the first is corrupted 1-3 times (typos, transliteration variants,
initials, swapped names, missing fields, abbreviated address) and carries what happens in real
registries between two records of one person: the person moved (new address, pincode, district
and often state, consistent with each other), changed mobile number or e-mail, a clerk ticked the
wrong gender, or the date of birth was mistyped (day and month swapped, one digit wrong, year off
by one) or defaulted to 1 January. Each corruption is recorded; ``truth`` maps every record to
its real person. A copy that carries news (a move, a new number or e-mail) was updated after the
person's first record, and the copies of one person that moved share the new home.

Hard non-matches are built in on purpose: family members share surname, address,
pincode, Jan Aadhaar, often the father's name and the head's mobile number; a few
siblings have look-alike names (Ravi / Ravindra), some are twins (same DOB), and
about 10-15 % of people carry very common full names concentrated in a few districts.

The base population is sampled with numpy and built with vectorised string operations;
only the duplicate copies (about a fifth of the rows) go through a light Python loop.
Faker's ``en_IN`` lists are used as an extra name source (cleaned); everything is
deterministic for a given seed.
"""

from __future__ import annotations

import datetime as _dt
import random
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from golden_record.synthetic import indian_data as D

CITIZEN_COLUMNS = [
    "citizen_id", "full_name", "first_name", "last_name", "father_name", "gender",
    "date_of_birth", "mobile", "email", "address", "district", "state", "pincode", "jan_aadhaar",
    "aadhaar_last4", "source_system", "created_at", "updated_at",
]
CORRUPTION_KINDS = (
    "typo_insert", "typo_delete", "typo_substitute", "typo_transpose", "transliteration",
    "initials", "name_swap", "missing_jan_aadhaar", "missing_mobile", "missing_email",
    "dob_day_month_swap", "dob_year_off", "new_mobile", "address_abbreviation",
    "moved", "new_email", "wrong_gender", "dob_digit", "dob_default",
)
SOURCE_SYSTEMS = (
    "ration_card", "health_dept", "school_education", "pension", "voter_registry",
    "jan_aadhaar_portal",
)

# Relative frequency of each corruption kind (same order as CORRUPTION_KINDS). Measured on
# 100,000 records, the true duplicate pairs then differ (where both hold a value) on address and
# pincode ~15 %, mobile ~17 %, e-mail ~15 %, date of birth ~12 % and gender ~3 % (README, Seeding).
_KIND_WEIGHTS = (
    0.055, 0.055, 0.07, 0.045, 0.10, 0.04, 0.025, 0.055, 0.055, 0.07,   # names, missing values
    0.02, 0.02, 0.07, 0.07,                                              # dob swap / year, mobile, abbreviation
    0.07, 0.065, 0.012, 0.015, 0.012,                                    # moved, e-mail, gender, dob digit / default
)
_COPIES_P = {2: 0.7, 3: 0.2, 4: 0.1}            # records per duplicated person
_N_CORRUPTIONS_P = (0.4, 0.4, 0.2)             # 1, 2 or 3 corruptions per copy
_MOVE_SAME_STATE = 0.75                        # a move stays in the state (always another district)
_MOVE_LEAVES_HOUSEHOLD = 0.3                   # ... and takes the person out of the household (new Jan Aadhaar)
_NEWS = ("moved", "new_mobile", "new_email")   # a copy carrying these is more recent than the first record
_HOUSEHOLD_SIZE_P = (0.10, 0.17, 0.22, 0.24, 0.16, 0.11)   # sizes 1..6, mean ~3.5
_COMMON_HOUSEHOLD_SHARE = 0.08                 # households with a very common surname ...
_COMMON_FIRST_NAME_SHARE = 0.85                # ... whose members mostly get common first names
_SIMILAR_SIBLING_SHARE = 0.04
_TWIN_SHARE = 0.03
_MISSING_EMAIL = (0.60, 0.10)                 # children under 12, others (overall ~20 %)
_MISSING_MOBILE = 0.05

_REF_DATE = np.datetime64("2025-07-01", "D")
_TS_START = np.datetime64("2014-01-01T00:00:00", "s").astype(np.int64)
_TS_END = np.datetime64("2025-06-30T23:59:59", "s").astype(np.int64)
_DAY = 86_400


@dataclass
class SyntheticData:
    citizens: pd.DataFrame     # exactly CITIZEN_COLUMNS, in that order
    truth: pd.DataFrame        # citizen_id (int64), entity_id (int64)
    corruptions: pd.DataFrame  # citizen_id, kind: one row per corruption applied to a duplicate
    stats: dict


# =============================================================================== vocabulary
_NO_AADHAAR_SOURCES = ("ration_card", "school_education")
_AADHAAR_MISSING_P = 0.15


def _dedupe(seq):
    seen, out = set(), []
    for s in seq:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def _zipf(n: int, offset: float = 4.0, power: float = 0.9) -> np.ndarray:
    return 1.0 / (np.arange(n) + offset) ** power


def _clean_faker(names, blocklist) -> list[str]:
    out = []
    for n in names:
        n = n.strip()
        if not n.isascii() or not n.isalpha() or n in blocklist or len(n) < 3:
            continue
        out.append(n[0].upper() + n[1:].lower())
    return _dedupe(out)


@lru_cache(maxsize=1)
def _faker_lists():
    """Name lists pulled once from Faker's en_IN person provider (cleaned)."""
    from faker import Faker

    fake = Faker("en_IN")
    person = next(p for p in fake.providers if type(p).__module__.endswith("person.en_IN"))
    return (
        tuple(_clean_faker(person.first_names_male, D.FAKER_FIRST_NAME_BLOCKLIST)),
        tuple(_clean_faker(person.first_names_female, D.FAKER_FIRST_NAME_BLOCKLIST)),
        tuple(_clean_faker(person.last_names, D.FAKER_LAST_NAME_BLOCKLIST)),
    )


class _Vocab:
    """Code tables for first names and surnames, and per-community sampling pools."""

    def __init__(self, seed: int):
        from faker import Faker

        fk_male, fk_female, fk_last = _faker_lists()
        # Faker's seeded instance decides the popularity order of the (low-weight) Faker extras.
        fake = Faker("en_IN")
        fake.seed_instance(seed)
        fk_male = list(fake.random_sample(fk_male, length=len(fk_male)))
        fk_female = list(fake.random_sample(fk_female, length=len(fk_female)))
        fk_last = list(fake.random_sample(fk_last, length=len(fk_last)))

        first_all: list[str] = []
        for male, female in D.FIRST_NAMES.values():
            first_all += male + female
        for _, cm, cf in D.COMMON_NAMES.values():
            first_all += cm + cf
        for pairs in (D.SIMILAR_MALE, D.SIMILAR_FEMALE):
            for a, b in pairs:
                first_all += [a, b]
        first_all += fk_male + fk_female
        self.first = _dedupe(first_all)
        last_all: list[str] = []
        for s in D.SURNAMES.values():
            last_all += s
        for cs, _, _ in D.COMMON_NAMES.values():
            last_all += cs
        last_all += fk_last
        self.last = _dedupe(last_all)

        fidx = {n: i for i, n in enumerate(self.first)}
        lidx = {n: i for i, n in enumerate(self.last)}
        self.first_arr = np.array(self.first, dtype=object)
        self.last_arr = np.array(self.last, dtype=object)
        self.first_lower = np.array([s.lower() for s in self.first], dtype=object)
        self.last_lower = np.array([s.lower() for s in self.last], dtype=object)

        def pool(index, names, extra=(), offset=4.0, power=0.9, extra_weight=0.35):
            """(codes, probs): Zipf by rank over ``names``, low flat weight for ``extra``."""
            names = _dedupe(names)
            known = set(names)
            extra = [e for e in _dedupe(extra) if e not in known]
            w = _zipf(len(names), offset, power)
            if extra:
                w = np.concatenate([w, np.full(len(extra), w.min() * extra_weight)])
            return np.array([index[n] for n in names + extra]), w / w.sum()

        self.communities = list(D.COMMUNITIES)
        self.first_pools = {}   # (community, is_male) -> (codes into self.first, probs)
        self.surname_pools = {}
        self.common_pools = {}  # community -> ((codes, probs) for surnames, male, female names)
        for c in self.communities:
            male, female = D.FIRST_NAMES[c]
            ex_m, ex_f = (fk_male, fk_female) if c == "north" else ((), ())
            self.first_pools[(c, True)] = pool(fidx, male, ex_m)
            self.first_pools[(c, False)] = pool(fidx, female, ex_f)
            self.surname_pools[c] = pool(lidx, D.SURNAMES[c], fk_last if c == "north" else (),
                                         offset=3.0, power=1.0, extra_weight=0.3)
            cs, cm, cf = D.COMMON_NAMES[c]
            # steep popularity so that a handful of names ("Rahul Kumar") repeat a lot
            self.common_pools[c] = (pool(lidx, cs, offset=1.5, power=1.2),
                                    pool(fidx, cm, offset=1.5, power=1.2),
                                    pool(fidx, cf, offset=1.5, power=1.2))
        self.similar = {
            True: (np.array([fidx[a] for a, _ in D.SIMILAR_MALE]), np.array([fidx[b] for _, b in D.SIMILAR_MALE])),
            False: (np.array([fidx[a] for a, _ in D.SIMILAR_FEMALE]), np.array([fidx[b] for _, b in D.SIMILAR_FEMALE])),
        }

        # places
        self.states = list(D.STATES)
        sw = np.array([D.STATES[s][0] for s in self.states])
        self.state_p = sw / sw.sum()
        self.state_comm_p = np.zeros((len(self.states), len(self.communities)))
        dist_names, dist_state, dist_prefix, dist_w = [], [], [], []
        for si, s in enumerate(self.states):
            _, comm, dists = D.STATES[s]
            for c, p in comm.items():
                self.state_comm_p[si, self.communities.index(c)] = p
            for name, prefix, w in dists:
                dist_names.append(name)
                dist_state.append(si)
                dist_prefix.append(prefix)
                dist_w.append(w)
        self.state_comm_p /= self.state_comm_p.sum(axis=1, keepdims=True)
        self.dist_names = np.array(dist_names, dtype=object)
        self.dist_state = np.array(dist_state)
        self.dist_prefix = np.array(dist_prefix, dtype=np.int64)
        self.dist_w = np.array(dist_w, dtype=float)
        self.state_arr = np.array(self.states, dtype=object)


@lru_cache(maxsize=8)
def _vocab(seed: int) -> _Vocab:
    return _Vocab(seed)


def _num_strings(n: int, width: int = 0) -> np.ndarray:
    return np.array([str(i).zfill(width) for i in range(n)], dtype=object)


_NUM = _num_strings(1000)
_NUM2 = _num_strings(100, 2)


def _obj(a) -> np.ndarray:
    return np.asarray(a, dtype=object)


def _int_strings(values: np.ndarray, width: int = 0) -> np.ndarray:
    """int array -> object array of (zero-padded) decimal strings."""
    s = values.astype(np.int64).astype(str)
    if width:
        s = np.strings.zfill(s, width)
    return s.astype(object)


# =============================================================================== population
def _plan_people(rows: int, duplicate_rate: float, rng: np.random.Generator):
    """Number of people and records per person so that the total is exactly ``rows``."""
    ks_values = np.array(sorted(_COPIES_P))
    ks_p = np.array([_COPIES_P[k] for k in ks_values])
    mean_extra = float(((ks_values - 1) * ks_p).sum())
    people_guess = rows / (1.0 + duplicate_rate * mean_extra)
    n_dup = int(round(duplicate_rate * people_guess))
    ks = rng.choice(ks_values, size=n_dup, p=ks_p)
    ks = ks[np.cumsum(ks) <= rows]        # duplicated people's records must fit in `rows`
    n_people = int(rows - (ks - 1).sum())
    mult = np.ones(n_people, dtype=np.int64)
    if len(ks):
        who = rng.permutation(n_people)[: len(ks)]
        mult[who] = ks
    return n_people, mult


def _households(n_people: int, rng: np.random.Generator):
    sizes_p = np.array(_HOUSEHOLD_SIZE_P)
    draw = rng.choice(np.arange(1, 7), size=int(n_people / 3.3) + 16, p=sizes_p / sizes_p.sum())
    cs = np.cumsum(draw)
    while cs[-1] < n_people:  # pragma: no cover - the draw above is always long enough
        draw = np.concatenate([draw, rng.choice(np.arange(1, 7), size=16, p=sizes_p / sizes_p.sum())])
        cs = np.cumsum(draw)
    n_hh = int(np.searchsorted(cs, n_people) + 1)
    sizes = draw[:n_hh].copy()
    sizes[-1] -= cs[n_hh - 1] - n_people
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    hh = np.repeat(np.arange(n_hh), sizes)
    member = np.arange(n_people) - starts[hh]
    return n_hh, sizes, starts, hh, member


def _sample_codes(rng, codes, p, n):
    return codes[rng.choice(len(codes), size=n, p=p)]


def _first_names(rng, V: _Vocab, comm, male, common, mask=None):
    """Sample first-name codes for people (restricted to ``mask`` if given)."""
    n = len(comm)
    out = np.full(n, -1, dtype=np.int64)
    sel = np.ones(n, dtype=bool) if mask is None else mask
    for ci, c in enumerate(V.communities):
        for g in (True, False):
            m = sel & (comm == ci) & (male == g)
            reg = m & ~common
            if reg.any():
                codes, p = V.first_pools[(c, g)]
                out[reg] = _sample_codes(rng, codes, p, int(reg.sum()))
            com = m & common
            if com.any():
                codes, p = V.common_pools[c][1 if g else 2]
                out[com] = _sample_codes(rng, codes, p, int(com.sum()))
    return out


def _dup_within(hh, codes):
    key = hh.astype(np.int64) * 1_000_003 + codes
    _, first = np.unique(key, return_index=True)
    dup = np.ones(len(key), dtype=bool)
    dup[first] = False
    return dup


def _render(template: str, comps: dict, idx: np.ndarray) -> np.ndarray:
    """Vectorised str.format: ``"{a}, {b} Road"`` with object-array components, rows ``idx``."""
    out = np.full(len(idx), "", dtype=object)
    for i, piece in enumerate(re.split(r"\{(\w+)\}", template)):
        if piece:
            out = out + (comps[piece][idx] if i % 2 else piece)
    return out


def _render_choice(rng, n: int, templates, comps: dict) -> np.ndarray:
    """Pick one (weight, template) per row and render it, building each template on its rows only."""
    w = np.array([t[0] for t in templates], dtype=float)
    choice = rng.choice(len(templates), size=n, p=w / w.sum())
    out = np.empty(n, dtype=object)
    for ti, (_, template) in enumerate(templates):
        idx = np.flatnonzero(choice == ti)
        if len(idx):
            out[idx] = _render(template, comps, idx)
    return out


_ADDRESS_TEMPLATES = [
    (0.18, "{hno}, {sw} Road, {loc} Nagar"),
    (0.12, "{hno}, Near {lm}, {loc} Colony"),
    (0.08, "Flat {flat}, {apt} Apartment, {sw} Road"),
    (0.10, "{hno}, Sector {sector}, {loc} Nagar"),
    (0.08, "{hno}, {ordn} Main Road, {loc} Colony"),
    (0.08, "{hno}, {sw} Street, {loc} Vihar"),
    (0.12, "Ward No. {ward}, Village {vil}, Near {lm}"),
    (0.06, "{hno}, {loc} Mohalla, {sw} Marg"),          # no abbreviable word
    (0.08, "{hno}, {sw} Road, Near {lm}"),
    (0.05, "Plot No. {num}, {loc} Colony, {sw} Main Road"),
    (0.05, "{hno}, Ward No. {ward}, {vil}"),              # no abbreviable word
]
_HOUSE_TEMPLATES = [(0.3, "H.No. {num}"), (0.3, "{num}"), (0.25, "{num}/{num2}"), (0.15, "{num}-A")]
_EMAIL_TEMPLATES = [
    (0.30, "{f}.{l}{d2}"), (0.20, "{f}{l}{d3}"), (0.15, "{f}{yy}"), (0.10, "{f}_{l}"),
    (0.15, "{f}.{l}"), (0.10, "{l}.{f}{d2}"),
]


_EMAIL_DOMAINS = _obj(D.EMAIL_DOMAINS)
_EMAIL_DOMAIN_P = np.array(D.EMAIL_DOMAIN_WEIGHTS) / np.sum(D.EMAIL_DOMAIN_WEIGHTS)


def _email_locals(rng, V: _Vocab, first, last, yob, taken: pd.Index | None = None) -> np.ndarray:
    """E-mail local parts from the names (``first``/``last`` codes, 2-digit birth year): unique
    among themselves and never one of ``taken`` (unique values; digits are appended until they are)."""
    n = len(first)
    comps = {
        "f": V.first_lower[first], "l": V.last_lower[last], "yy": _NUM2[yob],
        "d2": _NUM2[rng.integers(0, 100, n)], "d3": _NUM[rng.integers(100, 1000, n)],
    }
    local = _render_choice(rng, n, _EMAIL_TEMPLATES, comps)
    for _ in range(20):
        dup = pd.Series(local).duplicated().to_numpy()
        if taken is not None:       # the index's hash table is built once, on the first lookup
            dup |= taken.get_indexer(local) >= 0
        if not dup.any():
            break
        local[dup] = local[dup] + _NUM[rng.integers(1, 1000, int(dup.sum()))]
    return local


def _email_domains(rng, n: int, other_than: np.ndarray | None = None) -> np.ndarray:
    """Domain codes (into _EMAIL_DOMAINS) by popularity; with ``other_than``, never that domain."""
    domain = rng.choice(len(_EMAIL_DOMAINS), size=n, p=_EMAIL_DOMAIN_P)
    if other_than is not None:
        same = domain == other_than
        shift = rng.integers(1, len(_EMAIL_DOMAINS), int(same.sum()))
        domain[same] = (domain[same] + shift) % len(_EMAIL_DOMAINS)
    return domain


def _new_emails(rng, V: _Vocab, P: dict, people: np.ndarray) -> np.ndarray:
    """A new e-mail address of each of ``people``: the same name at another provider (40 % of
    those who had one), else a new address of their own (unique, never another person's)."""
    n = len(people)
    had = np.array([e is not None for e in P["email"][people]], dtype=bool)
    keep_local = had & (rng.random(n) < 0.4)
    local = P["email_local"][people].copy()
    fresh = np.flatnonzero(~keep_local)
    local[fresh] = _email_locals(rng, V, P["first_code"][people[fresh]], P["last_code"][people[fresh]],
                                 P["yob"][people[fresh]], taken=pd.Index(P["email_local"]))
    domain = _email_domains(rng, n, other_than=np.where(keep_local, P["email_domain"][people], -1))
    return local + "@" + _EMAIL_DOMAINS[domain]


def _build_addresses(rng, n: int) -> np.ndarray:
    def pick(values):
        values = _obj(values)
        return values[rng.integers(0, len(values), n)]

    comps = {
        "sw": pick(D.STREET_WORDS), "loc": pick(D.LOCALITY_WORDS), "lm": pick(D.LANDMARKS),
        "apt": pick(D.APARTMENT_WORDS), "ordn": pick(D.ORDINALS),
        "vil": pick(D.VILLAGE_PREFIXES) + pick(D.VILLAGE_SUFFIXES),
        "num": _NUM[rng.integers(1, 400, n)], "num2": _NUM[rng.integers(1, 40, n)],
        "flat": _NUM[rng.integers(1, 13, n)] + "0" + _NUM[rng.integers(1, 9, n)],
        "sector": _NUM[rng.integers(1, 30, n)], "ward": _NUM[rng.integers(1, 45, n)],
    }
    comps["hno"] = _render_choice(rng, n, _HOUSE_TEMPLATES, comps)
    return _render_choice(rng, n, _ADDRESS_TEMPLATES, comps)


def _jan_numbers(rng, n: int, taken: np.ndarray | None = None) -> np.ndarray:
    """``n`` distinct 10-digit Jan Aadhaar (household) numbers, none of them in ``taken``."""
    jan = rng.integers(1_000_000_000, 10_000_000_000, n, dtype=np.int64)
    for _ in range(20):
        dup = pd.Series(jan).duplicated().to_numpy()
        if taken is not None:
            dup |= np.isin(jan, taken)
        if not dup.any():
            break
        jan[dup] = rng.integers(1_000_000_000, 10_000_000_000, int(dup.sum()), dtype=np.int64)
    return jan


def _districts_in(rng, V: _Vocab, state: np.ndarray) -> np.ndarray:
    """A district of each given state (codes into V.dist_*), drawn by the districts' weights."""
    dist = np.empty(len(state), dtype=np.int64)
    for si in np.unique(state).tolist():
        m = state == si
        didx = np.flatnonzero(V.dist_state == si)
        w = V.dist_w[didx]
        dist[m] = didx[rng.choice(len(didx), size=int(m.sum()), p=w / w.sum())]
    return dist


def _pincodes(rng, V: _Vocab, dist: np.ndarray) -> np.ndarray:
    """Six-digit pincodes: the district's 3-digit prefix and one of its 40 post offices."""
    return V.dist_prefix[dist] * 1000 + rng.integers(1, 41, len(dist))


def _new_homes(rng, V: _Vocab, dist: np.ndarray, households: np.ndarray) -> dict:
    """Where people living in district ``dist`` moved to: a new address, always in another district
    (of the same state for ``_MOVE_SAME_STATE`` of them), with its pincode and state; a share
    leave their household and get a Jan Aadhaar number of their own (``jan``, else None).
    ``households`` are the numbers already given."""
    n = len(dist)
    state = V.dist_state[dist].copy()
    away = rng.random(n) >= _MOVE_SAME_STATE
    state[away] = rng.choice(len(V.states), size=int(away.sum()), p=V.state_p)
    new = _districts_in(rng, V, state)
    for _ in range(50):                      # every state has several districts
        same = np.flatnonzero(new == dist)
        if not len(same):
            break
        new[same] = _districts_in(rng, V, state[same])
    jan = _int_strings(_jan_numbers(rng, n, taken=households))
    jan[rng.random(n) >= _MOVE_LEAVES_HOUSEHOLD] = None
    return {"address": _build_addresses(rng, n), "district": V.dist_names[new],
            "state": V.state_arr[V.dist_state[new]], "pincode": _int_strings(_pincodes(rng, V, new)), "jan": jan}


def _population(n_people: int, rng: np.random.Generator, V: _Vocab) -> dict:
    n_hh, sizes, starts, hh, member = _households(n_people, rng)

    # ---- household level: place, community, surname, address, Jan Aadhaar
    hh_state = rng.choice(len(V.states), size=n_hh, p=V.state_p)
    u = rng.random(n_hh)
    cum = np.cumsum(V.state_comm_p[hh_state], axis=1)
    hh_comm = (u[:, None] > cum).sum(axis=1).clip(0, len(V.communities) - 1)
    hh_common = rng.random(n_hh) < _COMMON_HOUSEHOLD_SHARE
    hh_dist = _districts_in(rng, V, hh_state)
    # common-name households concentrate in their state's three biggest districts
    hot = hh_common & (rng.random(n_hh) < 0.7)
    for si in np.unique(hh_state[hot]).tolist():
        m = hot & (hh_state == si)
        didx = np.flatnonzero(V.dist_state == si)
        top = didx[np.argsort(-V.dist_w[didx], kind="stable")[:3]]
        hh_dist[m] = top[rng.integers(0, len(top), int(m.sum()))]
    hh_surname = np.empty(n_hh, dtype=np.int64)
    for ci, c in enumerate(V.communities):
        m = hh_comm == ci
        reg = m & ~hh_common
        if reg.any():
            codes, p = V.surname_pools[c]
            hh_surname[reg] = _sample_codes(rng, codes, p, int(reg.sum()))
        com = m & hh_common
        if com.any():
            codes, p = V.common_pools[c][0]
            hh_surname[com] = _sample_codes(rng, codes, p, int(com.sum()))
    hh_pincode = _pincodes(rng, V, hh_dist)
    hh_jan = _jan_numbers(rng, n_hh)
    hh_address = _build_addresses(rng, n_hh)
    hh_spouse = rng.random(n_hh) < 0.85

    # ---- person level: role, gender, age
    size = sizes[hh]
    head = member == 0
    spouse = (member == 1) & hh_spouse[hh]
    child = ~head & ~spouse
    male = np.where(head, (size > 1) | (rng.random(n_people) < 0.65),
                    np.where(spouse, False, rng.random(n_people) < 0.5))
    head_age_hh = np.clip(22 + rng.gamma(4.0, 6.5, n_hh), 22, 92)
    single = sizes == 1
    head_age_hh[single] = np.clip(18 + rng.gamma(2.5, 10.0, int(single.sum())), 18, 95)
    head_age = head_age_hh[hh]
    age = np.where(head, head_age, 0.0)
    age = np.where(spouse, np.clip(head_age - rng.uniform(-2, 6, n_people), 18, 95), age)
    # children born when the head was 22-45 (the mother at least ~16)
    child_age = np.maximum(head_age - 22 - rng.random(n_people) * np.minimum(23, head_age - 22), 0.0)
    age = np.where(child, child_age, age)
    dob = _REF_DATE.astype(np.int64) - (age * 365.25).astype(np.int64) - 1
    # twins: a child born the same day as the previous (child) member
    prev_child = np.zeros(n_people, dtype=bool)
    prev_child[1:] = child[:-1] & child[1:] & (hh[:-1] == hh[1:])
    twin = prev_child & (rng.random(n_people) < _TWIN_SHARE)
    twin[1:] &= ~twin[:-1]
    tw = np.flatnonzero(twin)
    dob[tw] = dob[tw - 1]

    # ---- names
    comm = hh_comm[hh]
    common = hh_common[hh] & (rng.random(n_people) < _COMMON_FIRST_NAME_SHARE)
    first = _first_names(rng, V, comm, male, common)
    # look-alike names for some same-sex siblings (Ravi / Ravindra)
    same_sex_prev = np.zeros(n_people, dtype=bool)
    same_sex_prev[1:] = prev_child[1:] & (male[1:] == male[:-1])
    sim = same_sex_prev & ~twin & (rng.random(n_people) < _SIMILAR_SIBLING_SHARE)
    sim[1:] &= ~sim[:-1]
    for g in (True, False):
        idx = np.flatnonzero(sim & (male == g))
        if len(idx):
            a, b = V.similar[g]
            k = rng.integers(0, len(a), len(idx))
            first[idx - 1] = a[k]
            first[idx] = b[k]
    # first names unique within each household
    for it in range(50):
        dup = _dup_within(hh, first)
        if not dup.any():
            break
        first[dup] = _first_names(rng, V, comm, male, common & (it < 3), mask=dup)[dup]
    last = hh_surname[hh]

    # father's name: head -> his/her own father (household surname); spouse -> her father
    # (another surname of the same community); children -> the household head.
    father_first = _first_names(rng, V, comm, np.ones(n_people, dtype=bool), np.zeros(n_people, dtype=bool))
    spouse_last = hh_surname[hh].copy()
    todo = spouse.copy()
    for _ in range(10):          # a wife's maiden surname differs from her husband's
        for ci, c in enumerate(V.communities):
            m = todo & (comm == ci)
            if m.any():
                codes, p = V.surname_pools[c]
                spouse_last[m] = _sample_codes(rng, codes, p, int(m.sum()))
        todo &= spouse_last == hh_surname[hh]
        if not todo.any():
            break
    father_last = np.where(spouse, spouse_last, last)
    head_idx = starts[hh]
    father_first = np.where(child, first[head_idx], father_first)

    first_s = V.first_arr[first]
    last_s = V.last_arr[last]
    father = V.first_arr[father_first] + " " + V.last_arr[father_last]

    # ---- contact details
    own_mobile = rng.integers(6_000_000_000, 10_000_000_000, n_people, dtype=np.int64)
    # young children carry the head's number, teenagers and spouses often do
    teen = (age >= 12) & (age < 18)
    share = ((age < 12) | (teen & (rng.random(n_people) < 0.6))
             | (spouse & (rng.random(n_people) < 0.25)))
    mobile_i = np.where(share & ~head, own_mobile[head_idx], own_mobile)
    mobile = _int_strings(mobile_i)
    mobile[rng.random(n_people) < _MISSING_MOBILE] = None

    yob = (dob.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970) % 100
    local = _email_locals(rng, V, first, last, yob)
    domain = _email_domains(rng, n_people)
    email = local + "@" + _EMAIL_DOMAINS[domain]
    email[rng.random(n_people) < np.where(age < 12, *_MISSING_EMAIL)] = None

    last4 = _int_strings(rng.integers(0, 10_000, n_people), 4)

    return dict(
        n_hh=n_hh, hh=hh, age=age, dob=dob, male=male,
        first=first_s, last=last_s, father=father, mobile=mobile, email=email,
        first_code=first, last_code=last, yob=yob, email_local=local, email_domain=domain,
        address=hh_address[hh], district=V.dist_names[hh_dist][hh], dist=hh_dist[hh],
        state=V.state_arr[hh_state][hh], pincode=_int_strings(hh_pincode)[hh],
        jan=_int_strings(hh_jan)[hh], hh_jan=hh_jan, last4=last4,
    )


_SOURCE_WEIGHTS = np.array([
    # ration, health, school, pension, voter, jan_aadhaar_portal
    [1.0, 1.2, 1.3, 0.0, 0.0, 1.0],     # minors
    [1.0, 1.0, 0.0, 0.08, 1.1, 1.0],    # adults
    [1.0, 1.0, 0.0, 1.2, 1.0, 0.9],     # 60+
])


def _source_systems(rng, age: np.ndarray, mult: np.ndarray, rec_person: np.ndarray, rec_copy: np.ndarray):
    """Source system of every record; the copies of a person come from distinct, plausible systems."""
    grp = np.where(age < 18, 0, np.where(age < 60, 1, 2))
    top = np.empty((len(age), 4), dtype=np.int8)
    single = mult == 1
    for g in range(3):
        m = single & (grp == g)
        w = _SOURCE_WEIGHTS[g]
        top[m, 0] = rng.choice(len(w), size=int(m.sum()), p=w / w.sum())
    dup = np.flatnonzero(~single)
    if len(dup):
        # weighted sampling without replacement (Gumbel top-k); every group has >= 4 possible systems
        with np.errstate(divide="ignore"):
            keys = np.log(_SOURCE_WEIGHTS)[grp[dup]] + rng.gumbel(size=(len(dup), len(SOURCE_SYSTEMS)))
        top[dup] = np.argsort(-keys, axis=1, kind="stable")[:, :4]
    return np.array(SOURCE_SYSTEMS, dtype=object)[top[rec_person, np.minimum(rec_copy, 3)]]


# =============================================================================== corruptions
_ABBR_RE = re.compile(r"\b(" + "|".join(D.ADDRESS_ABBREVIATIONS) + r")\b")
_VOWELS = frozenset("aeiou")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _build_translit_index():
    idx: dict[str, list[str]] = {}
    for group in D.TRANSLITERATION_GROUPS:
        for w in group:
            alts = idx.setdefault(w.lower(), [])
            for o in group:
                if o.lower() != w.lower() and o not in alts:
                    alts.append(o)
    return idx


_TRANSLIT = _build_translit_index()


def _cap(w: str) -> str:
    return w[:1].upper() + w[1:].lower()


def _typo(value: str, kind: str, r: random.Random):
    words = value.split(" ")
    wi = r.randrange(len(words))
    low = words[wi].lower()
    n = len(low)
    if kind == "typo_delete" and n < 4:
        return None
    if kind == "typo_transpose" and n < 3:
        return None
    for _ in range(4):
        if kind == "typo_insert":
            p = r.randint(1, n) if r.random() < 0.93 else 0
            ref = low[p - 1] if p > 0 else low[0]
            x = r.random()
            if x < 0.35:
                c = ref                                           # doubled letter
            elif x < 0.8:
                c = r.choice(D.KEYBOARD_NEIGHBOURS.get(ref, _LETTERS))
            else:
                c = r.choice(_LETTERS)
            new = low[:p] + c + low[p:]
        elif kind == "typo_delete":
            p = r.randrange(1, n) if r.random() < 0.95 else 0
            new = low[:p] + low[p + 1:]
        elif kind == "typo_substitute":
            p = r.randrange(1, n) if (n > 1 and r.random() < 0.93) else 0
            ch = low[p]
            c = r.choice(D.KEYBOARD_NEIGHBOURS.get(ch, _LETTERS)) if r.random() < 0.7 else r.choice(_LETTERS)
            new = low[:p] + c + low[p + 1:]
        else:  # typo_transpose
            p = r.randrange(1, n - 1) if r.random() < 0.93 else 0
            new = low[:p] + low[p + 1] + low[p] + low[p + 2:]
        if new != low:
            words[wi] = _cap(new)
            out = " ".join(words)
            if out != value:
                return out
    return None


def _translit_candidates(word: str) -> tuple[list[str], list[str]]:
    low = word.lower()
    group = [a for a in _TRANSLIT.get(low, ()) if a.lower() != low]
    rules = []
    n = len(low)
    for a, b, where in D.TRANSLITERATION_RULES:
        start = low.find(a)
        while start != -1:
            end = start + len(a)
            ok = (where == "any"
                  or (where == "start" and start == 0)
                  or (where == "end" and end == n)
                  or (where == "inner_cc" and start > 0 and end < n
                      and low[start - 1] not in _VOWELS and low[end] not in _VOWELS))
            if ok:
                new = low[:start] + b + low[end:]
                if new != low and len(new) >= 2:
                    rules.append(_cap(new))
            start = low.find(a, start + 1)
    return group, rules


def _transliterate(value: str, r: random.Random):
    words = value.split(" ")
    order = list(range(len(words)))
    r.shuffle(order)
    for wi in order:
        group, rules = _translit_candidates(words[wi])
        if not group and not rules:
            continue
        pick = r.choice(group) if group and (not rules or r.random() < 0.7) else r.choice(rules)
        words[wi] = pick
        out = " ".join(words)
        if out != value:
            return out
    return None


_DOB_DIGIT_POSITIONS = (2, 3, 4, 5, 6, 7)       # in YYYYMMDD: the decade and year, the month, the day
_DOB_DIGIT_WEIGHTS = (1, 4, 1, 2, 2, 4)
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _dob_digit(y: int, m: int, d: int, r: random.Random, ref_ordinal: int):
    """The date with one digit of YYYYMMDD mistyped, still a real date not in the future (or None)."""
    text = f"{y:04d}{m:02d}{d:02d}"
    for _ in range(8):
        p = r.choices(_DOB_DIGIT_POSITIONS, weights=_DOB_DIGIT_WEIGHTS)[0]
        c = str(r.randrange(10))
        if c == text[p]:
            continue
        new = text[:p] + c + text[p + 1:]
        ny, nm, nd = int(new[:4]), int(new[4:6]), int(new[6:])
        if not (1 <= nm <= 12 and 1 <= nd <= _MONTH_DAYS[nm - 1]) or (nm == 2 and nd == 29 and not _is_leap(ny)):
            continue
        if _dt.date(ny, nm, nd).toordinal() <= ref_ordinal:
            return ny, nm, nd
    return None


def _corrupt(copies: dict, n_corr: list, kind_draws: list, r: random.Random, ref_ordinal: int):
    """Apply 1-3 corruptions to each copy in place; return [(copy index, kind), ...]."""
    kinds = CORRUPTION_KINDS
    cum = np.cumsum(_KIND_WEIGHTS).tolist()
    n_pre = len(kind_draws[0]) if kind_draws else 0
    first, last, father = copies["first"], copies["last"], copies["father"]
    mobile, email, jan, address = copies["mobile"], copies["email"], copies["jan"], copies["address"]
    yy, mm, dd = copies["y"], copies["m"], copies["d"]
    male, moved = copies["male"], copies["moved"]
    new_address, new_jan = copies["new_address"], copies["new_jan"]
    new_mobile, new_email = copies["new_mobile"], copies["new_email"]
    abbr = D.ADDRESS_ABBREVIATIONS
    name_fields = ("first", "last", "father")
    name_w = (0.45, 0.35, 0.20)
    out = []
    choices, rand = r.choices, r.random

    for i in range(len(n_corr)):
        vals = {"first": first[i], "last": last[i], "father": father[i]}
        locked: set = set()     # fields (or field groups) already corrupted on this copy
        done: list = []
        want = n_corr[i]
        attempts = 0
        while len(done) < want and attempts < 40:
            attempts += 1
            if attempts <= n_pre:
                kind = kinds[kind_draws[i][attempts - 1]]     # pre-drawn with numpy
            else:
                kind = choices(kinds, cum_weights=cum)[0] if attempts < 35 else "typo_insert"
            if kind in done:
                continue
            ok = False
            if kind.startswith("typo_") or kind == "transliteration":
                fields = [f for f in name_fields if f not in locked]
                # weighted order of candidate fields
                while fields:
                    if len(fields) == 1:
                        f = fields[0]
                    else:
                        x = rand() * sum(name_w[name_fields.index(f)] for f in fields)
                        for f in fields:
                            x -= name_w[name_fields.index(f)]
                            if x < 0:
                                break
                    fields.remove(f)
                    new = _typo(vals[f], kind, r) if kind != "transliteration" else _transliterate(vals[f], r)
                    if new is not None and new != vals[f] and (f != "first" or len(new) > 1):
                        vals[f] = new
                        locked.add(f)
                        ok = True
                        break
            elif kind == "initials":
                v = vals["first"]
                if "first" not in locked and len(v) > 1:
                    vals["first"] = v[0].upper() + "."
                    locked.add("first")
                    ok = True
            elif kind == "name_swap":
                if "first" not in locked and "last" not in locked and vals["first"] != vals["last"]:
                    vals["first"], vals["last"] = vals["last"], vals["first"]
                    locked.update(("first", "last"))
                    ok = True
            elif kind == "missing_jan_aadhaar":
                if jan[i] is not None:
                    jan[i] = None
                    ok = True
            elif kind == "missing_mobile":
                if mobile[i] is not None and "mobile" not in locked:
                    mobile[i] = None
                    locked.add("mobile")
                    ok = True
            elif kind == "missing_email":
                if email[i] is not None and "email" not in locked:
                    email[i] = None
                    locked.add("email")
                    ok = True
            elif kind == "new_mobile":          # the person's new number (shared by their copies)
                if "mobile" not in locked and new_mobile[i] != mobile[i]:
                    mobile[i] = new_mobile[i]
                    locked.add("mobile")
                    ok = True
            elif kind == "new_email":
                if "email" not in locked and new_email[i] != email[i]:
                    email[i] = new_email[i]
                    locked.add("email")
                    ok = True
            elif kind == "moved":               # the person's new home (district, pincode set after)
                if "address" not in locked:
                    address[i] = new_address[i]
                    moved[i] = True
                    if new_jan[i] is not None and jan[i] is not None:    # left the household
                        jan[i] = new_jan[i]
                    locked.add("address")
                    ok = True
            elif kind == "wrong_gender":
                male[i] = not male[i]
                ok = True
            elif kind == "dob_digit":
                if "dob" not in locked:
                    new = _dob_digit(yy[i], mm[i], dd[i], r, ref_ordinal)
                    if new is not None:
                        yy[i], mm[i], dd[i] = new
                        locked.add("dob")
                        ok = True
            elif kind == "dob_default":          # only the year was known: 1 January
                if "dob" not in locked and (mm[i], dd[i]) != (1, 1):
                    mm[i], dd[i] = 1, 1
                    locked.add("dob")
                    ok = True
            elif kind == "dob_day_month_swap":
                if ("dob" not in locked and dd[i] <= 12 and dd[i] != mm[i]
                        and _dt.date(yy[i], dd[i], mm[i]).toordinal() <= ref_ordinal):
                    mm[i], dd[i] = dd[i], mm[i]
                    locked.add("dob")
                    ok = True
            elif kind == "dob_year_off":
                if "dob" not in locked:
                    y, m, d = yy[i], mm[i], dd[i]
                    step = 1 if rand() < 0.5 else -1
                    for s in (step, -step):
                        ny = y + s
                        nd = 28 if (m == 2 and d == 29 and not _is_leap(ny)) else d
                        if _dt.date(ny, m, nd).toordinal() <= ref_ordinal:
                            yy[i], dd[i] = ny, nd
                            locked.add("dob")
                            ok = True
                            break
            elif kind == "address_abbreviation":
                a = address[i]
                if "address" not in locked and a is not None:
                    hits = [mt for mt in _ABBR_RE.finditer(a)]
                    if hits:
                        keep = [h for h in hits if rand() < 0.7] or [hits[r.randrange(len(hits))]]
                        parts, pos = [], 0
                        for h in keep:
                            parts.append(a[pos:h.start()])
                            parts.append(abbr[h.group(1)])
                            pos = h.end()
                        parts.append(a[pos:])
                        address[i] = "".join(parts)
                        locked.add("address")
                        ok = True
            if ok:
                done.append(kind)
        first[i], last[i], father[i] = vals["first"], vals["last"], vals["father"]
        out.extend((i, k) for k in done)
    return out


# =============================================================================== generate
def generate(rows: int = 100_000, duplicate_rate: float = 0.2, seed: int = 42) -> SyntheticData:
    """Generate ``rows`` citizen records; ``duplicate_rate`` = share of people recorded 2-4 times."""
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)):
        raise ValueError(f"rows must be an integer >= 1, got {rows!r}")
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    try:
        duplicate_rate = float(duplicate_rate)
    except (TypeError, ValueError):
        raise ValueError(f"duplicate_rate must be a number in [0, 1), got {duplicate_rate!r}") from None
    if not (0.0 <= duplicate_rate < 1.0):
        raise ValueError(f"duplicate_rate must be in [0, 1), got {duplicate_rate}")
    rows = int(rows)
    seed = int(seed)

    rng = np.random.default_rng(seed)
    V = _vocab(seed)
    n_people, mult = _plan_people(rows, duplicate_rate, rng)
    P = _population(n_people, rng, V)
    n_households = P.pop("n_hh")
    del P["hh"]

    # ---- records: each person's base record, then the extra copies
    dup_people = np.flatnonzero(mult > 1)
    extra = mult[dup_people] - 1
    copy_person = np.repeat(dup_people, extra)
    copy_start = np.cumsum(extra) - extra                   # first copy's position per person
    copy_no = np.arange(len(copy_person), dtype=np.int64) - np.repeat(copy_start, extra) + 1
    rec_person = np.concatenate([np.arange(n_people), copy_person])
    rec_copy = np.concatenate([np.zeros(n_people, dtype=np.int64), copy_no])
    n_c = len(copy_person)

    source = _source_systems(rng, P.pop("age"), mult, rec_person, rec_copy)

    # ---- corrupt the copies (light Python loop over copies only)
    dob_c = P["dob"][copy_person].astype("datetime64[D]")
    y_c = dob_c.astype("datetime64[Y]").astype(np.int64) + 1970
    m_c = dob_c.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d_c = (dob_c - dob_c.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    # what may change in a duplicated person's life, drawn once per person (their copies share it)
    homes = _new_homes(rng, V, P.pop("dist")[dup_people], P.pop("hh_jan"))
    new_mobile = _int_strings(rng.integers(6_000_000_000, 10_000_000_000, len(dup_people), dtype=np.int64))
    new_email = _new_emails(rng, V, P, dup_people)
    for key in ("first_code", "last_code", "yob", "email_local", "email_domain"):
        del P[key]
    copies = {
        "first": P["first"][copy_person].tolist(), "last": P["last"][copy_person].tolist(),
        "father": P["father"][copy_person].tolist(), "mobile": P["mobile"][copy_person].tolist(),
        "email": P["email"][copy_person].tolist(), "jan": P["jan"][copy_person].tolist(),
        "address": P["address"][copy_person].tolist(), "male": P["male"][copy_person].tolist(),
        "y": y_c.tolist(), "m": m_c.tolist(), "d": d_c.tolist(), "moved": [False] * n_c,
        "new_address": np.repeat(homes["address"], extra).tolist(), "new_jan": np.repeat(homes["jan"], extra).tolist(),
        "new_mobile": np.repeat(new_mobile, extra).tolist(), "new_email": np.repeat(new_email, extra).tolist(),
    }
    n_corr = (rng.choice(3, size=n_c, p=_N_CORRUPTIONS_P) + 1).tolist()
    r = random.Random(int(rng.integers(0, 2**63 - 1)))
    ref_ordinal = _dt.date.fromisoformat(str(_REF_DATE)).toordinal() - 1
    kw = np.array(_KIND_WEIGHTS)
    kind_draws = rng.choice(len(CORRUPTION_KINDS), size=(n_c, 8), p=kw / kw.sum()).tolist()
    applied = _corrupt(copies, n_corr, kind_draws, r, ref_ordinal)
    del kind_draws, n_corr
    for key in ("new_address", "new_jan", "new_mobile", "new_email"):
        del copies[key]
    # a copy that moved lives in the new home's district, state and pincode
    moved = np.array(copies.pop("moved"), dtype=bool)
    home_of = np.repeat(np.arange(len(dup_people)), extra)[moved]
    place = {}
    for name in ("district", "state", "pincode"):
        place[name] = P[name][copy_person].astype(object)
        place[name][moved] = homes[name][home_of]

    # ---- shuffle so duplicates are not adjacent; citizen_id = position + 1
    perm = rng.permutation(rows)
    pos = np.empty(rows, dtype=np.int64)
    pos[perm] = np.arange(rows)
    rp = rec_person[perm]          # person behind each final row
    citizen_id = np.arange(1, rows + 1, dtype=np.int64)

    def col(name, key=None, copy_values=None):
        """Column over all records (base + corrupted copies), in final row order."""
        values = copies.pop(key or name) if copy_values is None else copy_values
        return np.concatenate([_obj(P.pop(name)), _obj(values)])[perm]

    if n_c:
        yc = np.array(copies.pop("y"), dtype=np.int64)
        mc = np.array(copies.pop("m"), dtype=np.int64)
        dc = np.array(copies.pop("d"), dtype=np.int64)
        dob_copy = ((yc - 1970).astype("datetime64[Y]").astype("datetime64[M]")
                    + (mc - 1).astype("timedelta64[M]")).astype("datetime64[D]") + (dc - 1).astype("timedelta64[D]")
        dob_days = np.concatenate([P.pop("dob"), dob_copy.astype(np.int64)])[perm]
    else:
        dob_days = P.pop("dob")[perm]

    # ---- timestamps (naive UTC): created after birth, updated >= created
    lo = np.minimum(np.maximum(_TS_START, dob_days * _DAY + _DAY), _TS_END)
    created = lo + (rng.random(rows) * (_TS_END - lo)).astype(np.int64)
    gap = np.where(rng.random(rows) < 0.35, 0, rng.exponential(400 * _DAY, rows).astype(np.int64))
    updated = np.minimum(created + gap, np.maximum(created, _TS_END))
    # a copy with news (a move, a new number or e-mail) was updated after the person's first record
    news = np.unique(np.fromiter((ci for ci, k in applied if k in _NEWS), dtype=np.int64))
    if len(news):
        copy_row, base_row = pos[n_people + news], pos[copy_person[news]]
        updated[copy_row] = np.maximum(updated[copy_row], updated[base_row])

    data = {"citizen_id": citizen_id}
    data["first_name"] = col("first")
    data["last_name"] = col("last")
    data["full_name"] = data["first_name"] + " " + data["last_name"]
    data["father_name"] = col("father")
    data["gender"] = np.where(col("male").astype(bool), "M", "F").astype(object)
    data["date_of_birth"] = dob_days.astype("datetime64[D]").astype("datetime64[ns]")
    data["mobile"] = col("mobile")
    data["email"] = col("email")
    data["address"] = col("address")
    for name in ("district", "state", "pincode"):
        data[name] = col(name, copy_values=place.pop(name))
    data["jan_aadhaar"] = col("jan")
    data["source_system"] = source[perm]
    del source
    # Not every department records Aadhaar: ration cards and schools never do, others now and
    # then forget. So the strongest personal identifier is often missing, as in real registries.
    last4 = P.pop("last4")[rp].astype(object)
    last4[np.isin(data["source_system"], _NO_AADHAAR_SOURCES) | (rng.random(rows) < _AADHAAR_MISSING_P)] = None
    data["aadhaar_last4"] = last4
    data["created_at"] = created.astype("datetime64[s]").astype("datetime64[ns]")
    data["updated_at"] = updated.astype("datetime64[s]").astype("datetime64[ns]")
    citizens = pd.DataFrame({c: data.pop(c) for c in CITIZEN_COLUMNS}, columns=CITIZEN_COLUMNS, copy=False)
    truth = pd.DataFrame({"citizen_id": citizen_id.copy(), "entity_id": rp.astype(np.int64) + 1})

    if applied:
        ci = np.fromiter((a for a, _ in applied), dtype=np.int64, count=len(applied))
        kinds = np.array([k for _, k in applied], dtype=object)
        cid = pos[n_people + ci] + 1
        order = np.argsort(cid, kind="stable")
        corruptions = pd.DataFrame({"citizen_id": cid[order], "kind": kinds[order]})
    else:
        corruptions = pd.DataFrame({"citizen_id": np.array([], dtype=np.int64),
                                    "kind": np.array([], dtype=object)})

    counts = mult
    stats = {
        "records": rows,
        "people": int(n_people),
        "households": int(n_households),
        "duplicate_records": int(rows - n_people),
        "true_duplicate_pairs": int((counts * (counts - 1) // 2).sum()),
        "people_with_duplicates": int((counts > 1).sum()),
    }
    return SyntheticData(citizens=citizens, truth=truth, corruptions=corruptions, stats=stats)
