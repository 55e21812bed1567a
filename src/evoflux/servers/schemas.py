"""JSON Schemas from untrusted servers, handled with bounds."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import regex
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

__all__ = [
    "MAX_SCHEMA_BYTES",
    "MAX_SCHEMA_DEPTH",
    "REGEX_TIMEOUT_S",
    "SchemaUnusable",
    "nesting_depth",
    "schema_problem",
    "validator_for",
]

MAX_SCHEMA_DEPTH = 64
MAX_SCHEMA_BYTES = 256 * 1024
REGEX_TIMEOUT_S = 0.05


class SchemaUnusable(Exception):
    """A schema that cannot be used to validate (it is invalid, too deep, or a pattern ran too long)."""


def _refuse_remote(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # an attrs class mypy cannot see into


_REGISTRY: Registry[Any] = Registry(retrieve=_refuse_remote)  # type: ignore[call-arg]


def _search(pattern: str, text: str) -> bool:
    try:
        return regex.search(pattern, text, timeout=REGEX_TIMEOUT_S) is not None
    except TimeoutError as e:
        raise SchemaUnusable(f"the pattern {pattern[:80]!r} took longer than {REGEX_TIMEOUT_S:g} s") from e
    except regex.error as e:
        raise SchemaUnusable(f"the pattern {pattern[:80]!r} does not compile: {e}") from e


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance[:80]!r} does not match {pattern[:80]!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


_Bounded = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _pattern, "patternProperties": _pattern_properties}
)


def nesting_depth(value: Any, limit: int) -> int:
    """How deep a JSON value nests, counted without recursion and given up once past `limit`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _patterns(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("pattern"), str):
                yield item["pattern"]
            if isinstance(item.get("patternProperties"), dict):
                yield from (k for k in item["patternProperties"] if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def schema_problem(schema: Any) -> str | None:
    """Why `schema` cannot serve as a tool's input schema, or None when it can."""
    if nesting_depth(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH:
        return f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels"
    try:
        size = len(json.dumps(schema, default=str))
    except (ValueError, RecursionError):
        return "the schema cannot be serialised"
    if size > MAX_SCHEMA_BYTES:
        return f"the schema is {size} bytes (cap {MAX_SCHEMA_BYTES})"
    for pattern in _patterns(schema):
        try:
            regex.compile(pattern)
        except regex.error as e:
            return f"the pattern {pattern[:80]!r} does not compile: {e}"
    try:
        _Bounded.check_schema(schema)
    except (SchemaError, RecursionError) as e:
        return f"the schema is invalid: {str(e).splitlines()[0][:200]}"
    return None


@functools.lru_cache(maxsize=1024)
def _cached(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    problem = schema_problem(schema)
    if problem is not None:
        raise SchemaUnusable(problem)
    return _Bounded(schema, registry=_REGISTRY)


def validator_for(schema: dict[str, Any]) -> Any:
    """A bounded Draft 2020-12 validator for `schema` (cached). Raises `SchemaUnusable`; iterating its
    errors may raise `SchemaUnusable` (a pattern ran too long) or `Unresolvable` (a `$ref` it cannot
    follow without fetching)."""
    if nesting_depth(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH:  # before anything recursive touches it
        raise SchemaUnusable(f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels")
    return _cached(json.dumps(schema, sort_keys=True, default=str))


__all__ += ["Unresolvable"]
