"""``make bench``: seeding and training speed at 100,000 and 1,000,000 records.

Every command runs as a user runs it (a subprocess), against a database of its own
(``golden_bench`` on the configured server) and a temporary MLflow store, while its peak memory
(RSS of the process tree) is sampled. Results: a table on screen, ``bench/results.md`` and
``bench/results.json``. ``--baseline`` also times a textbook recordlinkage pipeline (Block index,
Compare, ECMClassifier) on the same 100,000 records, so the ratio comes from one run.
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

from golden_record.config import REPO_ROOT, load_settings
from golden_record.io import warehouse
from golden_record.linkage.decision import pairs_within
from golden_record.config import load_model_config

BENCH_DIR = REPO_ROOT / "bench"
USE_CASE = REPO_ROOT / "use-cases" / "golden_record"


def measure(cmd: list[str], env: dict, cwd: Path = REPO_ROOT) -> dict:
    """Wall seconds and peak memory (MiB: RSS of the process + unique pages of its children) of a
    command; raises on failure."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            # children (the forked plot renderer) share most pages with the parent copy-on-write:
            # count only their unique pages (USS), not their RSS, or the peak is counted twice
            rss = ps.memory_info().rss + sum(c.memory_full_info().uss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return {"seconds": seconds, "peak_mib": peak / 2**20, "stdout": out, "stderr": err}


def bench_database_url() -> str:

    return warehouse.sibling_database("golden_bench")


def run_metrics(uri: str, experiment: str, run_name: str) -> dict:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], filter_string=f"attributes.run_name = '{run_name}'")
    return runs[0].data.metrics


def recordlinkage_baseline(database_url: str) -> dict:
    """A general-purpose recordlinkage pipeline on the same table (in this process)."""
    import numpy as np
    import psycopg
    import recordlinkage



    t0 = time.perf_counter()
    config = load_model_config()
    with psycopg.connect(database_url) as conn:
        df = warehouse.load_records(conn, config.data, config.needed_fields())
        truth = warehouse.load_truth(conn, config.data)
    df = df.set_index("record_id")
    # the textbook pipeline from the same config: block on each single-field blocking entry,
    # compare each comparison's field (string methods as Jaro-Winkler >= 0.85, others exact)
    indexer = recordlinkage.Index()
    for entry in config.model.params.blocking_fields:
        if entry in df.columns:
            indexer.block(entry)
    pairs = indexer.index(df)
    cmp = recordlinkage.Compare(n_jobs=1)
    for c in config.comparisons:
        if c.method in ("jaro_winkler", "levenshtein", "token_set", "token_sort"):
            cmp.string(c.field, c.field, method="jarowinkler", threshold=0.85, label=c.name)
        else:
            cmp.exact(c.field, c.field, label=c.name)
    features = cmp.compute(pairs, df)
    ecm = recordlinkage.ECMClassifier(binarize=0.5)
    matches = ecm.fit_predict(features)
    seconds = time.perf_counter() - t0
    ent = truth.reindex(df.index if df.index.dtype == truth.index.dtype else df.index.astype(str)).to_numpy()
    pos = {rid: i for i, rid in enumerate(df.index)}
    li = np.fromiter((pos[a] for a in matches.get_level_values(0)), dtype=np.int64, count=len(matches))
    ri = np.fromiter((pos[b] for b in matches.get_level_values(1)), dtype=np.int64, count=len(matches))
    tp = int((ent[li] == ent[ri]).sum())
    _, counts = np.unique(ent, return_counts=True)
    total = pairs_within(counts)
    precision = tp / max(len(matches), 1)
    recall = tp / max(total, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"seconds": seconds, "pairs": len(pairs), "precision": precision, "recall": recall, "f1_score": f1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated record counts")
    parser.add_argument("--baseline", action="store_true", help="also time recordlinkage's textbook pipeline")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    database_url = bench_database_url()
    py = sys.executable
    results: dict = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                     "seed": [], "train": []}
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        subprocess.run([str(Path(py).with_name("mlflow")), "db", "upgrade", uri], check=True, capture_output=True)
        env = {"DATABASE_URL": database_url, "MLFLOW_TRACKING_URI": uri}
        for n in sizes:
            print(f"seeding {n:,} records ...", flush=True)
            r = measure([py, "scripts/seed_data.py", "--rows", str(n)], env)
            results["seed"].append({"records": n, "seconds": round(r["seconds"], 2),
                                    "rows_per_second": round(n / r["seconds"]),
                                    "peak_mib": round(r["peak_mib"])})
            print(f"training on {n:,} records ...", flush=True)
            name = f"bench_{n}"
            r = measure([py, "src/train.py", "--experiment", "bench", "--run-name", name, "--quiet"], env,
                        cwd=USE_CASE)
            m = run_metrics(uri, "bench", name)
            row = {"records": n, "wall_seconds": round(r["seconds"], 2), "peak_mib": round(r["peak_mib"]),
                   "pipeline_seconds": round(m["seconds_total"], 2), "f1_score": round(m.get("f1_score", 0), 4),
                   "pairs_completeness": round(m.get("pairs_completeness", 0), 4),
                   "candidate_pairs": int(m["training_pairs"])}
            row.update({k.removeprefix("seconds_"): round(v, 2) for k, v in m.items()
                        if k.startswith("seconds_") and k != "seconds_total"})
            results["train"].append(row)
            if n == sizes[0]:
                print(f"threshold sweep of 20 thresholds and golden records on {n:,} records ...", flush=True)
                r = measure([py, "src/train.py", "--experiment", "bench", "--run-name", f"sweep_{n}", "--quiet",
                             "--sweep", "match_threshold=0.80:0.99:0.01"], env, cwd=USE_CASE)
                sm = run_metrics(uri, "bench", f"sweep_{n}")
                r2 = measure([py, "src/train.py", "--experiment", "bench", "--run-name", f"golden_{n}", "--quiet",
                              "--write-golden"], env, cwd=USE_CASE)
                gm = run_metrics(uri, "bench", f"golden_{n}")
                results["sweep"] = {"records": n, "thresholds": 20, "sweep_seconds": round(sm["seconds_total"], 2),
                                    "single_run_seconds": row["pipeline_seconds"],
                                    "ratio": round(sm["seconds_total"] / row["pipeline_seconds"], 2),
                                    "sweep_wall_seconds": round(r["seconds"], 2)}
                results["golden"] = {"records": n, "golden_seconds": round(gm["seconds_golden"], 2),
                                     "golden_records": int(gm["golden_records"]),
                                     "bcubed_f1": round(gm.get("bcubed_f1", float("nan")), 5),
                                     "wall_seconds": round(r2["seconds"], 2)}
            if args.baseline and n == sizes[0]:
                print(f"recordlinkage baseline on {n:,} records ...", flush=True)
                base = recordlinkage_baseline(database_url)
                results["baseline"] = {"records": n, **{k: round(v, 4) if isinstance(v, float) else v
                                                         for k, v in base.items()}}
    write_report(results)
    return 0


def write_report(results: dict) -> None:
    lines = [f"# Benchmarks ({results['when']}, {results['machine']})", "",
             "## Seeding (`scripts/seed_data.py`: generate + COPY in one transaction)", "",
             "| records | seconds | rows/s | peak MiB |", "|---:|---:|---:|---:|"]
    for r in results["seed"]:
        lines.append(f"| {r['records']:,} | {r['seconds']} | {r['rows_per_second']:,} | {r['peak_mib']} |")
    stages = ["load", "prepare", "candidates", "compare", "fit", "evaluate", "log"]
    lines += ["", "## Training (`src/train.py`: load → … → MLflow logging, seconds per stage)", "",
              "| records | pipeline s | wall s (incl. start-up) | peak MiB | " + " | ".join(stages)
              + " | candidate pairs | F1 | completeness |",
              "|---:|---:|---:|---:|" + "---:|" * len(stages) + "---:|---:|---:|"]
    for r in results["train"]:
        lines.append(f"| {r['records']:,} | {r['pipeline_seconds']} | {r['wall_seconds']} | {r['peak_mib']} | "
                     + " | ".join(str(r.get(s, "")) for s in stages)
                     + f" | {r['candidate_pairs']:,} | {r['f1_score']} | {r['pairs_completeness']} |")
    if "sweep" in results:
        sw, g = results["sweep"], results["golden"]
        lines += ["", "## Sweep and golden records", "",
                  f"* threshold sweep, {sw['thresholds']} thresholds on {sw['records']:,} records: "
                  f"{sw['sweep_seconds']} s against {sw['single_run_seconds']} s for one training run "
                  f"(ratio {sw['ratio']}x; one fit, one sort, 20 child runs)",
                  f"* golden records (reload, cluster, survive, write) for {g['records']:,} records: "
                  f"{g['golden_seconds']} s; {g['golden_records']:,} golden records, B-cubed F1 {g['bcubed_f1']}"]
    if "baseline" in results:
        b = results["baseline"]
        ours = next(r for r in results["train"] if r["records"] == b["records"])
        lines += ["", "## Against a textbook recordlinkage pipeline (same data, same run)", "",
                  "| pipeline | seconds | F1 | precision | recall |", "|---|---:|---:|---:|---:|",
                  f"| recordlinkage Block + Compare + ECMClassifier | {b['seconds']:.1f} | {b['f1_score']:.4f} | "
                  f"{b['precision']:.4f} | {b['recall']:.4f} |",
                  f"| this project | {ours['pipeline_seconds']} | {ours['f1_score']} | | |", "",
                  f"Speed ratio (recordlinkage / this project): {b['seconds'] / ours['pipeline_seconds']:.1f}x"]
    text = "\n".join(lines) + "\n"
    BENCH_DIR.mkdir(exist_ok=True)
    (BENCH_DIR / "results.md").write_text(text)
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2))
    print(text)
