"""The seeder's profiles (synthetic/profiles.py), the shared pair-difference measure and
``scripts/seed_data.py --profile``: the registry and the pure parts without a database, every
profile seeded into a database of this test run through the real command."""
from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import psycopg
import pytest

from conftest import ROOT, run
from golden_record.config import MODEL_CONFIG_PATH, load_model_config
from golden_record.io import warehouse
from golden_record.linkage.schema import clean_records
from golden_record.linker import records_from_frame
from golden_record.synthetic import differences, profiles

EXAMPLES = ROOT / "use-cases" / "golden_record" / "config" / "examples"


# ----------------------------------------------------------------------------- registry and configs
def test_list_profiles_prints_one_name_a_line_and_nothing_else():
    done = run([sys.executable, "scripts/seed_data.py", "--list-profiles"], {"DATABASE_URL": "not-a-url"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["citizens", "people", "sparse", "historical", "crm"] == list(profiles.PROFILES)


def test_an_unknown_profile_exits_2_naming_the_choices():
    done = run([sys.executable, "scripts/seed_data.py", "--profile", "martians"], {"DATABASE_URL": "not-a-url"})
    assert done.returncode == 2
    assert "invalid choice: 'martians'" in done.stderr
    assert all(f"'{name}'" in done.stderr for name in profiles.PROFILES)
    assert "Traceback" not in done.stderr and done.stdout == ""
    with pytest.raises(ValueError, match="profiles: citizens, people, sparse, historical, crm"):
        profiles.get("martians")


def test_each_profile_has_its_example_config():
    for name, profile in profiles.PROFILES.items():
        assert profile.config_path == EXAMPLES / f"{name}.yaml"
        config = profile.config()
        assert config.data.truth is not None, name
    tables = {n: (p.config().data.table, p.config().data.truth.table) for n, p in profiles.PROFILES.items()}
    assert tables == {"citizens": ("citizens", "citizen_truth"), "people": ("people", "people_truth"),
                      "sparse": ("sparse_citizens", "sparse_truth"), "historical": ("historical", "historical_truth"),
                      "crm": ("crm", "crm_truth")}


def test_citizens_example_is_the_default_config_itself():
    """One source: examples/citizens.yaml is a link to config/model_config.yaml, and loads the same."""
    link = EXAMPLES / "citizens.yaml"
    assert link.is_symlink() and link.resolve() == MODEL_CONFIG_PATH.resolve()
    assert load_model_config(link).model_dump() == load_model_config().model_dump()


def test_the_model_section_is_the_same_in_every_profile():
    """Only the data side differs between the profiles' configs (blocking names their fields)."""
    models = {n: p.config().model.model_dump() for n, p in profiles.PROFILES.items()}
    for m in models.values():
        m["params"].pop("blocking_fields")
    assert models["people"] == models["citizens"] == models["sparse"] == models["historical"] == models["crm"]


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_each_profile_generates_what_its_config_reads(name):
    """Exact row count, the id and every declared column present, the truth's columns, and the
    declared fields clean within the config's quality bound (no unparsable dates in bulk)."""
    profile = profiles.get(name)
    config = profile.config()
    data = profile.generate(1_500, 0.2, 3)
    assert len(data.records) == len(data.truth) == data.stats["records"] == 1_500
    assert list(data.truth.columns[:2]) == [config.data.truth.id_column, config.data.truth.entity_column]
    assert data.records[config.data.id].is_unique
    assert set(data.records[config.data.id]) == set(data.truth[config.data.truth.id_column])
    assert data.truth[config.data.truth.entity_column].nunique() == data.stats["people"] < 1_500
    records = records_from_frame(data.records, config)
    _, reports = clean_records(records, config.data.fields)
    for r in reports:
        dropped = (r.present_before - r.present_after) / max(r.present_before, 1)
        assert dropped <= config.data.quality.max_dropped_share, (name, r.field, dropped)


def test_sparse_is_the_citizens_generator_cut_to_name_dob_and_pincode():
    sparse = profiles.get("sparse").generate(800, 0.2, 5)
    citizens = profiles.get("citizens").generate(800, 0.2, 5)
    assert list(sparse.records.columns) == profiles.SPARSE_COLUMNS
    pd.testing.assert_frame_equal(sparse.records, citizens.records[profiles.SPARSE_COLUMNS])
    pd.testing.assert_frame_equal(sparse.truth, citizens.truth)


# ----------------------------------------------------------------------------- pair differences
def test_true_pair_index_lists_every_pair_once():
    entity = np.array([7, 3, 7, 9, 7, 3, 1])
    left, right = differences.true_pair_index(entity)
    pairs = sorted(tuple(sorted(p)) for p in zip(left.tolist(), right.tolist()))
    assert pairs == [(0, 2), (0, 4), (1, 5), (2, 4)]
    assert differences.true_pair_index(np.array([1, 2, 3]))[0].size == 0


def test_pair_differences_against_a_hand_count():
    table = pd.DataFrame({
        "phone": ["1", "1", "2", None, "5", "5"],
        "street": ["a", "a", "b", "b", "c", "c"],
        "number": ["1", "2", "3", "3", None, None],
    })
    entity = [1, 1, 2, 2, 3, 3]
    out = differences.pair_differences(table, entity, {"phone": ["phone"], "address": ["street", "number"]})
    # phone: pair 2 has a missing side -> 2 pairs held, 0 differ; address: pair 1 differs on the
    # number, pair 2 agrees, pair 3 agrees (missing on both sides counts as equal)
    assert out == {"pairs": 3, "phone": 0.0, "address": pytest.approx(1 / 3)}
    with pytest.raises(ValueError, match="entity has 2 values for 6 rows"):
        differences.pair_differences(table, [1, 2], {"phone": ["phone"]})


def test_config_differences_clean_as_the_model_does_and_sample_when_asked():
    config = load_model_config()
    data = profiles.get("citizens").generate(6_000, 0.2, 11)
    entity = data.truth["entity_id"].to_numpy()
    full = differences.config_differences(data.records, entity, config)
    assert full["pairs"] == data.stats["true_duplicate_pairs"]
    assert set(full) == {"pairs"} | {c.field for c in config.comparisons}
    # an abbreviated street is no difference once cleaned: fewer address differences than as written
    raw = differences.pair_differences(data.records, entity, {"address": ["address"]})
    assert full["address"] < raw["address"]
    sample = differences.config_differences(data.records, entity, config, max_people=300)
    assert sample["sampled_people"] == 300 and sample["people_with_duplicates"] == data.stats["people_with_duplicates"]
    assert sample["pairs"] < full["pairs"]
    line = differences.describe(sample)
    assert "of 300 sampled of the" in line and re.search(r"address \d+\.\d %", line)


# ----------------------------------------------------------------------------- seeding, end to end
def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return warehouse.count_rows(conn, table)


def test_every_profile_seeds_its_tables_and_truth(test_databases):
    url = test_databases.url("profiles")
    env = {"DATABASE_URL": url}
    for name, rows in (("citizens", 700), ("people", 600), ("sparse", 500)):
        config = profiles.get(name).config()
        done = run([sys.executable, "scripts/seed_data.py", "--profile", name, "--rows", str(rows), "--seed", "4"], env)
        assert done.returncode == 0, done.stderr
        table, truth = config.data.table, config.data.truth.table
        assert f"seeded {rows:,} records of " in done.stdout and f"into {url} (tables {table} and {truth}) in " in done.stdout
        shares = re.search(r"true duplicate pairs differing where both records hold the field \(all ([\d,]+) "
                           r"pairs\): (.*)", done.stdout)
        assert shares, done.stdout
        roles = {config.data.recency, config.data.source}
        compared = (list(dict.fromkeys(c.field for c in config.comparisons)) if config.comparisons
                    else [f for f in config.data.fields if f not in roles])   # derived: every field
        assert [f.rsplit(" ", 2)[0] for f in shares.group(2).split(", ")] == compared
        assert f"config/examples/{name}.yaml" in done.stdout
        assert _count(url, table) == _count(url, truth) == rows
        with psycopg.connect(url) as conn:
            orphans = conn.execute(psycopg.sql.SQL("SELECT count(*) FROM {} r LEFT JOIN {} t USING ({}) WHERE t.{} IS NULL")
                                   .format(warehouse.table_ref(table), warehouse.table_ref(truth),
                                           psycopg.sql.Identifier(config.data.id),
                                           psycopg.sql.Identifier(config.data.truth.entity_column))).fetchone()[0]
            people = conn.execute(psycopg.sql.SQL("SELECT count(DISTINCT {}) FROM {}").format(
                psycopg.sql.Identifier(config.data.truth.entity_column), warehouse.table_ref(truth))).fetchone()[0]
        assert orphans == 0 and 0 < people < rows
    # re-seeding a profile replaces its tables and leaves the other profiles' alone
    done = run([sys.executable, "scripts/seed_data.py", "--profile", "people", "--rows", "300"], env)
    assert done.returncode == 0, done.stderr
    assert _count(url, "people") == _count(url, "people_truth") == 300
    assert _count(url, "sparse_citizens") == 500 and _count(url, "citizens") == 700
    with psycopg.connect(url) as conn:      # created from the frame: a real date column, the id the key
        types = warehouse.table_columns(conn, "sparse_citizens")
    assert types["date_of_birth"] == "date" and types["citizen_id"] == "bigint"
    assert types["updated_at"] == "timestamp with time zone" and types["first_name"] == "text"


def test_copy_keeps_empty_strings_nulls_and_a_value_spelled_like_the_null_marker(test_databases):
    url = test_databases.url("copy_values")
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "text": ["x", "", None, "\\N"],
                          "at": pd.to_datetime(["2024-01-02 03:04:05", None, "2024-05-06 00:00:00", None], utc=True)})
    with psycopg.connect(url) as conn:
        for rows in (frame, frame[frame["text"] != "\\N"]):        # the row-by-row and the CSV path
            warehouse.replace_tables(conn, {"t": rows}, create={"t": "id"})
            back = conn.execute("SELECT id, text, at FROM t ORDER BY id").fetchall()
            want = rows.sort_values("id")
            assert [b[1] for b in back] == want["text"].tolist()
            assert [b[2] is None for b in back] == want["at"].isna().tolist()


def test_a_missing_profile_table_names_the_profile_that_seeds_it():
    """The warehouse's seed hint knows every profile's tables (read from the registry)."""
    from golden_record.io import warehouse

    assert warehouse.seeded_tables()["crm_truth"] == "crm"
    assert warehouse.seed_hint("historical") == \
        "run make seed-data PROFILE=historical (or python scripts/seed_data.py --profile historical)"
    assert warehouse.seed_hint("people_truth") == \
        "run make seed-data PROFILE=people (or python scripts/seed_data.py --profile people)"
    assert warehouse.seed_hint("public.citizens") == warehouse.SEED_HINT
