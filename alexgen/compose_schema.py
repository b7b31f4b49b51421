"""The composition keys in the JSON Schema: params, `${...}` values, extends and its edits, repeat blocks."""

from __future__ import annotations

import copy
from typing import Any

PLACEHOLDER = {
    "type": "string",
    "pattern": r"\$\{[^{}]*\}|\{i\}",
    "description": "a ${...} parameter expression, or a name with {i} in a repeat block",
}
SCALARS = ("integer", "number", "boolean")
_LAYER_REF = {"$ref": "#/$defs/Layer"}


def _with_placeholders(node: Any) -> Any:
    """Every number, boolean or constrained string may also be written as a `${...}` expression."""
    if isinstance(node, list):
        return [_with_placeholders(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {
        key: _properties(value) if key == "properties" else _with_placeholders(value) for key, value in node.items()
    }
    constrained = result.get("type") in SCALARS or "enum" in result or "pattern" in result
    if constrained:
        return {"anyOf": [result, {"$ref": "#/$defs/Placeholder"}]}
    return result


def _properties(properties: dict[str, Any]) -> dict[str, Any]:
    # a layer's or initializer's `type` selects its model: it stays a literal
    return {
        key: value if key in {"type", "alexgen"} else _with_placeholders(value) for key, value in properties.items()
    }


def _edit_defs(layer: dict[str, Any]) -> dict[str, Any]:
    layers = {"anyOf": [_LAYER_REF, {"type": "array", "items": _LAYER_REF, "minItems": 1}]}
    names = {"type": "object", "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$"}}
    return {
        "Layer": layer,
        "Placeholder": PLACEHOLDER,
        "RepeatBlock": {
            "type": "object",
            "additionalProperties": False,
            "required": ["repeat", "layers"],
            "description": "`layers` repeated `repeat` times; `{i}` in their strings counts from 1",
            "properties": {
                "repeat": {
                    "anyOf": [{"type": "integer", "minimum": 1, "maximum": 1000}, {"$ref": "#/$defs/Placeholder"}]
                },
                "layers": {"type": "array", "items": _LAYER_REF, "minItems": 1},
            },
        },
        "Params": {
            **names,
            "description": "parameters with their defaults, used as ${name} in values",
            "additionalProperties": {"type": ["integer", "number", "boolean", "string"]},
        },
        "Replace": {
            **names,
            "description": "layer name: its replacement (one layer or a list)",
            "additionalProperties": layers,
        },
        "Update": {**names, "description": "layer name: keys to set on it", "additionalProperties": {"type": "object"}},
        "Insert": {
            **names,
            "description": "layer name: the layer(s) to insert beside it",
            "additionalProperties": {
                "anyOf": [
                    _LAYER_REF,
                    {"type": "array", "minItems": 1, "items": {"anyOf": [_LAYER_REF, {"$ref": "#/$defs/RepeatBlock"}]}},
                ]
            },
        },
    }


def compose_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The spec schema extended with the composition language (a file may extend a base and edit it)."""
    schema = _with_placeholders(copy.deepcopy(schema))
    properties = schema["properties"]
    layer = properties["layers"]["items"]
    properties["layers"]["items"] = {"anyOf": [_LAYER_REF, {"$ref": "#/$defs/RepeatBlock"}]}
    schema["$defs"].update(_edit_defs(layer))
    properties.update(
        {
            "params": {"$ref": "#/$defs/Params"},
            "extends": {
                "type": "string",
                "pattern": r"^[^/\\~].*\.(yaml|yml|json)$",
                "description": "a base spec, relative to this file; this file's keys and edits apply over it",
            },
            "replace": {"$ref": "#/$defs/Replace"},
            "update": {"$ref": "#/$defs/Update"},
            "remove": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "insert_before": {"$ref": "#/$defs/Insert"},
            "insert_after": {"$ref": "#/$defs/Insert"},
        }
    )
    required = schema.pop("required")
    schema["required"] = ["alexgen"]
    schema["anyOf"] = [{"required": ["extends"]}, {"required": [key for key in required if key != "alexgen"]}]
    return schema
