"""Property-based checks of `check_arguments` against real tool input schemas (MCP-Bench's catalog snapshot,
arXiv 2508.20453): arguments generated from a schema are accepted; the same arguments mutated (a wrong
type, a required property dropped, an unknown property where none is allowed, a string of several MB,
deep nesting) are rejected with a `schema` diagnostic, quickly, and nothing raises."""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evoflux.servers.schemas import schema_problem
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.validate import Limits, check_arguments

INFO = Path("/work/shared/mcpbench/mcp_servers_info.json")
SAMPLE = 40  # tools taken from the snapshot (in a fixed order), among those the generator can handle
AT_LEAST = 30
MIB = 1024 * 1024
LIMITS = Limits()
FAST_S = 0.5  # "well under a second" of CPU time for one check (CPU time: other load does not count)

pytestmark = pytest.mark.skipif(not INFO.is_file(), reason=f"no MCP-Bench catalog snapshot at {INFO}")

# -- a small generator of valid values from a JSON Schema -------------------------------------------------

_KNOWN = {"type", "title", "description", "default", "examples", "$schema", "properties", "required"}
_KNOWN |= {"additionalProperties", "anyOf", "enum", "minimum", "maximum", "items", "minItems", "maxItems"}
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=24),
    "boolean": st.booleans(),
    "null": st.none(),
}


class Exotic(Exception):
    """A schema the generator does not handle (the tool is left out of the sample)."""


def values(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values valid under `schema`. Raises `Exotic` for anything beyond the keywords in `_KNOWN`."""
    if schema is True or schema == {}:
        return st.one_of(st.none(), st.booleans(), st.integers(-100, 100), st.text(max_size=8))
    if not isinstance(schema, dict) or depth > 6:
        raise Exotic(f"schema {schema!r:.60}")
    unknown = set(schema) - _KNOWN
    if unknown:
        raise Exotic(f"keywords {sorted(unknown)}")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([values(branch, depth + 1) for branch in schema["anyOf"]])
    kind = schema.get("type")
    if kind is None:
        if set(schema) & {"properties", "required", "items", "minimum", "maximum", "minItems", "maxItems"}:
            raise Exotic("constraints without a type")
        return values({}, depth)
    if isinstance(kind, list):
        return st.one_of([values({**schema, "type": k}, depth) for k in kind])
    if kind in _SCALARS:
        return _SCALARS[kind]
    low, high = schema.get("minimum"), schema.get("maximum")
    if kind == "integer":
        lo = math.ceil(low) if low is not None else -(10**6)
        return st.integers(lo, math.floor(high) if high is not None else lo + 2 * 10**6)
    if kind == "number":
        lo = float(low) if low is not None else -1e6
        hi = float(high) if high is not None else lo + 2e6
        return st.one_of(st.integers(math.ceil(lo), math.floor(hi)), st.floats(lo, hi, allow_nan=False))
    if kind == "array":
        items = values(schema.get("items", {}), depth + 1)
        least = int(schema.get("minItems", 0))
        return st.lists(items, min_size=least, max_size=max(least, min(int(schema.get("maxItems", 3)), 3)))
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        if not isinstance(props, dict) or not required <= set(props):
            raise Exotic("required properties that are not described")
        fixed = {k: values(v, depth + 1) for k, v in props.items() if k in required}
        optional = {k: values(v, depth + 1) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(fixed, optional=optional)
    raise Exotic(f"type {kind!r}")


# -- the sample of real tools -----------------------------------------------------------------------------


def _load() -> tuple[list[ToolSpec], list[str]]:
    """The first `SAMPLE` tools (ordered by a hash of their names) the generator handles, and the names
    of those it skipped on the way."""
    if not INFO.is_file():
        return [], []
    data = json.loads(INFO.read_text(encoding="utf-8"))
    every = [
        (server, tool["name"], tool["input_schema"])
        for server, entry in data["servers"].items()
        for tool in entry["tools"].values()
    ]
    every.sort(key=lambda item: hashlib.sha256(f"{item[0]}:{item[1]}".encode()).hexdigest())
    used: list[ToolSpec] = []
    skipped: list[str] = []
    for server, tool, schema in every:
        if len(used) == SAMPLE:
            break
        try:
            values(schema)
        except Exotic:
            skipped.append(f"{server}:{tool}")
            continue
        if schema.get("type") != "object" or schema_problem(schema) is not None:
            skipped.append(f"{server}:{tool}")
            continue
        server_id = "".join(c if c.isalnum() else "_" for c in server.lower())
        used.append(ToolSpec(name=f"{server_id}.{tool}", server=server_id, tool=tool, input_schema=schema))
    return used, skipped


TOOLS, SKIPPED = _load()
IDS = [t.name for t in TOOLS]


def test_the_sample_covers_enough_real_tools() -> None:
    assert len(TOOLS) >= AT_LEAST, f"only {len(TOOLS)} usable tools; skipped: {SKIPPED}"
    assert len({t.server for t in TOOLS}) >= 10  # from many servers, not one
    assert any(t.input_schema.get("additionalProperties") is False for t in TOOLS)
    assert sum(bool(t.input_schema.get("required")) for t in TOOLS) >= AT_LEAST // 2


def timed_check(args: dict[str, Any], tool: ToolSpec) -> list[Diagnostic]:
    started = time.process_time()
    found = check_arguments("n1", args, tool, LIMITS)
    elapsed = time.process_time() - started
    assert elapsed < FAST_S, f"check_arguments took {elapsed:.3f} s of CPU time"
    return found


@pytest.mark.parametrize("tool", TOOLS, ids=IDS)
@settings(max_examples=30)  # no wall-clock deadline: timed_check bounds the CPU time
@given(data=st.data())
def test_generated_arguments_are_accepted(tool: ToolSpec, data: st.DataObject) -> None:
    args = data.draw(values(tool.input_schema), label="args")
    assert timed_check(args, tool) == []


# -- mutations ----------------------------------------------------------------------------------------------

_SAMPLES: list[tuple[str, Any]] = [
    ("string", "not of this type"),
    ("integer", 12345),
    ("number", 1.5),
    ("boolean", True),
    ("null", None),
    ("array", [1, "two"]),
    ("object", {"k": "v"}),
]


def allowed_types(schema: Any) -> set[str] | None:
    """The JSON types a property accepts (None: any, or it cannot be told simply)."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema:
        return {_json_type(v) for v in schema["enum"]}
    if "anyOf" in schema:
        branches = [allowed_types(b) for b in schema["anyOf"]]
        if any(b is None for b in branches):
            return None
        return set().union(*[b for b in branches if b is not None])
    kind = schema.get("type")
    if kind is None:
        return None
    return set(kind) if isinstance(kind, list) else {kind}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", type(None): "null", list: "array", dict: "object"}.get(type(value), "?")


def wrong_values(schema: Any) -> list[Any]:
    """Values of a JSON type `schema` does not accept ([] when that cannot be told)."""
    allowed = allowed_types(schema)
    if allowed is None:
        return []
    return [
        value
        for kind, value in _SAMPLES
        if kind not in allowed and not (kind == "integer" and "number" in allowed)
    ]


def mutations(tool: ToolSpec) -> list[str]:
    schema = tool.input_schema
    props = schema.get("properties", {})
    kinds = ["huge_string", "deep_nesting"]
    if any(wrong_values(s) for s in props.values()):
        kinds.append("wrong_type")
    if schema.get("required"):
        kinds.append("drop_required")
    if schema.get("additionalProperties") is False:
        kinds.append("unknown_property")
    return kinds


def _nested(depth: int, leaf: Any, as_dict: bool) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"d": value} if as_dict else [value]
    return value


def _where(diagnostics: list[Diagnostic]) -> str:
    return "; ".join(f"{d.path}: {d.message}" for d in diagnostics) or "(none)"


@pytest.mark.parametrize("tool", TOOLS, ids=IDS)
@settings(max_examples=30)  # no wall-clock deadline: timed_check bounds the CPU time
@given(data=st.data())
def test_mutated_arguments_are_rejected_with_a_schema_diagnostic(tool: ToolSpec, data: st.DataObject) -> None:
    schema = tool.input_schema
    props: dict[str, Any] = schema.get("properties", {})
    args = dict(data.draw(values(schema), label="valid args"))
    kind = data.draw(st.sampled_from(mutations(tool)), label="mutation")
    names = sorted(props)
    expected: tuple[str | None, str | None]  # (path, words in the message)
    if kind == "wrong_type":
        name = data.draw(st.sampled_from([n for n in names if wrong_values(props[n])]), label="property")
        args[name] = data.draw(st.sampled_from(wrong_values(props[name])), label="wrong value")
        expected = (f"args.{name}", None)
    elif kind == "drop_required":
        name = data.draw(st.sampled_from(sorted(schema["required"])), label="required property")
        args.pop(name, None)
        expected = ("args", f"{name!r} is a required property")
    elif kind == "unknown_property":
        name = data.draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in props), label="unknown")
        args[name] = data.draw(values({}), label="its value")
        expected = ("args", repr(name))
    elif kind == "huge_string":
        name = data.draw(st.sampled_from(names or ["text"]), label="property")
        args[name] = data.draw(st.sampled_from("xé€"), label="char") * data.draw(
            st.integers(2 * MIB, 6 * MIB), label="length"
        )
        expected = (None, f"bytes (cap {LIMITS.max_arg_bytes})")
    else:
        name = data.draw(st.sampled_from(names or ["deep"]), label="property")
        depth = data.draw(st.integers(LIMITS.max_arg_depth, 3000), label="depth")
        args[name] = _nested(depth, "leaf", data.draw(st.booleans(), label="as dict"))
        expected = (None, f"nest deeper than {LIMITS.max_arg_depth}")
    found = timed_check(args, tool)
    assert found, f"{kind} was accepted: {json.dumps(args, default=str)[:300]}"
    assert all(d.stage == Stage.SCHEMA and d.node == "n1" for d in found), _where(found)
    path, words = expected
    if path is None:
        # the size and depth caps judge the arguments as a whole: their diagnostic names no path
        assert words is not None and any(words in d.message for d in found), _where(found)
    else:
        assert any(d.path == path and (words is None or words in d.message) for d in found), _where(found)
