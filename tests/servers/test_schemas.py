"""Hostile schemas: catastrophic patterns, absurd depth, bad patterns, remote references."""

from __future__ import annotations

import time
from typing import Any

import pytest

from evoflux.servers.schemas import MAX_SCHEMA_DEPTH, SchemaUnusable, schema_problem, validator_for
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.validate import Limits, check_arguments


def deep(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


def test_a_catastrophic_pattern_is_cut_off_and_reported() -> None:
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a|aa)+$"}}}
    spec = ToolSpec(name="h.t", server="h", tool="t", input_schema=schema)
    started = time.monotonic()
    problems = check_arguments("n1", {"s": "a" * 60 + "!"}, spec, Limits())
    assert time.monotonic() - started < 2.0
    assert (
        len(problems) == 1
        and "unusable input schema" in problems[0].message
        and "took longer" in problems[0].message
    )
    assert check_arguments("n1", {"s": "aaa"}, spec, Limits()) == []  # a benign input still validates


def test_patterns_and_pattern_properties_still_validate() -> None:
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}},
        "patternProperties": {"^n_": {"type": "number"}},
    }
    validator = validator_for(schema)
    assert not list(validator.iter_errors({"code": "EUR", "n_a": 1}))
    messages = sorted(e.message for e in validator.iter_errors({"code": "eur", "n_a": "x"}))
    assert len(messages) == 2 and any("does not match" in m for m in messages)


def test_depth_in_the_thousands_is_a_problem_not_a_recursion_error() -> None:
    assert schema_problem(deep(MAX_SCHEMA_DEPTH)) is not None  # each level is two dicts deep
    assert "deeper than" in (schema_problem(deep(3000)) or "")
    assert schema_problem(deep(5)) is None
    with pytest.raises(SchemaUnusable, match="deeper than"):
        validator_for(deep(3000))


def test_invalid_schemas_and_patterns_are_problems() -> None:
    assert "does not compile" in (schema_problem({"type": "string", "pattern": "(unclosed"}) or "")
    assert "invalid" in (schema_problem({"type": "no-such-type"}) or "")
    assert "bytes" in (schema_problem({"description": "x" * 300_000}) or "")
