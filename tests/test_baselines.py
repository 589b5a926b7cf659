"""Baselines through Git: export runs to files, import them into an empty store, round trip exact,
importing twice creates nothing. Runs are made with MlflowClient in temporary SQLite stores."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from conftest import ROOT, SRC, fresh_store, run, serving
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput, Metric, Param

from golden_record.tracking.baselines import BASELINE_TAG, SOURCE_TAG, export_main, import_main, safe_name
from golden_record.cli import run_main

#: an absolute path of one machine (a checkout, a temporary folder, a store)
MACHINE_PATH = re.compile(r"(?:file://)?/(?:work|tmp|home|root|Users|var)/")

COMMITTED = ROOT / "baselines"
#: the committed baseline's model parameters, and a signature as training logs it
PARAMETERS = next(COMMITTED.glob("*/runs/*/model/fellegi_sunter.json"))
SIGNATURE = {"inputs": '[{"type": "string", "name": "first_name_l", "required": false}, '
                       '{"type": "string", "name": "first_name_r", "required": false}]',
             "outputs": '[{"type": "double", "name": "match_probability", "required": true}]',
             "params": '[{"name": "threshold", "default": 0.95, "shape": null, "type": "double"}]'}
EXPERIMENT = "smart/golden_record/baseline_v1"
FOLDER = "smart__golden_record__baseline_v1"
T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A store with two known runs: one FINISHED with history, artifacts, a dataset input and a
    logged model; one KILLED with a NaN metric and a parent run."""
    folder = tmp_path_factory.mktemp("baseline_source")
    uri = fresh_store(tmp_path_factory, folder)
    client = MlflowClient(uri)
    exp_id = client.create_experiment(EXPERIMENT, artifact_location=(folder / "mlartifacts").as_uri(),
                                      tags={"team": "registry", "mlflow.note.content": "baselines"})

    a = client.create_run(exp_id, start_time=T0, run_name="blessed_0.95",
                          tags={"model_type": "fellegi_sunter", "data.rows": "100000", "code_version": "0.2.0+abc1234",
                                "mlflow.source.git.commit": "abc1234" + "0" * 33}).info.run_id
    params = {f"comparisons.f{i}.method": "jaro_winkler" for i in range(130)}  # > 100: batched
    params["model.params.match_threshold"] = "0.95"
    client.log_batch(a, params=[Param(k, v) for k, v in params.items()])
    history = [Metric("em_log_likelihood", -100.0 + i, T0 + 10 * i, i) for i in range(5)]
    client.log_batch(a, metrics=history + [Metric("f1_score", 0.97, T0 + 99, 0), Metric("precision", 0.99, T0 + 99, 0)])
    (folder / "files" / "plots").mkdir(parents=True)
    (folder / "files" / "evaluation_summary.txt").write_text("Precision 0.99\n")
    (folder / "files" / "plots" / "roc_curve.png").write_bytes(b"\x89PNG fake")
    client.log_artifacts(a, str(folder / "files"))
    client.log_inputs(a, datasets=[DatasetInput(
        Dataset(name="citizens", digest="abc123", source_type="postgresql", source='{"table": "citizens"}',
                schema='{"mlflow_colspec": []}', profile='{"num_rows": 3}'),
        tags=[InputTag("mlflow.data.context", "training"), InputTag("rows", "3")])])
    # a logged model shaped as training logs one: MLmodel with its signature, the parameters, and
    # the package's code copy (code/), which a baseline never shares
    model = client.create_logged_model(exp_id, name="model", source_run_id=a)
    (folder / "model" / "artifacts").mkdir(parents=True)
    (folder / "model" / "code" / "golden_record").mkdir(parents=True)
    (folder / "model" / "MLmodel").write_text(yaml.safe_dump({"flavors": {}, "signature": SIGNATURE}))
    shutil.copy(PARAMETERS, folder / "model" / "artifacts" / "fellegi_sunter.json")
    (folder / "model" / "code" / "golden_record" / "scoring.py").write_text("x = 1\n")
    (folder / "model" / "pyfunc_model.py").write_text("import mlflow\n")
    client.log_model_artifacts(model.model_id, str(folder / "model"))
    client.log_outputs(a, [LoggedModelOutput(model.model_id, step=0)])
    client.set_terminated(a, "FINISHED", end_time=T0 + 60_000)

    b = client.create_run(exp_id, start_time=T0 + 100_000, run_name="killed_try",
                          tags={"mlflow.parentRunId": a, "model_type": "fellegi_sunter"}).info.run_id
    client.log_batch(b, params=[Param("model.params.match_threshold", "0.8")],
                     metrics=[Metric("roc_auc", float("nan"), T0 + 100_001, 0), Metric("f1_score", 0.5, T0 + 100_002, 3)])
    client.set_terminated(b, "KILLED", end_time=T0 + 130_000)
    return {"uri": uri, "client": client, "a": a, "b": b, "folder": folder, "model_id": model.model_id}


def _history(client, run_id):
    run = client.get_run(run_id)
    return {k: sorted((m.value if not math.isnan(m.value) else "nan", m.step, m.timestamp)
                      for m in client.get_metric_history(run_id, k)) for k in run.data.metrics}


def _files(client, run_id, path=None):
    out = []
    for f in client.list_artifacts(run_id, path):
        out.extend(_files(client, run_id, f.path) if f.is_dir else [f.path])
    return sorted(out)


def _export(source, monkeypatch, out, *args):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", source["uri"])
    return run_main(export_main, ["--out", str(out), *args])


def _import(uri, monkeypatch, root):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return run_main(import_main, ["--dir", str(root)])


def test_safe_name():
    assert safe_name(EXPERIMENT) == FOLDER
    assert safe_name("a b:c/../d") == "a_b_c__..__d"
    assert "/" not in safe_name("../../etc") and not safe_name("../../etc").startswith(".")


def test_export_writes_experiment_runs_and_artifacts(source, monkeypatch, capsys, tmp_path):
    assert _export(source, monkeypatch, tmp_path, "--experiment", EXPERIMENT) == 0
    out = capsys.readouterr().out
    assert "exported run" in out
    assert "model parameters exported (0.02 MB, no code)" in out and "no model exported (the run logged none)" in out
    exp_dir = tmp_path / FOLDER
    meta = json.loads((exp_dir / "experiment.json").read_text())
    assert meta["name"] == EXPERIMENT and meta["tags"]["team"] == "registry"
    doc = json.loads((exp_dir / "runs" / source["a"] / "run.json").read_text())
    assert doc["run_name"] == "blessed_0.95" and doc["status"] == "FINISHED"
    assert (doc["start_time"], doc["end_time"]) == (T0, T0 + 60_000)
    assert doc["metrics"]["em_log_likelihood"] == [{"value": -100.0 + i, "step": i, "timestamp": T0 + 10 * i}
                                                    for i in range(5)]
    assert len(doc["params"]) == 131 and doc["tags"]["model_type"] == "fellegi_sunter"
    run_dir = exp_dir / "runs" / source["a"]
    art = run_dir / "artifacts"
    assert (art / "evaluation_summary.txt").read_text() == "Precision 0.99\n"
    assert (art / "plots" / "roc_curve.png").exists()
    # the model is shared as its parameters and signature only: no code, no MLmodel, no environment
    assert sorted(f.relative_to(run_dir).as_posix() for f in run_dir.rglob("*") if f.is_file()) == [
        "artifacts/evaluation_summary.txt", "artifacts/plots/roc_curve.png", "model/fellegi_sunter.json", "run.json"]
    assert (run_dir / "model" / "fellegi_sunter.json").read_bytes() == PARAMETERS.read_bytes()
    assert doc["model"] == {"name": "model", "parameters": "model/fellegi_sunter.json", "signature": SIGNATURE}
    assert doc["produced_by"] == {"package": "golden-record", "version": "0.2.0", "commit": "abc1234" + "0" * 33,
                                  "dirty": False, "code_version": "0.2.0+abc1234"}
    # nothing names a path of the machine that logged the run
    assert not MACHINE_PATH.search((run_dir / "run.json").read_text())
    doc_b = json.loads((exp_dir / "runs" / source["b"] / "run.json").read_text())
    assert doc_b["status"] == "KILLED" and math.isnan(doc_b["metrics"]["roc_auc"][0]["value"])
    assert not (exp_dir / "runs" / source["b"] / "artifacts").exists()


def test_round_trip_into_an_empty_store_then_import_again_creates_nothing(source, monkeypatch, capsys,
                                                                          tmp_path, tmp_path_factory):
    root = tmp_path / "baselines"
    assert _export(source, monkeypatch, root, "--experiment", EXPERIMENT) == 0
    target = fresh_store(tmp_path_factory, tmp_path / "target")
    assert _import(target, monkeypatch, root) == 0
    out = capsys.readouterr().out
    assert "2 imported, 0 already present" in out
    assert out.count("; model: runs:/") == 1 and "no model (none was exported)" in out
    assert out.count("imported smart/golden_record/baseline_v1") == 2

    src, dst = source["client"], MlflowClient(target)
    exp = dst.get_experiment_by_name(EXPERIMENT)
    assert exp.tags["team"] == "registry"
    runs = {r.data.tags[SOURCE_TAG]: r for r in dst.search_runs([exp.experiment_id])}
    assert set(runs) == {source["a"], source["b"]}
    for rid, new in runs.items():
        old = src.get_run(rid)
        assert new.info.run_id != rid
        assert new.info.run_name == old.info.run_name
        assert (new.info.status, new.info.start_time, new.info.end_time) == \
            (old.info.status, old.info.start_time, old.info.end_time)
        assert new.data.params == old.data.params
        assert _history(dst, new.info.run_id) == _history(src, rid)     # values, steps and timestamps
        assert new.data.tags[BASELINE_TAG] == "true"
        added = {BASELINE_TAG, SOURCE_TAG, "baseline.source_experiment", "baseline.source_parentRunId"}
        expected = {k: v for k, v in old.data.tags.items() if k != "mlflow.parentRunId"}
        assert {k: v for k, v in new.data.tags.items() if k not in added} == expected
    assert runs[source["b"]].data.tags["baseline.source_parentRunId"] == source["a"]
    a_new = runs[source["a"]].info.run_id
    assert _files(dst, a_new) == ["evaluation_summary.txt", "plots/roc_curve.png"]
    # the model rebuilt from the installed package, as training logs it: the package as code, the
    # parameters, the signature, loadable as runs:/<id>/model
    monkeypatch.setenv("MLFLOW_TRACKING_URI", target)
    local = Path(mlflow.artifacts.download_artifacts(f"runs:/{a_new}/model", dst_path=str(tmp_path / "dl")))
    assert (local / "artifacts" / "fellegi_sunter.json").read_bytes() == PARAMETERS.read_bytes()
    assert (local / "code" / "golden_record" / "linkage" / "scoring.py").read_text() == \
        (SRC / "golden_record" / "linkage" / "scoring.py").read_text()          # today's code, not the run's
    assert yaml.safe_load((local / "MLmodel").read_text())["signature"] == SIGNATURE
    assert not _files(dst, runs[source["b"]].info.run_id)
    inputs = runs[source["a"]].inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("citizens", "abc123")]

    # importing again (the setup does it on every run) creates nothing
    assert _import(target, monkeypatch, root) == 0
    assert "0 imported, 2 already present" in capsys.readouterr().out
    assert len(dst.search_runs([exp.experiment_id])) == 2

    # an imported baseline exported again is its source again (same id, tags, files): no duplicate
    again = tmp_path / "again"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", target)
    assert run_main(export_main, ["--out", str(again), "--run-id", a_new]) == 0
    first, second = (json.loads((d / FOLDER / "runs" / source["a"] / "run.json").read_text()) for d in (root, again))
    assert second == first
    assert (again / FOLDER / "runs" / source["a"] / "model" / "fellegi_sunter.json").read_bytes() == \
        PARAMETERS.read_bytes()
    assert _import(target, monkeypatch, again) == 0
    assert "0 imported, 1 already present" in capsys.readouterr().out


def test_original_store_does_not_get_copies(source, monkeypatch, capsys, tmp_path):
    assert _export(source, monkeypatch, tmp_path, "--run-id", source["a"]) == 0
    before = len(source["client"].search_runs([source["client"].get_experiment_by_name(EXPERIMENT).experiment_id]))
    assert _import(source["uri"], monkeypatch, tmp_path) == 0
    assert "the original run is in this store" in capsys.readouterr().out
    assert len(source["client"].search_runs([source["client"].get_experiment_by_name(EXPERIMENT).experiment_id])) \
        == before


def test_large_model_is_skipped_and_said_so(source, monkeypatch, capsys, tmp_path):
    assert _export(source, monkeypatch, tmp_path, "--run-id", source["a"], "--max-model-mb", "0.01") == 0
    out = capsys.readouterr().out
    assert "skipped model model" in out and "larger than 0.01 MB" in out
    assert "no model exported (model: model larger than 0.01 MB)" in out
    run_dir = tmp_path / FOLDER / "runs" / source["a"]
    assert not (run_dir / "model").exists() and not (run_dir / "artifacts" / "model").exists()
    assert (run_dir / "artifacts" / "evaluation_summary.txt").exists()
    skipped = json.loads((run_dir / "run.json").read_text())["artifacts"]["skipped"]
    assert skipped[0]["path"] == "model" and skipped[0]["bytes"] > 10_000


def test_unknown_run_and_experiment_fail_with_one_line(source, monkeypatch, capsys, tmp_path):
    assert _export(source, monkeypatch, tmp_path, "--run-id", "f" * 32) == 1
    assert f"run {'f' * 32} not found" in capsys.readouterr().err
    assert _export(source, monkeypatch, tmp_path, "--experiment", "nope") == 1
    assert "experiment 'nope' not found" in capsys.readouterr().err


#: one citizen as the committed baseline's model (citizens' config) takes it: every compared field
CITIZEN = {"first_name": "Ravi", "last_name": "Kumar", "father_name": "Suresh Kumar", "date_of_birth": "1985-03-14",
           "gender": "M", "mobile": "9876543210", "email": "ravi.kumar@example.com", "jan_aadhaar": "1234567890",
           "aadhaar_last4": "4321", "address": "12 MG Road Malviya Nagar", "pincode": "302017"}
OTHER = {"first_name": "Sunita", "last_name": "Sharma", "father_name": "Mahesh Sharma", "date_of_birth": "1962-11-30",
         "gender": "F", "mobile": "9123456780", "email": "sunita.s@example.org", "jan_aadhaar": "9876501234",
         "aadhaar_last4": "8765", "address": "4 Station Road Civil Lines", "pincode": "110054"}
PREDICT = """
import json, sys
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
out = model.predict(pd.DataFrame(json.loads(sys.argv[2])))
print(json.dumps({"columns": list(out.columns), "rows": json.loads(out.to_json(orient="records"))}))
"""


def test_committed_baselines_hold_no_code_and_say_what_produced_them():
    """A shared baseline is data: the run, the model's parameters and config, the package version and
    commit that produced it. No copy of the package (it would go stale the day the package changes)."""
    tracked = subprocess.run(["git", "ls-files", "baselines"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked and not [f for f in tracked if f.endswith(".py")]
    runs = sorted(COMMITTED.glob("*/runs/*/run.json"))
    assert runs
    for run_file in runs:
        doc = json.loads(run_file.read_text())
        assert doc["format_version"] == 2
        assert doc["produced_by"]["version"] and re.fullmatch(r"[0-9a-f]{40}", doc["produced_by"]["commit"])
        assert (run_file.parent / doc["model"]["parameters"]).is_file()
        assert (run_file.parent / "artifacts" / "config" / "resolved_config.yaml").is_file()
        assert not (run_file.parent / "artifacts" / "model").exists()


def _imported_committed(tmp_path, tmp_path_factory, monkeypatch, capsys):
    """What `make import-baselines` does on a fresh clone: (store URI, output, [(model dir, imported run)])."""
    target = fresh_store(tmp_path_factory, tmp_path / "store")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", target)
    assert run_main(import_main, []) == 0
    out = capsys.readouterr().out
    assert "baselines:" in out
    client = MlflowClient(target)
    found = []
    for params in sorted(COMMITTED.glob("*/runs/*/model/fellegi_sunter.json")):
        source_id = params.parents[1].name
        exp_name = json.loads((params.parents[3] / "experiment.json").read_text())["name"]
        exp = client.get_experiment_by_name(exp_name)
        [run_] = client.search_runs([exp.experiment_id], filter_string=f"tags.`{SOURCE_TAG}` = '{source_id}'")
        assert run_.data.tags[BASELINE_TAG] == "true" and run_.info.status == "FINISHED"
        assert f"model: runs:/{run_.info.run_id}/model" in out
        found.append((params.parents[1], run_))
    assert found, "the committed baseline has no model: export it with its model (baselines/README.md)"
    return target, out, found


def test_committed_baseline_imports_and_its_model_loads_and_predicts(tmp_path, tmp_path_factory, monkeypatch, capsys):
    """Then what a user does with the imported run: `mlflow.pyfunc.load_model("runs:/<imported run
    id>/model")` in a new process, and predict. The model is the run's own, rebuilt from its
    parameters with the installed package: a pair agreeing on one field alone (the others missing)
    scores exactly that level's weight in the run's committed m_u_parameters.csv."""
    target, out, found = _imported_committed(tmp_path, tmp_path_factory, monkeypatch, capsys)
    for run_dir, run_ in found:
        uri = f"runs:/{run_.info.run_id}/model"
        weights = pd.read_csv(run_dir / "artifacts" / "m_u_parameters.csv")
        exact = weights[(weights["level"] == "exact") & ~weights["at_floor"]].set_index("comparison")
        single = [f for f in ("first_name", "date_of_birth", "mobile") if f in exact.index]
        assert single, exact
        pairs = [{f"{f}_l": CITIZEN[f], f"{f}_r": CITIZEN[f]} for f in single]     # one field each
        pairs += [{**{f"{f}_l": v for f, v in CITIZEN.items()}, **{f"{f}_r": v for f, v in CITIZEN.items()}},
                  {**{f"{f}_l": v for f, v in CITIZEN.items()}, **{f"{f}_r": v for f, v in OTHER.items()}}]
        frame = {col: [p.get(col) for p in pairs] for col in sorted({c for p in pairs for c in p})}
        done = run([sys.executable, "-c", PREDICT, uri, json.dumps(frame)],
                   {"MLFLOW_TRACKING_URI": target, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert {"match_weight", "match_probability", "is_match"} <= set(result["columns"])
        rows = result["rows"]
        for field, row in zip(single, rows):
            assert row["match_weight"] == pytest.approx(exact.loc[field, "weight"], abs=1e-9), field
        same, other = rows[len(single)], rows[len(single) + 1]
        assert same["is_match"] and same["match_probability"] > 0.999
        assert not other["is_match"] and other["match_probability"] < 1e-6


def test_committed_baselines_name_no_path_of_the_machine_they_came_from():
    """The shared files are read on every machine: run.json and the model's parameters hold no
    absolute path."""
    files = [f for f in (ROOT / "baselines").rglob("*") if f.is_file() and f.suffix in ("", ".json", ".yaml", ".txt")]
    assert any(f.name == "run.json" for f in files)
    hits = [str(f.relative_to(ROOT)) for f in files if MACHINE_PATH.search(f.read_text(errors="replace"))]
    assert not hits, hits


def test_committed_baseline_imported_is_served_by_the_lookup_service(tmp_path, tmp_path_factory, monkeypatch,
                                                                     capsys, test_databases):
    """A fresh clone: `make import-baselines`, seed, `golden-record index --run-id <imported>`, then
    `golden-record serve --run-id <imported>` answers POST /match with the seeded record itself."""
    import psycopg
    import requests

    target, _, found = _imported_committed(tmp_path, tmp_path_factory, monkeypatch, capsys)
    run_id = found[0][1].info.run_id
    url = test_databases.url("baseline_serve")
    env = {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": target, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = run([sys.executable, "scripts/seed_data.py", "--rows", "2000", "--seed", "7"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    done = run([sys.executable, "-m", "golden_record", "index", "--run-id", run_id], env)
    assert done.returncode == 0, done.stderr[-3000:]
    with serving(["serve", "--run-id", run_id], env) as service:
        assert service.status == 200, f"golden-record serve did not answer /health with 200 within 90 s: {service.health}"
        with psycopg.connect(url) as conn:
            cur = conn.execute("SELECT citizen_id::text, first_name, last_name, date_of_birth::text, pincode, mobile "
                               "FROM citizens WHERE mobile IS NOT NULL ORDER BY citizen_id LIMIT 1")
            row = dict(zip([d.name for d in cur.description], cur.fetchone()))
        record = {k: v for k, v in row.items() if k != "citizen_id"}
        response = requests.post(service.base + "/match", json={"records": [record]}, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"]["run_id"] == run_id
        top = body["results"][0]["candidates"][0]
        assert top["is_match"] and top["match_probability"] > 0.99
        assert row["citizen_id"] in [r["record_id"] for r in top["records"]]
