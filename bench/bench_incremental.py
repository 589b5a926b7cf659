#!/usr/bin/env python
"""``make bench-incremental`` (also run by ``make bench``): speed and correctness of ``golden-record
match-new`` (issue 14, points 5 and 6).

**Speed**: seed ``--speed-rows`` (1,000,000) citizens, take the ``--new`` (1,000) records with the
highest ids out, train with ``--write-golden`` on the rest, build the block index, put the records
back and time ``golden-record match-new --run-id RUN`` as a process (end to end: start-up, model
download, the MLflow run, the one transaction), with its own stage timings read back from MLflow;
then run it again (it must find nothing). Target: <= 10 s.

**Correctness**, per profile of ``--profiles`` (``citizens``, ``people``: two differently shaped
tables), at ``--quality-rows`` (100,000): seed, take ``--fraction`` (10 %) of the records out (the
last by md5 of the id: a random tenth that is the same every run; the citizens' ids are shuffled
with respect to people, but the people profile numbers each person's records consecutively, so its
last tenth by id would hold whole people only, none a duplicate of someone placed), train with
``--write-golden`` on the rest (map BEFORE), put them back, ``match-new`` (map INCREMENTAL), then a
full rebuild with the same model (``golden-record golden --run-id RUN --no-log``, map FULL).
Reported: pairwise F1 between the INCREMENTAL and FULL clusterings (pairs of records in one golden
record; target >= 0.999), the share of people untouched by the new records (the ground truth: no
record of theirs among them) whose records all keep their BEFORE golden id, in INCREMENTAL
(target >= 99.9 %) and in FULL, and pairwise F1 of each against the truth.

Results: a table on screen and the section between ``<!-- bench-incremental:begin -->`` and
``<!-- bench-incremental:end -->`` of ``bench/results.md`` (the rest of the file is kept). Own
databases (``golden_bench_incremental_*`` on the configured server), created and dropped here, and
a temporary MLflow store.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from bench_speed import measure, replace_section
from golden_record.config import REPO_ROOT
from golden_record.io import warehouse
from golden_record.synthetic.profiles import PROFILES

USE_CASE = REPO_ROOT / "use-cases" / "golden_record"
RESULTS = REPO_ROOT / "bench" / "results.md"
BEGIN, END = "<!-- bench-incremental:begin -->", "<!-- bench-incremental:end -->"
SPEED_TARGET, F1_TARGET, KEPT_TARGET = 10.0, 0.999, 0.999
EXPERIMENT = "bench_incremental"


def say(text: str) -> None:
    print(text, flush=True)


def pairwise_f1(a: np.ndarray, b: np.ndarray) -> float:
    """F1 of the record pairs sharing a cluster in ``b`` against those sharing one in ``a``
    (contingency counts: no pair is listed)."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    both = pd.Series(1, index=pd.MultiIndex.from_arrays([ia, ib])).groupby(level=[0, 1]).size().to_numpy()
    pairs = lambda n: (n * (n - 1) // 2).sum()          # noqa: E731
    tp = pairs(both)
    in_a, in_b = pairs(np.bincount(ia)), pairs(np.bincount(ib))
    return 1.0 if in_a + in_b == 0 else 2 * tp / (in_a + in_b)


class Scenario:
    """One database: seeded, a tail held out, trained with --write-golden on the rest."""

    def __init__(self, name: str, profile: str, rows: int, held: int, seed: int, uri: str, server_url: str,
                 by_id: bool = False):
        self.by_id = by_id
        self.profile = PROFILES[profile]
        self.config = self.profile.config()
        self.rows, self.held, self.seed, self.uri = rows, held, seed, uri
        self.database = f"golden_bench_incremental_{name}"
        self.url = warehouse._with_database(server_url, self.database)
        self.env = {"DATABASE_URL": self.url, "MLFLOW_TRACKING_URI": uri,
                    "PYTHONPATH": os.pathsep.join([str(USE_CASE / "src"), os.environ.get("PYTHONPATH", "")])}
        self.timings: dict[str, float] = {}
        self.run_id = ""

    def _admin(self, statement: str) -> None:
        with psycopg.connect(warehouse._with_database(self.url, "postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def create(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.database}"')
        self._admin(f'CREATE DATABASE "{self.database}"')

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def cmd(self, name: str, args: list[str], cwd: Path = REPO_ROOT) -> dict:
        r = measure([sys.executable, *args], self.env, cwd)
        self.timings[name] = round(r["seconds"], 2)
        return r

    def prepare(self) -> None:
        d = self.config.data
        say(f"[{self.database}] seeding {self.rows:,} records ({self.profile.name}) ...")
        self.cmd("seed", ["scripts/seed_data.py", "--profile", self.profile.name, "--rows", str(self.rows),
                          "--seed", str(self.seed)])
        table, rid = warehouse.table_ref(d.table), sql.Identifier(d.id)
        # the last records wait outside the table: by id (speed: the newest ids), else by md5 of the id
        order = sql.SQL("{} DESC").format(rid) if self.by_id else sql.SQL("md5({}::text) DESC").format(rid)
        with psycopg.connect(self.url) as conn:
            conn.execute(sql.SQL("CREATE TABLE bench_held AS SELECT * FROM {} ORDER BY {} LIMIT %s").format(
                table, order), (self.held,))
            conn.execute(sql.SQL("DELETE FROM {} WHERE {} IN (SELECT {} FROM bench_held)").format(table, rid, rid))
        say(f"[{self.database}] training with --write-golden on {self.rows - self.held:,} records ...")
        self.cmd("train", ["src/train.py", "--config", str(self.profile.config_path), "--experiment", EXPERIMENT,
                           "--run-name", self.database, "--write-golden", "--quiet"], USE_CASE)
        import mlflow

        client = mlflow.MlflowClient(self.uri)
        exp = client.get_experiment_by_name(EXPERIMENT)
        self.run_id = client.search_runs([exp.experiment_id], f"attributes.run_name = '{self.database}'")[0].info.run_id
        say(f"[{self.database}] golden-record index ...")
        self.cmd("index", ["-m", "golden_record", "index", "--run-id", self.run_id, "--quiet"])

    def put_back(self) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM bench_held").format(
                warehouse.table_ref(self.config.data.table)))

    def match_new(self, name: str) -> dict:
        r = self.cmd(name, ["-m", "golden_record", "match-new", "--run-id", self.run_id, "--experiment", EXPERIMENT,
                            "--quiet"])
        import mlflow

        client = mlflow.MlflowClient(self.uri)
        exp = client.get_experiment_by_name(EXPERIMENT)
        run = client.search_runs([exp.experiment_id], "tags.run_kind = 'incremental_match'",
                                 order_by=["attributes.start_time DESC"], max_results=1)[0]
        return {"wall_seconds": round(r["seconds"], 2), "peak_mib": round(r["peak_mib"]),
                "line": r["stdout"].splitlines()[0] if r["stdout"] else "", **run.data.metrics}

    def golden_map(self) -> pd.Series:
        g = self.config.golden
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(sql.SQL("SELECT {}::text, golden_id::text FROM {}").format(
                sql.Identifier(self.config.data.id), warehouse.table_ref(g.map_table))).fetchall()
        return pd.Series([r[1] for r in rows], index=[r[0] for r in rows]).sort_index()

    def truth(self) -> pd.Series:
        with psycopg.connect(self.url) as conn:
            t = warehouse.load_truth(conn, self.config.data)
        return pd.Series(t.to_numpy(), index=t.index.astype(str))

    def held_ids(self) -> set[str]:
        with psycopg.connect(self.url) as conn:
            return {r[0] for r in conn.execute(sql.SQL("SELECT {}::text FROM bench_held").format(
                sql.Identifier(self.config.data.id))).fetchall()}


def bench_speed(args, uri: str, server: str) -> dict:
    s = Scenario("speed", "citizens", args.speed_rows + args.new, args.new, args.seed, uri, server, by_id=True)
    s.create()
    try:
        s.prepare()
        s.put_back()
        say(f"[{s.database}] match-new: {args.new:,} new records against {args.speed_rows:,} ...")
        first = s.match_new("match_new")
        say("  " + first["line"] + f" (wall {first['wall_seconds']} s)")
        second = s.match_new("match_new_again")
        say("  again: " + second["line"] + f" (wall {second['wall_seconds']} s)")
        return {"records": args.speed_rows, "new": args.new, "first": first, "second": second,
                "timings": s.timings}
    finally:
        if not args.keep:
            s.drop()


def bench_quality(profile: str, args, uri: str, server: str) -> dict:
    held = int(round(args.quality_rows * args.fraction))
    s = Scenario(f"quality_{profile}", profile, args.quality_rows, held, args.seed, uri, server)
    s.create()
    try:
        s.prepare()
        before = s.golden_map()
        s.put_back()
        say(f"[{s.database}] match-new: the last {held:,} records ({args.fraction:.0%}) ...")
        placed = s.match_new("match_new")
        say("  " + placed["line"] + f" (wall {placed['wall_seconds']} s)")
        incremental = s.golden_map()
        say(f"[{s.database}] full rebuild with the same model ...")
        s.cmd("rebuild", ["-m", "golden_record", "golden", "--run-id", s.run_id, "--no-log", "--quiet"])
        full = s.golden_map()
        truth = s.truth().reindex(full.index)
        ids = full.index
        assert incremental.index.equals(ids), "the incremental map and the full map hold different records"
        new = s.held_ids()
        touched = set(truth[truth.index.isin(new)].to_numpy())
        kept = before.index                                # records of the 90 %
        people = truth.reindex(kept)
        untouched = ~people.isin(touched).to_numpy()
        frame = pd.DataFrame({"person": people.to_numpy(), "before": before.to_numpy(),
                              "incremental": incremental.reindex(kept).to_numpy(),
                              "full": full.reindex(kept).to_numpy()})[untouched]
        same_inc = (frame["before"] == frame["incremental"]).groupby(frame["person"]).all()
        same_full = (frame["before"] == frame["full"]).groupby(frame["person"]).all()
        filled = truth.fillna(-1).to_numpy()
        return {"profile": profile, "records": args.quality_rows, "new": held, "table": s.config.data.table,
                "pairwise_f1_incremental_vs_full": pairwise_f1(full.to_numpy(), incremental.to_numpy()),
                "records_same_golden_id_incremental_vs_full": float((full == incremental).mean()),
                "untouched_people": int(len(same_inc)),
                "untouched_kept_incremental": float(same_inc.mean()),
                "untouched_kept_full": float(same_full.mean()),
                "f1_truth_incremental": pairwise_f1(filled, incremental.to_numpy()),
                "f1_truth_full": pairwise_f1(filled, full.to_numpy()),
                "match_new": placed, "timings": s.timings}
    finally:
        if not args.keep:
            s.drop()


def write_section(results: dict) -> str:
    lines = [BEGIN, "## Incremental matching (`bench/bench_incremental.py`: `golden-record match-new`)", "",
             f"{results['when']}, {results['machine']}."]
    sp = results.get("speed")
    if sp:
        f, again = sp["first"], sp["second"]
        stages = {k.removeprefix("seconds_"): round(v, 2) for k, v in f.items()
                  if k.startswith("seconds_") and k != "seconds_total"}
        met = "met" if f["wall_seconds"] <= SPEED_TARGET else "NOT met"
        lines += ["", f"**Speed**: {sp['new']:,} new records placed against {sp['records']:,} in "
                  f"**{f['wall_seconds']} s end to end** (the command as a process: start-up, model download, the "
                  f"MLflow run, the transaction; target <= {SPEED_TARGET:g} s: {met}); the matching itself "
                  f"{f['seconds_total']:.2f} s ({', '.join(f'{k} {v}' for k, v in stages.items())}); peak "
                  f"{f['peak_mib']} MiB. Outcome: {int(f['incremental_attached']):,} attached, "
                  f"{int(f['incremental_new_golden_records']):,} new golden records, {int(f['incremental_merges'])} "
                  f"merges, {int(f['incremental_golden_written']):,} golden records rewritten, "
                  f"{int(f['incremental_pairs_scored']):,} pairs scored. Run again at once: "
                  f"{int(again['incremental_new_records'])} new, {int(again['incremental_changed_records'])} "
                  f"changed, {again['wall_seconds']} s. Set-up (not timed against the target): "
                  + ", ".join(f"{k} {v} s" for k, v in sp["timings"].items() if not k.startswith("match")) + "."]
    if results.get("quality"):
        lines += ["", "**Correct**: a random 10 % of the records (the last by md5 of the id; the people profile "
                  "numbers a person's records consecutively, so its last tenth by id would be whole people) placed "
                  "by `match-new` into golden records built from the other 90 %, against a full "
                  "rebuild of all of them with the same model. Targets: pairwise F1 between the two clusterings "
                  f">= {F1_TARGET}, people untouched by the new records keeping their golden id >= "
                  f"{KEPT_TARGET:.1%}.", "",
                  "| profile (table) | records | new | F1 incremental vs full | records with the same golden id | "
                  "untouched people | keep their id: incremental | keep their id: full rebuild | F1 vs truth: "
                  "incremental / full | match-new wall s | target |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"]
        for q in results["quality"]:
            met = "met" if q["pairwise_f1_incremental_vs_full"] >= F1_TARGET and \
                q["untouched_kept_incremental"] >= KEPT_TARGET else "NOT met"
            lines.append(f"| {q['profile']} ({q['table']}) | {q['records']:,} | {q['new']:,} | "
                         f"{q['pairwise_f1_incremental_vs_full']:.5f} | "
                         f"{q['records_same_golden_id_incremental_vs_full']:.3%} | {q['untouched_people']:,} | "
                         f"{q['untouched_kept_incremental']:.3%} | {q['untouched_kept_full']:.3%} | "
                         f"{q['f1_truth_incremental']:.4f} / {q['f1_truth_full']:.4f} | "
                         f"{q['match_new']['wall_seconds']} | {met} |")
    lines += ["", f"Command: `{results['command']}`", END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_incremental.py", description=__doc__.splitlines()[0])
    p.add_argument("--speed-rows", type=int, default=1_000_000, help="records already placed (default 1,000,000)")
    p.add_argument("--new", type=int, default=1000, help="new records of the speed run (default 1,000)")
    p.add_argument("--quality-rows", type=int, default=100_000, help="records of each correctness run")
    p.add_argument("--fraction", type=float, default=0.1, help="share added by match-new (default 0.1)")
    p.add_argument("--profiles", default="citizens,people", help="seeder profiles of the correctness runs")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the databases (golden_bench_incremental_*)")
    p.add_argument("--no-write", action="store_true", help="print the section, leave bench/results.md alone")
    args = p.parse_args(argv)
    server = warehouse.sibling_database("postgres")        # the server; each scenario makes its own database
    started = time.perf_counter()
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "command": "python bench/bench_incremental.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        subprocess.run([str(Path(sys.executable).with_name("mlflow")), "db", "upgrade", uri], check=True,
                       capture_output=True)
        if not args.skip_quality:
            results["quality"] = [bench_quality(name, args, uri, server) for name in args.profiles.split(",")]
            for q in results["quality"]:
                say(json.dumps({k: v for k, v in q.items() if k not in ("match_new", "timings")}, default=str))
        if not args.skip_speed:
            results["speed"] = bench_speed(args, uri, server)
    section = write_section(results)
    print(section)
    if not args.no_write:
        replace_section("bench-incremental", section)
        say(f"written to {RESULTS} in {time.perf_counter() - started:.0f} s")
    failed = (results.get("speed") and results["speed"]["first"]["wall_seconds"] > SPEED_TARGET) or any(
        q["pairwise_f1_incremental_vs_full"] < F1_TARGET or q["untouched_kept_incremental"] < KEPT_TARGET
        for q in results.get("quality", []))
    if failed:
        say("a target was not met (see the table)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
