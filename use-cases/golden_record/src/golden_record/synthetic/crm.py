"""Synthetic customer contacts of a US company's CRM, with duplicates and ground truth.

A shape the product finds hard: a person's records disagree on the very fields that usually
identify them. A share of the people (``duplicate_rate``) has 2-5 records (most of them 2); of
their duplicates about a quarter (:data:`MOVED_SHARE`) show the person after a move: street, city
and postcode change together to another real-looking address in another city (the state too,
often), while the name and date of birth stay and the phone and e-mail usually do (a household
landline goes with the old home). Independently each duplicate carries 0-3 other changes
(:data:`CORRUPTION_KINDS`, recorded in ``CrmData.corruptions`` with the moves): a new phone or
e-mail, nicknames, initials, typos, a married name, swapped names, missing phone, e-mail or date
of birth, a mistyped date of birth, an abbreviated street, a ZIP+4 postcode, upper case.

Hard non-matches are built in: households (a partner, grown children, now and then twins or a
son named after his father) share the surname, street, city and postcode and, for 60 % of
their members, the household's landline; namesakes (same first and last name, another person,
a third of them in the same city); and a placeholder date of birth (``1900-01-01``) in 1 % of
the records.

Names, addresses (25 US cities), phones and e-mail addresses come from
:mod:`golden_record.synthetic.people`'s ``en_US`` helpers. Vectorised with numpy; only the
duplicates go through a light Python loop (100,000 rows in a few seconds). Deterministic for a
seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pandas as pd

from golden_record.synthetic.historical import check_arguments, fill_rows
from golden_record.synthetic.people import (
    _ABBR_RE, _MONTH_DAYS, _NICK_TO_FORMAL, ADDRESS_ABBREVIATIONS, NICKNAMES, _addresses, _choice, _digits,
    _emails, _is_leap, _norm_weights, _obj, _phones, _unique_addresses, _unique_emails, _unique_phones,
    _vocab, typo_one_name,
)

CRM_COLUMNS = ["customer_id", "first_name", "last_name", "date_of_birth", "email", "phone", "street", "city",
               "postcode", "state", "source", "updated_at"]
TRUTH_COLUMNS = ["customer_id", "person_id"]
CORRUPTION_KINDS = (
    "typo_insert", "typo_delete", "typo_substitute", "typo_transpose", "nickname", "initial", "name_swap",
    "married_name", "new_phone", "new_email", "missing_phone", "missing_email", "missing_dob", "dob_digit",
    "dob_day_month_swap", "street_abbreviation", "postcode_plus4", "upper_case",
)
_KIND_WEIGHTS = (
    0.06, 0.06, 0.07, 0.05, 0.09, 0.04, 0.02,
    0.03, 0.10, 0.10, 0.06, 0.06, 0.04, 0.03,
    0.03, 0.06, 0.03, 0.03,
)
_N_CORRUPTIONS_P = (0.2, 0.4, 0.28, 0.12)       # 0-3 changes besides a move, per duplicate
MOVED_SHARE = 0.25                              # of the duplicate records
_MOVED_NEW_MOBILE = 0.10                        # a move that comes with a new mobile number
_COPIES_P = (0.65, 0.22, 0.09, 0.04)            # 2-5 records per duplicated person
_HOUSEHOLD_SIZE_P = (0.85, 0.10, 0.03, 0.02)    # 1-4 customers per household
_LANDLINE_P = 0.6                               # a household has a landline; its members give it 60 % of the time
_SAME_SURNAME_PARTNER = 0.7
_JUNIOR_P = 0.15                                # a son named after his father (Jr.)
_TWIN_P = 0.05                                  # a younger child born the same day as the one before
_NAMESAKE_P = 0.03                              # of the single customers: named like another customer
_MISSING = {"phone": 0.08, "email": 0.12, "date_of_birth": 0.04}
_PLACEHOLDER_DOB_P = 0.01
_MALE_P = 0.49
_LOCALE = "en_US"
SOURCES = ("web_signup", "store_pos", "call_center", "newsletter", "loyalty_app", "partner_import")
_SOURCE_P = (0.3, 0.25, 0.15, 0.1, 0.15, 0.05)
_NEWS = ("moved", "new_phone", "new_email", "married_name")
_TS_START = np.datetime64("2015-01-01T00:00:00", "s").astype(np.int64)
_TS_END = np.datetime64("2025-06-30T23:59:59", "s").astype(np.int64)
_HEAD_FIRST, _HEAD_LAST = 1935, 2004


@dataclass
class CrmData:
    records: pd.DataFrame      # exactly CRM_COLUMNS, rows shuffled
    truth: pd.DataFrame        # customer_id (int64), person_id (int64)
    corruptions: pd.DataFrame  # customer_id, kind: one row per change of a duplicate (moves included)
    copies: pd.DataFrame       # customer_id of each duplicate, original_id: its person's first record
    stats: dict


def _records_per_person(duplicate_rate: float):
    def draw(rng, n):
        k = rng.choice(np.arange(2, 2 + len(_COPIES_P)), size=n, p=_norm_weights(_COPIES_P))
        return np.where(rng.random(n) < duplicate_rate, k, 1).astype(np.int64)
    return draw


def _street(A: dict) -> np.ndarray:
    a2 = _obj(A["address_2"])
    return _obj(A["street_number"]) + " " + _obj(A["address_1"]) + np.where(a2 != "", ", " + a2, "")


def _dates(rng, year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A month and a valid day for each year."""
    m = rng.integers(1, 13, len(year))
    last = np.array(_MONTH_DAYS)[m - 1]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = np.where((m == 2) & ~leap, 28, last)
    return m, (rng.random(len(year)) * last).astype(np.int64) + 1


# =============================================================================== population
def _population(n: int, rng: np.random.Generator, V) -> dict:
    sizes = rng.choice(np.arange(1, len(_HOUSEHOLD_SIZE_P) + 1), size=n, p=_norm_weights(_HOUSEHOLD_SIZE_P))
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    hh = np.repeat(np.arange(len(sizes)), sizes)[:n]
    n_hh = int(hh[-1]) + 1
    hh_size = np.bincount(hh, minlength=n_hh)
    rank = np.arange(n) - (np.cumsum(hh_size) - hh_size)[hh]
    male_names, female_names, surnames = V.names[_LOCALE]
    locales = np.full(n_hh, _LOCALE, dtype=object)

    # ---- the household: surname, address, landline, the head's birth year and sex
    places = V.places[_LOCALE]
    h_place = rng.choice(len(places["p"]), size=n_hh, p=places["p"])
    A = _unique_addresses(rng, V, locales, h_place)
    h_street = _street(A)
    h_surname = _choice(rng, surnames[0], surnames[1], n_hh)
    _, h_landline = _unique_phones(rng, V, locales, h_place)
    h_has_landline = rng.random(n_hh) < _LANDLINE_P
    h_year = rng.integers(_HEAD_FIRST, _HEAD_LAST + 1, n_hh)
    h_male = rng.random(n_hh) < _MALE_P

    # ---- members: the head, a partner, grown children
    male = np.where(rank == 0, h_male[hh], np.where(rank == 1, ~h_male[hh] ^ (rng.random(n) < 0.1),
                                                     rng.random(n) < _MALE_P))
    year = h_year[hh].copy()
    partner = rank == 1
    year[partner] += rng.integers(-8, 9, int(partner.sum()))
    child = rank >= 2
    cy = h_year[hh][child] + rng.integers(20, 39, int(child.sum()))
    too_young = cy > 2006            # then a grown sibling of the head instead
    cy[too_young] = h_year[hh][child][too_young] + rng.integers(-8, 9, int(too_young.sum()))
    year[child] = cy
    surname = h_surname[hh].copy()
    own = partner & (rng.random(n) >= _SAME_SURNAME_PARTNER)
    surname[own] = _choice(rng, surnames[0], surnames[1], int(own.sum()))
    given = np.where(male, _choice(rng, male_names[0], male_names[1], n),
                     _choice(rng, female_names[0], female_names[1], n)).astype(object)
    month, day = _dates(rng, year)

    head_of = (np.cumsum(hh_size) - hh_size)[hh]          # the head's position in each member's household
    junior = child & male & h_male[hh] & (rng.random(n) < _JUNIOR_P)
    given[junior] = given[head_of[junior]]
    twin = child & (rank >= 3) & (rng.random(n) < _TWIN_P)
    twin_idx = np.flatnonzero(twin)
    year[twin_idx], month[twin_idx], day[twin_idx] = year[twin_idx - 1], month[twin_idx - 1], day[twin_idx - 1]
    surname[twin_idx] = surname[twin_idx - 1]

    # ---- namesakes: a single customer named like another customer (a third in the same city)
    single = np.flatnonzero(hh_size[hh] == 1)
    k = int(round(_NAMESAKE_P * len(single)))
    ns = rng.choice(single, size=k, replace=False) if k else np.array([], dtype=np.int64)
    models = rng.integers(0, n, len(ns))
    keep = models != ns
    ns, models = ns[keep], models[keep]
    given[ns], surname[ns], male[ns] = given[models], surname[models], male[models]
    place = h_place[hh]
    street, city = h_street[hh], _obj(A["suburb"])[hh]
    postcode, state = _obj(A["postcode"])[hh], _obj(A["state"])[hh]
    same_city = ns[rng.random(len(ns)) < 1 / 3]
    if len(same_city):
        src = models[np.isin(ns, same_city)]
        B = _addresses(rng, V, np.full(len(same_city), _LOCALE, dtype=object), place[src])
        street[same_city], city[same_city] = _street(B), _obj(B["suburb"])
        postcode[same_city], state[same_city] = _obj(B["postcode"]), _obj(B["state"])
        place[same_city] = place[src]

    # ---- contact: own mobile and e-mail; the household's landline for some members
    _, mobile = _unique_phones(rng, V, np.full(n, _LOCALE, dtype=object), place)
    email = _unique_emails(rng, V, given, surname, year, np.full(n, _LOCALE, dtype=object))
    uses_landline = h_has_landline[hh] & (rng.random(n) < 0.6)
    phone = np.where(uses_landline, h_landline[hh], mobile).astype(object)
    return {"male": male, "given": given, "surname": surname, "y": year, "m": month, "d": day,
            "street": street, "city": city, "postcode": postcode, "state": state, "place": place,
            "phone": phone, "landline": uses_landline, "email": email, "household": hh,
            "households": n_hh, "households_shared": int((hh_size > 1).sum()),
            "juniors": int(junior.sum()), "twins": int(twin.sum()), "namesakes": int(len(ns))}


# =============================================================================== corruptions
_EXCLUSIVE = ({"nickname", "initial"}, {"new_phone", "missing_phone"}, {"new_email", "missing_email"},
              {"missing_dob", "dob_digit", "dob_day_month_swap"})
_ORDER = {k: i for i, k in enumerate((
    "married_name", "nickname", "initial", "typo_insert", "typo_delete", "typo_substitute", "typo_transpose",
    "name_swap", "new_phone", "missing_phone", "new_email", "missing_email", "missing_dob", "dob_digit",
    "dob_day_month_swap", "street_abbreviation", "postcode_plus4", "upper_case"))}


def _nicknames(given: str, male: bool):
    return NICKNAMES.get(given) or _NICK_TO_FORMAL.get((given, male))


def _applies(kind: str, C: dict, i: int) -> bool:
    if kind == "nickname":
        return bool(_nicknames(C["given"][i], C["male"][i]))
    if kind == "initial":
        return len(C["given"][i]) > 1
    if kind == "married_name":
        return not C["male"][i]
    if kind in ("new_phone", "missing_phone"):
        return C["phone"][i] is not None
    if kind in ("new_email", "missing_email"):
        return C["email"][i] is not None
    if kind in ("missing_dob", "dob_digit"):
        return C["y"][i] is not None
    if kind == "dob_day_month_swap":
        return C["y"][i] is not None and C["d"][i] <= 12 and C["d"][i] != C["m"][i]
    if kind == "street_abbreviation":
        return bool(_ABBR_RE.search(C["street"][i]))
    if kind == "postcode_plus4":
        return "-" not in C["postcode"][i]
    return True


def _valid(y: int, m: int, d: int) -> bool:
    return 1900 <= y <= 2007 and 1 <= m <= 12 and 1 <= d <= _MONTH_DAYS[m - 1] and not (
        m == 2 and d == 29 and not _is_leap(y))


def _corrupt(C: dict, n_corr: list, kind_draws: list, pools: dict, r: random.Random, surnames) -> list:
    """0-3 changes to each duplicate in ``C`` (lists, changed in place); [(duplicate, kind), ...].
    Each kind at most once per record; a kind that does not apply is redrawn."""
    kinds = CORRUPTION_KINDS
    cum = np.cumsum(_KIND_WEIGHTS).tolist()
    out = []
    rand = r.random
    for i in range(len(n_corr)):
        chosen: list = []
        pre = kind_draws[i]
        attempts = 0
        while len(chosen) < n_corr[i] and attempts < 30:
            kind = kinds[pre[attempts]] if attempts < len(pre) else r.choices(kinds, cum_weights=cum)[0]
            attempts += 1
            if kind in chosen or any(kind in g and g & set(chosen) for g in _EXCLUSIVE) or not _applies(kind, C, i):
                continue
            chosen.append(kind)
        chosen.sort(key=_ORDER.__getitem__)
        done = []
        for kind in chosen:
            ok = True
            if kind == "married_name":
                C["surname"][i] = pools["surname"][i] if pools["surname"][i] != C["surname"][i] else \
                    r.choice(surnames)
            elif kind == "nickname":
                C["given"][i] = r.choice(_nicknames(C["given"][i], C["male"][i]))
            elif kind == "initial":
                C["given"][i] = C["given"][i][0] + ("." if rand() < 0.5 else "")
            elif kind.startswith("typo_"):
                ok = typo_one_name(C, i, kind, r)
            elif kind == "name_swap":
                C["given"][i], C["surname"][i] = C["surname"][i], C["given"][i]
            elif kind == "new_phone":
                C["phone"][i] = pools["phone"][i]
            elif kind == "new_email":
                C["email"][i] = pools["email"][i]
            elif kind == "missing_phone":
                C["phone"][i] = None
            elif kind == "missing_email":
                C["email"][i] = None
            elif kind == "missing_dob":
                C["y"][i] = C["m"][i] = C["d"][i] = None
            elif kind == "dob_digit":
                y, m, d = C["y"][i], C["m"][i], C["d"][i]
                text = f"{y:04d}{m:02d}{d:02d}"
                ok = False
                for _ in range(12):         # one digit typed wrong, still a valid date
                    p = r.randrange(2, 8)
                    t = text[:p] + str(r.randrange(10)) + text[p + 1:]
                    cand = (int(t[:4]), int(t[4:6]), int(t[6:]))
                    if t != text and _valid(*cand):
                        C["y"][i], C["m"][i], C["d"][i] = cand
                        ok = True
                        break
            elif kind == "dob_day_month_swap":
                C["m"][i], C["d"][i] = C["d"][i], C["m"][i]
            elif kind == "street_abbreviation":
                dot = "." if rand() < 0.25 else ""
                C["street"][i] = _ABBR_RE.sub(lambda mt: ADDRESS_ABBREVIATIONS[mt.group(1)] + dot, C["street"][i])
            elif kind == "postcode_plus4":
                C["postcode"][i] = f"{C['postcode'][i]}-{r.randrange(10_000):04d}"
            else:  # upper_case
                for f in ("given", "surname"):
                    C[f][i] = C[f][i].upper()
            if ok:
                done.append(kind)
        out.extend((i, k) for k in done)
    return out


# =============================================================================== generate
def generate(rows: int, duplicate_rate: float = 0.2, seed: int = 0) -> CrmData:
    """``rows`` customer records; ``duplicate_rate`` = share of people with 2-5 records."""
    rows, duplicate_rate = check_arguments(rows, duplicate_rate)
    rng = np.random.default_rng(int(seed))
    r = random.Random(int(rng.integers(0, 2**63 - 1)))
    V = _vocab()
    mult = fill_rows(rows, _records_per_person(duplicate_rate), rng)
    n_people = len(mult)
    P = _population(n_people, rng, V)

    dup_people = np.flatnonzero(mult > 1)
    extra = mult[dup_people] - 1
    copy_person = np.repeat(dup_people, extra)
    n_c = len(copy_person)
    rec_person = np.concatenate([np.arange(n_people), copy_person])

    # the first record's missing values; a duplicate starts from the person as they are
    held = {f: rng.random(n_people) >= p for f, p in _MISSING.items()}
    phone0 = np.where(held["phone"], P["phone"], None).astype(object)
    email0 = np.where(held["email"], P["email"], None).astype(object)
    C = {f: P[k][copy_person].tolist() for f, k in (("given", "given"), ("surname", "surname"), ("male", "male"),
                                                      ("street", "street"), ("city", "city"),
                                                      ("postcode", "postcode"), ("state", "state"))}
    C["phone"] = P["phone"][copy_person].tolist()
    C["email"] = P["email"][copy_person].tolist()
    for f in ("y", "m", "d"):
        C[f] = P[f][copy_person].tolist()

    # ---- moves: one new home per person (another city), taken by each of their duplicates that moved
    moved = rng.random(n_c) < MOVED_SHARE
    if n_c:
        places = V.places[_LOCALE]
        new_place = rng.choice(len(places["p"]), size=len(dup_people), p=places["p"])
        for _ in range(50):         # another city (Portland, OR and Portland, ME are one name)
            same = places["suburb"][new_place] == P["city"][dup_people]
            if not same.any():
                break
            new_place[same] = rng.choice(len(places["p"]), size=int(same.sum()), p=places["p"])
        B = _addresses(rng, V, np.full(len(dup_people), _LOCALE, dtype=object), new_place)
        new_street = _street(B)
        at = np.searchsorted(dup_people, copy_person)          # each duplicate's person among dup_people
        landline_c = P["landline"][copy_person]
        new_mobile_c = rng.random(n_c) < _MOVED_NEW_MOBILE
        _, fresh_phone = _phones(rng, V, np.full(2 * n_c, _LOCALE, dtype=object),
                                 np.concatenate([new_place[at], P["place"][copy_person]]))
        ev = _emails(rng, V, np.concatenate([P["given"][copy_person]] * 2),
                     np.concatenate([P["surname"][copy_person]] * 2), np.concatenate([P["y"][copy_person]] * 2),
                     np.full(2 * n_c, _LOCALE, dtype=object))
        local, _, domain = np.strings.partition(ev.astype(str), "@")
        ev = local.astype(object) + _digits(rng.integers(1, 1000, 2 * n_c), 1) + "@" + domain.astype(object)
        for j in np.flatnonzero(moved).tolist():
            a = at[j]
            C["street"][j], C["city"][j] = new_street[a], B["suburb"][a]
            C["postcode"][j], C["state"][j] = B["postcode"][a], B["state"][a]
            if landline_c[j] or new_mobile_c[j]:       # the landline stays with the old home
                C["phone"][j] = fresh_phone[j]
        pools = {"phone": fresh_phone[n_c:].tolist(), "email": ev[n_c:].tolist(),
                 "surname": _choice(rng, V.names[_LOCALE][2][0], V.names[_LOCALE][2][1], n_c).tolist()}
        # a duplicate may lack what the person has (missing at random, as in first records)
        for f, key in (("phone", "phone"), ("email", "email")):
            gone = rng.random(n_c) < _MISSING[key]
            for j in np.flatnonzero(gone).tolist():
                C[f][j] = None
        gone = rng.random(n_c) < _MISSING["date_of_birth"]
        for j in np.flatnonzero(gone).tolist():
            C["y"][j] = C["m"][j] = C["d"][j] = None
    else:
        pools = {"phone": [], "email": [], "surname": []}
    n_corr = rng.choice(len(_N_CORRUPTIONS_P), size=n_c, p=_norm_weights(_N_CORRUPTIONS_P)).tolist()
    kind_draws = rng.choice(len(CORRUPTION_KINDS), size=(n_c, 8), p=_norm_weights(_KIND_WEIGHTS)).tolist()
    applied = _corrupt(C, n_corr, kind_draws, pools, r, V.names[_LOCALE][2][0].tolist())
    del kind_draws, pools

    def col(original, name) -> np.ndarray:
        return np.concatenate([_obj(original), _obj(C[name])])

    # ---- dates of birth as ISO text: the first records' (missing at random), the duplicates'
    y0 = np.where(held["date_of_birth"], P["y"], 0)
    dob0 = np.where(held["date_of_birth"],
                    _digits(y0, 4) + "-" + _digits(P["m"], 2) + "-" + _digits(P["d"], 2), None)
    dob_c = np.array([None if y is None else f"{y:04d}-{m:02d}-{d:02d}"
                      for y, m, d in zip(C["y"], C["m"], C["d"])], dtype=object)
    dob = np.concatenate([dob0.astype(object), dob_c])
    placeholder = (rng.random(rows) < _PLACEHOLDER_DOB_P) & pd.notna(dob)
    dob[placeholder] = "1900-01-01"

    src = rng.choice(len(SOURCES), size=rows, p=_norm_weights(_SOURCE_P))
    updated = rng.integers(_TS_START, _TS_END + 1, rows)
    # a duplicate with news (a move, a new number, e-mail or name) was updated after the first record
    news = sorted({j for j, k in applied if k in _NEWS} | set(np.flatnonzero(moved).tolist()))
    for j in news:
        dup_row, org_row = n_people + j, copy_person[j]
        if updated[dup_row] < updated[org_row]:
            updated[dup_row], updated[org_row] = updated[org_row], updated[dup_row]
    customer_id = (rng.permutation(rows) + 100_001).astype(np.int64)
    data = {
        "customer_id": customer_id, "first_name": col(P["given"], "given"), "last_name": col(P["surname"], "surname"),
        "date_of_birth": dob, "email": col(email0, "email"), "phone": col(phone0, "phone"),
        "street": col(P["street"], "street"), "city": col(P["city"], "city"),
        "postcode": col(P["postcode"], "postcode"),
        "state": col(P["state"], "state"), "source": _obj(SOURCES)[src],
        "updated_at": pd.DatetimeIndex(updated.astype("datetime64[s]").astype("datetime64[ns]")).tz_localize("UTC"),
    }
    person_no = rng.permutation(n_people).astype(np.int64) + 1
    pno = person_no[rec_person]
    perm = rng.permutation(rows)
    records = pd.DataFrame({c: data[c][perm] for c in CRM_COLUMNS}, columns=CRM_COLUMNS)
    for c in CRM_COLUMNS:
        if c not in ("customer_id", "updated_at"):
            records[c] = records[c].astype(object)
    truth = pd.DataFrame({"customer_id": customer_id[perm], "person_id": pno[perm]})
    dup_ids = customer_id[n_people:]
    changes = [(j, "moved") for j in np.flatnonzero(moved).tolist()] + applied
    corruptions = pd.DataFrame({"customer_id": np.array([dup_ids[j] for j, _ in changes], dtype=np.int64),
                                "kind": np.array([k for _, k in changes], dtype=object)})
    copies = pd.DataFrame({"customer_id": dup_ids, "original_id": customer_id[copy_person]})
    counts = corruptions["kind"].value_counts()
    stats = {
        "records": rows,
        "people": int(n_people),
        "duplicate_records": int(n_c),
        "true_duplicate_pairs": int((mult * (mult - 1) // 2).sum()),
        "people_with_duplicates": int(len(dup_people)),
        "records_per_person_max": int(mult.max()),
        "records_per_person_mean": round(float(mult.mean()), 3),
        "moved_share": round(float(moved.mean()), 4) if n_c else 0.0,
        "corruptions": {k: int(counts.get(k, 0)) for k in ("moved",) + CORRUPTION_KINDS},
        "households": P["households"],
        "households_of_several": P["households_shared"],
        "juniors": P["juniors"],
        "twins": P["twins"],
        "namesakes": P["namesakes"],
        "placeholder_date_of_birth": int(placeholder.sum()),
    }
    return CrmData(records=records, truth=truth, corruptions=corruptions, copies=copies, stats=stats)
