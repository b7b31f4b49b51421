"""The JSON Schema of the spec language, generated from the pydantic models."""

from __future__ import annotations

import json

from alexgen.compose_schema import compose_schema
from alexgen.spec import Spec

SCHEMA_ID = "https://alexgen.invalid/schema/alexgen-1.schema.json"


def schema_dict() -> dict[str, object]:
    """JSON Schema (draft 2020-12) for spec files, as they are written (by alias, with params and extends)."""
    schema = compose_schema(Spec.model_json_schema(by_alias=True, mode="validation"))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_json() -> str:
    """Stable, indented JSON text of the schema."""
    return json.dumps(schema_dict(), indent=2, sort_keys=True) + "\n"
