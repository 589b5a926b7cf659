"""Comparisons and blocking derived from the schema (linkage/defaults.py): a config that declares
only its fields gets the documented comparisons and passes; declared ones are kept exactly."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from rapidfuzz.distance import Levenshtein

from golden_record.cli import Progress
from golden_record.config import ConfigError, ModelConfig, load_model_config
from golden_record.errors import DataError
from golden_record.linkage import defaults
from golden_record.linkage.blocking import generate, pass_key_strings
from golden_record.linkage.keys import parse_key
from golden_record.linkage.pipeline import true_pair_count
from golden_record.linkage.schema import clean_records

FIELDS = {
    "given": {"type": "name"}, "family": {"type": "name"}, "full": {"type": "name"},
    "birth": {"type": "date"}, "national_id": {"type": "identifier", "digits": True},
    "household": {"type": "identifier"}, "postcode": {"type": "identifier"}, "region": {"type": "text"},
    "sex": {"type": "category"}, "phone": {"type": "phone"}, "updated": {"type": "timestamp"},
    "origin": {"type": "category"},
}


#: candidates.max_pairs below the small test table's 366,796 record pairs: passes are derived for it
#: (a table that fits defaults.FULL_COMPARISON_PAIRS and max_pairs is compared whole)
BLOCKED = {"max_pairs": 100_000}


def _config(fields=None, **extra) -> ModelConfig:
    fields = fields or FIELDS
    data = {"table": "t", "id": "id", "fields": fields}
    if "updated" in fields:
        data["recency"] = "updated"
    if "origin" in fields:
        data["source"] = "origin"
    return ModelConfig.model_validate({"data": data, **extra})


def _words(rng, n: int, length: int) -> np.ndarray:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return np.array(["".join(rng.choice(letters, length)) for _ in range(n)], dtype=object)


def _table(people: int = 600, seed: int = 0) -> pd.DataFrame:
    """People with 1-3 records: a national id, households of three people, 12 postcodes in 2
    regions, a full name made of the given and family name, some given names as initials."""
    rng = np.random.default_rng(seed)
    given, family = _words(rng, 200, 6), _words(rng, 150, 7)
    g, f = rng.choice(given, people), rng.choice(family, people)
    copies = rng.choice([1, 2, 3], people, p=[0.6, 0.3, 0.1])
    person = np.repeat(np.arange(people), copies)
    n = len(person)
    g_rec = g[person].copy()
    initials = rng.random(n) < 0.02
    g_rec[initials] = [v[0] for v in g_rec[initials]]
    postcode = (1000 + person // 50 % 12).astype(str)
    birth = (np.datetime64("1950-01-01") + rng.integers(0, 20000, people)[person]).astype(str)
    return pd.DataFrame({
        "record_id": np.arange(n), "given": g_rec, "family": f[person],
        "full": [f"{a} {b}" for a, b in zip(g_rec, f[person])], "birth": birth,
        "national_id": np.char.zfill((123456789 + person * 7919).astype(str), 9),
        "household": ("H" + (person // 3).astype(str)).astype(object), "postcode": postcode,
        "region": np.where(postcode.astype(int) < 1006, "north", "south"),
        "sex": rng.choice(["M", "F"], people)[person],
        "phone": (600000000 + person * 37).astype(str),
        "updated": (np.datetime64("2024-01-01") + rng.integers(0, 300, n)).astype(str),
        "origin": rng.choice(["a", "b"], n),
    })


def load_model_config_from(text: str) -> ModelConfig:
    return ModelConfig.model_validate(yaml.safe_load(text))


def _prepared(config: ModelConfig, table: pd.DataFrame) -> pd.DataFrame:
    return clean_records(table[["record_id", *config.data.fields]], config.data.fields)[0]


def test_a_config_of_fields_only_validates_and_loads_every_usable_field():
    cfg = _config()
    assert cfg.comparisons is None and cfg.model.params.blocking_fields is None
    assert cfg.derived_keys() == ["comparisons", "model.params.blocking_fields"]
    # the roles and the timestamp are never compared: everything else is loaded for the derivation
    assert cfg.needed_fields() == ["given", "family", "full", "birth", "national_id", "household", "postcode",
                                   "region", "sex", "phone"]
    # without a recency role the default survivorship chain does without most_recent
    assert "most_recent" not in _config({"name": {"type": "name"}}).golden.default_rule


def test_fields_only_resolve_to_the_documented_comparisons_and_passes():
    cfg = _config()
    d = defaults.resolve(cfg, _prepared(cfg, _table()))
    comps = {c.name: c for c in cfg.comparisons}
    assert list(comps) == ["given", "family", "birth", "national_id", "household", "postcode", "sex", "phone"]
    assert (comps["given"].method, comps["given"].levels, comps["given"].swap_with, comps["given"].initials) == \
        ("jaro_winkler", [0.92, 0.8], "family", True)          # 2 % of given names are initials
    assert (comps["family"].swap_with, comps["family"].initials) == ("given", False)
    assert comps["birth"].method == "date"
    # a selective identifier: exact + a close level one wrong digit of nine reaches
    assert (comps["national_id"].method, comps["national_id"].levels) == ("levenshtein", [0.88])
    assert comps["postcode"].method == "exact"                 # a place: a neighbour is not a typo
    assert comps["sex"].method == comps["phone"].method == "exact"
    assert set(d.not_compared) == {"full", "region", "updated", "origin"}
    assert "given + family" in d.not_compared["full"] and "postcode" in d.not_compared["region"]
    # 857 records, 366,796 pairs: the whole table is compared, which no blocking can beat
    assert cfg.model.params.blocking_fields == ["all()"]
    assert "every pair of the 857 records is compared" in d.reasons["pass:all()"]
    assert cfg.derived_keys() == ["comparisons", "model.params.blocking_fields"]


def test_passes_are_chosen_by_the_likely_duplicates_they_add():
    """Below max_pairs the passes are chosen, greedily, by the likely duplicate pairs their new pairs
    hold (a model fitted without ground truth): the id finds the copies whose names or date differ;
    a household id's pairs are other members of the family, and it is left out, with its numbers."""
    cfg = _config(candidates=BLOCKED)
    table = _table()
    prepared = _prepared(cfg, table)
    d = defaults.resolve(cfg, prepared)
    passes = cfg.model.params.blocking_fields
    assert "national_id" in passes and "household" not in passes and "all()" not in passes
    assert "adding too little" in d.dropped["household"][0]
    for entry in passes:
        why = d.reasons["pass:" + entry]
        assert "pairs/record" in why and "of the likely duplicate pairs" in why
    assert d.reasons["place"].startswith("postcode")
    pairs = generate(prepared, passes, cfg.candidates)
    person = table["national_id"].to_numpy()
    assert (person[pairs.left] == person[pairs.right]).sum() == true_pair_count(person)   # every true pair
    assert len(pairs) < 2 * len(prepared)


def test_one_wrong_character_reaches_the_close_level_and_two_do_not():
    for length in (4, 6, 7, 9, 10, 12):
        level = defaults._close_level(length)
        value = "1234567890ab"[:length]
        one = "x" + value[1:]
        two = "xy" + value[2:]
        assert Levenshtein.normalized_similarity(value, one) >= level > Levenshtein.normalized_similarity(value, two)


def test_declared_keys_are_kept_exactly():
    declared = [{"field": "family", "method": "exact"}]
    cfg = _config(comparisons=declared, model={"params": {"blocking_fields": ["national_id"]}})
    before = cfg.model_dump()
    assert defaults.resolve(cfg, _prepared(cfg, _table())) is None
    assert cfg.model_dump() == before
    # one declared, one derived: the declared one stays as written
    cfg = _config(comparisons=declared, candidates=BLOCKED)
    defaults.resolve(cfg, _prepared(cfg, _table()))
    assert [c.model_dump() for c in cfg.comparisons] == [_config(comparisons=declared).comparisons[0].model_dump()]
    assert cfg.derived_keys() == ["model.params.blocking_fields"] and "national_id" in cfg.model.params.blocking_fields
    with pytest.raises(ValueError, match="comparisons are declared"):
        cfg.fill_in(comparisons=cfg.comparisons)


def test_progress_shows_one_line_per_comparison_and_pass(caplog):
    cfg = _config()
    with caplog.at_level(logging.INFO, logger="golden_record"):     # the progress lines are logged
        defaults.resolve(cfg, _prepared(cfg, _table()), Progress())
    err = "\n".join(r.getMessage() for r in caplog.records)
    for c in cfg.comparisons:
        assert f"    {c.name}: {c.method}" in err
    passes = err.split("derived blocking passes")[1]
    for entry in cfg.model.params.blocking_fields:
        assert "pairs/record" in passes.split(f"\n    {entry}: ")[1].splitlines()[0], entry
    assert "    full: not compared (made of given + family" in err


def test_the_resolved_config_reads_back_with_the_same_values(tmp_path):
    cfg = _config()
    defaults.resolve(cfg, _prepared(cfg, _table()))
    path = tmp_path / "resolved.yaml"
    path.write_text(cfg.resolved_yaml())
    assert path.read_text().startswith("# The model config as the run used it")
    back = load_model_config(path)
    assert back.comparisons == cfg.comparisons
    assert back.model.params.blocking_fields == cfg.model.params.blocking_fields
    assert back.derived_keys() == []          # read back, nothing is left to derive


def test_a_refit_on_other_data_derives_again():
    cfg = _config(candidates=BLOCKED)
    defaults.resolve(cfg, _prepared(cfg, _table()))
    table = _table(seed=1)
    table["national_id"] = None                               # this table lacks the id
    table["national_id"] = table["national_id"].astype(object)
    d = defaults.resolve(cfg, _prepared(cfg, table))
    assert "national_id" not in cfg.model.params.blocking_fields
    assert "national_id" not in [c.field for c in cfg.comparisons] and "national_id" in d.not_compared


def test_sparse_table_of_name_date_and_postcode():
    fields = {k: FIELDS[k] for k in ("given", "family", "birth", "postcode")}
    cfg = _config(fields, candidates=BLOCKED)
    defaults.resolve(cfg, _prepared(cfg, _table()))
    assert [c.method for c in cfg.comparisons] == ["jaro_winkler", "jaro_winkler", "date", "exact"]
    # the names with the date find the copies; a copy with a given name reduced to its initial
    # (2 %) meets by the other name and the date; the names in one postcode bring the copies whose
    # date was mistyped (scored as matches since movers' classes are: a majority of the evidence)
    assert cfg.model.params.blocking_fields == ["phonetic(given,family)+birth", "phonetic(family)+birth",
                                                "phonetic(given,family)+postcode"]


def test_one_full_name_field_is_compared_by_tokens_and_blocked_by_sound():
    fields = {"full": {"type": "name"}, "birth": {"type": "date"}}
    cfg = _config(fields, candidates=BLOCKED)
    defaults.resolve(cfg, _prepared(cfg, _table()))
    assert [(c.field, c.method) for c in cfg.comparisons] == [("full", "token_sort"), ("birth", "date")]
    assert cfg.model.params.blocking_fields[0] == "phonetic(full)+birth"
    assert all("full" in entry or "birth" in entry for entry in cfg.model.params.blocking_fields)


def test_a_coarse_pass_is_dropped_and_said():
    table = _table()
    table["family"] = np.where(np.arange(len(table)) % 2, "same", "other")    # two family names for everybody
    fields = {k: FIELDS[k] for k in ("given", "family", "postcode")}
    cfg = _config(fields, candidates=BLOCKED)
    d = defaults.resolve(cfg, _prepared(cfg, table))
    assert "phonetic(family)+postcode" not in cfg.model.params.blocking_fields
    line = next(line for line in d.lines() if line.startswith("    not used, more pairs per record alone than"))
    assert "phonetic(family)+postcode (17." in line         # half a postcode's blocks, over the budget
    table["family"] = "same"                                    # one family name: not a key at all
    d = defaults.resolve(cfg, _prepared(cfg, table))
    assert "family" in d.not_compared and not any("family" in e for e in cfg.model.params.blocking_fields)


def test_nothing_to_block_on_names_the_key_to_declare():
    table = _table()
    fields = {"sex": FIELDS["sex"], "region": FIELDS["region"]}
    cfg = _config(fields, candidates=BLOCKED)
    with pytest.raises(DataError, match="no blocking pass could be derived") as err:
        defaults.resolve(cfg, _prepared(cfg, table))
    assert "model.params.blocking_fields" in err.value.hint


def test_a_derived_value_the_config_refuses_names_the_key():
    cfg = _config()
    with pytest.raises(ConfigError, match="derived config: .*shoe_size"):
        cfg.fill_in(blocking_fields=["shoe_size"])


def test_the_example_configs_without_comparisons_and_blocking_validate(tmp_path):
    from golden_record.config import MODEL_CONFIG_PATH

    for src in MODEL_CONFIG_PATH.parent.glob("examples/*.yaml"):
        data = yaml.safe_load(src.read_text())
        data.pop("comparisons", None)                        # people.yaml declares neither
        data.get("model", {}).get("params", {}).pop("blocking_fields", None)   # data-only configs have no model
        path = tmp_path / src.name
        path.write_text(yaml.safe_dump(data))
        cfg = load_model_config(path)
        assert cfg.derived_keys() == ["comparisons", "model.params.blocking_fields"]
        assert data["data"]["recency"] not in cfg.needed_fields()


# --------------------------------------------------------------------------- end to end
CITIZEN_FIELDS = {
    "first_name": {"type": "name", "rules": "indian"}, "last_name": {"type": "name", "rules": "indian"},
    "full_name": {"type": "name", "rules": "indian"}, "father_name": {"type": "name", "rules": "indian"},
    "gender": {"type": "category", "values": {"M": ["m", "male"], "F": ["f", "female"]}},
    "date_of_birth": {"type": "date"}, "mobile": {"type": "phone", "length": 10, "prefixes": ["91", "0"]},
    "email": {"type": "email"}, "address": {"type": "address", "abbreviations": "indian"},
    "district": {"type": "text"}, "state": {"type": "text"}, "pincode": {"type": "identifier", "digits": True},
    "jan_aadhaar": {"type": "identifier", "digits": True}, "aadhaar_last4": {"type": "identifier", "digits": True},
    "updated_at": {"type": "timestamp"},
}


@pytest.fixture(scope="module")
def fields_only_run(seeded_small, mlflow_store, tmp_path_factory):
    """python src/train.py on the seeded citizens with a config declaring only the table, its
    fields and types, and the ground truth."""
    import sys

    from mlflow import MlflowClient

    from conftest import ROOT, run

    path = tmp_path_factory.mktemp("fields_only") / "fields_only.yaml"
    path.write_text(yaml.safe_dump({"data": {
        "table": "citizens", "id": "citizen_id", "fields": CITIZEN_FIELDS,
        "truth": {"table": "citizen_truth", "id_column": "citizen_id", "entity_column": "entity_id"}}}))
    env = {**seeded_small["env"], "MLFLOW_TRACKING_URI": mlflow_store}
    done = run([sys.executable, "src/train.py", "--config", str(path), "--experiment", "fields_only"], env,
               cwd=ROOT / "use-cases" / "golden_record")
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(mlflow_store)
    r = client.search_runs([client.get_experiment_by_name("fields_only").experiment_id])[0]
    return {"done": done, "client": client, "run": r}


def test_fields_only_training_logs_the_resolved_config(fields_only_run, tmp_path):
    from golden_record.linkage.scoring import load_model_files

    client, r = fields_only_run["client"], fields_only_run["run"]
    assert r.info.status == "FINISHED"
    assert r.data.tags["config.derived"] == "comparisons, model.params.blocking_fields"
    resolved = load_model_config(client.download_artifacts(r.info.run_id, "config/resolved_config.yaml",
                                                           str(tmp_path)))
    names = [c.name for c in resolved.comparisons]
    assert {"first_name", "last_name", "date_of_birth", "mobile", "jan_aadhaar", "pincode"} <= set(names)
    assert "full_name" not in names and "updated_at" not in names      # a composite, a timestamp
    first = next(c for c in resolved.comparisons if c.name == "first_name")
    assert (first.method, first.swap_with) == ("jaro_winkler", "last_name")
    blocking = resolved.model.params.blocking_fields
    # which keys block depends on what they find in the data: the names by sound with the date
    # of birth (a year or the date) among them, and a contact alone
    assert any(b.startswith("phonetic(first_name,last_name)+") and "date_of_birth" in b for b in blocking), blocking
    assert "email" in blocking or "mobile" in blocking, blocking
    # the derived values are params too, and the progress showed them
    assert r.data.params["comparisons.first_name.swap_with"] == "last_name"
    assert r.data.params["model.params.blocking_fields"] == str(blocking)
    err = fields_only_run["done"].stderr
    assert "derived comparisons (" in err and "    first_name: jaro_winkler" in err
    assert "derived blocking passes (" in err and "    (budget " in err and "true partners per record" in err
    # the logged model scores with the same comparisons and blocking (golden records, re-scoring)
    import mlflow

    mlflow.set_tracking_uri(client.tracking_uri)
    model_dir = mlflow.artifacts.download_artifacts(artifact_uri=f"runs:/{r.info.run_id}/model",
                                                    dst_path=str(tmp_path / "model"))
    _, logged, _ = load_model_files(next(Path(model_dir).rglob("fellegi_sunter.json")))
    assert logged.comparisons == resolved.comparisons
    assert logged.model.params.blocking_fields == blocking


def test_fields_only_training_is_sound(fields_only_run):
    m = fields_only_run["run"].data.metrics
    assert m["pairs_completeness"] >= 0.985, m
    assert m["f1_score"] >= 0.95, m


def _cost(derivation, entry: str) -> float:
    return float(derivation.reasons["pass:" + entry].split(" pairs/record")[0])


def _partners(derivation) -> float:
    return float(derivation.reasons["budget"].split("about ")[1].split(" true partners")[0])



def _typos(rng, values: np.ndarray, rate: float) -> np.ndarray:
    """One wrong, missing, extra or swapped letter in ``rate`` of the values."""
    out = values.copy()
    hit = np.flatnonzero(rng.random(len(values)) < rate)
    letters = "abcdefghijklmnopqrstuvwxyz"
    kinds, places, new = rng.integers(0, 4, len(hit)), rng.random(len(hit)), rng.integers(0, 26, len(hit))
    for i, kind, pos, letter in zip(hit, kinds, places, new):
        v = out[i]
        k = int(pos * len(v))
        if kind == 0:
            out[i] = v[:k] + letters[letter] + v[k + 1:]                # a wrong letter
        elif kind == 1 and len(v) > 3:
            out[i] = v[:k] + v[k + 1:]                                  # a missing one
        elif kind == 2:
            out[i] = v[:k] + letters[letter] + v[k:]                    # an extra one
        else:
            out[i] = v[:k] + v[k + 1:k + 2] + v[k:k + 1] + v[k + 2:]    # two swapped
    return out

def _messy_table(people: int, records: float, typo: float = 0.25, missing: float = 0.2, seed: int = 0):
    """(table, person) of people with ``records`` records each on average (1 + Poisson), names,
    a date of birth and a birthplace, each with ``typo`` of its values mistyped and ``missing``
    of them missing: a historical register's copies of a person."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    def words(n, length):
        return np.array(["".join(rng.choice(letters, length)) for _ in range(n)], dtype=object)
    def zipf_choice(pool, n):
        w = 1.0 / (np.arange(len(pool)) + 3.0)
        return rng.choice(pool, n, p=w / w.sum())
    given, family, towns = words(400, 6), words(1500, 7), words(300, 8)
    person = np.repeat(np.arange(people), 1 + rng.poisson(records - 1, people))
    n = len(person)
    birth = (np.datetime64("1850-01-01") + rng.integers(0, 60 * 365, people)).astype("datetime64[D]")
    cols = {"given": zipf_choice(given, people)[person], "family": zipf_choice(family, people)[person],
            "birthplace": zipf_choice(towns, people)[person]}
    table = pd.DataFrame({"record_id": np.arange(n)})
    for name, values in cols.items():
        table[name] = _typos(rng, values.astype(object), typo)
    days = birth[person] + np.where(rng.random(n) < typo, rng.choice([-1, 1, -365, 365, 30], n), 0)
    table["birth"] = days.astype(str).astype(object)
    for name in ("given", "family", "birthplace", "birth"):
        table.loc[rng.random(n) < missing, name] = None
    return table, person


MESSY_FIELDS = {"given": {"type": "name"}, "family": {"type": "name"}, "birth": {"type": "date"},
                "birthplace": {"type": "text"}}


def test_passes_derived_from_a_sample_are_costed_for_the_whole_table():
    """The Spark engine derives the passes from a sample (200,000 records of millions): a sample's
    blocks are smaller by its share, and so are its pairs per record and its duplicates per record.
    Scaled to the whole table, a 10 % sample costs the passes as the whole table does and finds
    as many true partners per record; its own counts would be 10 times smaller."""
    table, _ = _messy_table(10_000, 2, typo=0.15, missing=0.1)
    prepared = _prepared(_config(MESSY_FIELDS), table)
    full = defaults.derive(_config(MESSY_FIELDS), prepared)
    sample = prepared.sample(frac=0.1, random_state=0)
    scaled = defaults.derive(_config(MESSY_FIELDS), sample, share=len(sample) / len(prepared))
    naive = defaults.derive(_config(MESSY_FIELDS), sample)
    shared = [e for e in scaled.blocking_fields if e in full.blocking_fields and _cost(full, e) >= 0.2]
    assert len(shared) >= 4, (full.blocking_fields, scaled.blocking_fields)
    for entry in shared:
        assert _cost(scaled, entry) == pytest.approx(_cost(full, entry), rel=0.25), entry
    assert _partners(scaled) == pytest.approx(_partners(full), rel=0.25)
    # the sample's own counts: a tenth of the pairs per record, a tenth of the partners
    assert _partners(naive) == pytest.approx(0.1 * _partners(full), rel=0.3)
    for entry in (e for e in naive.blocking_fields if e in shared):
        assert _cost(naive, entry) < 0.2 * _cost(full, entry), entry


def test_a_field_profiled_on_a_sample_is_judged_on_the_whole_table():
    """Whether a field may block alone (a pass on it, or a place to pair names with) is judged by
    its cost on the whole table: a group key of ~30 records looks affordable in a 10 % sample
    (blocks of ~3) and is not (the sparse table's pincode, seeded: 24 pairs/record, kept alone)."""
    rng = np.random.default_rng(0)
    values = pd.Series((np.arange(30_000) // 30).astype(str)).sample(frac=1.0, random_state=1)
    whole = defaults.profile_field("key", "identifier", values, 300)
    sample = values.sample(frac=0.1, random_state=int(rng.integers(1000)))
    naive = defaults.profile_field("key", "identifier", sample, 300)
    scaled = defaults.profile_field("key", "identifier", sample, 300, share=0.1)
    assert not whole.selective and naive.selective and not scaled.selective
    assert scaled.pairs_per_record == pytest.approx(whole.pairs_per_record, rel=0.15)


def test_the_pair_budget_follows_the_records_a_person_has():
    """A register where a person has ~10 records (typos, missing values): the budget is set by the
    true partners per record the data shows (estimated without the ground truth), not by a fixed 3
    pairs per record, which found 74 % of the true pairs here (4.1 pairs per record)."""
    table, person = _messy_table(300, 10, typo=0.15, missing=0.1)
    cfg = _config(MESSY_FIELDS)
    prepared = _prepared(cfg, table)
    d = defaults.resolve(cfg, prepared)
    _, copies = np.unique(person, return_counts=True)
    partners = (copies * (copies - 1)).sum() / len(person)                   # 10.0
    assert _partners(d) == pytest.approx(partners, rel=0.15)
    budget = float(d.reasons["budget"].removeprefix("budget ").split(" pairs/record")[0])
    assert budget == pytest.approx(defaults.pass_choice.BASE_BUDGET + defaults.pass_choice.PAIRS_PER_PARTNER
                                   * _partners(d), abs=0.1)
    assert any(line.startswith(f"    (budget {budget:.1f} pairs/record: about") for line in d.lines())
    pairs = generate(prepared, cfg.model.params.blocking_fields, cfg.candidates)
    assert 3 < len(pairs) / len(prepared) <= budget
    assert (person[pairs.left] == person[pairs.right]).sum() / true_pair_count(person) >= 0.97
    # passes that add nothing are left out, with their numbers
    assert any(line.startswith("    not used, adding too little: ") and "%" in line for line in d.lines())


def test_a_small_table_is_compared_whole():
    """A table whose every pair fits defaults.FULL_COMPARISON_PAIRS (and candidates.max_pairs) is
    compared whole: no duplicate is lost to blocking, whatever its typos; the pass all() is one
    block that candidates.max_block_size does not cut."""
    table, person = _messy_table(100, 10, typo=0.3, missing=0.3)        # ~1,000 records, 500,000 pairs
    cfg = _config(MESSY_FIELDS)
    prepared = _prepared(cfg, table)
    d = defaults.resolve(cfg, prepared)
    assert cfg.model.params.blocking_fields == ["all()"]
    n = len(prepared)
    assert d.lines()[-1] == (f"    all(): {n * (n - 1) // 2:,} pairs, {(n - 1) / 2:.1f} pairs/record: every pair of "
                             f"the {n:,} records is compared (at most 2,000,000 pairs: a table this small loses no "
                             "pair to blocking)")
    pairs = generate(prepared, cfg.model.params.blocking_fields, cfg.candidates)
    assert len(pairs) == n * (n - 1) // 2 and (pairs.left < pairs.right).all()
    assert (person[pairs.left] == person[pairs.right]).sum() == true_pair_count(person)
    # the config reads it back; its key string is one block
    assert load_model_config_from(cfg.resolved_yaml()).model.params.blocking_fields == ["all()"]
    keys = pass_key_strings(prepared, "all()")
    assert keys.nunique() == 1 and keys.iloc[0] == "all()=0"
    with pytest.raises(ValueError, match="stands alone"):
        parse_key("all()+birth")
    # over max_pairs, passes are derived
    cfg = _config(MESSY_FIELDS, candidates={"max_pairs": n * (n - 1) // 2 - 1})
    defaults.resolve(cfg, prepared)
    assert "all()" not in cfg.model.params.blocking_fields


def test_a_sample_of_a_large_table_keeps_the_passes_within_max_pairs_by_finer_keys():
    """Passes derived from a 10 % sample (as the Spark engine derives them) for a table whose
    candidates.max_pairs allows half a pair per record (as 50M pairs do 5 for 10M records): the
    coarse keys the same table affords otherwise (a name within a year, a name in a birthplace)
    give way to finer ones (the names or initials with the whole date), and the passes, counted for
    the whole table, make no more pairs than max_pairs: generate does not refuse them."""
    table, _ = _messy_table(10_000, 2, typo=0.15, missing=0.1)
    prepared = _prepared(_config(MESSY_FIELDS), table)
    n = len(prepared)
    sample = prepared.sample(frac=0.1, random_state=0)
    roomy = defaults.derive(_config(MESSY_FIELDS), sample, share=len(sample) / n)
    assert any("+year(birth)" in e for e in roomy.blocking_fields)
    assert max(_cost(roomy, e) for e in roomy.blocking_fields) > 1
    cfg = _config(MESSY_FIELDS, candidates={"max_pairs": n // 2})
    tight = defaults.derive(cfg, sample, share=len(sample) / n)
    assert tight.blocking_fields and not any("year(" in e for e in tight.blocking_fields)
    assert all(e.endswith("+birth") and _cost(tight, e) < 0.5 for e in tight.blocking_fields)
    assert "at most 0.5 (candidates.max_pairs)" in tight.reasons["budget"]
    pairs = generate(prepared, tight.blocking_fields, cfg.candidates)            # refuses over max_pairs
    assert sum(r.pairs for r in pairs.passes) <= n // 2
    dropped = " ".join(f"{e} {g} {x}" for e, (g, x) in tight.dropped.items())
    assert "phonetic(given,family)+year(birth)" in dropped and "budget of 0.5" in dropped
