"""What the golden records of a schema look like: fields, roles, composite fields, output tables
(and their DDL, generated from the schema)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden_record.config import GOLDEN_META, SURVIVORSHIP_RULES, ModelConfig  # noqa: F401
from golden_record.linkage.schema import FieldSpec

#: Survivorship rule registry (names validated by :class:`config.GoldenSettings`).
RULES = SURVIVORSHIP_RULES
#: Columns of the golden table after the fields
ARTIFACT_PATH = "golden"
_NO_KEY = np.iinfo(np.int64).max
#: Field types whose cleaned value is the canonical one a golden record holds; names, free text
#: and addresses keep their written form (spacing trimmed): their cleaned form is a matching key
CANONICAL_TYPES = ("identifier", "phone", "email", "category", "date", "timestamp")


@dataclass(frozen=True)
class Layout:
    """What the golden records of a schema look like: the fields (all declared fields but the
    recency and source roles), their specs, the roles, composite fields and the output tables."""
    fields: tuple[str, ...]
    specs: dict[str, FieldSpec]
    id_column: str = "record_id"
    recency: str | None = None
    source: str | None = None
    composites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    table: str = "golden_records"
    map_table: str = "golden_record_map"
    redirect_table: str = "golden_redirects"

    @classmethod
    def from_config(cls, config: ModelConfig) -> "Layout":
        d, g = config.data, config.golden
        return cls(tuple(config.golden_fields()), dict(d.fields), d.id, d.recency, d.source,
                   {k: tuple(v) for k, v in g.composite.items()}, g.table, g.map_table, g.redirect_table)

    @property
    def golden_columns(self) -> tuple[str, ...]:
        return ("golden_id", *self.fields, *GOLDEN_META)

    @property
    def map_columns(self) -> tuple[str, ...]:
        return (self.id_column, "golden_id", "match_probability", "mapped_at")

    def column_types(self, id_type: str) -> dict[str, dict[str, str]]:
        """table -> column -> type (as PostgreSQL's format_type names it) of both output tables."""
        kinds = {"date": "date", "timestamp": "timestamp with time zone"}
        golden = {"golden_id": id_type, **{f: kinds.get(self.specs[f].type, "text") for f in self.fields},
                  "member_count": "integer", "cluster_confidence": "double precision", "field_sources": "jsonb",
                  "run_id": "text", "created_at": "timestamp with time zone"}
        mapping = {self.id_column: id_type, "golden_id": id_type, "match_probability": "double precision",
                   "mapped_at": "timestamp with time zone"}
        return {self.table: golden, self.map_table: mapping}

    def redirect_ddl(self, id_type: str) -> str:
        """The retired golden ids: each one's successor (NULL: its records are gone), why, when."""
        q = '"' + '"."'.join(p.replace('"', '""') for p in self.redirect_table.split(".")) + '"'
        return (f"CREATE TABLE IF NOT EXISTS {q} (\n    old_golden_id {id_type} PRIMARY KEY,\n"
                f"    new_golden_id {id_type},\n    reason text NOT NULL,\n    run_id text,\n"
                "    at timestamptz NOT NULL DEFAULT now()\n);")

    def ddl(self, id_type: str) -> str:
        """CREATE TABLE statements of both tables: text for every field but dates and timestamps."""

        def q(name: str) -> str:
            return ".".join('"' + p.replace('"', '""') + '"' for p in name.split("."))

        kinds = {"date": "date", "timestamp": "timestamptz"}
        cols = ",\n    ".join(f"{q(f)} {kinds.get(self.specs[f].type, 'text')}" for f in self.fields)
        return (f"CREATE TABLE {q(self.table)} (\n    golden_id {id_type} PRIMARY KEY,\n    {cols},\n"
                "    member_count integer NOT NULL,\n    cluster_confidence double precision NOT NULL,\n"
                "    field_sources jsonb NOT NULL DEFAULT '{}'::jsonb,\n    run_id text,\n"
                "    created_at timestamptz NOT NULL DEFAULT now()\n);\n"
                f"CREATE TABLE {q(self.map_table)} (\n    {q(self.id_column)} {id_type} PRIMARY KEY,\n"
                f"    golden_id {id_type} NOT NULL,\n    match_probability double precision NOT NULL,\n"
                "    mapped_at timestamptz NOT NULL DEFAULT now()\n);\n"
                f"CREATE INDEX ON {q(self.map_table)} (golden_id);")
