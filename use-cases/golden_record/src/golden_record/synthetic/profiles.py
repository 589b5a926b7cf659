"""The seeder's profiles: each a generator, the tables it fills and the model config that reads them.

``make seed-data PROFILE=NAME`` (``scripts/seed_data.py --profile NAME``) loads a profile's records
and ground truth; its model config is ``use-cases/golden_record/config/examples/NAME.yaml``, and
the tables are the ones that config names (``data.table`` and ``data.truth.table``), so the seeder
and the model can never disagree about them. ``citizens`` is the default: its example config is
the default config, ``config/model_config.yaml`` (``examples/citizens.yaml`` links to it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from golden_record.config import REPO_ROOT, ModelConfig, load_model_config
from golden_record.synthetic import citizens, crm, historical, people

EXAMPLES_DIR = REPO_ROOT / "use-cases" / "golden_record" / "config" / "examples"
#: the columns of the ``sparse`` profile, selected from the ``citizens`` generator's
SPARSE_COLUMNS = ["citizen_id", "first_name", "last_name", "date_of_birth", "pincode", "source_system", "updated_at"]


@dataclass(frozen=True)
class Seeded:
    """A generated table: the records, their ground truth and the generator's counts
    (``records``, ``people``, ``duplicate_records``, ``true_duplicate_pairs``, ...)."""
    records: pd.DataFrame
    truth: pd.DataFrame
    stats: dict


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    #: (rows, duplicate_rate, seed) -> Seeded
    generate: Callable[[int, float, int], Seeded]
    #: True: the tables are the warehouse's own (sql/*.sql: typed columns, indexes), emptied and
    #: refilled; False: they are dropped and created from the generated frames' columns
    warehouse_schema: bool = False
    #: the duplicate rate ``seed`` uses when none is given; None: settings' ``seed.duplicate_rate``
    default_duplicate_rate: float | None = None

    @property
    def config_path(self) -> Path:
        return EXAMPLES_DIR / f"{self.name}.yaml"

    def config(self) -> ModelConfig:
        return load_model_config(self.config_path)


def _citizens(rows: int, duplicate_rate: float, seed: int) -> Seeded:
    d = citizens.generate(rows=rows, duplicate_rate=duplicate_rate, seed=seed)
    return Seeded(d.citizens, d.truth, d.stats)


def _people(rows: int, duplicate_rate: float, seed: int) -> Seeded:
    d = people.generate(rows, duplicate_rate=duplicate_rate, seed=seed)
    return Seeded(d.records, d.truth, d.stats)


def _sparse(rows: int, duplicate_rate: float, seed: int) -> Seeded:
    d = _citizens(rows, duplicate_rate, seed)
    return Seeded(d.records[SPARSE_COLUMNS], d.truth, d.stats)


def _historical(rows: int, duplicate_rate: float, seed: int) -> Seeded:
    d = historical.generate(rows, duplicate_rate=duplicate_rate, seed=seed)
    return Seeded(d.records, d.truth, d.stats)


def _crm(rows: int, duplicate_rate: float, seed: int) -> Seeded:
    d = crm.generate(rows, duplicate_rate=duplicate_rate, seed=seed)
    return Seeded(d.records, d.truth, d.stats)


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("citizens", "Indian citizens in households (a state registry): family members, twins and namesakes "
            "as hard non-matches; duplicates that moved, changed mobile or e-mail, with clerical gender "
            "and date-of-birth errors", _citizens, warehouse_schema=True),
    Profile("people", "Western person records from four countries, no households: text ids, text dates "
            "(a few invalid), a 3-column address, 4/5-digit and UK postcodes, a 7-digit social-security "
            "number", _people),
    Profile("sparse", "the citizens' first and last name, date of birth and pincode only (plus id, "
            "source and updated_at): no identifier, no contact, no father's name", _sparse),
    Profile("historical", "parish and census registers, 1500-2020: 1-30 records a person (about 8), "
            "heavy clerical noise (typos, respellings, Latin and familiar names, impossible or year-only "
            "dates), 20 % of every field missing, siblings and namesakes of one town", _historical,
            default_duplicate_rate=historical.DEFAULT_DUPLICATE_RATE),
    Profile("crm", "a US company's customer contacts: 1-5 records a person, a quarter of the duplicates "
            "moved (street, city and postcode together), new phones and e-mails, nicknames; households "
            "sharing surname, address and landline, namesakes", _crm),
)}
DEFAULT_PROFILE = "citizens"


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; profiles: {', '.join(PROFILES)}") from None
