"""Optional extras (issue 27): the core (``pip install .``) trains, evaluates, writes golden records
and seeds; ``serve``, ``review``, ``engine: spark`` and the embedded PostgreSQL each need an extra,
and without it say, in one line and exit 2, which ``pip install`` to run.

The fast tests hide a module as an uninstalled one is hidden (``sys.modules[name] = None``: its
import fails). The end-to-end test runs the real core install: ``.venv-core`` (``make core-venv``,
created by the test on first use and reused after), where pyspark and pgserver are absent."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, SRC, run

HIDE = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None          # as if not installed: importing it fails
sys.argv = ["golden-record", *sys.argv[2:]]
from golden_record.cli import entry_point
entry_point()
"""


def _without(modules: str, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-c", HIDE, modules, *args],
               {"PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])})


def _one_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return lines[0]


def test_the_core_install_leaves_the_extras_out_and_make_install_takes_them_all():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    assert not [name for name in ("pyspark", "flask", "fastapi", "uvicorn", "pgserver") if name in core]
    extras = project["optional-dependencies"]
    assert [d.split(">")[0] for d in extras["spark"]] == ["pyspark"]
    assert [d.split(">")[0] for d in extras["serve"]] == ["fastapi", "uvicorn"]
    assert [d.split(">")[0] for d in extras["review"]] == ["Flask"]
    assert extras["embedded"][0].startswith("pgserver")
    assert extras["all"] == ["golden-record[spark,serve,review,embedded]"]
    assert "-e '.[all,test]'" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("command, modules, extra", [
    ("serve", "fastapi", "serve"), ("serve", "uvicorn", "serve"), ("review", "flask", "review")])
def test_a_command_without_its_extra_says_which_pip_install_to_run(command, modules, extra):
    done = _without(modules, command, "--port", "8999")
    assert done.returncode == 2
    line = _one_line(done)
    assert line.startswith(f"error: golden-record {command} needs the optional extra [{extra}]")
    assert f"pip install 'golden-record[{extra}]'" in line and modules in line


def test_engine_spark_without_pyspark_says_which_pip_install_to_run_before_anything_starts():
    done = _without("pyspark", "train", "--set", "engine=spark")
    assert done.returncode == 2
    line = _one_line(done)
    assert "engine: spark needs the optional extra [spark]" in line
    assert "pip install 'golden-record[spark]'" in line


def test_the_embedded_database_without_pgserver_says_which_pip_install_to_run(monkeypatch):
    from golden_record.config import load_settings
    from golden_record.io import warehouse

    monkeypatch.setitem(sys.modules, "pgserver", None)
    with pytest.raises(warehouse.WarehouseError) as err:
        warehouse._embedded_url(load_settings(), "x")
    assert "pip install 'golden-record[embedded]'" in err.value.one_line()


# --------------------------------------------------------------------------- the real core install
#: ``make core-venv``'s virtualenv (GOLDEN_RECORD_CORE_VENV: another core-only one)
CORE_VENV = Path(os.environ.get("GOLDEN_RECORD_CORE_VENV") or ROOT / ".venv-core")


@pytest.fixture(scope="module")
def core_python() -> str:
    """``.venv-core``'s python: the package installed without extras (``make core-venv``, which the
    first use runs: a few minutes once; later runs reuse it)."""
    python = CORE_VENV / "bin" / "python"
    if not python.exists() or subprocess.run([str(python), "-c", "import golden_record"],
                                             capture_output=True).returncode != 0:
        done = subprocess.run(["make", "core-venv", f"CORE_VENV={CORE_VENV}"], cwd=ROOT, capture_output=True,
                              text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
    found = subprocess.run([str(python), "-c", "import importlib.util as u; "
                            "print([m for m in ('pyspark', 'pgserver') if u.find_spec(m)])"],
                           capture_output=True, text=True)
    assert found.stdout.strip() == "[]", f"{CORE_VENV} holds extras: {found.stdout}"
    return str(python)


def test_the_core_install_trains_and_writes_golden_records_and_names_the_extras_it_lacks(
        core_python, test_databases, tmp_path):
    env = {"DATABASE_URL": test_databases.url("core"), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "PYTHONPATH": str(SRC), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    done = run([core_python, "-m", "golden_record", "seed", "--rows", "2000", "--seed", "7"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    done = run([core_python, "-m", "golden_record", "train", "--experiment", "core", "--quiet"], env,
               cwd=ROOT / "use-cases" / "golden_record")
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = re.search(r"^run ([0-9a-f]{32}) finished", done.stdout, re.M).group(1)
    done = run([core_python, "-m", "golden_record", "golden", "--run-id", run_id], env)
    assert done.returncode == 0, done.stderr[-3000:]

    done = run([core_python, "-m", "golden_record", "train", "--set", "engine=spark"], env)
    assert done.returncode == 2 and "pip install 'golden-record[spark]'" in _one_line(done)
    done = run([core_python, "-c", "from golden_record.config import load_settings\nfrom golden_record.io import "
                "warehouse\ntry:\n    warehouse._embedded_url(load_settings(), 'x')\nexcept warehouse.WarehouseError "
                "as exc:\n    print(exc.one_line())"], env)
    assert "pip install 'golden-record[embedded]'" in done.stdout, done.stderr[-2000:]
    # serve and review: their modules come with mlflow in the core (mlflow needs Flask, FastAPI and
    # uvicorn itself), so there they start; the hidden-module tests above check their refusal
