"""`--set KEY=VALUE`: a parameter's value, or any field of the resolved spec by path (layers by name)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.loader import SourceMap, _Builder, _compose
from alexgen.tree import PNode, Where, diagnostic, plain, suggest

SET_FILE = "--set"  # diagnostics about the i-th --set read `--set:i:column`
MAX_SETS = 100
_COMPOSE = frozenset({"params", "extends", "replace", "update", "remove", "insert_before", "insert_after", "$schema"})
KEY = re.compile(r"^[A-Za-z0-9_$.-]+$")


@dataclass
class Setting:
    """One parsed `--set`: the dotted key, the value node (positioned in the option's text)."""

    key: str
    value: PNode
    text: str

    @property
    def parts(self) -> list[str]:
        """The key's dotted segments."""
        return self.key.split(".")


def parse_sets(items: Sequence[str]) -> list[Setting]:
    """Parse every `KEY=VALUE` (VALUE as YAML), reporting all malformed ones together."""
    problems: list[Diagnostic] = []
    settings = []
    if len(items) > MAX_SETS:
        raise SpecError([Diagnostic(f"more than {MAX_SETS} --set options", SET_FILE)])
    for number, item in enumerate(items, start=1):
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(
                Diagnostic(
                    f"--set {item!r} is not KEY=VALUE",
                    SET_FILE,
                    number,
                    1,
                    "e.g. --set num_classes=10 or --set layers.fc6.units=2048",
                )
            )
            continue
        if not KEY.match(key) or "" in key.split("."):
            problems.append(
                Diagnostic(
                    f"--set key {key!r} is not a dotted path",
                    SET_FILE,
                    number,
                    1,
                    "e.g. training.optimizer.learning_rate",
                )
            )
            continue
        column = len(item) - len(text) + 1
        value = _value(text, number, column, problems)
        if value is not None:
            key_at = (SET_FILE, number, 1)
            node = _nodes(value, (SET_FILE, number, column))
            node.key_at = key_at
            settings.append(Setting(key, node, item))
    if problems:
        raise SpecError(problems)
    return settings


def _nodes(value: Any, at: Where) -> PNode:
    """A --set value as a tree of PNodes (a list or mapping holds PNodes, as a value read from a file does)."""
    if isinstance(value, dict):
        return PNode({k: _nodes(v, at) for k, v in value.items()}, at)
    if isinstance(value, list):
        return PNode([_nodes(v, at) for v in value], at)
    return PNode(value, at)


def _value(text: str, number: int, column: int, problems: list[Diagnostic]) -> Any:
    """A --set value read as YAML (so `10` is an int, `0.5` a float, `true` a bool), with the loader's limits."""
    if not text.strip():
        return ""
    try:
        node = _compose(text, SET_FILE)
    except SpecError as exc:
        problems.extend(Diagnostic(d.message, SET_FILE, number, column + d.column - 1, d.hint) for d in exc.diagnostics)
        return None
    if node is None:
        return ""
    builder = _Builder(SourceMap(SET_FILE))
    value = builder.build(node, ())
    for problem in builder.problems:
        problems.append(Diagnostic(problem.message, SET_FILE, number, column, problem.hint))
    return None if builder.problems else value


def apply_setting(tree: PNode, setting: Setting, problems: list[Diagnostic], params: Sequence[str] = ()) -> None:
    """Put one value into the resolved tree at its path; a path that does not exist is a problem."""
    node, path = tree, list[str | int]()
    parts = setting.parts
    at = setting.value.key_at or setting.value.at
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "the spec"
        if node.is_map:
            if part in node.value:
                if last:
                    node.value[part] = _placed(setting.value, node.value[part])
                    return
                node, path = node.value[part], [*path, part]
                continue
            allowed = _allowed(tree, path)
            if last and (not allowed or part in allowed):
                node.value[part] = setting.value
                return
            problems.append(_missing(setting, at, where, part, allowed, list(node.value), params if not path else []))
            return
        if node.is_list:
            index = _index(node, path, part, setting, at, problems)
            if index is None:
                return
            if last:
                node.value[index] = _placed(setting.value, node.value[index])
                return
            node, path = node.value[index], [*path, index]
            continue
        problems.append(
            diagnostic(at, f"--set {setting.key}: {where} is a single value ({node.value!r}), it has no '{part}'")
        )
        return


def _missing(
    setting: Setting, at: Where, where: str, part: str, allowed: list[str], present: list[str], params: Sequence[str]
) -> Diagnostic:
    """An unknown key (did you mean a key or a parameter?), or a block the spec does not give (so no default)."""
    if part in allowed:
        return diagnostic(
            at,
            f"--set {setting.key}: {where} gives no '{part}' to set a field in",
            f"write the whole '{part}' block in the spec file",
        )
    choices = sorted((set(allowed) | set(present) | set(params)) - _COMPOSE)
    hint = suggest(part, choices) or (f"keys: {', '.join(choices)}" if choices else None)
    return diagnostic(at, f"--set {setting.key}: {where} has no key '{part}'", hint)


def _placed(value: PNode, old: PNode) -> PNode:
    """The new value keeps the key position of the one it replaces (the key is still in the file)."""
    return PNode(value.value, value.at, old.key_at, value.params, value.expression)


def _index(
    node: PNode, path: list[Any], part: str, setting: Setting, at: Where, problems: list[Diagnostic]
) -> int | None:
    """A list position: a layer's name under `layers`, else a 0-based index within range."""
    where = ".".join(map(str, path))
    if path == ["layers"] and not part.isdigit():
        from alexgen.variants import _names

        names = _names(node.value)
        if part in names:
            return names.index(part)
        problems.append(diagnostic(at, f"--set {setting.key}: no layer named '{part}'", suggest(part, names)))
        return None
    if not part.isdigit():
        problems.append(
            diagnostic(
                at,
                f"--set {setting.key}: '{where}' is a list; '{part}' is not an index",
                f"give a position from 0 to {len(node.value) - 1}",
            )
        )
        return None
    index = int(part)
    if index >= len(node.value):
        problems.append(
            diagnostic(
                at,
                f"--set {setting.key}: index {index} is out of range ('{where}' has "
                f"{len(node.value)} item{'s' * (len(node.value) != 1)})",
                f"give a position from 0 to {len(node.value) - 1}" if node.value else None,
            )
        )
        return None
    return index


def _allowed(tree: PNode, path: list[Any]) -> list[str]:
    """The keys the model at `path` accepts (empty when unknown: validation then decides)."""
    from alexgen.validate import _allowed_keys

    try:
        return _allowed_keys(plain(tree), tuple(path))
    except (KeyError, IndexError, TypeError):
        return []
