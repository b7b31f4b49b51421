"""Load YAML or JSON safely, keeping every node's position and refusing duplicate keys."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alexgen.diagnostics import Diagnostic, Level, SpecError
from alexgen.yamlhints import syntax_hint

Path_ = tuple[str | int, ...]

MAX_NODES = 50_000
MAX_DEPTH = 40
MAX_BYTES = 1_000_000  # composing a megabyte takes about a second; real specs are a few kilobytes

_YAML_TAG = "tag:yaml.org,2002:"
_TEXT_TAGS = {f"{_YAML_TAG}value", f"{_YAML_TAG}merge"}
_SCALAR_TAGS = {f"{_YAML_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}


class _Yaml12Resolver(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` as a float, as YAML 1.2 and JSON do."""


_LIBYAML = hasattr(yaml, "CSafeLoader")


# The base is chosen at run time (libyaml's loader when PyYAML was built with it), which mypy cannot follow.
class _FastComposer(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser (about 6x faster) with the same resolver; only ever used to compose nodes."""


for _loader in (_Yaml12Resolver, _FastComposer):
    _loader.add_implicit_resolver(
        f"{_YAML_TAG}float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )


@dataclass
class SourceMap:
    """Positions (1-based line and column) of every value and mapping key by data path."""

    file: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    # a spec composed from several files (extends:, --set): the file of a value or key, when not `file`
    value_files: dict[Path_, str] = field(default_factory=dict)
    key_files: dict[Path_, str] = field(default_factory=dict)

    def where(self, path: Path_, *, key: bool = False) -> tuple[str, int, int]:
        """File, line and column of the deepest known node on `path` (the key itself when `key`)."""
        for end in range(len(path), -1, -1):
            prefix = tuple(path[:end])
            if key and prefix in self.keys:
                return (self.key_files.get(prefix, self.file), *self.keys[prefix])
            if prefix in self.values:
                return (self.value_files.get(prefix, self.file), *self.values[prefix])
        return (self.file, 1, 1)

    def locate(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the deepest known node on `path` (the key itself when `key`)."""
        return self.where(path, key=key)[1:]

    def diagnostic(self, path: Path_, message: str, *, hint: str | None = None, key: bool = False,
                   layer: str | None = None, index: int | None = None, level: Level = "error") -> Diagnostic:
        """A diagnostic placed at `path` (in the file that node came from)."""
        file, line, column = self.where(path, key=key)
        return Diagnostic(message, file, line, column, hint, layer, index, level)


@dataclass
class LoadedDocument:
    """Plain data read from a spec file, with its source map and content hash."""

    data: dict[str, Any]
    source: SourceMap
    path: str
    sha256: str
    problems: list[Diagnostic] = field(default_factory=list)


def _mark(node: yaml.Node | yaml.Event) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


class _Builder:
    """Turns a composed YAML node tree into plain Python data, within a budget."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Diagnostic] = []
        self.count = 0
        self.scalars = _Yaml12Resolver("")

    def problem(self, node: yaml.Node, message: str, hint: str | None = None) -> None:
        line, column = _mark(node)
        self.problems.append(Diagnostic(message, self.source.file, line, column, hint))

    def build(self, node: yaml.Node, path: Path_, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _BudgetExceeded(node, f"the document expands to more than {MAX_NODES} nodes", path)
        if depth > MAX_DEPTH:
            raise _BudgetExceeded(node, f"the document nests deeper than {MAX_DEPTH} levels")
        self.source.values.setdefault(path, _mark(node))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            self.check_tag(node, f"{_YAML_TAG}seq")
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def check_tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            self.problem(node, f"YAML tag '{node.tag}' is not allowed", "specs are plain data: remove the tag")

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag in _TEXT_TAGS:  # YAML 1.1 reads a plain `=` or `<<` value as these, which nothing constructs
            return node.value
        if node.tag not in _SCALAR_TAGS:
            self.problem(node, f"YAML tag '{node.tag}' is not allowed", "specs are plain data: remove the tag")
            # PyYAML's resolver is untyped (types-PyYAML leaves resolve() unannotated)
            plain: str = self.scalars.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
            node = yaml.ScalarNode(plain, node.value, node.start_mark, node.end_mark)  # read as if untagged
        if node.tag == f"{_YAML_TAG}timestamp":
            return node.value
        value = self.scalars.construct_object(node, deep=True)
        return _join_surrogates(value) if isinstance(value, str) else value

    def mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        self.check_tag(node, f"{_YAML_TAG}map")
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == f"{_YAML_TAG}merge":
                self.merge(result, value_node, path, depth)
                continue
            key = self.build(key_node, (*path, "<key>"), depth + 1)
            if not isinstance(key, str):
                self.problem(key_node, f"mapping key {key!r} is not a string", "quote the key")
                key = str(key)
            if key in first_seen:
                self.problem(key_node, f"duplicate key '{key}' (first given on line {first_seen[key]})",
                             "remove one of the two; YAML would silently keep the last")
                continue
            first_seen[key] = key_node.start_mark.line + 1
            self.source.keys[path + (key,)] = _mark(key_node)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def merge(self, result: dict[str, Any], value_node: yaml.Node, path: Path_, depth: int) -> None:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.problem(source, "a YAML merge key ('<<') needs a mapping")
                continue
            for key, value in self.mapping(source, path, depth + 1).items():
                result.setdefault(key, value)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _join_surrogates(text: str) -> str:
    """`"\\ud83d\\ude00"` is one character in JSON, two halves in YAML: join the pairs, as JSON does (a lone half
    stays, and validation refuses it)."""
    if not _SURROGATE.search(text):
        return text
    try:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return text


class _BudgetExceeded(Exception):
    def __init__(self, node: yaml.Node, message: str, path: Path_ = ()) -> None:
        self.node = node
        self.path = path  # aliases share nodes: the data path says which top-level entry was expanding
        super().__init__(message)


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise SpecError([Diagnostic(f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})", file, line,
                                    column, "save the spec as UTF-8")]) from None


_JSON_TAB = re.compile(r'"(?:[^"\\\n]|\\.)*"|\t')


def _untab_json(text: str) -> str:
    """JSON may indent with tabs, which YAML refuses: outside strings they become spaces (same columns)."""
    if not text.lstrip("\ufeff \t\r\n").startswith("{"):
        return text
    return _JSON_TAB.sub(lambda m: " " if m.group(0) == "\t" else m.group(0), text)


_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_depth(text: str, file: str, loader: type) -> None:
    """Refuse a document nesting deeper than MAX_DEPTH, from the event stream (no recursion, stops early)."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError([Diagnostic(f"the document nests deeper than {MAX_DEPTH} levels", file,
                                            *_mark(event), "a spec needs only a few levels of nesting")])
        elif isinstance(event, _CLOSE):
            depth -= 1


def _locate_deep(text: str, file: str, exc: yaml.YAMLError) -> None:
    """When libyaml refused the document for its own nesting limit (far beyond MAX_DEPTH), raise the located depth
    diagnostic from the text before the place it stopped: below its limit there, libyaml passes the level past
    MAX_DEPTH as an event (the pure-Python scanner would take time quadratic in the depth to get there)."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem != "exceeded maximum nesting depth":
        return
    if exc.problem_mark is None:
        return
    try:
        _check_depth(text[:exc.problem_mark.index], file, _FastComposer)
    except yaml.YAMLError:
        return  # the cut text fails before that level: the caller reads the whole document again
    # (the SpecError _check_depth raises is the located diagnostic and propagates)


def _compose(text: str, file: str) -> yaml.Node | None:
    """The node tree (aliases still shared, so nothing is expanded yet), or a located syntax error.

    libyaml composes when it is installed; when it refuses a document, the pure-Python parser reads it again,
    so the messages (and the documents accepted) are PyYAML's own. Depth is checked on each parser's event stream
    before composing: libyaml's composer recurses in C, PyYAML's in Python. The libyaml in PyYAML 6.0.4's wheels
    refuses nesting beyond 1000 levels with an error of its own, located where it stopped; the level past MAX_DEPTH
    opens before that place, so only the text before it is read again, by libyaml (`_locate_deep`).
    """
    text = _untab_json(text)
    if _LIBYAML:
        try:
            _check_depth(text, file, _FastComposer)
            return yaml.compose(text, Loader=_FastComposer)
        except yaml.YAMLError as exc:
            _locate_deep(text, file, exc)
    try:
        _check_depth(text, file, _Yaml12Resolver)  # the pure-Python parser has no depth limit and no recursion
        return yaml.compose(text, Loader=_Yaml12Resolver)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = exc.problem or exc.context or "invalid YAML"
        if exc.context and detail.startswith("but "):  # e.g. "expected a single document ..., but found another"
            detail = f"{exc.context}, {detail}"
        message = f"YAML syntax error: {detail}"
        raise SpecError([Diagnostic(message, file, line, column, syntax_hint(exc, text))]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic(f"YAML error: {exc}", file)]) from None
    except RecursionError:
        raise SpecError([Diagnostic(f"the document nests too deeply (limit {MAX_DEPTH})", file)]) from None


def parse_text(text: str, file: str = "<spec>") -> tuple[dict[str, Any], SourceMap, list[Diagnostic]]:
    """Parse spec text into data, a source map and recoverable problems (duplicate keys, tags).

    Unrecoverable problems (syntax, encoding, budget, not a mapping) raise SpecError.
    """
    if not text.strip():
        raise SpecError([Diagnostic("the spec file is empty", file, hint="start from spec/alexnet.yaml")])
    if len(text) > MAX_BYTES:
        raise SpecError([Diagnostic(f"the spec is larger than {MAX_BYTES} bytes", file,
                                    hint="a spec describes one network in a few kilobytes")])
    half = _SURROGATE.search(text)
    if half:  # only text handed over in memory can hold one: a file is decoded from UTF-8 first
        before = text[: half.start()]
        raise SpecError([Diagnostic("the text holds a lone surrogate (half of a UTF-16 pair), which is not "
                                    "Unicode text", file, before.count("\n") + 1,
                                    half.start() - (before.rfind("\n") + 1) + 1, "pass text decoded from UTF-8")])
    node = _compose(text, file)
    if node is None:
        raise SpecError([Diagnostic("the spec file holds no document", file)])
    source = SourceMap(file)
    builder = _Builder(source)
    try:
        data = builder.build(node, ())
    except _BudgetExceeded as exc:
        line, column = source.values[exc.path[:1]] if exc.path[:1] in source.values else _mark(exc.node)
        raise SpecError([Diagnostic(str(exc), file, line, column,
                                    "anchors and aliases may not expand a spec beyond its budget")]) from None
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
            type(data), "null")
        raise SpecError([Diagnostic(f"the top level of a spec must be a mapping, not {kind}", file,
                                    *_mark(node), "start with `alexgen: 1` and `name: ...`")])
    return data, source, builder.problems


def load_document(path: str | Path, display: str | None = None) -> LoadedDocument:
    """Read, decode and parse a spec file."""
    file = display or str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:  # about the file, not a place in it: no position
        message = (f"no such file: {file}" if isinstance(exc, FileNotFoundError)
                   else f"{file} is a folder, not a spec file" if isinstance(exc, IsADirectoryError)
                   else f"cannot read {file}: {exc.strerror or exc}")
        raise SpecError([Diagnostic(message, file, line=0, column=0)]) from None
    if len(raw) > MAX_BYTES:
        raise SpecError([Diagnostic(f"the spec is larger than {MAX_BYTES} bytes", file)])
    text = _decode(raw, file)
    data, source, problems = parse_text(text, file)
    return LoadedDocument(data, source, file, hashlib.sha256(raw).hexdigest(), problems)


