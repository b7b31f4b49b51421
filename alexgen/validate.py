"""From a file to a validated, analysed graph; pydantic errors become located diagnostics."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from alexgen.budget import DEFAULT_BUDGET, Budget
from alexgen.compose import Resolved, explain, resolve_file, resolve_text
from alexgen.diagnostics import Diagnostic, Diagnostics, SpecError
from alexgen.gcpause import without_gc_pauses
from alexgen.graph import Graph, Origin, Unchecked, build_graph, default_names
from alexgen.loader import LoadedDocument, SourceMap
from alexgen.spec import LAYER_MODELS, TAGGED_MODELS, Layer, LayerBase, Regularizer, Spec, Training
from alexgen.yamlhints import colon_slip

_CONTEXT_MODELS: dict[tuple[str, ...], type[BaseModel]] = {(): Spec, ("training",): Training}


def _data_path(data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Keep the parts of a pydantic location that exist in the data (drop union tags and type names)."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            continue
        path.append(part)
    return tuple(path)


def _lookup(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _allowed_keys(data: Any, parent: tuple[str | int, ...]) -> list[str]:
    """The keys the model at `parent` accepts, for did-you-mean hints."""
    value = _lookup(data, parent)
    model: type[BaseModel] | None = _CONTEXT_MODELS.get(tuple(str(p) for p in parent))
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        model = LAYER_MODELS.get(value["type"]) or TAGGED_MODELS.get(value["type"]) or model
    if parent[-1:] == ("kernel_regularizer",):
        model = Regularizer
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _suggest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _describe(error: dict[str, Any], data: Any, path: tuple[str | int, ...]) -> tuple[str, str | None, bool]:
    """Message, hint and whether to point at the key rather than the value."""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(data, path[:-1])
        hint = colon_slip(path[-1]) or _suggest(str(path[-1]), allowed) or (
            f"allowed keys: {', '.join(allowed)}" if allowed else None)
        return f"unknown key '{path[-1]}'", hint, True
    if kind == "missing":
        return f"missing required key '{error['loc'][-1]}'", None, False
    if kind == "union_tag_invalid":
        tags = sorted(LAYER_MODELS) if path[:1] == ("layers",) and len(path) == 3 else sorted(TAGGED_MODELS)
        given = error["ctx"]["tag"]
        hint = _suggest(given, tags) or f"known types: {', '.join(tags)}"
        return f"unknown type '{given}'", hint, False
    if kind == "union_tag_not_found":
        slip = next((colon_slip(key) for key in value if str(key).startswith("type:")), None) if isinstance(
            value, dict) else None
        return "missing key 'type'", slip or "every layer (and optimizer, schedule, initializer) needs a `type`", False
    if kind in {"int_type", "float_type"} and isinstance(value, bool):
        return f"expected a number, got the boolean {str(value).lower()}", "write a number, e.g. 96", False
    if kind == "int_type" and isinstance(value, float):
        return f"expected an integer, got {value!r}", "sizes and counts are whole numbers", False
    if kind == "literal_error" and error["loc"][-1] == "alexgen":
        return f"unsupported spec format version {value!r}", "this alexgen reads `alexgen: 1`", False
    if kind == "literal_error":
        words = _literal_words(error)
        hint = _suggest(value, words) if isinstance(value, str) else None
        return f"invalid value {value!r}: expected {', '.join(repr(w) for w in words)}", hint, False
    if kind == "string_pattern_mismatch":
        return (f"{_shown(value)} is not a valid name", "names are ASCII identifiers: a letter, then letters, digits "
                "or underscores (the spec's own name is lower snake_case)", False)
    if kind == "string_unicode":
        return ("the text holds a lone surrogate (half of a UTF-16 pair, e.g. from a \\ud800 escape), which no "
                "file can store", "remove the escape, or write the character itself", False)
    message = error["msg"].replace("Value error, ", "")
    hint = f"rename it, e.g. '{value}_'" if "Python keyword" in message else colon_slip(value)
    if isinstance(value, (dict, list)) or f"(got {value!r})" in message or f"'{value}'" in message:
        return message, hint, False
    return f"{message} (got {_shown(value)})", hint, False


def _shown(value: Any, limit: int = 60) -> str:
    """repr() of a value, its middle elided when long (a 10,000-character description is not worth repeating)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit // 2]}...{text[-limit // 4:]} ({len(str(value)):,} characters)"


def _branch(error: dict[str, Any], data: Any) -> tuple[tuple[str | int, ...], str] | None:
    """The innermost plain (not tag-discriminated) union an error comes from: its data path and branch label."""
    path: list[str | int] = []
    found = None
    for part in error["loc"]:
        if (isinstance(data, dict) and part in data) or (isinstance(data, list) and isinstance(part, int)
                                                         and part < len(data)):
            data = data[part]
            path.append(part)
        elif not (isinstance(data, dict) and data.get("type") == part):
            found = (tuple(path), str(part))
    return found


def _mismatched(error: dict[str, Any]) -> bool:
    """An error saying the value has the wrong kind altogether (the branch does not fit at all)."""
    kind = str(error["type"])
    return kind.endswith("_type") or kind == "literal_error"


def _best_branches(errors: list[dict[str, Any]], data: Any) -> list[dict[str, Any]]:
    """Drop union branches that do not fit the value's kind when another branch at the same place does."""
    fitting = {_branch(e, data) for e in errors if not _mismatched(e)}
    sites = {branch[0] for branch in fitting if branch}
    return [e for e in errors if (b := _branch(e, data)) is None or b[0] not in sites or b in fitting]


def _group(errors: list[dict[str, Any]], data: Any) -> dict[tuple[str | int, ...], list[dict[str, Any]]]:
    """Errors by the data location they concern; unknown and missing keys by the key itself."""
    groups: dict[tuple[str | int, ...], list[dict[str, Any]]] = {}
    for error in _best_branches(errors, data):
        path = _data_path(data, error["loc"])
        if error["type"] == "missing" or (error["type"] == "extra_forbidden" and error["loc"][-1] not in path[-1:]):
            path = (*path, error["loc"][-1])
        elif error["type"] == "union_tag_invalid" and isinstance(_lookup(data, path), dict):
            path = (*path, "type")  # point at the unknown type itself
        groups.setdefault(path, []).append(error)
    return groups


def validation_diagnostics(exc: ValidationError, data: dict[str, Any], source: SourceMap) -> list[Diagnostic]:
    """One located diagnostic per data location, however many union branches failed there."""
    names = layer_names_or_none(data)
    groups = _group([dict(e) for e in exc.errors()], data)
    described = {path: _describe(errors[0], data, path) if len(errors) == 1 else _union(errors)
                 for path, errors in groups.items()}
    typos = {(path[:-1], hint) for path, (message, hint, _) in described.items() if message.startswith("unknown key")}
    typos |= {(path[:-1], f"did you mean '{str(path[-1]).split(':')[0]}'?") for path, (message, hint, _) in
              described.items() if message.startswith("unknown key") and hint == colon_slip(path[-1]) and hint}
    found = []
    for path, errors in groups.items():
        message, hint, at_key = described[path]
        if errors[0]["type"] == "missing" and (path[:-1], f"did you mean '{path[-1]}'?") in typos:
            continue  # the misspelt key is reported, with this name as its suggestion
        layer, index = None, None
        if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int):
            index = path[1]
            layer = names[index] if names and index < len(names) else None
        found.append(source.diagnostic(path, message, hint=hint, key=at_key, layer=layer, index=index))
    return found


_KIND_WORDS = {"int_type": "an integer", "list_type": "a list", "float_type": "a number", "string_type": "a string",
               "bool_type": "true or false", "model_type": "a mapping", "dict_type": "a mapping",
               "model_attributes_type": "a mapping", "union_tag_invalid": "a mapping with a known `type`",
               "union_tag_not_found": "a mapping with a `type`"}


def _literal_words(error: dict[str, Any]) -> list[str]:
    """The allowed values of a failed Literal, from pydantic's `expected` text."""
    return str(error["ctx"]["expected"]).replace("'", "").replace(" or ", ", ").split(", ")


def _union(errors: list[dict[str, Any]]) -> tuple[str, str | None, bool]:
    """Summarise the failed branches of a union: what was given and what would do."""
    value = errors[0].get("input")
    words = [w for e in errors if e["type"] == "literal_error" for w in _literal_words(e)]
    kinds = sorted({_KIND_WORDS.get(e["type"], e["type"]) for e in errors if e["type"] != "literal_error"})
    expected = " or ".join([", ".join(repr(w) for w in words)] * bool(words) + kinds)
    hint = _suggest(value, words) if isinstance(value, str) else None
    return f"invalid value {value!r}: expected {expected}", hint, False


def layer_names_or_none(data: dict[str, Any]) -> list[str] | None:
    """Layer names from raw data, as the graph will name them (best effort before validation)."""
    layers = data.get("layers")
    if not isinstance(layers, list):
        return None
    return default_names([(_text(x, "type") or "layer", _text(x, "name")) for x in layers])


def _text(raw: Any, key: str) -> str | None:
    """raw[key] when raw is a mapping and the value a string."""
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


_LAYER: TypeAdapter[LayerBase] = TypeAdapter(Layer, config=ConfigDict(defer_build=True))


def _checked(raw: Any) -> LayerBase:
    """The validated layer, or a stand-in keeping the raw name, inputs and type."""
    try:
        return _LAYER.validate_python(raw)
    except ValidationError:
        inputs = raw.get("inputs") if isinstance(raw, dict) else None
        valid = isinstance(inputs, list) and inputs and all(isinstance(ref, str) for ref in inputs)
        return Unchecked.model_construct(type=_text(raw, "type") or "layer", name=_text(raw, "name"),
                                         inputs=inputs if valid else None)


def _partial_spec(data: dict[str, Any]) -> Spec | None:
    """The spec with stand-ins for invalid layers, to find naming, reference and shape errors in the same run."""
    shape, layers = data.get("input_shape"), data.get("layers")
    if not (isinstance(layers, list) and isinstance(shape, list) and len(shape) == 3
            and all(type(d) is int and 0 < d <= 1_000_000 for d in shape)):
        return None
    return Spec.model_construct(input_shape=shape, layers=[_checked(layer) for layer in layers])


def graph_from_document(document: LoadedDocument, budget: Budget = DEFAULT_BUDGET) -> Graph:
    """Validate parsed data and build the analysed graph, or raise SpecError with every problem."""
    with without_gc_pauses():
        return _graph_from_document(document, budget)


def _graph_from_document(document: LoadedDocument, budget: Budget) -> Graph:
    """graph_from_document's work, run while the collector is paused."""
    problems = Diagnostics(list(document.problems))
    try:
        spec = Spec.model_validate(document.data)
    except ValidationError as exc:
        for diagnostic in validation_diagnostics(exc, document.data, document.source):
            problems.add(diagnostic)
        partial = _partial_spec(document.data)
        if partial is not None:
            build_graph(partial, document.source, document.sha256, problems, budget)
        problems.raise_if_errors()
        raise
    graph = build_graph(spec, document.source, document.sha256, problems, budget)
    problems.raise_if_errors()
    return graph


def load_graph(path: str | Path, display: str | None = None, budget: Budget = DEFAULT_BUDGET,
               sets: Sequence[str] = ()) -> Graph:
    """Read a spec file, resolve it (bases, parameters, --set) and return its analysed graph, or raise SpecError."""
    return _graph_from_resolved(resolve_file(path, display, sets), budget,
                                lambda more: load_graph(path, display, budget, [*sets, *more]))


def graph_from_text(text: str, file: str = "<spec>", budget: Budget = DEFAULT_BUDGET,
                    sets: Sequence[str] = ()) -> Graph:
    """Like load_graph, from text (tests and tools)."""
    return _graph_from_resolved(resolve_text(text, file, sets), budget,
                                lambda more: graph_from_text(text, file, budget, [*sets, *more]))


def _graph_from_resolved(resolved: Resolved, budget: Budget, rebuild: Callable[[Sequence[str]], Graph]) -> Graph:
    """Validate a resolved spec; a problem with a value that came from parameters names them."""
    try:
        graph = graph_from_document(resolved.document(), budget)
    except SpecError as exc:
        raise SpecError(explain(exc.diagnostics, resolved)) from None
    graph.origin = Origin(resolved, _remembered(rebuild))
    return graph


def _remembered(rebuild: Callable[[Sequence[str]], Graph]) -> Callable[[Sequence[str]], Graph]:
    """`rebuild` validating each distinct list of extra overrides once (every target asks for the same ones when
    it decides which parameters become builder arguments)."""
    done: dict[tuple[str, ...], Graph | SpecError] = {}

    def run(more: Sequence[str]) -> Graph:
        key = tuple(more)
        if key not in done:
            try:
                done[key] = rebuild(more)
            except SpecError as exc:
                done[key] = exc
        found = done[key]
        if isinstance(found, SpecError):
            raise SpecError(found.diagnostics)
        return found

    return run
