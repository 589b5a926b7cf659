"""The benches live in bench/ (not in the installed package) and share bench/results.md: each
rewrites its own section and keeps the others."""
import subprocess
import sys

import pytest

from conftest import ROOT, SRC

sys.path.insert(0, str(ROOT / "bench"))
from bench_speed import replace_section  # noqa: E402

BENCHES = ["bench_speed", "bench_quality", "bench_incremental", "bench_lookup", "bench_spark", "bench_active"]


def test_the_package_ships_what_users_run_and_the_benches_are_in_one_folder():
    assert not list((SRC / "golden_record").rglob("bench*.py"))
    assert not list((ROOT / "scripts").glob("bench*.py"))
    assert sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py")) == sorted(BENCHES)
    makefile = (ROOT / "Makefile").read_text()
    assert all(f"bench/{name}.py" in makefile for name in BENCHES)


@pytest.mark.parametrize("name", BENCHES)
def test_each_bench_starts_from_the_checkout(name):
    """`make bench*` runs bench/<name>.py with the checkout's package: its --help answers."""
    done = subprocess.run([sys.executable, f"bench/{name}.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_a_bench_replaces_its_section_and_keeps_the_others(tmp_path):
    results = tmp_path / "results.md"
    replace_section("bench-a", "<!-- bench-a:begin -->\nA1\n<!-- bench-a:end -->", results)
    replace_section("bench-b", "<!-- bench-b:begin -->\nB1\n<!-- bench-b:end -->", results)
    replace_section("bench-a", "<!-- bench-a:begin -->\nA2\n<!-- bench-a:end -->", results)
    text = results.read_text()
    assert text.startswith("# Benchmarks")
    assert "A2" in text and "A1" not in text and "B1" in text
    assert text.index("A2") < text.index("B1")   # kept in its place
    assert text.count("<!-- bench-a:begin -->") == 1


def test_spark_bench_table_says_which_engine_did_not_run_and_why(tmp_path):
    """bench-spark's section: a size the local engine is not run on, and an engine that failed, are
    rows saying so (no ratio is made from them); another --section keeps the default one."""
    import bench_spark

    ran = {"engine": "spark", "records": 10, "pairs": 20, "f1": 0.99, "golden_records": 8, "bcubed_f1": 0.98,
           "wall_seconds": 12.5, "peak_mib": 900, "stages": {"load": 3.0, "golden": 2.0}}
    results = {"when": "now", "machine": "m", "cpus": 2, "master": "local[2]", "driver_memory": "4g",
               "command": "make bench-spark", "sizes": [
                   {"records": 10_000_000, "seed_seconds": 230.0, "engines": [
                       {"engine": "local", "skipped": "not run: above --local-max-rows 5,000,000"},
                       {"engine": "spark", "skipped": "failed after 990 s: DataError: blocking would yield"}]},
                   {"records": 1_000, "seed_seconds": 1.0, "engines": [dict(ran, engine="local", wall_seconds=5.0,
                                                                            peak_mib=300), ran]}]}
    text = bench_spark.report(results, "bench-spark-scale")
    lines = text.splitlines()
    assert lines[0] == "<!-- bench-spark-scale:begin -->" and lines[-1] == "<!-- bench-spark-scale:end -->"
    assert any(line.startswith("| 10,000,000 | local |") and line.endswith("above --local-max-rows 5,000,000 |")
               for line in lines)
    assert any(line.startswith("| 10,000,000 | spark |") and "failed after 990 s" in line for line in lines)
    ratios = [line for line in lines if "spark / local" in line]
    assert ratios == ["| | spark / local | 2.50x | 3.00x | | | | | |"]          # the 1,000-record size only
    assert "10,000,000 records in 230.0 s; 1,000 records in 1.0 s" in text
    out = tmp_path / "results.md"
    replace_section("bench-spark", bench_spark.report(results), out)
    replace_section("bench-spark-scale", text, out)
    assert out.read_text().count(":begin -->") == 2
