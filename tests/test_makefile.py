"""The README's `make demo` / `make test` set up a virtual environment themselves (dry runs: `make -n`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A folder holding the Makefile and pyproject.toml, as a fresh clone has them."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def dry_run(folder: Path, *args: str, **env: str) -> list[str]:
    """The commands `make -n ARGS` would run, with VIRTUAL_ENV and the Makefile's variables as given."""
    # Under `make test VENV=...` (as CI runs it) the outer make passes its command-line variables down through
    # MAKEFLAGS; the dry run must see only the variables given here.
    inherited = {"VIRTUAL_ENV", "TORCH", "TORCH_INDEX_URL", "VENV", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    clean = {k: v for k, v in os.environ.items() if k not in inherited}
    result = subprocess.run(
        ["make", "-n", *args], cwd=folder, env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return [line for line in result.stdout.splitlines() if not line.startswith("make")]


def test_without_an_active_venv_make_test_creates_dot_venv_and_runs_from_it(checkout: Path) -> None:
    assert dry_run(checkout, "test") == [
        "python3 -m venv .venv",
        '.venv/bin/python -m pip install --quiet "torch==2.13.0" ',
        '.venv/bin/python -m pip install --quiet -e ".[dev]"',
        'echo "torch==2.13.0 " > .venv/.alexgen-install.stamp',
        ".venv/bin/python -m pytest -q",
    ]


def test_make_demo_runs_alexgen_from_the_environment(checkout: Path) -> None:
    commands = dry_run(checkout, "demo")
    assert commands[-2:] == [".venv/bin/alexgen analyze", ".venv/bin/alexgen render --target all --out generated"]


def test_an_active_venv_is_used_and_not_replaced(checkout: Path) -> None:
    venv = checkout / "mine"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    commands = dry_run(checkout, "test", VIRTUAL_ENV=str(venv))
    assert not any(" -m venv " in c for c in commands)
    assert commands[0] == f'{venv}/bin/python -m pip install --quiet "torch==2.13.0" '
    assert commands[-1] == f"{venv}/bin/python -m pytest -q"


def test_the_cpu_index_and_another_torch_are_passed_to_pip(checkout: Path) -> None:
    commands = dry_run(
        checkout, "install", TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu", TORCH="torch==2.5.1"
    )
    assert (
        '.venv/bin/python -m pip install --quiet "torch==2.5.1" --index-url https://download.pytorch.org/whl/cpu'
        in commands
    )


def test_a_second_run_installs_nothing_until_pyproject_changes(checkout: Path) -> None:
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").touch()
    (checkout / ".venv" / ".alexgen-install.stamp").touch()
    assert dry_run(checkout, "test") == [".venv/bin/python -m pytest -q"]
    later = time.time() + 5
    os.utime(checkout / "pyproject.toml", (later, later))
    assert '.venv/bin/python -m pip install --quiet -e ".[dev]"' in dry_run(checkout, "test")
