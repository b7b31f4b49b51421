"""`extends:` a base spec, then edit its layers by name (replace, update, remove, insert_before, insert_after)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from pathlib import Path

from alexgen.diagnostics import Diagnostic, SpecError
from alexgen.graph import default_names
from alexgen.loader import MAX_BYTES, LoadedDocument, load_document
from alexgen.tree import PNode, Where, diagnostic, shown, suggest, wrap

MAX_CHAIN = 8  # files in one chain of bases
EDIT_KEYS = ("replace", "update", "remove", "insert_before", "insert_after")
COMPOSE_KEYS = frozenset({"extends", "params", *EDIT_KEYS})
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Link:
    """One file of a chain: the loaded document, its positioned tree and its real path."""

    document: LoadedDocument
    tree: PNode
    real: Path | None


def link_of(document: LoadedDocument, real: Path | None) -> Link:
    """A chain link from a loaded document."""
    return Link(document, wrap(document.data, document.source), real)


def load_chain(top: Link, base_dir: Path) -> list[Link]:
    """The chain of specs from the base-most to `top`, following `extends:`."""
    chain = [top]
    directory = base_dir
    while (extends := chain[-1].tree.value.get("extends")) is not None:
        chain.append(_load_base(chain, extends, directory))
        directory = chain[-1].real.parent if chain[-1].real else directory
    return chain[::-1]


def _load_base(chain: list[Link], extends: PNode, directory: Path) -> Link:
    """The file an `extends:` names, refusing anything but a relative path to a spec file not yet in the chain."""
    child = chain[-1]
    if not isinstance(extends.value, str) or not extends.value.strip():
        _fail(
            extends.at,
            "`extends:` needs the path of a base spec, relative to this file",
            "e.g. extends: alexnet_plain.yaml",
        )
    text = extends.value
    if Path(text).is_absolute() or "\\" in text or text.startswith("~"):
        _fail(extends.at, f"`extends: {text}` must be a relative path (with /), from this spec's folder")
    if not text.endswith(SUFFIXES):
        _fail(extends.at, f"`extends: {text}` is not a spec file", "a base spec ends in .yaml, .yml or .json")
    if len(chain) >= MAX_CHAIN:
        _fail(
            extends.at,
            f"the chain of bases is longer than {MAX_CHAIN} files",
            " -> ".join(link.document.path for link in chain),
        )
    path = directory / text
    display = posixpath.normpath(posixpath.join(posixpath.dirname(child.document.path), text))
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        _fail(extends.at, f"base spec not found: {display}", f"looked for {path}")
    seen = [link.real for link in chain]
    if real in seen:
        names = [link.document.path for link in chain[seen.index(real) :]]
        what = "extends itself" if len(names) == 1 else "is part of a cycle: " + " -> ".join([*names, display])
        _fail(extends.at, f"{child.document.path} {what}", "a spec cannot be its own base")
    if not real.is_file() or real.stat().st_size > MAX_BYTES:
        _fail(extends.at, f"the base {display} is not a regular spec file (of at most {MAX_BYTES} bytes)")
    return link_of(load_document(real, display), real)


def _fail(at: Where, message: str, hint: str | None = None) -> None:
    raise SpecError([diagnostic(at, message, hint)])


def merge(base: PNode, child: PNode, base_file: str, problems: list[Diagnostic]) -> PNode:
    """The child's top-level keys over the base's, then the child's layer edits."""
    value = dict(base.value)
    for key, node in child.value.items():
        if key not in COMPOSE_KEYS:
            value[key] = node
    edits = [key for key in EDIT_KEYS if key in child.value]
    merged = replace(base, value=value, at=child.at)
    if not edits:
        return merged
    if "layers" in child.value:
        first = child.value[edits[0]]
        problems.append(
            diagnostic(
                first.key_at or first.at,
                f"`{edits[0]}:` edits the base's layers, but this file also gives `layers:`",
                "give either layers: or edits, not both",
            )
        )
        return merged
    layers = value.get("layers")
    if layers is None or not layers.is_list:
        problems.append(diagnostic(child.at, f"the base {base_file} has no list of layers to edit"))
        return merged
    value["layers"] = _Editor(layers, child, base_file, problems).run()
    return merged


def _names(items: list[PNode]) -> list[str]:
    return default_names([(n.text("type") or "layer", n.text("name")) for n in items])


class _Editor:
    """Applies one file's edits to its base's layer list, reporting each problem at the edit that caused it."""

    def __init__(self, layers: PNode, child: PNode, base_file: str, problems: list[Diagnostic]) -> None:
        self.layers, self.child, self.base_file, self.problems = layers, child, base_file, problems
        self.items = list(layers.value)
        self.names = _names(self.items)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.removed: dict[str, Where] = {}
        self.edited: dict[str, Where] = {}
        self.replaced: dict[int, list[PNode]] = {}
        self.before: dict[int, list[PNode]] = {}
        self.after: dict[int, list[PNode]] = {}

    def run(self) -> PNode:
        """The edited layer list."""
        for key in EDIT_KEYS:
            node = self.child.value.get(key)
            if node is not None:
                getattr(self, key)(node)
        result: list[PNode] = []
        for i, item in enumerate(self.items):
            result.extend(self.before.get(i, []))
            if i in self.replaced:
                result.extend(self.replaced[i])
            elif self.names[i] not in self.removed:
                result.append(item)
            result.extend(self.after.get(i, []))
        self._check_inputs(result)
        return replace(self.layers, value=result)

    def find(self, name: str, at: Where, key: str) -> int | None:
        """The index of a base layer an edit names, or a problem."""
        if name in self.removed:
            self.problems.append(
                diagnostic(at, f"`{key}:` names layer '{name}', which the edit at {shown(self.removed[name])} removes")
            )
            return None
        if name not in self.index:
            self.problems.append(
                diagnostic(
                    at,
                    f"`{key}:` names layer '{name}', which {self.base_file} does not define",
                    suggest(name, self.names),
                )
            )
            return None
        return self.index[name]

    def claim(self, name: str, at: Where, key: str) -> bool:
        """One edit per layer among replace, update and remove."""
        if name in self.edited:
            self.problems.append(
                diagnostic(
                    at,
                    f"layer '{name}' is edited twice (also at {shown(self.edited[name])})",
                    f"combine the edits into one `{key}:`",
                )
            )
            return False
        self.edited[name] = at
        return True

    def mapping(self, node: PNode, key: str, example: str) -> list[tuple[str, PNode]]:
        if not node.is_map:
            self.problems.append(diagnostic(node.at, f"`{key}:` needs a mapping of layer names", example))
            return []
        return list(node.value.items())

    def replace(self, node: PNode) -> None:
        example = "e.g. replace: {fc6: {type: dense, units: 2048}}"
        for name, new in self.mapping(node, "replace", example):
            at = new.key_at or new.at
            i = self.find(name, at, "replace")
            layers = new.value if new.is_list else [new]
            if i is None or not self.claim(name, at, "replace") or not all(self.layer(x, "replace") for x in layers):
                continue
            if len(layers) == 1 and "name" not in layers[0].value:  # a lone replacement keeps the name it replaces
                layers = [replace(layers[0], value={**layers[0].value, "name": PNode(name, at, at)})]
            self.replaced[i] = layers
            if name not in _names(layers):
                self.removed[name] = at

    def update(self, node: PNode) -> None:
        for name, keys in self.mapping(node, "update", "e.g. update: {fc6: {units: 2048}}"):
            at = keys.key_at or keys.at
            i = self.find(name, at, "update")
            if i is None or not self.claim(name, at, "update") or not self.layer(keys, "update"):
                continue
            old = self.items[i]
            if "name" in keys.value and keys.text("name") != name:
                self.problems.append(
                    diagnostic(
                        keys.value["name"].at,
                        "`update:` cannot rename a layer",
                        "use replace: to give a layer a new name",
                    )
                )
                continue
            self.items[i] = replace(old, value={**old.value, **keys.value})

    def remove(self, node: PNode) -> None:
        entries = node.value if node.is_list else [node]
        for entry in entries:
            if not isinstance(entry.value, str):
                self.problems.append(
                    diagnostic(entry.at, "`remove:` needs a list of layer names", "e.g. remove: [drop6, drop7]")
                )
                continue
            if self.find(entry.value, entry.at, "remove") is not None and self.claim(entry.value, entry.at, "remove"):
                self.removed[entry.value] = entry.at

    def insert_before(self, node: PNode) -> None:
        self.insert(node, "insert_before", self.before)

    def insert_after(self, node: PNode) -> None:
        self.insert(node, "insert_after", self.after)

    def insert(self, node: PNode, key: str, where: dict[int, list[PNode]]) -> None:
        for name, new in self.mapping(node, key, f"e.g. {key}: {{fc6: [{{type: dropout, rate: 0.5}}]}}"):
            i = self.find(name, new.key_at or new.at, key)
            layers = new.value if new.is_list else [new]
            if i is not None:
                where.setdefault(i, []).extend(layer for layer in layers if self.layer(layer, key))

    def layer(self, node: PNode, key: str) -> bool:
        """Whether an edit's payload is a mapping (a layer), else a problem."""
        if node.is_map:
            return True
        self.problems.append(
            diagnostic(node.at, f"`{key}:` needs a layer (a mapping with a type), got {type(node.value).__name__}")
        )
        return False

    def _check_inputs(self, result: list[PNode]) -> None:
        """An `inputs` reference to a layer an edit removed or renamed is reported at that edit."""
        defined = {name: self.items[i].at for name, i in self.index.items()}
        final = _names(result)
        for layer, name in zip(result, final, strict=True):
            inputs = layer.value.get("inputs") if layer.is_map else None
            for ref in inputs.value if inputs is not None and inputs.is_list else []:
                if isinstance(ref.value, str) and ref.value in self.removed and ref.value not in final:
                    self.problems.append(
                        diagnostic(
                            self.removed[ref.value],
                            f"this edit removes layer '{ref.value}' (defined at "
                            f"{shown(defined[ref.value])}), but layer '{name}' ({shown(layer.at)}) still reads it",
                            f"also edit the inputs of '{name}', or keep '{ref.value}'",
                        )
                    )
