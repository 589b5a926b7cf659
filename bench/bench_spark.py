"""``make bench-spark``: the training pipeline on the local engine and on Spark (``local[2]``), on the
same seeded table in the same run: wall time, peak memory (the process tree: Spark's JVM and its
Python workers included) and seconds per stage, with the F1 and golden-record B-cubed F1 each
engine gets (they must agree).

Each engine runs as its own process (``--run ENGINE``): load -> prepare -> candidates -> compare
-> fit -> score -> evaluate -> golden (clusters, survivorship and the write of both tables), the
stages both engines share. Results: the section "Spark engine" of
``bench/results.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from datetime import datetime, timezone

import _bootstrap  # noqa: F401

from bench_speed import measure, replace_section
from golden_record.config import REPO_ROOT
from golden_record.io import warehouse

SECTION = "bench-spark"
#: the local engine holds every candidate pair in one process: 9.5 GiB at 5,000,000 records on this
#: 24 GiB machine, past it at 10,000,000 (issue 15's measurements); above this size it is not run
LOCAL_MAX_ROWS = 5_000_000


def run_engine(engine: str, master: str, driver_memory: str, overrides: list[str]) -> dict:
    """One engine's pipeline on DATABASE_URL's citizens; the numbers as a dict (printed as JSON)."""
    from golden_record.cli import Progress
    from golden_record.config import load_model_config, load_settings
    from golden_record.linkage import pipeline

    target = warehouse.resolve_target(load_settings(), announce=False)
    progress = Progress()            # stage lines on stderr: the bench's log of this engine
    started = time.perf_counter()
    if engine == "local":
        config = load_model_config(overrides=overrides)
        with warehouse.connect(target) as conn:
            records, entity = pipeline.load(conn, config, progress)
        scored = pipeline.fit_and_score(records, entity, config, progress)
        with progress.stage("evaluate"):
            evaluation = scored.evaluate(config.threshold)
        pairs = len(scored.pairs)
        from golden_record.golden import build
        with progress.stage("golden"), warehouse.connect(target) as conn:
            golden = build.build_golden_records(scored, config, conn, "bench-local")
    else:
        from golden_record.spark import session
        from golden_record.spark.pipeline import fit_and_score

        config = load_model_config(overrides=["engine=spark", f"spark.master={master}",
                                              f"spark.driver_memory={driver_memory}", *overrides])
        with progress.stage("session"):
            spark = session.start(config.spark.model_copy(update={"conf": {"spark.ui.enabled": "false"}}))
        scored = fit_and_score(spark, target, config, progress, golden=True)
        with progress.stage("evaluate"):
            evaluation = scored.evaluate(config.threshold)
        pairs = scored.n_pairs
        from golden_record.spark import golden as spark_golden
        with progress.stage("golden"):
            golden = spark_golden.build_golden_records(scored, scored.raw, scored.read_at, config, target,
                                                       "bench-spark", say=lambda line: None)
        scored.close()
        spark.stop()
    return {"engine": engine, "records": scored.n_records, "pairs": pairs,
            "f1": evaluation.metrics["f1_score"], "em_iterations": scored.model.report.iterations,
            "golden_records": int(golden.metrics["golden_records"]), "bcubed_f1": golden.metrics["bcubed_f1"],
            "seconds_in_process": time.perf_counter() - started,
            "stages": {k: round(v, 2) for k, v in progress.timings.items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_spark.py", description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="1000000", help="comma-separated record counts (default 1,000,000)")
    p.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    p.add_argument("--driver-memory", default="4g", help="Spark driver memory (default 4g)")
    p.add_argument("--engines", default="local,spark", help="engines to run (default local,spark)")
    p.add_argument("--run", choices=["local", "spark"], help=argparse.SUPPRESS)
    p.add_argument("--local-max-rows", type=int, default=LOCAL_MAX_ROWS,
                   help=f"largest table the local engine is run on (default {LOCAL_MAX_ROWS:,}: it holds every "
                        "pair in one process, 9.5 GiB at 5,000,000 records)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a model-config override for both engines, as train's --set (repeatable)")
    p.add_argument("--section", default=SECTION,
                   help=f"the section of bench/results.md to write (default {SECTION}; another name keeps that "
                        "one, e.g. bench-spark-scale for a Spark-only run at 10,000,000 records)")
    p.add_argument("--no-write", action="store_true", help="do not update bench/results.md")
    args = p.parse_args(argv)
    if args.run:
        print(json.dumps(run_engine(args.run, args.master, args.driver_memory, args.overrides)))
        return 0
    from golden_record.spark.session import why_unavailable

    missing = why_unavailable()
    if missing and "spark" in args.engines:
        print(f"bench-spark: the Spark engine cannot run here: {missing}", file=sys.stderr)
        return 1
    url = warehouse.sibling_database("golden_bench_spark")
    env = {"DATABASE_URL": url}
    rows_list = [int(r) for r in args.rows.split(",")]
    failed = False
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
               "cpus": os.cpu_count(), "master": args.master, "driver_memory": args.driver_memory,
               "command": "make bench-spark" + (f" BENCH_SPARK_ARGS={shlex.quote(shlex.join(argv or sys.argv[1:]))}"
                                                if (argv or sys.argv[1:]) else ""), "sizes": []}
    for rows in rows_list:
        print(f"== {rows:,} records: seeding", file=sys.stderr, flush=True)
        seed = measure([sys.executable, "scripts/seed_data.py", "--rows", str(rows), "--seed", "42"], env)
        size = {"records": rows, "seed_seconds": round(seed["seconds"], 1), "engines": []}
        for engine in args.engines.split(","):
            if engine == "local" and rows > args.local_max_rows:
                why = f"not run: above --local-max-rows {args.local_max_rows:,} (one process holds every pair)"
                print(f"== {rows:,} records: local engine {why}", file=sys.stderr, flush=True)
                size["engines"].append({"engine": engine, "skipped": why})
                continue
            log = Path(tempfile.gettempdir()) / f"bench_spark_{rows}_{engine}.log"
            print(f"== {rows:,} records: {engine} engine (its stages: tail -f {log})", file=sys.stderr, flush=True)
            began = time.perf_counter()
            try:
                m = measure([sys.executable, "bench/bench_spark.py", "--run", engine, "--master", args.master,
                             "--driver-memory", args.driver_memory,
                             *(a for o in args.overrides for a in ("--set", o))], env, log=log)
            except RuntimeError as exc:       # recorded in the table, and the other sizes still run
                last = [ln for ln in str(exc).splitlines() if ln.strip()][-1]
                print(f"   {engine} FAILED: {exc}", file=sys.stderr, flush=True)
                size["engines"].append({"engine": engine,
                                        "skipped": f"failed after {time.perf_counter() - began:.0f} s: {last}"})
                failed = True
                continue
            out = json.loads(m["stdout"].strip().splitlines()[-1])
            out.update(wall_seconds=round(m["seconds"], 1), peak_mib=round(m["peak_mib"]))
            size["engines"].append(out)
            print(f"   {engine}: {out['wall_seconds']} s, peak {out['peak_mib']:,} MiB, {out['pairs']:,} pairs, "
                  f"F1 {out['f1']:.4f}, {out['golden_records']:,} golden records (B-cubed F1 {out['bcubed_f1']:.4f}); "
                  f"stages {out['stages']}", file=sys.stderr, flush=True)
        results["sizes"].append(size)
    section = report(results, args.section)
    print(section)
    if not args.no_write:
        replace_section(args.section, section)
        print(f"written to {REPO_ROOT / 'bench' / 'results.md'}", file=sys.stderr)
    return 1 if failed else 0


def report(results: dict, name: str = SECTION) -> str:
    title = ("## Spark engine (`bench/bench_spark.py`: the training pipeline, local engine vs Spark)"
             if name == SECTION else f"## Spark engine, {name} (`bench/bench_spark.py`)")
    lines = [f"<!-- {name}:begin -->", title, "",
             f"{results['when']}, {results['machine']}, {results['cpus']} CPUs; Spark master `{results['master']}`, "
             f"driver memory {results['driver_memory']}. Each engine in its own process: load -> prepare -> "
             "candidates -> compare -> fit -> score -> evaluate -> golden (clusters, survivorship, both tables "
             "written; no MLflow logging); peak memory of the process tree (Spark's JVM and Python workers "
             "included).", "",
             "| records | engine | wall s | peak MiB | pairs | F1 | golden records | B-cubed F1 | seconds per stage |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for size in results["sizes"]:
        for e in size["engines"]:
            if "skipped" in e:
                lines.append(f"| {size['records']:,} | {e['engine']} | | | | | | | {e['skipped']} |")
                continue
            stages = ", ".join(f"{k} {v}" for k, v in e["stages"].items())
            lines.append(f"| {size['records']:,} | {e['engine']} | {e['wall_seconds']} | {e['peak_mib']:,} | "
                         f"{e['pairs']:,} | {e['f1']:.4f} | {e.get('golden_records', 0):,} | "
                         f"{e.get('bcubed_f1', float('nan')):.4f} | {stages} |")
        engines = {e["engine"]: e for e in size["engines"] if "skipped" not in e}
        if {"local", "spark"} <= set(engines):
            ratio = engines["spark"]["wall_seconds"] / engines["local"]["wall_seconds"]
            lines.append(f"| | spark / local | {ratio:.2f}x | "
                         f"{engines['spark']['peak_mib'] / max(engines['local']['peak_mib'], 1):.2f}x | | | | | |")
    lines += ["", "Seeding each table first (`scripts/seed_data.py`, not in the times above): "
              + "; ".join(f"{size['records']:,} records in {size['seed_seconds']} s" for size in results["sizes"]) + ".",
              "", f"Command: `{results['command']}`", f"<!-- {name}:end -->"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
