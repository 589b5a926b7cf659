"""One command line (issue 26, points 1, 2 and 6): ``golden-record --version``; every command's help
says ``golden-record COMMAND`` with one line of help per option; the package logs through
``logging`` and prints nothing for a library user; the ground floor never imports the command
line; a bad argument is one line and exit 2; the addresses printed at the end of a run can be
pasted; the example configs' commands are the README's; a run's params stay readable.

Fast, no database: the end-to-end side (signals in every job, runs read back) is
``tests/test_cli_jobs.py``.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import logging
import re
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT, SRC
from golden_record import __version__, console
from golden_record.cli import COMMANDS, main as cli_main

PACKAGE = SRC / "golden_record"
EXAMPLES = ROOT / "use-cases" / "golden_record" / "config" / "examples"


def _cli(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "golden_record", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(SRC), **(env or {})})


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error"), stderr[-3000:]
    return lines[0]


@pytest.fixture
def logging_restored():
    logger = logging.getLogger("golden_record")
    handlers, level = list(logger.handlers), logger.level
    from golden_record import progress

    factory = progress.bar_factory()
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    progress.set_bar_factory(factory)


# --------------------------------------------------------------------------- --version, --help
def test_version_names_the_package_version_and_the_commit():
    done = _cli("--version")
    assert done.returncode == 0, done.stderr
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    line = done.stdout.strip()
    assert line.startswith(f"golden-record {__version__}"), line
    if commit:                                     # run from a checkout: the commit is said
        assert f"(commit {commit}" in line, line
    assert _cli("-V").stdout == done.stdout


def _parser_of(command: str, monkeypatch) -> argparse.ArgumentParser:
    """The parser ``golden-record COMMAND`` builds (caught as it parses ``--help``)."""
    seen: list[argparse.ArgumentParser] = []
    parse = argparse.ArgumentParser.parse_known_args

    def spy(self, args=None, namespace=None):
        seen.append(self)
        return parse(self, args, namespace)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", spy)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        cli_main([command, "--help"])
    assert done.value.code == 0
    ours = [p for p in seen if p.prog.startswith("golden-record")]
    assert ours, f"{command}: no parser named golden-record (saw {[p.prog for p in seen]})"
    assert out.getvalue().startswith(f"usage: golden-record {command} "), out.getvalue()[:200]
    return ours[0]


def _all_actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield action
            for sub in action.choices.values():
                yield from _all_actions(sub)
        else:
            yield action


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_says_golden_record_and_helps_every_option(command, monkeypatch):
    parser = _parser_of(command, monkeypatch)
    assert parser.prog == f"golden-record {command}"
    description = " ".join((parser.description or "").split())
    assert len(description) > 30 and description[-1] in ".)", f"{command}: description cut: {description!r}"
    assert ".py" not in description and "``" not in description, description
    for action in _all_actions(parser):
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS, f"{command}: {name} has no help"
        assert "\n" not in action.help.strip(), f"{command}: {name}: help on several lines"
    options = {o for a in parser._actions for o in a.option_strings}
    assert {"-q", "--quiet", "-v", "--verbose", "--log-format"} <= options, command


def test_the_command_list_and_an_unknown_command():
    done = _cli("--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: golden-record COMMAND")
    assert all(f"  {name} " in done.stdout for name in COMMANDS) and "--version" in done.stdout
    done = _cli("trian")
    assert done.returncode == 2 and "unknown command 'trian'" in _one_error_line(done.stderr)


# --------------------------------------------------------------------------- bad arguments: one line, exit 2
@pytest.mark.parametrize("args, words", [
    (["diagnose", "--limit", "-3"], "--limit"),
    (["diagnose", "--limit", "many"], "invalid int value"),
    (["serve", "--threshold", "2"], "strictly between 0 and 1"),
    (["serve", "--port", "70000"], "is not a port"),
    (["explain", "1", "2", "--threshold", "0"], "strictly between 0 and 1"),
    (["explain", "7", "7"], "the same record"),
    (["train", "--config", str(ROOT / "use-cases")], "is a directory"),
    (["train", "--set", "model.params.match_threshold=1"], "strictly between 0 and 1"),
    (["train", "--no-such-option"], "unrecognized arguments"),
    (["golden"], "--run-id"),
    (["match-new", "--sample", "-1"], "--sample"),
    (["seed", "--rows", "0"], "--rows"),
    (["report", "compare", "only-one"], "at least two run ids"),
])
def test_a_bad_argument_is_one_line_and_exit_2(args, words, tmp_path, monkeypatch, capsys, logging_restored):
    # nothing reachable: the arguments are refused before any store or database is touched
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/no/such/folder/mlflow.db")
    try:
        code = cli_main(args)
    except SystemExit as exc:       # argparse's exit, as the process would exit
        code = exc.code
    out = capsys.readouterr()
    assert code == 2, out.err[-3000:]
    line = _one_error_line(out.err)
    assert words in line, line
    assert out.out == ""


# --------------------------------------------------------------------------- logging
def test_a_library_user_sees_nothing():
    """Nothing configured: no line on stdout or stderr, whatever the package logs (a NullHandler on
    the package logger; the command line adds the handler)."""
    code = """
import logging
from golden_record.progress import Progress
p = Progress()
with p.stage("load"):
    p.say("a progress line")
    with p.bar(10, "rows") as bar:
        bar.update(10)
logging.getLogger("golden_record.linkage.pipeline").warning("a warning of the library")
from golden_record.io import warehouse
assert p.timings["load"] >= 0
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


def _say_all(capsys) -> str:
    from golden_record.progress import Progress

    p = Progress(logger="golden_record.jobs.train")
    with p.stage("fit"):
        p.say("  EM: 12 iterations")
    logging.getLogger("golden_record.tracking.lifecycle").warning("note: a warning")
    logging.getLogger("golden_record.jobs.train").debug("a debug line")
    out = capsys.readouterr()
    assert out.out == ""                     # logging goes to stderr; stdout is the commands' results
    return out.err


def test_the_command_line_keeps_the_look_quiet_and_verbose(capsys, logging_restored):
    console.configure_logging()
    err = _say_all(capsys)
    assert err.splitlines() == ["[fit] ...", "  EM: 12 iterations", err.splitlines()[2], "note: a warning"]
    assert re.fullmatch(r"\[fit\] done in \d+\.\d\d s", err.splitlines()[2])
    console.configure_logging(quiet=True)
    assert _say_all(capsys).splitlines() == ["note: a warning"]
    console.configure_logging(verbose=True)
    assert "debug: a debug line" in _say_all(capsys).splitlines()
    console.configure_logging()            # again: still one handler, one line each
    assert _say_all(capsys).count("note: a warning") == 1


def test_log_format_json_is_one_object_a_line(capsys, logging_restored):
    console.configure_logging(log_format="json")
    records = [json.loads(line) for line in _say_all(capsys).splitlines()]
    assert [r["message"] for r in records][:2] == ["[fit] ...", "  EM: 12 iterations"]
    assert {r["logger"] for r in records} == {"golden_record.jobs.train", "golden_record.tracking.lifecycle"}
    assert records[-1]["level"] == "warning" and all(r["time"].endswith("+00:00") for r in records)


def test_a_failure_in_json_is_a_json_line_with_its_exit_code(monkeypatch, capsys, logging_restored):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////nonexistent/dir/m.db")
    assert cli_main(["diagnose", "--log-format", "json"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["level"] == "error" and record["exit_code"] == 1 and "does not exist" in record["message"]


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_ground_floor_never_imports_the_command_line():
    """Dependencies point down: no module under linkage/ or golden/ (nor linker.py) imports the
    command line (``golden_record.cli``, ``console``) or a job, at the top or inside a function."""
    modules = sorted([*(PACKAGE / "linkage").rglob("*.py"), *(PACKAGE / "golden").rglob("*.py"),
                      PACKAGE / "linker.py"])
    assert len(modules) > 15
    upward = ("golden_record.cli", "golden_record.console", "golden_record.jobs")
    offenders = {str(m.relative_to(PACKAGE)): sorted(n for n in _imports(m) if n.startswith(upward))
                 for m in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


# --------------------------------------------------------------------------- what a run prints at the end
def test_the_ui_address_uses_the_real_port_and_the_store_uri_can_be_pasted(monkeypatch, tmp_path):
    from golden_record.io.redaction import redact
    from golden_record.tracking import store, ui

    monkeypatch.delenv("UI_PORT", raising=False)
    assert "make mlflow-ui, then http://127.0.0.1:5000/#/experiments/3/runs/abc?" in store.ui_hint("3", "abc")
    monkeypatch.setenv("UI_PORT", "5123")
    hint = store.ui_hint("3", "abc")
    assert "make mlflow-ui UI_PORT=5123, then http://127.0.0.1:5123/#/experiments/3/runs/abc?" in hint
    assert "5000" not in hint and ui.runs_url("3").startswith("http://127.0.0.1:5123/")
    path = tmp_path / "mlflow.db"
    assert redact(f"sqlite:///{path}") == f"sqlite:///{path}" == f"sqlite:////{str(path).lstrip('/')}"
    assert redact("postgresql://user:s3cret@db:5432/mlflow") == "postgresql://user@db:5432/mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///relative/mlflow.db")
    from golden_record.config import load_settings

    uri = store.resolve_uri(load_settings())
    assert uri.startswith("sqlite:////") and redact(uri) == uri     # four slashes: an absolute path


def test_the_makefile_passes_ui_port_to_every_command():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^export UI_PORT\b", text, flags=re.M)


# --------------------------------------------------------------------------- example configs and the README
def _header_commands(path) -> list[str]:
    out = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if text.startswith(("make ", ".venv/bin/golden-record ", "python ", "golden-record ")):
            out.append(re.split(r"\s{2,}\(", text)[0].strip())      # the comment after it left out
    return out


def test_example_configs_say_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    plain = re.sub(r" ROWS=\d+", "", readme)
    configs = sorted(p for p in EXAMPLES.glob("*.yaml"))
    assert {p.stem for p in configs} >= {"citizens", "people", "sparse", "historical", "crm"}
    for path in configs:
        commands = _header_commands(path)
        assert commands, f"{path.name}: no command in its header"
        for command in commands:
            assert not command.startswith(("python ", "golden-record ")), f"{path.name}: {command}"
            words = shlex.split(command)
            if words[0] == "make":
                continue_with = re.sub(r" ROWS=\d+", "", command).replace(f"PROFILE={path.stem}", "PROFILE=people")
                assert continue_with in plain, f"{path.name}: {command!r} is not how the README says it"
            else:
                assert words[1] in COMMANDS, command
                if "--config" in words:
                    target = words[words.index("--config") + 1]
                    assert (ROOT / target).resolve() == path.resolve(), f"{path.name}: --config {target}"
                    assert command.replace(path.stem, "people") in readme, f"{path.name}: {command!r}"
                else:
                    assert command in readme, f"{path.name}: {command!r} is not in the README"


# --------------------------------------------------------------------------- params a person can read
def test_run_params_are_few_and_never_empty():
    from golden_record.config import ModelConfig, load_model_config
    from golden_record.tracking.store import MAX_PARAMS, THRESHOLD_KEY, declared_params, run_params

    configs = [load_model_config(p) for p in sorted(EXAMPLES.glob("*.yaml"))]
    # a wide table: 40 fields, each compared: the comparisons become one param
    wide = configs[0].model_dump(mode="json")
    wide["data"].update(fields={f"f{i}": {"type": "text"} for i in range(40)}, recency=None, source=None)
    wide["comparisons"] = [{"field": f"f{i}", "method": "jaro_winkler", "levels": [0.9]} for i in range(40)]
    wide["model"]["params"]["blocking_fields"] = ["f0", "f1"]
    wide["golden"] = {}
    configs.append(ModelConfig.model_validate(wide))
    for config in configs:
        params = run_params(config)
        assert 5 < len(params) <= MAX_PARAMS
        assert not [k for k, v in params.items() if v in ("None", "[]", "{}", "")], params
        assert set(declared_params(config)) <= set(params)
        assert THRESHOLD_KEY not in params or params[THRESHOLD_KEY] != "auto"
    assert "comparisons" in run_params(configs[-1]) and not any(k.startswith("comparisons.") for k in
                                                                 run_params(configs[-1]))
    citizens = run_params(configs[0])
    assert citizens["comparisons.first_name.method"] == "jaro_winkler" and citizens["engine"] == "local"
    assert "data.fields" in citizens and "spark.master" not in citizens
