"""Looking at a table before training: ``golden-record profile`` and ``golden-record blocking``, and
the interactive HTML charts a training run logs (issue 29).

The blocking command's counts are checked against a real training run's pass report
(``evaluation_report.json``) and metrics on the same warehouse; the charts' embedded data against
the run's own artifacts; the profile's counts against SQL on the table.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from mlflow import MlflowClient

from conftest import run
from golden_record import cli
from golden_record.config import CandidateSettings
from golden_record.linkage.blocking import generate
from golden_record.linkage.pass_table import pass_table

PASS_LINE = re.compile(r"^  (\S+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)(?:\s+([\d,]*)\s+([\d,]+)\s+([\d.]+))?$")


def chart_specs(page: str) -> list[dict]:
    """The Vega-Lite specs a page of :mod:`golden_record.tracking.charts` embeds, in order."""
    return [json.loads(m) for m in re.findall(r"^vegaEmbed\('#chart\d+', (.*), \{renderer: 'svg'", page, re.M)]


def datasets(spec: dict) -> list[list[dict]]:
    return list(spec.get("datasets", {}).values())


def printed_passes(stdout: str) -> dict[str, dict]:
    """pass -> its printed numbers (pairs, new, cumulative, blocks[, true, new true, completeness])."""
    out = {}
    for line in stdout.splitlines():
        m = PASS_LINE.match(line)
        if m and m[1] != "pass":
            num = [int(x.replace(",", "")) if x else None for x in m.groups()[1:7]]
            out[m[1]] = {"pairs": num[0], "new_pairs": num[1], "cumulative": num[2], "blocks": num[3],
                         "true_pairs": num[4], "new_true_pairs": num[5],
                         "completeness": float(m[8]) if m[8] else None}
    return out


# --------------------------------------------------------------------------- without a database
def test_pass_table_counts_new_and_true_pairs_in_pass_order():
    """Three records of one person and two of another: the second pass finds one pair the first
    missed; the table's new pairs add up to the union and the completeness reaches 1."""
    frame = pd.DataFrame({"record_id": range(5), "a": ["x", "x", "y", "z", "z"], "b": ["p", "q", "q", "r", "r"]})
    entity = np.array([0, 0, 0, 1, 1])
    pairs = generate(frame, ["a", "b"], CandidateSettings(), entity=entity)
    table = pass_table(pairs.passes, entity[pairs.left] == entity[pairs.right], total_true_pairs=4)
    assert table["pairs"].tolist() == [2, 2]               # a: (0,1) (3,4); b: (1,2) (3,4)
    assert table["new_pairs"].tolist() == [2, 1]
    assert table["cumulative_pairs"].tolist() == [2, 3] and len(pairs) == 3
    assert table["true_pairs"].tolist() == [2, 2]
    assert table["new_true_pairs"].tolist() == [2, 1]
    assert table["pairs_completeness"].tolist() == [0.5, 0.75]   # (0,2) is in no block
    assert pairs.passes[0].largest_blocks == [["x", 2], ["z", 2]]


@pytest.mark.parametrize("rule, said", [
    ("nosuch", "uses field 'nosuch', which data.fields does not declare"),
    ("phonetic(first_name", "cannot read blocking key part"),
    ("year(first_name)", "year() does not apply to 'first_name'"),
])
def test_a_bad_rule_is_refused_before_anything_is_read(rule, said, capsys):
    assert cli.main(["blocking", "--rule", rule]) == 2
    err = capsys.readouterr().err
    assert "--rule" in err and said in err, err


def test_rules_only_needs_a_rule(capsys):
    with pytest.raises(SystemExit) as ended:
        cli.main(["blocking", "--rules-only"])
    assert ended.value.code == 2
    assert "give at least one --rule" in capsys.readouterr().err


# --------------------------------------------------------------------------- on a trained warehouse
@pytest.fixture(scope="module")
def trained(trained_copy, tmp_path_factory):
    """A copy of the session's trained warehouse (3,000 citizens), its run's pass report and metrics."""
    copy = trained_copy("explore", "trained")
    client = MlflowClient(copy["store"])
    folder = tmp_path_factory.mktemp("explore_artifacts")
    report = json.loads(Path(client.download_artifacts(copy["run_id"], "evaluation_report.json", str(folder)))
                        .read_text())
    return {**copy, "client": client, "report": report, "metrics": client.get_run(copy["run_id"]).data.metrics,
            "folder": folder}


def test_blocking_counts_what_the_training_run_blocked(trained, tmp_path):
    out = tmp_path / "blocking.html"
    done = run([sys.executable, "-m", "golden_record", "blocking", "--output", str(out), "-q"], trained["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    printed = printed_passes(done.stdout)
    logged = trained["report"]["blocking"]
    assert list(printed) == [p["name"] for p in logged], done.stdout
    for p in logged:
        assert (printed[p["name"]]["pairs"], printed[p["name"]]["blocks"]) == (p["pairs"], p["blocks"]), p["name"]
    last = printed[logged[-1]["name"]]
    assert last["cumulative"] == trained["metrics"]["training_pairs"]
    assert sum(p["new_pairs"] for p in printed.values()) == last["cumulative"]
    assert last["completeness"] == pytest.approx(trained["metrics"]["pairs_completeness"], abs=5e-5)
    # the chart holds the same numbers
    spec = chart_specs(out.read_text())[0]
    rows = {r["pass"]: r for data in datasets(spec) for r in data if "cumulative_pairs" in r}
    assert {k: r["pairs"] for k, r in rows.items()} == {p["name"]: p["pairs"] for p in logged}


def test_a_rule_alone_counts_as_that_pass_of_the_config(trained, tmp_path):
    done = run([sys.executable, "-m", "golden_record", "blocking", "--rules-only", "--rule", "email",
                "--rule", "date_of_birth+pincode", "--output", str(tmp_path / "b.html"), "-q"], trained["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    printed = printed_passes(done.stdout)
    logged = {p["name"]: p for p in trained["report"]["blocking"]}
    assert list(printed) == ["email", "date_of_birth+pincode"]
    assert printed["email"]["pairs"] == logged["email"]["pairs"]
    assert printed["date_of_birth+pincode"]["pairs"] == logged["date_of_birth+pincode"]["pairs"]
    assert printed["email"]["new_pairs"] == printed["email"]["pairs"]        # the first pass: all new


def test_profile_counts_what_the_table_holds(trained, tmp_path):
    out = tmp_path / "profile.html"
    done = run([sys.executable, "-m", "golden_record", "profile", "--output", str(out), "-q"], trained["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    with psycopg.connect(trained["url"]) as conn:
        rows, emails, top = conn.execute(
            "SELECT count(*), count(nullif(email, '')), (SELECT source_system FROM citizens GROUP BY 1 "
            "ORDER BY count(*) DESC, 1 LIMIT 1) FROM citizens").fetchone()
    line = next(x for x in done.stdout.splitlines() if x.startswith("  email "))
    assert f"{emails / rows:.2%}" in line, line
    line = next(x for x in done.stdout.splitlines() if x.startswith("  source_system "))
    assert line.split()[-2] != "" and top in line, line
    spec = chart_specs(out.read_text())[0]
    email = [r for data in datasets(spec) for r in data if r.get("field") == "email"]
    assert {r["when"]: r["records"] for r in email}["before cleaning"] == emails
    assert f"{rows:,} records" in done.stdout


def test_training_run_logs_the_html_charts(trained):
    client, run_id, folder = trained["client"], trained["run_id"], trained["folder"]
    names = {a.path for d in ("plots", "explanations") for a in client.list_artifacts(run_id, d)}
    names |= {a.path for a in client.list_artifacts(run_id)}
    for name in ("plots/match_weights.html", "plots/threshold_sweep.html", "plots/blocking.html",
                 "explanations/waterfalls.html", "data_profile.html"):
        assert name in names, sorted(names)
    page = Path(client.download_artifacts(run_id, "plots/match_weights.html", str(folder))).read_text()
    rows = [r for data in datasets(chart_specs(page)[0]) for r in data if r.get("comparison") not in (None, "prior")]
    m_u = pd.read_csv(client.download_artifacts(run_id, "m_u_parameters.csv", str(folder)))
    assert [round(r["m"], 10) for r in rows] == [round(x, 10) for x in m_u["m"]]
    pairs = trained["metrics"]["training_pairs"]
    per_comparison = pd.DataFrame(rows).groupby("comparison")["pairs"].sum()
    assert per_comparison["first_name"] == pairs          # never missing: every pair at one level
    assert (per_comparison <= pairs).all()
    page = Path(client.download_artifacts(run_id, "plots/threshold_sweep.html", str(folder))).read_text()
    sweep = pd.DataFrame([r for data in datasets(chart_specs(page)[0]) for r in data if "metric" in r])
    at = sweep[(sweep["threshold"].round(3) == round(trained["report"]["threshold"], 3)) & (sweep["metric"] == "F1")]
    assert at["value"].iloc[0] == pytest.approx(trained["metrics"]["f1_score"], abs=1e-9)
