"""The benches share bench/results.md: each rewrites its own section and keeps the others."""
from golden_record.bench import replace_section


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
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "scripts"))
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
