"""The types every importer drafts a spec with: where a layer comes from, the layer and spec being drafted, the
problems found, and unique layer names."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from alexgen.diagnostics import Diagnostic, Diagnostics, Level, SpecError
from alexgen.ops import Op, op_named


class ImportFailed(SpecError):
    """The source cannot be imported exactly; carries every located diagnostic."""


@dataclass(frozen=True)
class Origin:
    """Where a layer comes from: a file position (prototxt, cfg) or a layer/module path (Keras, PyTorch)."""

    file: str
    line: int = 1
    column: int = 1
    layer: str | None = None

    def problem(self, message: str, hint: str | None = None, level: Level = "error") -> Diagnostic:
        """A diagnostic at this origin, naming the source layer."""
        return Diagnostic(message, self.file, self.line, self.column, hint=hint, layer=self.layer,
                          level=level)


@dataclass
class Item:
    """One spec layer being drafted: its keys (type, name, inputs, ...) and where it came from."""

    keys: dict[str, Any]
    origin: Origin
    shape: tuple[int, ...] | None = None  # the source framework's own output shape, channels-last
    fold: bool = True  # an activation that may be folded into the weighted layer before it
    owner: str | None = None  # the source layer or module path holding its weights (Keras name, PyTorch path)
    probe: str | None = None  # the source value equal to its output (Keras layer name, fx node name)

    @property
    def op(self) -> Op[Any] | None:
        """The op of the layer's type (None for a type no op defines)."""
        return op_named(self.keys["type"])

    @property
    def name(self) -> str:
        """The layer's spec name."""
        name: str = self.keys["name"]
        return name


@dataclass
class Draft:
    """A spec under construction, with the notes its header will carry."""

    name: str
    input_shape: tuple[int, int, int]
    items: list[Item] = field(default_factory=list)
    training: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    description: str | None = None
    model: Any = None  # the loaded source model (Keras model, nn.Module), for --weights and --verify


class Problems(Diagnostics):
    """Diagnostics that raise ImportFailed."""

    def raise_if_errors(self) -> None:
        """Raise ImportFailed when any error has been collected."""
        if self.errors:
            raise ImportFailed(self.items)


class Names:
    """Unique layer names that are valid spec identifiers, made from source names."""

    def __init__(self) -> None:
        self.taken: set[str] = {"input"}

    def make(self, source: str, fallback: str = "layer") -> str:
        """`source` made a valid, unused identifier (`features.0` -> `features_0`)."""
        name = re.sub(r"[^A-Za-z0-9_]+", "_", source).strip("_")
        name = re.sub(r"__+", "_", name)
        if not name or not name[0].isalpha():
            name = f"{fallback}_{name}".strip("_")
        if keyword.iskeyword(name) or name in {"match", "case", "type", "_"}:
            name += "_"
        name = name[:60]
        unique, n = name, 1
        while unique in self.taken:
            n += 1
            unique = f"{name}_{n}"
        self.taken.add(unique)
        return unique
