"""Import generated modules and run both frameworks side by side (used by `check` and the tests)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from types import ModuleType

from alexgen.graph import Graph
from alexgen.loading import load_generated
from alexgen.quiet import quiet_framework_startup
from alexgen.render import SUPPORT_MODULE, TARGETS, environment, render_module, render_support

quiet_framework_startup()
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def import_source(module_name: str, source: str, folder: Path | None = None,
                  templates: Path | None = None, target: str | None = None) -> ModuleType:
    """Import generated source as a fresh module, written to `folder` (or a temporary one) beside its target's
    support module (the target as given, else as the source's header names it)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="alexgen-"))
    path = folder / f"{module_name}.py"
    path.write_text(source, encoding="utf-8")
    target = target or target_of(source)
    if target is not None:
        (folder / f"{SUPPORT_MODULE}.py").write_text(support_text(target, templates), encoding="utf-8")
    return load_generated(path, module_name)


TARGET_LINE = re.compile(r"^# regenerate with: alexgen render .* --target (\w+)$", re.MULTILINE)


def target_of(source: str) -> str | None:
    """The target a generated module's header names (None for source without alexgen's header)."""
    found = TARGET_LINE.search(source, 0, 4096)
    return found.group(1) if found and found.group(1) in TARGETS else None


_SUPPORT: dict[tuple[str, Path | None], str] = {}


def support_text(target: str, templates: Path | None = None) -> str:
    """A target's support module, rendered once per process (and per template folder)."""
    key = (target, templates)
    if key not in _SUPPORT:
        _SUPPORT[key] = render_support(target, environment(templates))
    return _SUPPORT[key]


def generated_module(graph: Graph, spec_path: str, target: str, templates: Path | None = None) -> ModuleType:
    """Render and import one target's module of a graph (only that framework is imported)."""
    source = render_module(graph, target, environment(templates), spec_path)
    return import_source(f"alexgen_check_{target}_{graph.name}", source, templates=templates, target=target)


def generated_modules(graph: Graph, spec_path: str, templates: Path | None = None) -> tuple[ModuleType, ModuleType]:
    """Render and import the Keras and PyTorch modules of a graph."""
    return (generated_module(graph, spec_path, "keras", templates),
            generated_module(graph, spec_path, "pytorch", templates))
