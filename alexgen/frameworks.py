"""Import generated modules and run both frameworks side by side (used by `check` and the tests)."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from alexgen.graph import Graph
from alexgen.quiet import quiet_framework_startup
from alexgen.render import environment, render_module

quiet_framework_startup()
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def import_source(module_name: str, source: str, folder: Path | None = None) -> ModuleType:
    """Import Python source as a fresh module (written to `folder` or a temporary one)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="alexgen-"))
    path = folder / f"{module_name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def generated_module(graph: Graph, spec_path: str, target: str, templates: Path | None = None) -> ModuleType:
    """Render and import one target's module of a graph (only that framework is imported)."""
    source = render_module(graph, target, environment(templates), spec_path)
    return import_source(f"alexgen_check_{target}_{graph.name}", source)


def generated_modules(graph: Graph, spec_path: str, templates: Path | None = None) -> tuple[ModuleType, ModuleType]:
    """Render and import the Keras and PyTorch modules of a graph."""
    return (generated_module(graph, spec_path, "keras", templates),
            generated_module(graph, spec_path, "pytorch", templates))
