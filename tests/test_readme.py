"""The README's commands run from the repository root as written.

Fast: every command in README.md (inline code that starts with a command, and the lines of its
``bash`` blocks) is read as the shell would run it from the repository root: a script or path it
names exists there (or in the folder a ``cd`` earlier in the same command or block moved to), every
``make X`` is a Makefile target, every ``golden-record X`` a command of ``golden_record/cli.py``.
End to end: the pyfunc snippet of the README, as written, against a store holding a run trained here, runs
in a new Python process and returns the columns the logged model's signature documents; the run
logs the match-weights chart and the floor flag the README describes.
"""
from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, SRC, run
from golden_record.cli import COMMANDS

README = ROOT / "README.md"
#: the first word of a shell command (inline code starting with anything else is not a command)
_COMMAND_WORDS = {"python", "python3", "make", "cd", "source", "mlflow", "golden-record", "pytest"}
_REPO_PREFIXES = ("use-cases/", "scripts/", "config/", "baselines/", "src/", "sql/", "tests/", "bench/")


def _is_command(text: str) -> bool:
    try:
        first = shlex.split(text, comments=True)[0]
    except (ValueError, IndexError):
        return False
    return first in _COMMAND_WORDS or first.rsplit("/", 1)[-1] in ("python", "golden-record", "mlflow")


def readme_commands(text: str) -> list[tuple[str, list[str]]]:
    """(where, commands) per unit that runs in one shell: each inline command, each bash block
    (its lines in order, continuation lines joined)."""
    units, inline = [], []
    for i, part in enumerate(re.split(r"^```", text, flags=re.M)):
        if i % 2:                                       # a fenced block: its first line is the language
            lang, _, body = part.partition("\n")
            if lang.strip() in ("bash", "sh", "shell", "console"):
                lines = [ln for ln in body.replace("\\\n", " ").splitlines() if ln.strip()
                         and not ln.lstrip().startswith("#")]
                units.append((f"bash block: {lines[0][:60]}", [ln.strip() for ln in lines]))
        else:
            inline += [m for m in re.findall(r"`([^`\n]+)`", part) if _is_command(m)]
    units += [(f"`{c}`", [c]) for c in inline]
    return units


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {m for m in re.findall(r"^([A-Za-z0-9_-]+)\s*:(?!=)", text, flags=re.M)}


def problems(units: list[tuple[str, list[str]]], root: Path = ROOT) -> list[str]:
    """What would fail, run from ``root`` as written: missing paths, unknown make targets and
    golden-record commands."""
    targets, out = makefile_targets(), []
    for where, lines in units:
        cwd = root                                      # a block runs in one shell: a cd carries on
        for line in lines:
            for segment in re.split(r"\s*(?:&&|;|\|\|)\s*", line):
                try:
                    words = shlex.split(segment, comments=True)
                except ValueError:
                    words = segment.split()
                if not words:
                    continue
                head, args = words[0], words[1:]
                name = head.rsplit("/", 1)[-1]
                if head == "cd":
                    target = cwd / args[0]
                    if not target.is_dir():
                        out.append(f"{where}: cd {args[0]}: no such folder")
                    cwd = target
                    continue
                if name in ("python", "python3") and args:
                    if args[0] == "-m" and len(args) > 1 and args[1] == "golden_record":
                        name, args = "golden-record", args[2:]
                    elif args[0].endswith(".py") and not (cwd / args[0]).is_file():
                        out.append(f"{where}: {args[0]} does not exist in {cwd.relative_to(root) or '.'}/")
                if name == "make":
                    out += [f"{where}: make {a}: no such Makefile target" for a in args
                            if "=" not in a and not a.startswith("-") and a not in targets]
                if name == "golden-record" and args and not args[0].startswith("-") and not args[0].isupper():
                    if args[0] not in COMMANDS:
                        out.append(f"{where}: golden-record {args[0]}: no such command (cli.COMMANDS)")
                for a in words:                         # a path into the repository must be there
                    for value in {a, a.split("=", 1)[-1]}:
                        if value.startswith(_REPO_PREFIXES) and "<" not in value and not (cwd / value).exists():
                            out.append(f"{where}: {value} does not exist in {cwd.relative_to(root) or '.'}/")
    return list(dict.fromkeys(out))


def test_readme_commands_are_found():
    """The parser sees the commands (a test that checks nothing cannot fail)."""
    units = readme_commands(README.read_text())
    flat = [c for _, lines in units for c in lines]
    assert len(flat) > 25
    assert any(c.startswith("make seed-data") for c in flat)
    assert any(c.startswith(".venv/bin/golden-record train") for c in flat)


def test_the_checker_catches_a_command_that_fails_from_the_root():
    """`python src/train.py --register` from the root failed (issue 13); with its cd it works."""
    assert problems([("t", ["python src/train.py --register"])]) == \
        ["t: src/train.py does not exist in ./"]
    assert problems([("t", ["cd use-cases/golden_record && python src/train.py --register"])]) == []
    assert problems([("t", ["cd use-cases/golden_record", "python src/train.py"])]) == []
    assert problems([("t", ["make trian"])]) == ["t: make trian: no such Makefile target"]
    assert problems([("t", [".venv/bin/golden-record tran --x"])]) == \
        ["t: golden-record tran: no such command (cli.COMMANDS)"]
    assert problems([("t", [".venv/bin/golden-record train --config config/examples/nope.yaml"])]) == \
        ["t: config/examples/nope.yaml does not exist in ./"]


def test_every_readme_command_runs_from_the_repository_root():
    assert problems(readme_commands(README.read_text())) == []


# --------------------------------------------------------------------------- end to end
SNIPPET_RUNNER = """
import json, sys
source = open(sys.argv[1], encoding="utf-8").read()
scope = {}
exec(compile(source, "README.md", "exec"), scope)
result = scope["scores"]                 # the snippet names the model's output ``scores``
print(json.dumps({"type": type(result).__name__, "columns": list(getattr(result, "columns", [])),
                  "rows": len(result) if result is not None else None,
                  "values": json.loads(result.to_json(orient="records")) if hasattr(result, "to_json") else None}))
"""


def pyfunc_snippet(text: str) -> str:
    blocks = [b.partition("\n")[2] for i, b in enumerate(re.split(r"^```", text, flags=re.M))
              if i % 2 and b.startswith("python") and "pyfunc.load_model" in b]
    assert len(blocks) == 1, f"expected one python block with pyfunc.load_model in README.md, found {len(blocks)}"
    return blocks[0]


def documented(column: str, text: str) -> bool:
    """``column`` is named in backticks in ``text``, literally or by a pattern like `cmp_<name>`."""
    for token in re.findall(r"`([^`\s]+)`", text):
        pattern = re.escape(token)
        pattern = re.sub(r"<[^>]*>", r"\\w+", pattern.replace("\\<", "<").replace("\\>", ">"))
        if re.fullmatch(pattern, column):
            return True
    return False


@pytest.fixture(scope="module")
def trained(trained_copy):
    """The run's shared training run (``python src/train.py --write-golden`` on 3,000 seeded
    citizens), its store copied with the experiment named as the configuration names it, so
    that the snippet finds the run as a user's would find theirs."""
    from mlflow import MlflowClient

    from golden_record.config import load_settings

    copy = trained_copy("readme", load_settings().tracking.experiment_name)
    env = {**copy["env"], "PYTHONPATH": str(SRC), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    return {"env": env, "client": MlflowClient(copy["store"]), "run_id": copy["run_id"]}


def test_readme_pyfunc_snippet_runs_as_written(trained, tmp_path):
    import mlflow

    snippet = pyfunc_snippet(README.read_text())
    (tmp_path / "snippet.py").write_text(snippet)
    done = run([sys.executable, "-c", SNIPPET_RUNNER, str(tmp_path / "snippet.py")], trained["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["type"] == "DataFrame" and result["rows"] >= 1
    # every output the logged model's signature documents, the match weight and probability among
    # them; any other column is documented in the README (by name, or as a pattern such as `cmp_<name>`)
    mlflow.set_tracking_uri(trained["env"]["MLFLOW_TRACKING_URI"])
    outputs = mlflow.models.get_model_info(f"runs:/{trained['run_id']}/model").signature.outputs.input_names()
    assert set(outputs) <= set(result["columns"])
    assert {"match_weight", "match_probability"} <= set(result["columns"])
    undocumented = [c for c in result["columns"] if c not in outputs and not documented(c, README.read_text())]
    assert not undocumented, f"columns the README does not name: {undocumented}"
    assert all(0.0 <= row["match_probability"] <= 1.0 for row in result["values"])


def test_run_logs_the_match_weights_chart_and_the_floor_flag(trained, tmp_path):
    """README, What a training run logs: plots/match_weights.png, and at_floor in m_u_parameters.csv
    true exactly where m or u sits at the floor of 1e-6."""
    client, run_id = trained["client"], trained["run_id"]
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"plots/match_weights.png", "plots/m_u_parameters.png"} <= plots
    png = Path(client.download_artifacts(run_id, "plots/match_weights.png", str(tmp_path)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    table = pd.read_csv(client.download_artifacts(run_id, "m_u_parameters.csv", str(tmp_path)))
    assert table["at_floor"].tolist() == ((table["m"] <= 1e-6) | (table["u"] <= 1e-6)).tolist()
