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
