"""Shared helpers: the repository's paths, the bundled specs, and spec text -> graph or diagnostics."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.graph import Graph
from alexgen.validate import graph_from_text

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = ROOT / "spec"
SPEC_PATHS = sorted(SPEC_DIR.glob("*.yaml"))
SPEC_NAMES = [p.stem for p in SPEC_PATHS]

HEADER = """\
alexgen: 1
name: probe
input_shape: [32, 32, 3]
layers:
"""


def spec_text(layers: str, header: str = HEADER, tail: str = "") -> str:
    """A small spec: the header, then `layers` (dedented, indented under `layers:`), then `tail`."""
    body = textwrap.indent(textwrap.dedent(layers).strip("\n"), "  ")
    return header + body + "\n" + textwrap.dedent(tail)


def position(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the `occurrence`-th `needle` in `text`."""
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    return line, start - (text.rfind("\n", 0, start) + 1) + 1


@pytest.fixture(autouse=True)
def _private_analyze_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """`alexgen analyze` caches results under $XDG_CACHE_HOME: the tests' go to this session's temporary folder,
    never to the user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.delenv("ALEXGEN_NO_CACHE", raising=False)


@pytest.fixture
def analyze_text() -> Callable[[str], Graph]:
    """Validate and analyse spec text, failing the test with the diagnostics when it is invalid."""

    def run(text: str) -> Graph:
        try:
            return graph_from_text(text, "probe.yaml")
        except SpecError as exc:
            pytest.fail("unexpected diagnostics:\n" + "\n".join(d.format() for d in exc.diagnostics))

    return run


@pytest.fixture
def diagnose() -> Callable[[str], list[Diagnostic]]:
    """The errors reported for spec text that must be invalid."""

    def run(text: str) -> list[Diagnostic]:
        with pytest.raises(SpecError) as info:
            graph_from_text(text, "probe.yaml")
        return [d for d in info.value.diagnostics if d.level == "error"]

    return run


@pytest.fixture
def alexgen_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m alexgen ARGS` in a subprocess from the repository root, 100 columns wide."""
    # the width is fixed: a terminal's, or the COLUMNS=80 that readline (loaded by pytest) exports to children
    env = {**os.environ, "COLUMNS": "100"}

    def run(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "alexgen", *args], cwd=cwd, capture_output=True, text=True,
                              encoding="utf-8", check=False, timeout=timeout, env=env)

    return run


# --- small variants of the bundled specs ---------------------------------------------------------------------------

# The bundled specs at their full depth, with a small input, 16-unit hidden dense layers and 10 classes: at full
# size (60M parameters, batch 2, 4 examples) one spec took 67 s (PyTorch) and 92 s (Keras), mostly writing ~1 GB of
# checkpoints; these variants take 1-10 s each. Entries: input shape, hidden dense layers, output layer.
SMALL: dict[str, tuple[str, tuple[str, ...], str]] = {
    "alexnet": ("[67, 67, 3]", ("fc6", "fc7"), "predictions"),
    "alexnet_bn": ("[67, 67, 3]", ("fc6", "fc7"), "predictions"),
    "alexnet_bn_l2": ("[67, 67, 3]", ("fc6", "fc7"), "fc8"),
    "alexnet_paper": ("[67, 67, 3]", ("fc6", "fc7"), "predictions"),
    "alexnet_plain": ("[67, 67, 3]", ("fc6", "fc7"), "predictions"),
    "alexnet_two_tower": ("[67, 67, 3]", ("t1_fc6", "t2_fc6", "t1_fc7", "t2_fc7"), "predictions"),
    "vgg16": ("[32, 32, 3]", ("fc1", "fc2"), "predictions"),
}


def small_variant(folder: Path, name: str) -> Path:
    """`name` extended: small input, 16-unit hidden dense layers, 10 classes (spec/ copied next to it)."""
    if not (folder / "spec").is_dir():
        shutil.copytree(SPEC_DIR, folder / "spec")
    shape, dense, output = SMALL[name]
    update = "".join(f"  {layer}: {{units: 16}}\n" for layer in dense) + f"  {output}: {{units: 10}}\n"
    path = folder / "spec" / f"small_{name}.yaml"
    path.write_text(f"alexgen: 1\nextends: {name}.yaml\nname: small_{name}\ninput_shape: {shape}\nupdate:\n{update}")
    return path
