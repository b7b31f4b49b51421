"""Problems as values: located diagnostics collected and reported together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """One located problem in a spec file (line 0: about the file as a whole, e.g. it does not exist)."""

    message: str
    file: str = "<spec>"
    line: int = 1
    column: int = 1
    hint: str | None = None
    layer: str | None = None
    index: int | None = None
    level: Level = "error"

    def format(self) -> str:
        """Render as `file:line:col: level: [layer] message` plus an indented hint."""
        where = ""
        if self.layer is not None:
            where = f"layer {self.index} '{self.layer}': " if self.index is not None else f"'{self.layer}': "
        place = f"{self.file}:{self.line}:{self.column}" if self.line > 0 else "alexgen"  # line 0: about the file
        text = f"{place}: {self.level}: {where}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


@dataclass
class Diagnostics:
    """An ordered collection of diagnostics for one spec."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        """Append one diagnostic."""
        self.items.append(diagnostic)

    @property
    def errors(self) -> list[Diagnostic]:
        """Only the errors."""
        return [d for d in self.items if d.level == "error"]

    def raise_if_errors(self) -> None:
        """Raise SpecError when any error has been collected."""
        if self.errors:
            raise SpecError(sorted(self.items, key=lambda d: (d.file, d.line, d.column)))


class SpecError(Exception):
    """Raised with every diagnostic of a spec that cannot be compiled."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.format() for d in diagnostics))
