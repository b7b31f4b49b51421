"""Import a generated module from its file, with the support module beside it (no framework imported here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["load_generated"]


def load_generated(path: Path, module_name: str) -> ModuleType:
    """Import a generated module from its file under `module_name`, as a package over its folder, so that its
    `from ._support import ...` finds the support module beside it (a fresh one, not an earlier import's)."""
    spec = importlib.util.spec_from_file_location(module_name, path, submodule_search_locations=[str(path.parent)])
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: not a Python module")
    for name in [name for name in sys.modules if name.startswith(f"{module_name}.")]:
        del sys.modules[name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module
