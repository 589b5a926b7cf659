"""Clerical review labels in PostgreSQL: table ``pair_labels``.

One row per (records table, pair, reviewer): a reviewer who labels the same pair again replaces
the label (``labelled_at`` and ``run_id`` follow the latest). A pair is stored in one order
(``left_id`` < ``right_id`` as text), so (a, b) and (b, a) are the same pair. Every write is one
transaction. Record ids are kept as text, whatever their type in the records table.

Labels: ``match``, ``not_match``, ``unsure``. ``unsure`` is kept (the reviewer saw the pair) but
counts neither way; when reviewers disagree on a pair, :func:`pair_verdicts` leaves the pair out
and says how many were left out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

TABLE = "pair_labels"
MATCH, NOT_MATCH, UNSURE = "match", "not_match", "unsure"
LABELS = (MATCH, NOT_MATCH, UNSURE)

DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    data_table  text        NOT NULL,
    left_id     text        NOT NULL,
    right_id    text        NOT NULL,
    reviewer    text        NOT NULL,
    label       text        NOT NULL CHECK (label IN ('match', 'not_match', 'unsure')),
    run_id      text        NOT NULL,
    labelled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (data_table, left_id, right_id, reviewer),
    CHECK (left_id < right_id)
);
CREATE INDEX IF NOT EXISTS pair_labels_labelled_at_idx ON {TABLE} (reviewer, labelled_at);
"""


def ordered(left_id, right_id) -> tuple[str, str]:
    """The stored order of a pair: ids as text, the smaller first."""
    a, b = str(left_id), str(right_id)
    if a == b:
        raise ValueError(f"a pair needs two different records, got {a!r} twice")
    return (a, b) if a < b else (b, a)


def ensure_table(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('golden_record.pair_labels'))")
        conn.execute(DDL)


def table_exists(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)).fetchone()[0]


def record_label(conn: psycopg.Connection, *, data_table: str, run_id: str, left_id, right_id,
                 label: str, reviewer: str) -> None:
    """Store one label in one transaction (replacing this reviewer's earlier label of the pair)."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    if not reviewer or not str(reviewer).strip():
        raise ValueError("a label needs a reviewer name")
    a, b = ordered(left_id, right_id)
    with conn.transaction():
        conn.execute(
            f"INSERT INTO {TABLE} (data_table, left_id, right_id, reviewer, label, run_id, labelled_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, clock_timestamp()) "
            "ON CONFLICT (data_table, left_id, right_id, reviewer) DO UPDATE "
            "SET label = EXCLUDED.label, run_id = EXCLUDED.run_id, labelled_at = EXCLUDED.labelled_at",
            (data_table, a, b, reviewer.strip(), label, run_id))


def undo_last(conn: psycopg.Connection, *, data_table: str, reviewer: str, run_id: str | None = None) -> dict | None:
    """Remove this reviewer's most recent label (in ``run_id`` if given); returns it, or None."""
    where = "data_table = %s AND reviewer = %s" + (" AND run_id = %s" if run_id else "")
    params = [data_table, reviewer.strip()] + ([run_id] if run_id else [])
    with conn.transaction():
        row = conn.execute(
            f"DELETE FROM {TABLE} WHERE ctid = (SELECT ctid FROM {TABLE} WHERE {where} "
            "ORDER BY labelled_at DESC LIMIT 1) RETURNING left_id, right_id, label, run_id, labelled_at",
            params).fetchone()
    if row is None:
        return None
    return dict(zip(("left_id", "right_id", "label", "run_id", "labelled_at"), row))


def read_labels(conn: psycopg.Connection, data_table: str, reviewer: str | None = None) -> pd.DataFrame:
    """Every label of ``data_table`` (one per pair and reviewer); an absent table reads as none."""
    columns = ["left_id", "right_id", "reviewer", "label", "run_id", "labelled_at"]
    if not table_exists(conn):
        return pd.DataFrame(columns=columns)
    query = f"SELECT {', '.join(columns)} FROM {TABLE} WHERE data_table = %s"
    params: list = [data_table]
    if reviewer is not None:
        query += " AND reviewer = %s"
        params.append(reviewer)
    rows = conn.execute(query + " ORDER BY labelled_at", params).fetchall()
    return pd.DataFrame(rows, columns=columns)


@dataclass
class Verdicts:
    """One verdict per pair (``match`` or ``not_match``), and what was left out."""
    pairs: pd.DataFrame          # left_id, right_id (text, ordered), label
    unsure: int                  # pairs whose every label is unsure
    conflicting: int             # pairs reviewers labelled both match and not_match

    @property
    def matches(self) -> pd.DataFrame:
        return self.pairs[self.pairs["label"] == MATCH]

    @property
    def non_matches(self) -> pd.DataFrame:
        return self.pairs[self.pairs["label"] == NOT_MATCH]

    def summary(self) -> str:
        return (f"{len(self.pairs):,} labelled pairs ({len(self.matches):,} match, {len(self.non_matches):,} "
                f"not a match); left out: {self.unsure:,} unsure, {self.conflicting:,} with conflicting labels")


def pair_verdicts(labels: pd.DataFrame) -> Verdicts:
    """Combine reviewers: a pair's verdict is its decided label when every decided label agrees;
    unsure labels count neither way; pairs with both verdicts are left out (counted)."""
    if labels.empty:
        return Verdicts(pd.DataFrame(columns=["left_id", "right_id", "label"]), 0, 0)
    decided = labels[labels["label"] != UNSURE]
    kinds = decided.groupby(["left_id", "right_id"])["label"].agg(["nunique", "first"]).reset_index()
    agreed = kinds[kinds["nunique"] == 1].rename(columns={"first": "label"})[["left_id", "right_id", "label"]]
    all_pairs = labels[["left_id", "right_id"]].drop_duplicates()
    unsure = len(all_pairs) - len(kinds)
    return Verdicts(agreed.reset_index(drop=True), unsure, int((kinds["nunique"] > 1).sum()))


def verdicts_of(frame: pd.DataFrame) -> Verdicts:
    """Labels given in memory (the Linker's ``labels=``): a frame with ``left_id``, ``right_id`` and
    ``label`` (``match`` / ``not_match`` / ``unsure``) or a boolean ``match`` column; pairs are
    stored in one order, a pair labelled both ways is left out (counted), as for reviewers' labels."""
    missing = [c for c in ("left_id", "right_id") if c not in frame.columns]
    if missing or not ({"label", "match"} & set(frame.columns)):
        raise ValueError("labels need the columns left_id, right_id and label (match / not_match / unsure) "
                         f"or match (True / False); got {list(frame.columns)}")
    if "label" in frame.columns:
        label = frame["label"].astype(str).to_numpy()
        bad = sorted(set(label) - set(LABELS))
        if bad:
            raise ValueError(f"label must be one of {', '.join(LABELS)}, got {bad[:5]}")
    else:
        label = np.where(frame["match"].astype(bool).to_numpy(), MATCH, NOT_MATCH)
    keys = [ordered(a, b) for a, b in zip(frame["left_id"], frame["right_id"])]
    return pair_verdicts(pd.DataFrame({"left_id": [k[0] for k in keys], "right_id": [k[1] for k in keys],
                                       "label": label}))
