"""A small reader for Darknet .cfg files: `[section]` headers and `key=value` lines, each with its position."""

from __future__ import annotations

from dataclasses import dataclass, field

from alexgen.importers.draft import Origin, Problems


@dataclass
class Option:
    """One `key=value` and where it is."""

    key: str
    value: str
    line: int
    column: int


@dataclass
class Section:
    """One `[kind]` section and its options, in order."""

    kind: str
    line: int
    column: int
    options: dict[str, Option] = field(default_factory=dict)


def parse(text: str, file: str, problems: Problems) -> list[Section]:
    """Sections of a cfg file; malformed lines and repeated keys are located errors."""
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        column = len(raw) - len(raw.lstrip()) + 1
        where = Origin(file, number, column)
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]") or len(stripped) < 3:
                problems.add(where.problem(f"malformed section header {stripped!r}", "write it as [name]"))
                continue
            sections.append(Section(stripped[1:-1].strip(), number, column))
            continue
        key, equals, value = stripped.partition("=")
        if not equals or not key.strip():
            problems.add(where.problem(f"expected key=value, got {stripped!r}"))
            continue
        if not sections:
            problems.add(where.problem("an option before the first [section]"))
            continue
        key = key.strip()
        options = sections[-1].options
        if key in options:
            problems.add(where.problem(f"'{key}' is given twice in [{sections[-1].kind}]",
                                       f"first at line {options[key].line}"))
        options[key] = Option(key, value.strip(), number, column)
    return sections
