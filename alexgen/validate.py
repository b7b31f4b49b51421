"""From a file to a validated, analysed graph; pydantic errors become located diagnostics."""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from alexgen.diagnostics import Diagnostic, Diagnostics
from alexgen.graph import Graph, build_graph, default_names
from alexgen.loader import LoadedDocument, SourceMap, load_document, parse_text
from alexgen.spec import LAYER_MODELS, TAGGED_MODELS, Regularizer, Spec, Training

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
        hint = _suggest(str(path[-1]), allowed) or (f"allowed keys: {', '.join(allowed)}" if allowed else None)
        return f"unknown key '{path[-1]}'", hint, True
    if kind == "missing":
        return f"missing required key '{error['loc'][-1]}'", None, False
    if kind == "union_tag_invalid":
        tags = sorted(LAYER_MODELS) if "layers" in path[:1] else sorted(TAGGED_MODELS)
        given = error["ctx"]["tag"]
        hint = _suggest(given, tags) or f"known types: {', '.join(tags)}"
        return f"unknown type '{given}'", hint, False
    if kind == "union_tag_not_found":
        return "missing key 'type'", "every layer (and optimizer, schedule, initializer) needs a `type`", False
    if kind in {"int_type", "float_type"} and isinstance(value, bool):
        return f"expected a number, got the boolean {str(value).lower()}", "write a number, e.g. 96", False
    if kind == "int_type" and isinstance(value, float):
        return f"expected an integer, got {value!r}", "sizes and counts are whole numbers", False
    if kind == "literal_error" and error["loc"][-1] == "alexgen":
        return f"unsupported spec format version {value!r}", "this alexgen reads `alexgen: 1`", False
    if kind == "string_pattern_mismatch":
        return (f"{value!r} is not a valid name", "names are ASCII identifiers: a letter, then letters, digits or "
                "underscores (the spec's own name is lower snake_case)", False)
    message = error["msg"].replace("Value error, ", "")
    return f"{message} (got {value!r})" if not isinstance(value, (dict, list)) else message, None, False


def validation_diagnostics(exc: ValidationError, data: dict[str, Any], source: SourceMap) -> list[Diagnostic]:
    """One located diagnostic per data location, however many union branches failed there."""
    names = layer_names_or_none(data)
    groups: dict[tuple[str | int, ...], list[dict[str, Any]]] = {}
    for error in exc.errors():
        path = _data_path(data, error["loc"])
        if error["type"] == "extra_forbidden" and error["loc"][-1] not in path[-1:]:
            path = (*path, error["loc"][-1])
        groups.setdefault(path, []).append(error)
    found = []
    for path, errors in groups.items():
        message, hint, at_key = _describe(errors[0], data, path) if len(errors) == 1 else _union(errors)
        layer, index = None, None
        if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int):
            index = path[1]
            layer = names[index] if names and index < len(names) else None
        found.append(source.diagnostic(path, message, hint=hint, key=at_key, layer=layer, index=index))
    return found


_KIND_WORDS = {"int_type": "an integer", "list_type": "a list", "float_type": "a number", "string_type": "a string",
               "bool_type": "true or false", "model_type": "a mapping", "dict_type": "a mapping"}


def _union(errors: list[dict[str, Any]]) -> tuple[str, str | None, bool]:
    """Summarise the failed branches of a union: what was given and what would do."""
    value = errors[0].get("input")
    words = [w for e in errors if e["type"] == "literal_error" for w in e["ctx"]["expected"].replace("'", "").replace(
        " or ", ", ").split(", ")]
    kinds = sorted({_KIND_WORDS.get(e["type"], e["type"]) for e in errors if e["type"] != "literal_error"})
    expected = " or ".join([", ".join(repr(w) for w in words)] * bool(words) + kinds)
    hint = _suggest(value, words) if isinstance(value, str) else None
    return f"invalid value {value!r}: expected {expected}", hint, False


def layer_names_or_none(data: dict[str, Any]) -> list[str] | None:
    """Layer names from raw data, as the graph will name them (best effort before validation)."""
    layers = data.get("layers")
    if not isinstance(layers, list):
        return None
    pairs = [(str(x.get("type")), x.get("name") if isinstance(x.get("name"), str) else None) if isinstance(x, dict)
             else ("layer", None) for x in layers]
    return default_names(pairs)


def graph_from_document(document: LoadedDocument) -> Graph:
    """Validate parsed data and build the analysed graph, or raise SpecError with every problem."""
    problems = Diagnostics(list(document.problems))
    try:
        spec = Spec.model_validate(document.data)
    except ValidationError as exc:
        for diagnostic in validation_diagnostics(exc, document.data, document.source):
            problems.add(diagnostic)
        problems.raise_if_errors()
        raise
    graph = build_graph(spec, document.source, document.sha256, problems)
    problems.raise_if_errors()
    return graph


def load_graph(path: str | Path, display: str | None = None) -> Graph:
    """Read a spec file and return its analysed graph, or raise SpecError."""
    return graph_from_document(load_document(path, display))


def graph_from_text(text: str, file: str = "<spec>") -> Graph:
    """Like load_graph, from text (tests and tools)."""
    data, source, problems = parse_text(text, file)
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    return graph_from_document(LoadedDocument(data, source, file, sha256, problems))


