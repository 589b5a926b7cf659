"""Configuration as data: YAML files validated into typed objects.

Two files feed every tool:

* ``config/settings.yaml`` (repo root): database, MLflow tracking store and experiment, seeding
  defaults. Environment variables ``DATABASE_URL`` and ``MLFLOW_TRACKING_URI`` win over it.
* ``use-cases/golden_record/config/model_config.yaml``: the model's knobs (threshold, blocking,
  comparisons, EM) and the data source (table name and column mapping). ``comparisons`` and
  ``model.params.blocking_fields`` may be left out: they are then derived from the declared field
  types and a profile of the prepared data (:mod:`golden_record.linkage.defaults`), once the data
  is loaded, and the config is filled in with them (:meth:`ModelConfig.fill_in`).

Unknown keys, wrong types, values out of range and unknown method names are rejected with a
:class:`ConfigError` whose message names the key, the bad value and what is allowed.
"""
from __future__ import annotations

import copy
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from golden_record.linkage.keys import TRANSFORMS, parse_key
from golden_record.linkage.model_types import check_model_type
from golden_record.linkage.schema import FieldSpec

REPO_ROOT = Path(__file__).resolve().parents[4]
SETTINGS_PATH = REPO_ROOT / "config" / "settings.yaml"
MODEL_CONFIG_PATH = REPO_ROOT / "use-cases" / "golden_record" / "config" / "model_config.yaml"

#: Names a declared field may not take: they are columns of the golden-record output.
#: Columns the golden table holds besides the fields (golden.layout builds the table from them).
GOLDEN_META = ("member_count", "cluster_confidence", "field_sources", "run_id", "created_at")
#: Names a field may not take: the pipeline's record id and the golden tables' own columns.
#: (A recency or source role may be named like a golden column: roles are not golden fields.)
RESERVED_FIELDS = frozenset({"record_id", "golden_id", "match_probability"})
#: Comparison methods and the field types each applies to.
METHOD_TYPES = {
    "exact": frozenset({"name", "text", "address", "identifier", "phone", "email", "category", "date",
                        "timestamp"}),
    "date": frozenset({"date", "timestamp"}),
    **{m: frozenset({"name", "text", "address", "identifier", "phone", "email"})
       for m in ("jaro_winkler", "levenshtein", "token_set", "token_sort")},
}
#: Registry of comparison methods (implemented in :mod:`golden_record.linkage.comparisons`).
COMPARISON_METHODS = tuple(METHOD_TYPES)
#: Registry of fuzzy candidate passes (implemented in :mod:`golden_record.linkage.blocking`).
FUZZY_BLOCKING_METHODS = ("phonetic", "sorted_neighbourhood", "none")
#: Registry of survivorship rules (implemented in :mod:`golden_record.golden.build`).
SURVIVORSHIP_RULES = ("most_recent", "most_frequent", "most_complete", "source_priority")
#: Where the pipeline runs: in this process (pandas/numpy) or on Apache Spark (golden_record.spark).
ENGINES = ("local", "spark")


class ConfigError(ValueError):
    """A configuration value is invalid. The message names the key and what is allowed."""


def check_threshold(value: float) -> float:
    """The one rule for a match threshold: a probability strictly between 0 and 1."""
    if not 0.0 < float(value) < 1.0:
        raise ValueError("a match threshold is a match probability strictly between 0 and 1 (e.g. 0.95): "
                         "at 0 every pair matches, at 1 only pairs whose probability rounds to exactly 1.0")
    return float(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- settings.yaml
class DatabaseSettings(_Strict):
    url: str = "postgresql://postgres@127.0.0.1:5432/smart_warehouse"
    embedded_fallback: bool = True
    embedded_dir: str = ".pgdata"
    connect_timeout_seconds: int = Field(5, ge=1, le=300)


class TrackingSettings(_Strict):
    uri: str = "sqlite:///mlflow.db"
    experiment_name: str = Field("smart/golden_record/baseline_v1", min_length=1)


class SeedSettings(_Strict):
    rows: int = Field(100_000, ge=1)
    duplicate_rate: float = Field(0.2, ge=0.0, lt=1.0)
    seed: int = 42
    #: connections the load runs over (COPY into staging tables, swapped in one transaction);
    #: None: min(4, CPU count)
    copy_workers: int | None = Field(None, ge=1, le=64)


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    tracking: TrackingSettings = TrackingSettings()
    seed: SeedSettings = SeedSettings()


# --------------------------------------------------------------------------- model_config.yaml
#: A PostgreSQL identifier as written in the config: letters, digits, _ and $ (not first), at most
#: 63 characters; used verbatim (quoted), so case matters. Tables may be schema-qualified.
_IDENTIFIER = re.compile(r"[^\W\d][\w$]{0,62}")


def _check_identifier(value: str, what: str, qualified: bool = False) -> str:
    parts = value.split(".") if qualified else [value]
    if len(parts) > 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        form = "NAME or SCHEMA.NAME" if qualified else "NAME"
        raise ValueError(f"not a valid {what} name: use {form}, made of letters, digits and _ "
                         "(starting with a letter or _), as the name is in the database")
    return value


class TruthSource(_Strict):
    """Where the ground truth is (evaluation only). Leave ``data.truth`` out for a warehouse
    without one: evaluation is then skipped. A configured truth that is not there is an error."""
    table: str
    id_column: str
    entity_column: str

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str) -> str:
        return _check_identifier(value, "table", qualified=True)

    @field_validator("id_column", "entity_column")
    @classmethod
    def _column_name(cls, value: str) -> str:
        return _check_identifier(value, "column")


class DataQuality(_Strict):
    #: a field whose cleaning turns more than this share of its present values into missing
    #: fails the run before any pair is generated (the value kept its meaning nowhere)
    max_dropped_share: float = Field(0.05, ge=0.0, le=1.0)


class DataSource(_Strict):
    """The records: a table, its id column, and the declared fields (see linkage.schema)."""
    table: str
    #: the record id column: any type (integer, text, UUID); unique per record
    id: str
    #: logical field name -> its column(s) and type
    fields: dict[str, FieldSpec] = Field(min_length=1)
    #: the field that says how recent a record is (rule most_recent): a date or timestamp field
    recency: str | None = None
    #: the field that names a record's source system (rule source_priority)
    source: str | None = None
    quality: DataQuality = DataQuality()
    #: the ground truth; None (the key left out, or ``truth: null``): no evaluation
    truth: TruthSource | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_layout(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("columns" in data or "id_column" in data):
            raise ValueError("data.columns and data.id_column were replaced by data.id and data.fields "
                             "(a column and a type per field): see use-cases/golden_record/config/examples/")
        return data

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str) -> str:
        return _check_identifier(value, "table", qualified=True)

    @field_validator("id")
    @classmethod
    def _column_name(cls, value: str) -> str:
        return _check_identifier(value, "column")

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for name, spec in value.items():
            _check_identifier(name, "field")
            if name in RESERVED_FIELDS:
                raise ValueError(f"{name!r} is reserved (an output column); name the field otherwise")
            for column in spec.source_columns(name):
                try:
                    _check_identifier(column, "column")
                except ValueError as exc:
                    raise ValueError(f"{name}: {column!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _roles(self) -> "DataSource":
        for role, types in (("recency", {"date", "timestamp"}), ("source", None)):
            name = getattr(self, role)
            if name is None:
                continue
            if name not in self.fields:
                raise ValueError(f"data.{role} = {name!r} is not a declared field; declared: {sorted(self.fields)}")
            if types and self.fields[name].type not in types:
                raise ValueError(f"data.{role} = {name!r} has type {self.fields[name].type!r}; "
                                 f"it must be one of {sorted(types)}")
        return self


class ModelParams(_Strict):
    #: ``auto`` (the default): chosen from the fitted model, the threshold that maximises the
    #: estimated F1 (evaluation.calibration.choose_threshold), logged with the tag
    #: ``threshold.source=auto``; or a match probability strictly between 0 and 1: at 0 every pair
    #: would match; at 1 only pairs whose probability rounds to exactly 1.0 in floating point
    #: would, an accident of precision
    match_threshold: Union[Literal["auto"], float] = "auto"
    #: one exact blocking pass per entry, unioned (see linkage.keys): a declared field, or a
    #: transform of fields, ``+``-joined, e.g. ``phonetic(first_name,last_name)+year(date_of_birth)``;
    #: absent (None): derived from the schema and the data (linkage.defaults)
    blocking_fields: Annotated[list[str], Field(min_length=1)] | None = None

    @field_validator("match_threshold", mode="before")
    @classmethod
    def _open_unit_interval(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"match_threshold is 'auto' or a match probability strictly between 0 and 1, "
                                 f"got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"match_threshold is 'auto' or a match probability strictly between 0 and 1, "
                             f"got {value!r}")
        return check_threshold(value)

    @field_validator("blocking_fields")
    @classmethod
    def _readable_keys(cls, value: list[str] | None) -> list[str] | None:
        for entry in value or []:
            parse_key(entry)
        return value


class EMSettings(_Strict):
    max_iterations: int = Field(5000, ge=1, le=100_000)
    #: converged when no parameter (m, u, class share) moves by more than this in one iteration
    tolerance: float = Field(1e-4, gt=0.0, lt=1.0)
    initial_match_share: float = Field(0.1, gt=0.0, lt=1.0)
    #: estimate u-probabilities from random record pairs (not from candidates) and keep them fixed
    u_from_random_pairs: bool = True
    random_pairs: int = Field(500_000, ge=1_000)
    #: free classes besides the match and the unrelated one: pairs that agree on some fields for a
    #: reason (members of one household, namesakes). "auto": the data chooses, by BIC, among
    #: 0..max_related_classes. 0 with u_from_random_pairs false = classic ECM.
    related_classes: Union[Literal["auto"], Annotated[int, Field(ge=0, le=8)]] = "auto"
    max_related_classes: int = Field(6, ge=0, le=8)
    #: a fitted class besides the clearest one holds matches when its pairs mostly agree on the
    #: comparisons carrying at least this share of the identifying evidence, a group of fields that
    #: agree together among random pairs (an address, its postcode, its state) counted once (people
    #: who moved: yes; household members and namesakes, who differ on personal fields: no);
    #: linkage.model.match_side
    match_class_agreement: float = Field(0.5, gt=0.0, le=1.0)


class ModelSection(_Strict):
    #: a registered model type (linkage/model_types.py): fellegi_sunter, or the recordlinkage_ecm baseline
    type: str = "fellegi_sunter"
    params: ModelParams = ModelParams()
    em: EMSettings = EMSettings()

    @field_validator("type")
    @classmethod
    def _registered_type(cls, value: str) -> str:
        return check_model_type(value)


class FuzzyBlocking(_Strict):
    method: str = "none"
    fields: list[str] = Field(default_factory=lambda: ["first_name", "last_name"])
    window: int = Field(5, ge=2, le=100)

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in FUZZY_BLOCKING_METHODS:
            raise ValueError(f"unknown fuzzy blocking method {value!r}; allowed: {list(FUZZY_BLOCKING_METHODS)}")
        return value



class CandidateSettings(_Strict):
    #: blocks larger than this are skipped (a placeholder ID must not pair everyone with everyone)
    max_block_size: int = Field(300, ge=2)
    #: refuse to go on when blocking would produce more pairs than this
    max_pairs: int = Field(50_000_000, ge=1)
    fuzzy: FuzzyBlocking = FuzzyBlocking()


class Comparison(_Strict):
    field: str
    method: str
    #: the comparison's name (default: the field's); give one to compare a field more than once
    name: str = ""
    #: similarity thresholds, strictly decreasing, each in (0, 1]: the levels are
    #: exact > levels[0] > levels[1] > ... > far. Ignored by ``exact`` and ``date``.
    levels: list[float] = Field(default_factory=list)
    #: also compare with this field of the other record (first and last name swapped)
    swap_with: str | None = None
    #: a single letter (an initial) agreeing with the other name's first letter is its own level
    initials: bool = False
    #: term-frequency adjustment: an exact agreement on a rare value (a rare surname) is stronger
    #: evidence than one on a common value ("Kumar"): the unrelated class's chance of that agreement
    #: is the value's frequency, not the comparison's average
    tf_adjustment: bool = False

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in COMPARISON_METHODS:
            raise ValueError(f"unknown comparison method {value!r}; allowed: {list(COMPARISON_METHODS)}")
        return value

    @field_validator("levels")
    @classmethod
    def _levels_in_range(cls, value: list[float]) -> list[float]:
        if any(not 0.0 < v <= 1.0 for v in value):
            raise ValueError(f"similarity levels must lie in (0, 1], got {value}")
        if any(a <= b for a, b in zip(value, value[1:])):
            raise ValueError(f"similarity levels must be strictly decreasing, got {value}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("name") and data.get("field"):
            data = {**data, "name": data["field"]}
        return data

    @model_validator(mode="after")
    def _levels_for_fuzzy(self) -> "Comparison":
        if self.method in ("jaro_winkler", "levenshtein", "token_set", "token_sort") and not self.levels:
            raise ValueError(f"method {self.method!r} needs at least one similarity level, e.g. [0.9]")
        return self



class SparkSettings(_Strict):
    """The Spark engine (``engine: spark``; :mod:`golden_record.spark`)."""
    #: the Spark master URL; absent: $SPARK_MASTER, else local[*]
    master: str | None = None
    #: partitions of the parallel read from PostgreSQL (ranges of the table's pages, one snapshot)
    read_partitions: int = Field(8, ge=1, le=100_000)
    #: spark.sql.shuffle.partitions: partitions of the joins and aggregations
    shuffle_partitions: int = Field(8, ge=1, le=1_000_000)
    #: spark.driver.memory of a session this process starts (ignored by spark-submit, which sets it)
    driver_memory: str = "2g"
    #: where the prepared records and the scored pairs are kept as Parquet between stages (a path
    #: every executor reaches, e.g. hdfs:// or s3a:// on a cluster); absent: a temporary directory
    work_dir: str | None = None
    #: any further Spark setting, e.g. {spark.executor.memory: 8g}
    conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("driver_memory")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        if not re.fullmatch(r"\d+[kmgt]?", value.strip().lower()):
            raise ValueError(f"{value!r} is not a memory size; write e.g. 2g or 512m")
        return value.strip().lower()


#: an MLflow registered model name this project writes: letters, digits, _ . - (no / or :)
_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")


class TrackingOptions(_Strict):
    sample_pairs: int = Field(2_000, ge=0, le=1_000_000)
    log_model: bool = True
    #: the registered model whose alias ``champion`` is this table's model; None (the default):
    #: ``golden_record__<schema>_<table>`` from data.table (tracking.registry.model_name)
    model_name: str | None = None

    @field_validator("model_name")
    @classmethod
    def _registered_name(cls, value: str | None) -> str | None:
        if value is not None and not _MODEL_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a registered model name: use up to 200 letters, digits, _ . and - "
                             "(starting with a letter, digit or _), e.g. golden_record__public_people")
        return value


class GoldenSettings(_Strict):
    """Clustering of matched pairs into golden records, and survivorship (see golden_record.golden.build).

    A survivorship rule *chain* (``default_rule`` or ``rules.<field>``) is a fallback chain: the
    first rule picks the surviving value among the cluster's non-null values, each next rule breaks
    the ties the previous ones left (records without the rule's key, e.g. a null ``updated_at`` or
    an unlisted source, rank last for that rule), and the lowest citizen_id breaks any tie left.
    A single rule name is accepted for a one-rule chain.
    """
    #: chaining guard, inside a connected component of more than 2 records. ``auto`` (the
    #: default): evidence against the rest of the cluster; groups of records merge only when the
    #: scored pairs between them say so (one confident match, mostly matches, enough of them;
    #: golden/clustering.py). A probability: the old fixed floor, every match edge below it is
    #: dropped and the component re-split
    min_edge_probability: Union[Literal["auto"], Annotated[float, Field(ge=0.0, le=1.0)]] = "auto"
    #: clusters still larger than this are split, keeping only their strongest edges. ``auto``
    #: (the default): twice the 99th percentile of the records' expected person size (1 + the sum
    #: of the match probabilities of a record's pairs), within 10..500, logged as the metric
    #: golden_max_cluster_size
    max_cluster_size: Union[Literal["auto"], Annotated[int, Field(ge=2)]] = "auto"
    default_rule: list[str] = Field(default_factory=lambda: ["most_complete", "most_frequent", "most_recent"])
    #: field -> rule chain, for fields that should not use default_rule
    rules: dict[str, list[str]] = Field(default_factory=dict)
    #: source_system values, most trusted first (rule source_priority); unlisted sources rank last
    source_priority: list[str] = Field(default_factory=list)
    #: golden records (with their member records) written to golden_records_sample.csv
    sample_size: int = Field(200, ge=0, le=100_000)
    #: a field made of others, kept in agreement with their surviving values, e.g.
    #: ``full_name: [first_name, last_name]`` (the first part leads, the second ends the value)
    composite: dict[str, list[str]] = Field(default_factory=dict)
    #: output tables: one golden record per person, record id -> golden id, and the golden ids a
    #: rebuild retired -> the id that took their records over (golden/identity.py)
    table: str = "golden_records"
    map_table: str = "golden_record_map"
    redirect_table: str = "golden_redirects"

    @field_validator("table", "map_table", "redirect_table")
    @classmethod
    def _table_name(cls, value: str) -> str:
        return _check_identifier(value, "table", qualified=True)

    @field_validator("min_edge_probability", "max_cluster_size", mode="before")
    @classmethod
    def _auto_or_number(cls, value: Any, info) -> Any:
        """``auto`` (any case and spacing), else a probability in [0, 1] / a whole number >= 2,
        refused in one sentence naming what is accepted."""
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        probability = info.field_name == "min_edge_probability"
        kind = "a probability between 0 and 1" if probability else "a whole number of records, at least 2"
        number = value
        if isinstance(value, str) and _is_number(value):
            number = float(value)
        ok = not isinstance(number, bool) and isinstance(number, (int, float)) and math.isfinite(number)
        if ok and probability:
            ok = 0.0 <= number <= 1.0
        elif ok:
            ok = float(number).is_integer() and number >= 2
        if not ok:
            raise ValueError(f"{info.field_name} is 'auto' or {kind}, got {value!r}")
        return float(number) if probability else int(number)

    @field_validator("default_rule", mode="before")
    @classmethod
    def _default_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("rules", mode="before")
    @classmethod
    def _rules_as_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("default_rule")
    @classmethod
    def _known_default(cls, value: list[str]) -> list[str]:
        _check_rules("default_rule", value)
        return value

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for field, chain in value.items():
            _check_rules(field, chain)
        return value

    @field_validator("source_priority")
    @classmethod
    def _distinct_sources(cls, value: list[str]) -> list[str]:
        if any(not s.strip() for s in value):
            raise ValueError("source names must not be empty")
        dup = sorted({s for s in value if value.count(s) > 1})
        if dup:
            raise ValueError(f"source(s) {dup} listed more than once")
        return value

    @model_validator(mode="after")
    def _priority_for_source_rule(self) -> "GoldenSettings":
        chains = {"default_rule": self.default_rule, **{f"rules.{k}": v for k, v in self.rules.items()}}
        users = [where for where, chain in chains.items() if "source_priority" in chain]
        if users and not self.source_priority:
            raise ValueError(f"{users[0]} uses the rule source_priority, but golden.source_priority is empty; "
                             "list the source systems, most trusted first")
        return self


def _check_rules(where: str, chain: list[str]) -> None:
    if not chain:
        raise ValueError(f"{where}: survivorship chain is empty")
    bad = [r for r in chain if r not in SURVIVORSHIP_RULES]
    if bad:
        raise ValueError(f"{where}: unknown survivorship rule(s) {bad}; allowed: {list(SURVIVORSHIP_RULES)}")


#: Keys a config may leave out: they are then derived from the data (linkage.defaults).
DERIVABLE = ("comparisons", "model.params.blocking_fields")


class ModelConfig(_Strict):
    #: local (one process) or spark (golden_record.spark, settings in ``spark``)
    engine: str = "local"
    spark: SparkSettings = SparkSettings()
    model: ModelSection = ModelSection()
    data: DataSource
    candidates: CandidateSettings = CandidateSettings()
    #: absent (None): derived from the schema and the data (linkage.defaults)
    comparisons: Annotated[list[Comparison], Field(min_length=1)] | None = None
    tracking: TrackingOptions = TrackingOptions()
    golden: GoldenSettings = GoldenSettings()
    #: the DERIVABLE keys filled in by :meth:`fill_in`, and why each value was chosen (not config data)
    _derived: tuple[str, ...] = PrivateAttr(default=())
    _notes: tuple[str, ...] = PrivateAttr(default=())
    #: why the threshold has its value when ``match_threshold: auto`` chose it (None: declared)
    _threshold_note: str | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _default_rule_without_recency(cls, data: Any) -> Any:
        """Without a data.recency role the default survivorship chain leaves out most_recent (which
        needs it), so a config declaring only its fields is complete; a declared chain is kept."""
        if isinstance(data, dict) and isinstance(data.get("data"), dict) and not data["data"].get("recency"):
            golden = data.get("golden") or {}
            if isinstance(golden, dict) and "default_rule" not in golden:
                data = {**data, "golden": {**golden, "default_rule": ["most_complete", "most_frequent"]}}
        return data

    @model_validator(mode="before")
    @classmethod
    def _golden_tables_named_after_the_table(cls, data: Any) -> Any:
        """A config that names no golden table writes ``<data.table>_golden`` (and ``..._map``,
        ``..._redirects``), so that two tables' configs never write one golden table."""
        if isinstance(data, dict) and isinstance(data.get("data"), dict) and isinstance(data["data"].get("table"), str):
            golden = data.get("golden") or {}
            if isinstance(golden, dict) and "table" not in golden:
                base = data["data"]["table"] + "_golden"
                data = {**data, "golden": {"map_table": base + "_map", "redirect_table": base + "_redirects",
                                           **golden, "table": base}}
        return data

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value not in ENGINES:
            raise ValueError(f"unknown engine {value!r}; allowed: {list(ENGINES)}")
        return value

    @model_validator(mode="after")
    def _fields_are_declared(self) -> "ModelConfig":
        fields = self.data.fields
        if self.engine == "spark" and self.candidates.fuzzy.method == "sorted_neighbourhood":
            raise ValueError("candidates.fuzzy.method sorted_neighbourhood is not available on engine spark (it "
                             "ranks the whole table in one order); use method phonetic or a blocking_fields entry "
                             "such as phonetic(first_name,last_name)+year(date_of_birth)")

        def declared(name: str, where: str) -> str:
            if name not in fields:
                raise ValueError(f"{where} uses field {name!r}, which data.fields does not declare; "
                                 f"declared: {sorted(fields)}")
            return fields[name].type

        for i, c in enumerate(self.comparisons or []):
            ftype = declared(c.field, f"comparisons[{i}].field")
            if ftype not in METHOD_TYPES[c.method]:
                raise ValueError(f"comparisons[{i}]: method {c.method!r} does not apply to {c.field!r} of type "
                                 f"{ftype!r} (it applies to {sorted(METHOD_TYPES[c.method])})")
            if c.swap_with:
                declared(c.swap_with, f"comparisons[{i}].swap_with")
        for entry in self.model.params.blocking_fields or []:
            for part in parse_key(entry):
                for name in part.fields:
                    ftype = declared(name, f"model.params.blocking_fields entry {entry!r}")
                    if part.transform and ftype not in TRANSFORMS[part.transform]:
                        raise ValueError(f"model.params.blocking_fields entry {entry!r}: {part.transform}() does not "
                                         f"apply to {name!r} of type {ftype!r} (it applies to "
                                         f"{sorted(TRANSFORMS[part.transform])})")
        if self.candidates.fuzzy.method != "none":
            for f in self.candidates.fuzzy.fields:
                declared(f, "candidates.fuzzy.fields")
        names = [c.name for c in self.comparisons or []]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"comparisons: names must be unique, {dup} appear twice; give a second comparison "
                             "of a field its own name (name: ...)")
        clash = [f for f in self.golden_fields() if f in GOLDEN_META]
        if clash:
            raise ValueError(f"data.fields.{clash[0]}: the golden table has a column {clash[0]!r} of its own; name the "
                             "field otherwise, or make it the data.recency / data.source role")
        roles = {self.data.recency, self.data.source} - {None}
        for field in self.golden.rules:
            declared(field, f"golden.rules.{field}")
            if field in roles:
                raise ValueError(f"golden.rules.{field}: {field} is the data.recency or data.source role, which "
                                 "golden records do not hold; drop the rule")
        for field, parts in self.golden.composite.items():
            declared(field, f"golden.composite.{field}")
            if len(parts) != 2:
                raise ValueError(f"golden.composite.{field}: give two parts [first, last], got {parts}")
            for part in parts:
                declared(part, f"golden.composite.{field}")
        chains = {"golden.default_rule": self.golden.default_rule,
                  **{f"golden.rules.{k}": v for k, v in self.golden.rules.items()}}
        for where, chain in chains.items():
            if "most_recent" in chain and self.data.recency is None:
                raise ValueError(f"{where} uses the rule most_recent, which needs data.recency (a date or "
                                 "timestamp field saying how recent a record is); set it or drop the rule")
            if "source_priority" in chain and self.data.source is None:
                raise ValueError(f"{where} uses the rule source_priority, which needs data.source (the field "
                                 "naming a record's source system); set it or drop the rule")
        return self

    @property
    def threshold(self) -> float:
        """The match threshold in force: the declared number, or the one ``auto`` chose once the
        model was fitted (:meth:`choose_threshold`); asking before that is a programming error."""
        value = self.model.params.match_threshold
        if value == "auto":
            raise RuntimeError("model.params.match_threshold is 'auto' and has not been chosen yet: it is chosen "
                               "from the fitted model (ModelConfig.choose_threshold)")
        return value

    @property
    def threshold_pending(self) -> bool:
        """True while ``match_threshold: auto`` waits for a fitted model to choose it."""
        return self.model.params.match_threshold == "auto"

    @property
    def threshold_source(self) -> str:
        """``auto`` when the threshold was (or will be) chosen from the fitted model, else ``config``."""
        return "auto" if self.threshold_pending or self._threshold_note is not None else "config"

    @property
    def threshold_note(self) -> str | None:
        return self._threshold_note

    def choose_threshold(self, value: float, note: str) -> None:
        """Fill in the threshold ``auto`` chose (the config's one other controlled change, like
        :meth:`fill_in`); ``note`` says why, and goes into the resolved config's header."""
        if not self.threshold_pending:
            raise ValueError("model.params.match_threshold is declared; it is not chosen")
        params = self.model.params.model_copy(update={"match_threshold": check_threshold(value)})
        self.__dict__["model"] = self.model.model_copy(update={"params": params})
        self._threshold_note = note

    def reopen_threshold(self) -> None:
        """Set ``match_threshold`` back to ``auto`` after :meth:`choose_threshold`, so that a model
        taught new labels (:meth:`golden_record.linker.Linker.learn`) chooses it again."""
        if self._threshold_note is None:
            raise ValueError("model.params.match_threshold was not chosen by auto")
        params = self.model.params.model_copy(update={"match_threshold": "auto"})
        self.__dict__["model"] = self.model.model_copy(update={"params": params})
        self._threshold_note = None

    def derived_keys(self) -> list[str]:
        """The :data:`DERIVABLE` keys this config leaves to the data: absent, or filled in from
        the data by :meth:`fill_in` (then derived again when the config meets other data)."""
        absent = {"comparisons": self.comparisons is None,
                  "model.params.blocking_fields": self.model.params.blocking_fields is None}
        return [k for k in DERIVABLE if absent[k] or k in self._derived]

    def derivable_fields(self) -> list[str]:
        """The declared fields a derivation may compare or block on: all but the recency and
        source roles and timestamps (when a record was written says nothing about who it is)."""
        roles = {self.data.recency, self.data.source}
        return [f for f, spec in self.data.fields.items() if f not in roles and spec.type != "timestamp"]

    def fill_in(self, comparisons: list[Comparison] | None = None, blocking_fields: list[str] | None = None,
                notes: list[str] | tuple[str, ...] = ()) -> None:
        """Fill in derived comparisons and blocking passes (:mod:`golden_record.linkage.defaults`).

        The config is otherwise immutable; this is its one controlled change, made once the data
        is prepared, so that everything after (EM, scoring, the logged model and its config,
        golden records) uses the same values. They are validated like declared ones; only keys in
        :meth:`derived_keys` can be filled in (a declared value is kept exactly).
        """
        keys = self.derived_keys()
        data = self.model_dump(mode="json")
        if comparisons is not None:
            if "comparisons" not in keys:
                raise ValueError("comparisons are declared in the config; they are not derived")
            data["comparisons"] = [c.model_dump(mode="json") for c in comparisons]
        if blocking_fields is not None:
            if "model.params.blocking_fields" not in keys:
                raise ValueError("model.params.blocking_fields is declared in the config; it is not derived")
            data["model"]["params"]["blocking_fields"] = list(blocking_fields)
        try:
            filled = ModelConfig.model_validate(data)
        except ValidationError as err:   # a derivation rule produced something invalid: say which
            raise ConfigError(_format_validation_error("derived config", err)) from None
        self.__dict__["comparisons"] = filled.comparisons
        self.__dict__["model"] = filled.model
        self._derived, self._notes = tuple(keys), tuple(notes)

    def fill_in_from(self, other: "ModelConfig") -> None:
        """Fill in the keys this config leaves to the data with those ``other`` derived (the same
        data, e.g. a sweep's best combination re-made with its best threshold)."""
        keys = self.derived_keys()
        self.fill_in(other.comparisons if "comparisons" in keys else None,
                     other.model.params.blocking_fields if "model.params.blocking_fields" in keys else None,
                     other._notes)

    def resolved_yaml(self) -> str:
        """The config as a run used it, derived values filled in, as YAML that ``--config`` reads
        back (the derived keys and the reasons for their values as comments on top)."""
        derived = self.derived_keys()
        head = ["# The model config as the run used it: load it with --config to train with exactly these values."]
        if derived:
            head.append(f"# Derived from the schema and the data (linkage/defaults.py): {', '.join(derived)}.")
            head += [f"# {line.strip()}" for line in self._notes]
        else:
            head.append("# Every key as declared (nothing derived).")
        if self._threshold_note:
            head.append(f"# model.params.match_threshold was auto: {self._threshold_note}")
        return "\n".join(head) + "\n" + yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False,
                                                       allow_unicode=True, width=120)

    def needed_fields(self) -> list[str]:
        """Declared fields the pipeline compares or blocks on (in declaration order); every
        :meth:`derivable_fields` while comparisons or blocking are derived from the data."""
        needed = set(self.derivable_fields()) if self.derived_keys() else set()
        for c in self.comparisons or []:
            needed.add(c.field)
            if c.swap_with:
                needed.add(c.swap_with)
        for entry in self.model.params.blocking_fields or []:
            for part in parse_key(entry):
                needed.update(part.fields)
        if self.candidates.fuzzy.method != "none":
            needed.update(self.candidates.fuzzy.fields)
        return [f for f in self.data.fields if f in needed]

    def golden_fields(self) -> list[str]:
        """Declared fields a golden record holds: all but the recency and source roles."""
        roles = {self.data.recency, self.data.source}
        return [f for f in self.data.fields if f not in roles]


# --------------------------------------------------------------------------- loading
def _format_validation_error(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
            continue
        value = e.get("input")
        shown = "" if isinstance(value, (dict, list)) and e["type"] != "list_type" else f" = {value!r}"
        msg = e["msg"].removeprefix("Value error, ")
        if not e["loc"]:          # a rule across sections: the message names the keys itself
            lines.append(f"{source}: {msg}")
            continue
        lines.append(f"{source}: {key}{shown}: {msg}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a config file: name a YAML file, e.g. "
                          "use-cases/golden_record/config/examples/people.yaml") from None
    except (PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as a YAML file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a","b","c"], parsed value). The value is read as YAML (numbers, lists...)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. model.params.match_threshold=0.9")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {text!r}: the key is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for text in overrides or []:
        path, value = parse_override(text)
        node: Any = data
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                try:
                    node = node[int(part)]
                    continue
                except (ValueError, IndexError):
                    raise ConfigError(f"--set {text}: '{'.'.join(path[:i + 1])}' is not a valid list index") from None
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, (dict, list)):
                raise ConfigError(f"--set {text}: '{'.'.join(path[:i + 1])}' is a value, not a section")
            node = nxt
        last = path[-1]
        if isinstance(node, list):
            try:
                node[int(last)] = value
            except (ValueError, IndexError):
                raise ConfigError(f"--set {text}: '{'.'.join(path)}' is not a valid list index") from None
        else:
            node[last] = value
    return data


def load_model_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> ModelConfig:
    path = Path(path) if path else MODEL_CONFIG_PATH
    data = apply_overrides(_read_yaml(path), overrides)
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(path.name, err)) from None


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """``config/settings.yaml``, or the file named by ``GOLDEN_RECORD_SETTINGS``."""
    path = Path(path or os.environ.get("GOLDEN_RECORD_SETTINGS") or SETTINGS_PATH)
    data = _read_yaml(path) if path.exists() else {}
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(path.name, err)) from None


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Flatten nested config into ``a.b.c -> str(value)`` for MLflow params (lists kept whole)."""
    out: dict[str, str] = {}
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        for i, v in enumerate(data):
            key = v.get("field", str(i)) if isinstance(v, dict) else str(i)
            out.update(flatten(v, f"{prefix}{key}."))
    else:
        out[prefix.rstrip(".")] = str(data)
    return out
