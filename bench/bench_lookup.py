#!/usr/bin/env python
"""``make bench-lookup``: one-record lookup latency over HTTP, and the block index's build time.

Per size (``--rows``, default 100,000 and 1,000,000), as a user would: seed the citizens table,
train with ``--write-golden`` (the golden map), ``golden-record index`` (timed), start
``golden-record serve`` on 127.0.0.1 and send a bounded load: ``--requests`` (2,000) one-record
``POST /match`` requests, ``--concurrency`` at a time (default 1: one client waiting for each
answer), on kept-alive connections, after 50 warm-up requests. The requests are copies of records
of the table with a typo (80 %) and strangers that share a block with a record (20 %), drawn with
``--seed``. Latency is measured by the client (request sent to answer read); the server's own
stage timings (``timing_ms``) are reported as medians. Also reported: how often a copy's top
candidate is its record's golden id, and how often a stranger matched anything.

Target (issue 14): p50 <= 50 ms and p99 <= 200 ms at 1,000,000 records. Results: a table on screen
and the section "Lookup service" of ``bench/results.md`` (between its markers; the rest of the
file is left as it is).

Runs against its own database (``golden_bench_lookup`` on the configured server, or
``--database-url``) and a temporary MLflow store.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import _bootstrap  # noqa: F401

from bench_speed import measure, replace_section
from golden_record.config import REPO_ROOT, load_model_config
from golden_record.io import warehouse

USE_CASE = REPO_ROOT / "use-cases" / "golden_record"
RESULTS = REPO_ROOT / "bench" / "results.md"
BEGIN, END = "<!-- bench-lookup:begin -->", "<!-- bench-lookup:end -->"
P50_TARGET, P99_TARGET = 50.0, 200.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _typo(text: str, rng: random.Random) -> str:
    if not text or len(text) < 4:
        return (text or "") + "a"
    i = rng.randrange(1, len(text) - 2)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def make_requests(database_url: str, n: int, seed: int) -> list[tuple[str, dict, str | None]]:
    """(kind, record, expected golden id): copies with a typo, strangers sharing a block."""
    config = load_model_config()
    fields = [f for f in config.data.fields if f not in (config.data.recency, config.data.source)]
    rng = random.Random(seed)
    import psycopg

    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT setseed(%s)", (seed / 2**31,))
        cols = ", ".join(f'c."{f}"::text' for f in fields)
        rows = conn.execute(f"SELECT m.golden_id::text, {cols} FROM citizens c JOIN {config.golden.map_table} m "
                            f"USING ({config.data.id}) ORDER BY random() LIMIT %s", (n,)).fetchall()
    out = []
    for k, row in enumerate(rows):
        record = dict(zip(fields, row[1:]))
        if k % 5 == 4:         # a stranger with the record's date of birth and pincode
            first, last = _typo("Xavierine", rng) + str(k), "Quorvath" + str(k)
            stranger = {"first_name": first, "last_name": last, "full_name": f"{first} {last}",
                        "father_name": "Balthazar Quorvath", "date_of_birth": record["date_of_birth"],
                        "pincode": record["pincode"], "gender": record["gender"]}
            out.append(("stranger", stranger, None))
            continue
        field = rng.choice(["first_name", "last_name", "father_name", "address"])
        if record.get(field):
            old = record[field]
            record[field] = _typo(old, rng)
            if field in ("first_name", "last_name") and record.get("full_name"):
                record["full_name"] = record["full_name"].replace(old, record[field])
        out.append(("copy", {f: v for f, v in record.items() if v is not None}, row[0]))
    return out


def load(port: int, requests: list[tuple[str, dict, str | None]], concurrency: int) -> dict:
    """Send the requests, ``concurrency`` at a time; per request (latency ms, status, body)."""
    results: list = [None] * len(requests)
    counter = iter(range(len(requests)))
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = json.dumps({"records": [requests[i][1]], "top": 5})
            start = time.perf_counter()
            conn.request("POST", "/match", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            results[i] = ((time.perf_counter() - start) * 1000, response.status, data)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"results": results, "seconds": time.perf_counter() - started}


def summarise(requests, sent: dict) -> dict:
    latencies = sorted(r[0] for r in sent["results"])
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    errors = [r for r in sent["results"] if r[1] != 200]
    stages: dict[str, list[float]] = {}
    copies = right = strangers = wrong = scored = 0
    for (kind, _, expected), (_, status, data) in zip(requests, sent["results"]):
        if status != 200:
            continue
        body = json.loads(data)
        for k, v in body["timing_ms"].items():
            stages.setdefault(k, []).append(v)
        result = body["results"][0]
        scored += result["candidates_scored"]
        if kind == "copy":
            copies += 1
            right += bool(result["candidates"]) and result["candidates"][0]["golden_id"] == expected
        else:
            strangers += 1
            wrong += any(c["is_match"] for c in result["candidates"])
    return {"requests": len(latencies), "errors": len(errors),
            "error_example": errors[0][2].decode()[:300] if errors else None,
            "p50_ms": round(q[49], 1), "p90_ms": round(q[89], 1), "p99_ms": round(q[98], 1),
            "max_ms": round(latencies[-1], 1), "mean_ms": round(statistics.fmean(latencies), 1),
            "requests_per_second": round(len(latencies) / sent["seconds"], 1),
            "server_ms": {k: round(statistics.median(v), 2) for k, v in stages.items()},
            "mean_candidates": round(scored / max(1, len(latencies) - len(errors)), 1),
            "copy_top1": round(right / max(1, copies), 4), "copies": copies,
            "stranger_matched": wrong, "strangers": strangers}


def serve(env: dict, run_id: str, port: int, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "golden_record", "serve", "--run-id", run_id, "--port", str(port),
                             "--workers", str(workers), "--quiet"], cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"golden-record serve exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            response = conn.getresponse()
            body = json.loads(response.read())
            if response.status == 200:
                return proc
            raise RuntimeError(f"/health answered {response.status}: {body}")
        except (ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("golden-record serve did not answer within 120 s")
        time.sleep(0.5)


def bench_size(n: int, args, env: dict, uri: str) -> dict:
    py = sys.executable
    row: dict = {"records": n}
    if not args.reuse:
        print(f"seeding {n:,} records ...", flush=True)
        row["seed_seconds"] = round(measure([py, "scripts/seed_data.py", "--rows", str(n), "--seed", str(args.seed)],
                                            env)["seconds"], 1)
        print(f"training on {n:,} records with --write-golden ...", flush=True)
        name = f"lookup_{n}"
        row["train_seconds"] = round(measure([py, "src/train.py", "--experiment", "bench_lookup", "--run-name", name,
                                              "--write-golden", "--quiet"], env, cwd=USE_CASE)["seconds"], 1)
    import mlflow

    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name("bench_lookup")
    run_id = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])[0].info.run_id
    print(f"golden-record index on {n:,} records ...", flush=True)
    r = measure([py, "-m", "golden_record", "index", "--run-id", run_id], env)
    m = re.search(r"block index (\S+): ([\d,]+) keys of ([\d,]+) records.* built in ([\d.]+) s", r["stdout"])
    row.update(index_wall_seconds=round(r["seconds"], 1), index_build_seconds=float(m[4]),
               index_keys=int(m[2].replace(",", "")), index_peak_mib=round(r["peak_mib"]))
    requests = make_requests(env["DATABASE_URL"], args.requests + 50, args.seed)
    row["load"] = []
    for workers in args.workers:
        port = _free_port()
        proc = serve(env, run_id, port, workers)
        try:
            load(port, requests[:50], max(args.concurrency))            # warm-up (every worker), not counted
            for c in args.concurrency:
                print(f"{args.requests:,} lookups, {c} at a time, {workers} worker(s), against {n:,} records ...",
                      flush=True)
                row["load"].append({"concurrency": c, "workers": workers,
                                    **summarise(requests[50:], load(port, requests[50:], c))})
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return row


def write_section(results: dict) -> str:
    lines = [BEGIN, "## Lookup service (`bench/bench_lookup.py`: `golden-record index`, then `golden-record serve` "
             "over HTTP on 127.0.0.1)", "",
             f"{results['when']}, {results['machine']}. One-record `POST /match` requests (top 5): copies of records "
             "of the table with one typo (80 %) and strangers sharing a block with a record (20 %); latency measured "
             f"by the client from request to answer, after 50 warm-up requests. Target: p50 <= {P50_TARGET:g} ms, "
             f"p99 <= {P99_TARGET:g} ms at 1,000,000 records.", "",
             "| records | workers | concurrency | requests | errors | p50 ms | p90 ms | p99 ms | max ms | req/s | candidates "
             "scored (mean) | server ms (median): keys / blocks / load / score | copy's top golden id right | "
             "strangers matched | target |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for row in results["sizes"]:
        for lo in row["load"]:
            s = lo["server_ms"]
            met = "met" if lo["p50_ms"] <= P50_TARGET and lo["p99_ms"] <= P99_TARGET else "not met"
            lines.append(f"| {row['records']:,} | {lo['workers']} | {lo['concurrency']} | {lo['requests']:,} | {lo['errors']} | "
                         f"{lo['p50_ms']} | {lo['p90_ms']} | {lo['p99_ms']} | {lo['max_ms']} | "
                         f"{lo['requests_per_second']} | {lo['mean_candidates']} | "
                         f"{s.get('keys')} / {s.get('blocks')} / {s.get('load')} / {s.get('score')} | "
                         f"{lo['copy_top1']:.2%} of {lo['copies']:,} | {lo['stranger_matched']} of {lo['strangers']:,} "
                         f"| {met} |")
    lines += ["", "Block index (`golden-record index`: load the key fields, key every record, replace the table in "
              "one transaction):", "",
              "| records | keys (rows) | build s | wall s (incl. start-up, model download) | peak MiB |",
              "|---:|---:|---:|---:|---:|"]
    for row in results["sizes"]:
        lines.append(f"| {row['records']:,} | {row['index_keys']:,} | {row['index_build_seconds']} | "
                     f"{row['index_wall_seconds']} | {row['index_peak_mib']} |")
    lines += ["", f"Command: `{results['command']}`", END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_lookup.py", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated record counts")
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency level (default 2,000)")
    parser.add_argument("--concurrency", default="1", help="comma-separated clients at a time (default 1)")
    parser.add_argument("--workers", default="1", help="comma-separated worker processes of the service, each "
                                                        "measured at every --concurrency (default 1)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", help="database to seed and read (default: golden_bench_lookup on the "
                                               "configured server)")
    parser.add_argument("--tracking-uri", help="MLflow store (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true",
                        help="use the table and the latest bench_lookup run already in --database-url and "
                             "--tracking-uri (one size): no seeding, no training")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave bench/results.md alone")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.rows.split(",")]
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.workers = [int(w) for w in args.workers.split(",")]
    if args.reuse and (len(sizes) != 1 or not args.tracking_uri or not args.database_url):
        parser.error("--reuse needs one size in --rows, --database-url and --tracking-uri")
    database_url = args.database_url or warehouse.sibling_database("golden_bench_lookup")
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "command": "python bench/bench_lookup.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               "sizes": []}
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.tracking_uri or f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        if not args.tracking_uri:
            subprocess.run([str(Path(sys.executable).with_name("mlflow")), "db", "upgrade", uri], check=True,
                           capture_output=True)
        env = {"DATABASE_URL": database_url, "MLFLOW_TRACKING_URI": uri,
               "PYTHONPATH": os.pathsep.join([str(USE_CASE / "src"), os.environ.get("PYTHONPATH", "")])}
        for n in sizes:
            row = bench_size(n, args, env, uri)
            results["sizes"].append(row)
            for lo in row["load"]:
                print(f"{n:,} records, {lo['workers']} worker(s), {lo['concurrency']} at a time: p50 {lo['p50_ms']} ms, p99 {lo['p99_ms']} ms, "
                      f"max {lo['max_ms']} ms, {lo['requests_per_second']} req/s, {lo['errors']} errors; server "
                      f"(median ms) {lo['server_ms']}; copies' top golden id right {lo['copy_top1']:.2%}, strangers "
                      f"matched {lo['stranger_matched']}/{lo['strangers']}", flush=True)
                if lo["error_example"]:
                    print(f"  an error: {lo['error_example']}", flush=True)
            print(f"index: {row['index_keys']:,} keys built in {row['index_build_seconds']} s "
                  f"({row['index_wall_seconds']} s with start-up)", flush=True)
    section = write_section(results)
    if args.no_write:
        print(section)
    else:
        replace_section("bench-lookup", section)
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
