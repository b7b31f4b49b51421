"""`alexgen import`: existing models (Keras, PyTorch, Caffe, Darknet) into a checked spec document.

Each importer turns its source into a Draft with one small converter per source layer kind (a dispatch table);
emit.py writes the draft as YAML and validates it. Frameworks are imported only by the importer that needs them.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alexgen.diagnostics import Diagnostic
from alexgen.importers.draft import Draft, ImportFailed, Origin, Problems
from alexgen.importers.emit import validated

FORMATS = ("keras", "pytorch", "caffe", "darknet")
SUFFIXES = {".keras": "keras", ".prototxt": "caffe", ".cfg": "darknet"}
FRAMEWORK_ROOTS = {"keras": "keras", "tensorflow": "keras", "torch": "pytorch", "torchvision": "pytorch"}


@dataclass(frozen=True)
class Options:
    """What the user said about the source."""

    source: str
    input_shape: tuple[int, int, int] | None = None
    name: str | None = None


@dataclass(frozen=True)
class SourceLayer:
    """Where a spec layer lives in the source model: the layer/module holding its weights, the value it outputs."""

    owner: str | None
    probe: str | None


@dataclass
class Imported:
    """The written spec text, its analysed graph and the warnings of the import; with the source model (Keras,
    PyTorch) and each spec layer's place in it, for `--weights` and `--verify`."""

    text: str
    graph: Any
    warnings: list[Diagnostic]
    fmt: str = "keras"
    model: Any = None
    layers: dict[str, SourceLayer] = field(default_factory=dict)


def fail(source: str, message: str, hint: str | None = None) -> ImportFailed:
    """An ImportFailed with one diagnostic about the source as a whole."""
    return ImportFailed([Origin(source).problem(message, hint)])


def load_object(source: str) -> Any:
    """Call `module:function` (the module found from the current folder too) and return what it returns."""
    module_name, _, attribute = source.rpartition(":")
    if not module_name or not attribute:
        raise fail(source, "expected a file or `module:function`", "e.g. `models.alexnet:build_model`")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise fail(source, f"cannot find `{source}`: {exc}") from None
    if not callable(target):
        raise fail(source, f"`{attribute}` is not callable", "name a function returning the model")
    try:
        return target()
    except Exception as exc:  # the user's own code: report, do not crash
        raise fail(source, f"`{source}()` raised {type(exc).__name__}: {exc}") from None


def framework_of(obj: Any) -> str | None:
    """`keras` or `pytorch` from the classes an object is made of, without importing either framework."""
    for cls in type(obj).__mro__:
        found = FRAMEWORK_ROOTS.get(cls.__module__.split(".")[0])
        if found:
            return found
    return None


def resolve(options: Options, fmt: str) -> tuple[str, Any]:
    """The format and the object to import: a path, or the model a `module:function` returns."""
    path = Path(options.source)
    if path.suffix in SUFFIXES or fmt in ("caffe", "darknet") or path.is_file():
        if not path.is_file():
            raise fail(options.source, "no such file")
        found = SUFFIXES.get(path.suffix) if fmt == "auto" else fmt
        if found is None:
            raise fail(options.source, f"cannot tell the format from the suffix '{path.suffix}'",
                       "pass --format keras|caffe|darknet (.keras, .prototxt, .cfg)")
        return found, path
    model = load_object(options.source)
    found = framework_of(model)
    if found is None or (fmt != "auto" and fmt != found):
        expected = "a keras.Model or torch.nn.Module" if fmt == "auto" else f"a {fmt} model"
        raise fail(options.source, f"`{options.source}()` returned {type(model).__name__}, not {expected}")
    return found, model


def draft_for(fmt: str, obj: Any, options: Options, problems: Problems) -> Draft:
    """Run one importer (imported here, so only the chosen framework is ever loaded)."""
    module = importlib.import_module(f"alexgen.importers.{fmt}")
    draft: Draft = module.draft(obj, options, problems)
    return draft


def import_source(source: str, fmt: str = "auto", input_shape: tuple[int, int, int] | None = None,
                  name: str | None = None, display: str = "imported.yaml") -> Imported:
    """Import a model file or `module:function` into spec text, validated; raises ImportFailed."""
    options = Options(source, input_shape, name)
    fmt, obj = resolve(options, fmt)
    return convert(fmt, obj, options, display)


def import_model(model: Any, input_shape: tuple[int, int, int] | None = None, name: str | None = None,
                 source: str = "<model>", display: str = "imported.yaml") -> Imported:
    """Import a keras.Model or torch.nn.Module object (Python API and tests)."""
    fmt = framework_of(model)
    if fmt is None:
        raise fail(source, f"expected a keras.Model or torch.nn.Module, got {type(model).__name__}")
    return convert(fmt, model, Options(source, input_shape, name), display)


def convert(fmt: str, obj: Any, options: Options, display: str) -> Imported:
    """Draft, name, write and validate."""
    problems = Problems()
    draft = draft_for(fmt, obj, options, problems)
    problems.raise_if_errors()
    if options.name:
        draft.name = options.name
    text, graph = validated(draft, options.source, fmt, display)
    warnings = [d for d in problems.items if d.level == "warning"] + list(graph.warnings)
    layers = {item.name: SourceLayer(item.owner, item.probe) for item in draft.items}
    return Imported(text, graph, warnings, fmt, draft.model, layers)
