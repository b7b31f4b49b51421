"""Resolve a spec into one flat document: its chain of bases, parameters, repeated blocks and --set overrides.

Runs between loading (positions per file) and validation (pydantic, graph, budgets), which see only the result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.loader import LoadedDocument, Path_, SourceMap, load_document, parse_text
from alexgen.overrides import Setting, apply_setting, parse_sets
from alexgen.params import Param, ParamTable, substitute_tree
from alexgen.tree import PNode, clone, diagnostic, flatten
from alexgen.variants import COMPOSE_KEYS, EDIT_KEYS, Link, link_of, load_chain, merge

MAX_REPEAT = 1_000  # copies of one block
MAX_LAYERS = 10_000  # layers after expanding every repeat of one file (the spec's own limit)
INDEX = "{i}"


@dataclass(frozen=True)
class SourceFile:
    """A file the resolved spec came from, as displayed, with the sha256 of its bytes."""

    path: str
    sha256: str


@dataclass
class Resolved:
    """The flat spec with positions in every file it came from, those files, and its parameters."""

    data: dict[str, Any]
    source: SourceMap
    files: list[SourceFile]  # the spec itself first, then its bases
    params: list[Param]
    sha256: str  # the file's own when it needs no resolving, else the resolved document's canonical JSON
    problems: list[Diagnostic] = field(default_factory=list)  # the loader's recoverable ones
    flows: dict[Path_, frozenset[str]] = field(default_factory=dict)
    expressions: dict[Path_, str] = field(default_factory=dict)  # fields written as one `${...}`
    real_paths: list[Path | None] = field(default_factory=list)  # each of `files` on disk (None: text, not a file)

    def document(self) -> LoadedDocument:
        """The resolved spec as a loaded document, ready for validation."""
        return LoadedDocument(self.data, self.source, self.source.file, self.sha256, list(self.problems))


def resolve_file(path: str | Path, display: str | None = None, sets: Sequence[str] = ()) -> Resolved:
    """Load a spec file and resolve it (its `extends:` relative to the file's own folder)."""
    real = Path(path).resolve()
    return resolve_document(load_document(path, display), real, real.parent, sets)


def resolve_text(text: str, file: str = "<spec>", sets: Sequence[str] = ()) -> Resolved:
    """Resolve spec text (its `extends:` relative to the folder of `file`)."""
    data, source, problems = parse_text(text, file)
    sha256 = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    document = LoadedDocument(data, source, file, sha256, problems)
    real = Path(file).resolve() if Path(file).is_file() else None
    return resolve_document(document, real, Path(file).parent, sets)


def resolve_document(document: LoadedDocument, real: Path | None, base_dir: Path, sets: Sequence[str] = ()) -> Resolved:
    """Every composition step in order; all problems of a step are reported together."""
    settings = parse_sets(sets)
    chain = load_chain(link_of(document, real), base_dir)
    loaded = [p for link in chain for p in link.document.problems]  # reported with validation's, unless here fails
    problems: list[Diagnostic] = []
    table, fields = _params(chain, settings)
    problems.extend(table.problems)
    for link in chain:
        _prepare(link, table, problems)
    tree = chain[0].tree
    for base, link in zip(chain, chain[1:], strict=False):
        tree = merge(tree, link.tree, base.document.path, problems)
    for setting in fields:
        substitute_tree(setting.value, table, problems)
        apply_setting(tree, setting, problems, list(table.raw))
    problems.extend(table.unused())
    if any(p.level == "error" for p in problems):
        _raise(loaded + problems)
    tree.value = {k: v for k, v in tree.value.items() if k not in COMPOSE_KEYS}
    flat = flatten(tree, document.path)
    params = table.table()
    by_name = {p.name: p for p in params}
    for path, names in flat.flows.items():
        for name in sorted(names):
            by_name[name].fields.append(path)
    own = len(chain) == 1 and not settings and flat.data == document.data
    sha256 = document.sha256 if own else canonical_sha256(flat.data)
    files = [SourceFile(link.document.path, link.document.sha256) for link in reversed(chain)]
    reals = [link.real for link in reversed(chain)]
    return Resolved(flat.data, flat.source, files, params, sha256, loaded + problems, flat.flows, flat.expressions,
                    reals)


def canonical_sha256(data: Any) -> str:
    """sha256 of a document's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _raise(problems: list[Diagnostic]) -> None:
    errors = list(dict.fromkeys(p for p in problems if p.level == "error"))
    if errors:
        raise SpecError(sorted(errors, key=lambda d: (d.file, d.line, d.column)))


def _params(chain: list[Link], settings: list[Setting]) -> tuple[ParamTable, list[Setting]]:
    """Declared parameters (bases first), with the --set values that name one; the other --sets address fields."""
    table = ParamTable()
    for link in chain:
        if "params" in link.tree.value:
            table.declare(link.tree.value["params"])
    fields = []
    for setting in settings:
        if setting.key.startswith("params."):
            table.set(setting.key.removeprefix("params."), setting.value)
        elif "." not in setting.key and setting.key in table.raw:
            table.set(setting.key, setting.value)
        else:
            fields.append(setting)
    table.resolve()
    return table, fields


def _prepare(link: Link, table: ParamTable, problems: list[Diagnostic]) -> None:
    """Substitute parameters in one file's values, then expand its repeated blocks."""
    tree = link.tree
    if "extends" not in tree.value:
        for key in EDIT_KEYS:
            if key in tree.value:
                node = tree.value[key]
                problems.append(
                    diagnostic(
                        node.key_at or node.at,
                        f"`{key}:` edits a base spec's layers, but this file has no `extends:`",
                        "add extends: <base>.yaml",
                    )
                )
    for key, node in tree.value.items():
        if key not in {"params", "extends"}:
            substitute_tree(node, table, problems)
    if "layers" in tree.value:
        tree.value["layers"] = expand(tree.value["layers"], problems)
    for key in ("insert_before", "insert_after"):
        edits = tree.value.get(key)
        if edits is not None and edits.is_map:
            for anchor, payload in edits.value.items():
                if payload.is_list:
                    edits.value[anchor] = expand(payload, problems)


def expand(layers: PNode, problems: list[Diagnostic]) -> PNode:
    """A layer list with every `{repeat: N, layers: [...]}` block replaced by N copies, `{i}` counting from 1."""
    if not layers.is_list or not any(item.is_map and "repeat" in item.value for item in layers.value):
        return layers
    result: list[PNode] = []
    for item in layers.value:
        if not (item.is_map and "repeat" in item.value):
            result.append(item)
            continue
        times, block = _block(item, problems)
        if len(result) + times * len(block) > MAX_LAYERS:
            problems.append(diagnostic(item.at, f"repeat: expands beyond {MAX_LAYERS} layers"))
            return PNode(result, layers.at, layers.key_at)
        for i in range(1, times + 1):
            result.extend(clone(layer, partial(_numbered, number=i)) for layer in block)
    return PNode(result, layers.at, layers.key_at, layers.params)


def _numbered(text: str, number: int) -> str:
    """A repeated layer's text with `{i}` replaced by its copy's number."""
    return text.replace(INDEX, str(number))


def _block(item: PNode, problems: list[Diagnostic]) -> tuple[int, list[PNode]]:
    """(count, layers) of a repeat block, or (0, []) with problems."""
    count, layers = item.value["repeat"], item.value.get("layers")
    found = len(problems)
    for key, node in item.value.items():
        if key not in {"repeat", "layers"}:
            problems.append(
                diagnostic(
                    node.key_at or node.at,
                    f"unknown key '{key}' in a repeat block",
                    "a repeat block has only `repeat: N` and `layers: [...]`",
                )
            )
    if type(count.value) is not int or not 1 <= count.value <= MAX_REPEAT:
        problems.append(diagnostic(count.at, f"`repeat:` needs a count from 1 to {MAX_REPEAT}, got {count.value!r}"))
    if layers is None or not layers.is_list or not layers.value:
        problems.append(diagnostic(item.at, "a repeat block needs `layers:`, a non-empty list of layers"))
    else:
        for layer in layers.value:
            if not layer.is_map:
                problems.append(diagnostic(layer.at, "each entry of a repeat block's layers is a layer (a mapping)"))
            elif "repeat" in layer.value:
                problems.append(diagnostic(layer.at, "repeat blocks do not nest", "write the inner block out"))
    if len(problems) > found:
        return 0, []
    return count.value, list(layers.value)


def dump_resolved(resolved: Resolved, fmt: str = "yaml", show_params: bool = False) -> str:
    """The resolved spec as YAML (one line per layer) or JSON; or its parameters and source files."""
    if show_params:
        data: Any = {
            "files": [vars(f) for f in resolved.files],
            "sha256": resolved.sha256,
            "params": [p.as_dict() for p in resolved.params],
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "json":
        return json.dumps(resolved.data, indent=2, ensure_ascii=False) + "\n"
    sources = ", ".join(f.path for f in resolved.files)
    lines = [f"# resolved by alexgen from {sources}", f"# resolved sha256: {resolved.sha256}"]
    for key, value in resolved.data.items():
        if key == "layers" and isinstance(value, list):
            lines.append("layers:")
            lines.extend(f"  - {_yaml(layer, flow=True)}" for layer in value)
        else:
            lines.append(_yaml({key: value}, flow=None if isinstance(value, (dict, list)) else False))
    return "\n".join(lines) + "\n"


def _yaml(value: Any, flow: bool | None) -> str:
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=flow, allow_unicode=True, width=1_000_000)
    return text.rstrip("\n")


def explain(problems: list[Diagnostic], resolved: Resolved) -> list[Diagnostic]:
    """Diagnostics at a value that came from parameters also say which parameters and their values."""
    by_name = {p.name: p for p in resolved.params}
    places = {resolved.source.where(path): names for path, names in resolved.flows.items()}
    result = []
    for problem in problems:
        names = places.get((problem.file, problem.line, problem.column))
        if names:
            note = "from " + ", ".join(f"{n}={by_name[n].value!r}" for n in sorted(names) if n in by_name)
            hint = f"{problem.hint}; {note}" if problem.hint else note
            problem = dataclasses.replace(problem, hint=hint)
        result.append(problem)
    return result
