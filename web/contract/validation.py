"""A request checked against its model, and a refused one as the API's 400: the message names
the field and says what it takes, in words written from the model's own schema ("'k' must be a
whole number from 1 to 50.")."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from web.bodies import MAX_INDEX
from web.errors import ApiError

Model = TypeVar("Model", bound=BaseModel)

# Codes a validator may refuse with itself (web/contract/requests.py `refused`); its message
# then goes to the client as it is.
OWN_CODES = {"bad_request", "bad_collection"}


def validated(model: type[Model], data: object) -> Model:
    """`data` as the model, or the 400 that says what is wrong with it."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise refusal(exc, model) from exc


def refusal(exc: ValidationError, model: type[BaseModel]) -> ApiError:
    """The first thing wrong with a request, as docchat says it: 400 with code `bad_request`
    (or a validator's own code) and a message naming the field."""
    error = exc.errors(include_url=False)[0]
    kind, where = error["type"], error["loc"]
    if kind in OWN_CODES:
        return ApiError(400, kind, error["msg"])
    if not where:
        return ApiError(400, "bad_request", error["msg"])
    name = str(where[0])
    return ApiError(400, "bad_request", field_message(model, name, error))


def field_message(model: type[BaseModel], name: str, error: Any) -> str:
    schema = _field_schema(model, name)
    if error["type"] == "string_too_long" and len(error["loc"]) == 1:
        return f"'{name}' is longer than {error['ctx']['max_length']} characters."
    if error["type"] == "iso_date":
        return f"'{name}' must be {error['msg']}."
    values = _enum(schema)
    if values:
        return f"'{name}' takes {', '.join(str(v) for v in values)}."
    return f"'{name}' must be {expectation(schema)}."


@cache
def _schemas(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _field_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    schema = _schemas(model)
    return _resolved(schema, schema.get("properties", {}).get(name, {}))


def _resolved(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its `$ref` (to the model's own $defs) followed, at every level."""
    ref = schema.get("$ref")
    if ref:
        schema = {**root["$defs"][ref.rsplit("/", 1)[-1]],
                  **{k: v for k, v in schema.items() if k != "$ref"}}
    resolved = dict(schema)
    if "anyOf" in schema:
        resolved["anyOf"] = [_resolved(root, s) for s in schema["anyOf"]]
    if "items" in schema:
        resolved["items"] = _resolved(root, schema["items"])
    if "properties" in schema:
        resolved["properties"] = {k: _resolved(root, v) for k, v in schema["properties"].items()}
    return resolved


def _enum(schema: dict[str, Any]) -> list[Any]:
    """The values an enum field (or a list of them) takes; [] for any other field."""
    for part in [schema, *schema.get("anyOf", []), schema.get("items", {})]:
        if "enum" in part:
            return list(part["enum"])
        if "items" in part and part is not schema and "enum" in part["items"]:
            return list(part["items"]["enum"])
    return []


def _not_null(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]


def expectation(schema: dict[str, Any]) -> str:
    """What a value of this schema is, in words: "a whole number from 1 to 50"."""
    parts = _not_null(schema)
    if len(parts) > 1:
        return " or ".join(dict.fromkeys(expectation(p) for p in parts))
    if parts and parts[0] is not schema:  # the field's own examples, around `X | None`
        schema = {"examples": schema.get("examples"), **parts[0]}
    kind = schema.get("type")
    if kind == "integer":
        return f"a whole number {_bounds(schema)}"
    if kind == "number":
        return f"a number {_bounds(schema)}"
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        text = "a non-empty string" if _non_empty(schema) else "a string"
        if "maxLength" in schema:
            text += f" of at most {schema['maxLength']} characters"
        if schema.get("examples"):
            text += f" like {schema['examples'][0]}"
        return text
    if kind == "array":
        return f"a list of {_count(schema)} {_plural(schema.get('items', {}))}"
    if kind == "object":
        return f"an object like {_example(schema)}"
    return "a valid value"


def _non_empty(schema: dict[str, Any]) -> bool:
    return schema.get("pattern") == r"\S" or schema.get("minLength", 0) > 0


def _bounds(schema: dict[str, Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None and high < MAX_INDEX:
        return f"from {low} to {high}"
    return f"of {low} or more" if low is not None else ""


def _count(schema: dict[str, Any]) -> str:
    low, high = schema.get("minItems", 0), schema.get("maxItems")
    if high is None:
        return f"at least {low}" if low else "any number of"
    return f"{low} to {high}" if low else f"at most {high}"


def _plural(items: dict[str, Any]) -> str:
    kind = items.get("type")
    if kind == "string":
        most = items.get("maxLength")
        return f"strings (each at most {most} characters)" if most else "strings"
    if kind == "integer":
        return "whole numbers"
    if kind == "object":
        return f"objects like {_example(items)}"
    return "values"


def _example(schema: dict[str, Any]) -> str:
    """An object of this schema as a person would sketch it: {"role": "user" or ...}."""
    fields = []
    for name, field in schema.get("properties", {}).items():
        if "enum" in field:
            shown = " or ".join(json.dumps(v) for v in field["enum"])
        else:
            shown = {"integer": "0", "number": "0.5", "boolean": "true"}.get(
                field.get("type", ""), '"..."')
        fields.append(f'"{name}": {shown}')
    return "{" + ", ".join(fields) + "}"
