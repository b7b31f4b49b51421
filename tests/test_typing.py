"""The library is typed: `mypy --strict alexgen` passes (CI runs the test suite, so this enforces it)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT


def test_mypy_strict_is_clean() -> None:
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "alexgen"], cwd=ROOT,
                            capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
