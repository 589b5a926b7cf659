"""``make bench``: seeding and training speed at 100,000 and 1,000,000 records, and quality per profile.

Every command runs as a user runs it (a subprocess), against a database of its own
(``golden_bench`` on the configured server) and a temporary MLflow store, while its peak memory
(RSS of the process tree) is sampled. At the first size every seeder profile is seeded and trained
with its ``config/examples/NAME.yaml`` (F1, completeness, chosen classes, calibration, estimated
vs true F1); ``--baseline`` also trains ``model.type=recordlinkage_ecm`` on the same pairs, and
``--compare-to REV`` times git revision REV's training on the same tables in the same run.
Results: a table on screen, ``bench/results.md`` and ``bench/results.json``.
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
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import _bootstrap  # noqa: F401  (the checkout's package first)

from golden_record.io import warehouse

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
USE_CASE = REPO_ROOT / "use-cases" / "golden_record"


def measure(cmd: list[str], env: dict, cwd: Path = REPO_ROOT, log: Path | None = None) -> dict:
    """Wall seconds and peak memory (MiB: RSS of the process + unique pages of its children) of a
    command; raises on failure. With ``log``, the command's stderr goes to that file as it is
    written (follow a long run with ``tail -f``) and is read back at the end."""
    import psutil

    start = time.perf_counter()
    peak = 0
    with (open(log, "w") if log else nullcontext(subprocess.PIPE)) as err_sink:
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                stderr=err_sink, text=True)
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
    if log:
        err = Path(log).read_text()
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


def child_metrics(uri: str, experiment: str, parent_name: str, thresholds: list[float]) -> list[dict]:
    """Precision, recall and F1 of a sweep's child runs at ``thresholds`` (children are named
    ``<parent>_t0.950``)."""
    out = []
    for t in thresholds:
        m = run_metrics(uri, experiment, f"{parent_name}_t{t:.3f}")
        out.append({"threshold": t, **{k: round(m[k], 4) for k in ("precision", "recall", "f1_score")}})
    return out


def profile_row(uri: str, experiment: str, run_name: str) -> dict:
    """The quality figures of one profile's run, as the bench table shows them."""
    m = run_metrics(uri, experiment, run_name)
    keys = ("f1_score", "precision", "recall", "pairs_completeness", "em_related_classes_chosen",
            "em_match_classes", "calibration_ece", "estimated_f1", "training_pairs", "records", "seconds_total")
    return {k: (round(m[k], 4) if k in m else None) for k in keys}


def old_version(rev: str, folder: Path) -> Path:
    """A checkout of git revision ``rev`` (its training script), to time it on the same tables."""
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), rev], cwd=REPO_ROOT, check=True,
                   capture_output=True)
    return folder / "use-cases" / "golden_record"


def main(argv: list[str] | None = None) -> int:
    from golden_record.synthetic.profiles import DEFAULT_PROFILE, PROFILES

    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated record counts")
    parser.add_argument("--profiles", default=",".join(PROFILES),
                        help="seeder profiles whose quality is measured at the first size (default: all)")
    parser.add_argument("--baseline", action="store_true",
                        help="also train model.type=recordlinkage_ecm on each profile's candidate pairs")
    parser.add_argument("--compare-to", metavar="REV",
                        help="also time the default training of git revision REV on the same tables, so the "
                             "speed ratio comes from one run")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    profiles = [p for p in args.profiles.split(",") if p]
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown:
        parser.error(f"unknown profile(s) {unknown}; choose from {list(PROFILES)}")
    database_url = bench_database_url()
    py = sys.executable
    results: dict = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                     "seed": [], "train": [], "profiles": []}
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        subprocess.run([str(Path(py).with_name("mlflow")), "db", "upgrade", uri], check=True, capture_output=True)
        env = {"DATABASE_URL": database_url, "MLFLOW_TRACKING_URI": uri}
        old = None
        if args.compare_to:
            old = old_version(args.compare_to, Path(tmp) / "before")
            results["compare_to"] = subprocess.run(["git", "rev-parse", "--short", args.compare_to], cwd=REPO_ROOT,
                                                   capture_output=True, text=True).stdout.strip()
        try:
            for n in sizes:
                print(f"seeding {n:,} records (profile {DEFAULT_PROFILE}) ...", flush=True)
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
                if old is not None:
                    print(f"training on {n:,} records with {args.compare_to} ...", flush=True)
                    before = f"before_{n}"
                    rb = measure([py, "src/train.py", "--experiment", "bench", "--run-name", before, "--quiet"], env,
                                 cwd=old)
                    mb = run_metrics(uri, "bench", before)
                    row["before_pipeline_seconds"] = round(mb["seconds_total"], 2)
                    row["before_wall_seconds"] = round(rb["seconds"], 2)
                    row["before_f1_score"] = round(mb.get("f1_score", 0), 4)
                    row["speed_ratio"] = round(m["seconds_total"] / mb["seconds_total"], 2)
                results["train"].append(row)
                if n != sizes[0]:
                    continue
                print(f"threshold sweep 0.50..0.99 and golden records on {n:,} records ...", flush=True)
                r = measure([py, "src/train.py", "--experiment", "bench", "--run-name", f"sweep_{n}", "--quiet",
                             "--sweep", "match_threshold=0.50:0.99:0.01"], env, cwd=USE_CASE)
                sm = run_metrics(uri, "bench", f"sweep_{n}")
                r2 = measure([py, "src/train.py", "--experiment", "bench", "--run-name", f"golden_{n}", "--quiet",
                              "--write-golden"], env, cwd=USE_CASE)
                gm = run_metrics(uri, "bench", f"golden_{n}")
                results["sweep"] = {"records": n, "thresholds": 50, "sweep_seconds": round(sm["seconds_total"], 2),
                                    "single_run_seconds": row["pipeline_seconds"],
                                    "ratio": round(sm["seconds_total"] / row["pipeline_seconds"], 2),
                                    "sweep_wall_seconds": round(r["seconds"], 2),
                                    "trade_off": child_metrics(uri, "bench", f"sweep_{n}",
                                                               [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])}
                results["golden"] = {"records": n, "golden_seconds": round(gm["seconds_golden"], 2),
                                     "golden_records": int(gm["golden_records"]),
                                     "bcubed_f1": round(gm.get("bcubed_f1", float("nan")), 5),
                                     "wall_seconds": round(r2["seconds"], 2)}
                for profile in profiles:
                    config = str(PROFILES[profile].config_path)
                    if profile != DEFAULT_PROFILE:
                        print(f"seeding {n:,} records of profile {profile} ...", flush=True)
                        measure([py, "scripts/seed_data.py", "--profile", profile, "--rows", str(n)], env)
                    print(f"training profile {profile} ({n:,} records) ...", flush=True)
                    measure([py, "src/train.py", "--config", config, "--experiment", "bench",
                             "--run-name", f"profile_{profile}", "--quiet"], env, cwd=USE_CASE)
                    prow = {"profile": profile, **profile_row(uri, "bench", f"profile_{profile}")}
                    if args.baseline:
                        print(f"training profile {profile} with model.type=recordlinkage_ecm ...", flush=True)
                        measure([py, "src/train.py", "--config", config, "--experiment", "bench",
                                 "--run-name", f"ecm_{profile}", "--quiet", "--set", "model.type=recordlinkage_ecm"],
                                env, cwd=USE_CASE)
                        prow["ecm"] = profile_row(uri, "bench", f"ecm_{profile}")
                    results["profiles"].append(prow)
        finally:
            if old is not None:
                subprocess.run(["git", "worktree", "remove", "--force", str(Path(tmp) / "before")], cwd=REPO_ROOT,
                               capture_output=True)
    write_report(results)
    return 0


def _f(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


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
    if "compare_to" in results:
        lines += ["", f"### Speed against {results['compare_to']} (same tables, same run)", "",
                  "| records | pipeline s now | pipeline s before | ratio now / before | F1 now | F1 before |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for r in results["train"]:
            lines.append(f"| {r['records']:,} | {r['pipeline_seconds']} | {r['before_pipeline_seconds']} | "
                         f"{r['speed_ratio']}x | {r['f1_score']} | {r['before_f1_score']} |")
    if results.get("profiles"):
        n = results["profiles"][0].get("records")
        lines += ["", f"## Quality per seeder profile ({_count(n)} records each, default threshold, the profile's "
                  "`config/examples/NAME.yaml`)", "",
                  "| profile | F1 | precision | recall | pairs completeness | related classes chosen (match classes) "
                  "| ECE | estimated F1 (true) | pairs | seconds | recordlinkage_ecm F1 (P / R) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for p in results["profiles"]:
            e = p.get("ecm")
            ecm = "–" if not e else f"{_f(e['f1_score'])} ({_f(e['precision'])} / {_f(e['recall'])})"
            lines.append(
                f"| {p['profile']} | {_f(p['f1_score'])} | {_f(p['precision'])} | {_f(p['recall'])} | "
                f"{_f(p['pairs_completeness'])} | {_f(p['em_related_classes_chosen'], 0)} "
                f"({_f(p['em_match_classes'], 0)}) | {_f(p['calibration_ece'])} | "
                f"{_f(p['estimated_f1'])} ({_f(p['f1_score'])}) | {_count(p['training_pairs'])} | "
                f"{_f(p['seconds_total'], 1)} | {ecm} |")
    if "sweep" in results:
        sw, g = results["sweep"], results["golden"]
        lines += ["", "## Sweep and golden records", "",
                  f"* threshold sweep, {sw['thresholds']} thresholds (0.50..0.99) on {sw['records']:,} records: "
                  f"{sw['sweep_seconds']} s against {sw['single_run_seconds']} s for one training run "
                  f"(ratio {sw['ratio']}x; one fit, one sort, {sw['thresholds']} child runs)",
                  f"* golden records (reload, cluster, survive, write) for {g['records']:,} records: "
                  f"{g['golden_seconds']} s; {g['golden_records']:,} golden records, B-cubed F1 {g['bcubed_f1']}",
                  "", "The trade-off the sweep shows on the default (citizens) table:", "",
                  "| threshold | precision | recall | F1 |", "|---:|---:|---:|---:|"]
        for t in sw.get("trade_off", []):
            lines.append(f"| {t['threshold']:.2f} | {t['precision']:.4f} | {t['recall']:.4f} | {t['f1_score']:.4f} |")
    text = "\n".join(lines) + "\n"
    BENCH_DIR.mkdir(exist_ok=True)
    text += _kept_section(BENCH_DIR / "results.md", "bench-lookup")   # written by bench/bench_lookup.py
    text += _kept_section(BENCH_DIR / "results.md", "bench-incremental")   # bench/bench_incremental.py
    (BENCH_DIR / "results.md").write_text(text)
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2))
    print(text)


def _kept_section(path: Path, name: str) -> str:
    """The part of ``path`` between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` (another
    bench writes it), to be kept when this bench rewrites the file; "" when there is none."""
    old = path.read_text() if path.exists() else ""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in old or end not in old:
        return ""
    return "\n" + old[old.index(begin):old.index(end) + len(end)] + "\n"


def replace_section(name: str, section: str, path: Path = BENCH_DIR / "results.md") -> None:
    """Put ``section`` (which starts with ``<!-- NAME:begin -->`` and ends with ``<!-- NAME:end -->``)
    in place of that section of ``path``, or append it: the other benches' sections stay."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)


def _count(value) -> str:
    return "–" if value is None else f"{int(value):,}"


if __name__ == "__main__":
    sys.exit(main())
