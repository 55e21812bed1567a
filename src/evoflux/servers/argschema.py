"""What a tool's JSON schema says about an argument: its properties, types and enum values, and how to
convert a value so that it fits. Pure functions of JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "NO_VALUE",
    "coerce",
    "convert",
    "enum_values",
    "json_type",
    "prop_types",
    "properties",
    "required",
    "resolve_schema",
    "same_json",
    "type_fits",
]


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()
"""Returned by value finders that found nothing (None is a JSON value, so it cannot say that)."""


def same_json(a: Any, b: Any) -> bool:
    """Equality as JSON: `1` and `true`, or `3` and `3.0`, differ."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


# -- schemas -----------------------------------------------------------------------------------------


def resolve_schema(schema: Mapping[str, Any], node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return {**resolve_schema(schema, target), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def properties(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Argument name -> its schema, local `$ref`s resolved against `root` (default: the schema itself)."""
    props = schema.get("properties")
    if not isinstance(props, dict):
        return {}
    return {str(name): resolve_schema(root or schema, prop) for name, prop in props.items()}


def required(schema: Mapping[str, Any]) -> list[str]:
    names = schema.get("required")
    return [str(n) for n in names] if isinstance(names, list) else []


def _variants(prop: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    alternatives = prop.get("anyOf") or prop.get("oneOf")
    if isinstance(alternatives, list):
        return [a for a in alternatives if isinstance(a, dict)]
    return [prop]


def prop_types(prop: Mapping[str, Any]) -> set[str]:
    """The JSON types a property admits (`anyOf`/`oneOf` members and enum values included)."""
    types: set[str] = set()
    for variant in _variants(prop):
        declared = variant.get("type")
        if isinstance(declared, str):
            types.add(declared)
        elif isinstance(declared, list):
            types.update(str(t) for t in declared)
        for value in variant.get("enum") or ():
            types.add(json_type(value))
    return types


def enum_values(prop: Mapping[str, Any]) -> list[Any] | None:
    for variant in _variants(prop):
        values = variant.get("enum")
        if isinstance(values, list) and values:
            return list(values)
    return None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def type_fits(value: Any, types: set[str]) -> bool:
    """Whether a literal has one of the JSON types (an empty set admits anything)."""
    kind = json_type(value)
    return not types or kind in types or (kind == "integer" and "number" in types)


# -- values against a schema ----------------------------------------------------------------------


_INT = re.compile(r"^\s*-?\d+\s*$")
_FLOAT = re.compile(r"^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_TRUE, _FALSE = {"true", "yes", "y", "1", "on"}, {"false", "no", "n", "0", "off"}
_PREFERENCE = ("integer", "number", "boolean", "array", "object", "string")


def convert(value: Any, kind: str, prop: Mapping[str, Any]) -> Any:
    """`value` converted to JSON type `kind`, or NO_VALUE (a null converts to nothing)."""
    if value is None:
        return NO_VALUE
    if isinstance(value, list) and len(value) == 1 and kind not in ("array", "string"):
        return convert(value[0], kind, prop)
    if kind in ("integer", "number"):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.match(value):
            return int(value)
        if isinstance(value, str) and _FLOAT.match(value):
            number = float(value)
            return int(number) if number.is_integer() else number if kind == "number" else NO_VALUE
        return NO_VALUE
    if kind == "boolean":
        text = str(value).strip().lower() if isinstance(value, str | int) else ""
        return True if text in _TRUE else False if text in _FALSE else NO_VALUE
    if kind == "string":
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            return value[0]
        return json.dumps(value, ensure_ascii=False) if value is not None else NO_VALUE
    if kind == "array":
        item = coerce(value, prop.get("items") or {})
        return [value if item is NO_VALUE else item]
    if kind == "object" and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return NO_VALUE
        return parsed if isinstance(parsed, dict) else NO_VALUE
    return NO_VALUE


def coerce(value: Any, prop: Mapping[str, Any]) -> Any:
    """`value` converted to a type the property admits ("3" -> 3, 3 -> "3", "true" -> true, x -> [x]),
    items of arrays included; NO_VALUE when it already fits or nothing fits."""
    types = prop_types(prop)
    items = prop.get("items")
    if isinstance(value, list) and "array" in types and isinstance(items, dict):
        fixed = [coerce(item, items) for item in value]
        if any(item is not NO_VALUE for item in fixed):
            return [old if new is NO_VALUE else new for old, new in zip(value, fixed, strict=True)]
    if not types or type_fits(value, types):
        return NO_VALUE
    for kind in sorted(types, key=lambda t: _PREFERENCE.index(t) if t in _PREFERENCE else 99):
        converted = convert(value, kind, prop)
        if converted is not NO_VALUE:
            return converted
    return NO_VALUE
