"""What the planner says to a model and the shapes it decodes under: prompt texts (package data,
`prompts/*.md`), the rendered tool catalog, and the JSON Schemas of a plan, of one step, and of a ReAct
step (with the chat a ReAct step sends)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from evoflux.models.lm import Message
from evoflux.planner.plans import ReactTurn
from evoflux.servers.argschema import enum_values, prop_types, properties, required
from evoflux.servers.tools import ToolSpec

__all__ = [
    "fill",
    "plan_schema",
    "prompt",
    "react_messages",
    "react_schema",
    "render_catalog",
    "step_schema",
    "typed_args",
]

MAX_NODES = 8
"""The most nodes a plan may have (the schema's `maxItems`)."""


@cache
def prompt(name: str) -> str:
    """A prompt template from the package data."""
    return resources.files("evoflux.planner").joinpath(f"prompts/{name}.md").read_text(encoding="utf-8")


_PLACEHOLDER = re.compile(r"<<([a-z_]+)>>")


def fill(name: str, **values: str) -> str:
    """The template with its `<<name>>` placeholders replaced, all in one pass (a value that itself holds
    `<<task>>`, say from a tool's output, stays as it is). The values must name exactly the template's
    placeholders: a prompt sent with a hole in it, or a value that goes nowhere, is a bug (the one-step
    prompt once went out with `<<context>>` unfilled, and the model wrote steps blind)."""
    text = prompt(name)
    wanted = set(_PLACEHOLDER.findall(text))
    if wanted != set(values):
        raise ValueError(f"prompt {name!r} has placeholders {sorted(wanted)}, given {sorted(values)}")
    return _PLACEHOLDER.sub(lambda m: values[m[1]], text)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_catalog(tools: Sequence[ToolSpec], *, desc_chars: int = 200, param_chars: int = 90) -> str:
    """The catalog as compact text: one tool per line, its parameters indented below."""
    lines = []
    for spec in tools:
        # the description is the server's text: one quoted, escaped, bounded value, never prompt lines
        lines.append(f"- {spec.name}: {json.dumps(_short(spec.description, desc_chars), ensure_ascii=False)}")
        returns = _output_fields(spec.output_schema)
        if returns:
            lines.append(f"    returns: {returns}")
        props = spec.input_schema.get("properties", {})
        required = set(spec.input_schema.get("required", []))
        if not isinstance(props, dict):
            continue
        for pname, pschema in list(props.items())[:12]:
            pschema = pschema if isinstance(pschema, dict) else {}
            kind = pschema.get("type", "any")
            if "enum" in pschema:
                kind = "one of " + ", ".join(json.dumps(v) for v in pschema["enum"][:10])
            flag = "required" if pname in required else "optional"
            desc = _short(str(pschema.get("description", "")), param_chars)
            lines.append(f"    {pname} ({kind}, {flag}){': ' + desc if desc else ''}")
    return "\n".join(lines)


def _output_fields(schema: dict[str, Any] | None) -> str:
    """The top-level fields an outputSchema promises, as `{a, b, c}`; '' when it promises none."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict) or not props:
        return ""
    return "{" + ", ".join(list(map(str, props))[:10]) + "}"


def plan_schema(tool_names: Sequence[str], max_nodes: int = MAX_NODES) -> dict[str, Any]:
    """The JSON Schema plans are decoded under: tool names constrained to the catalog."""
    node = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^n[0-9]{1,2}$"},
            # what the step does, in words, written before the tool is chosen: a small model that has
            # just written "compute 90% of n1" picks a tool that computes, not another converter
            "why": {"type": "string", "maxLength": 160},
            "tool": {"enum": list(tool_names)},
            "args": {"type": "object"},
        },
        "required": ["id", "why", "tool", "args"],
        "additionalProperties": False,
    }
    answer = {
        "type": "object",
        "properties": {
            "uses": {"type": "array", "items": {"type": "string", "pattern": "^n[0-9]{1,2}$"}, "maxItems": 8},
            "template": {"type": "string", "maxLength": 400},
        },
        "required": ["uses", "template"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "nodes": {"type": "array", "items": node, "minItems": 1, "maxItems": max_nodes},
            "answer": answer,
        },
        "required": ["nodes", "answer"],
        "additionalProperties": False,
    }


def react_schema(tool_names: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema a ReAct step is decoded under: one call of a listed tool, or the final answer."""
    call = {
        "type": "object",
        "properties": {"tool": {"enum": list(tool_names)}, "args": {"type": "object"}},
        "required": ["tool", "args"],
        "additionalProperties": False,
    }
    final = {
        "type": "object",
        "properties": {"final_answer": {"type": "string", "maxLength": 1000}},
        "required": ["final_answer"],
        "additionalProperties": False,
    }
    return {"anyOf": [call, final]}


def react_messages(task: str, tools: Sequence[ToolSpec], history: Sequence[ReactTurn]) -> list[Message]:
    """The chat of a ReAct step: the catalog (a fixed prefix), the task, then one assistant call and one
    observation per earlier step, so each step's prompt extends the previous one's (prefix-cache reuse)."""
    messages = [
        Message(role="system", content=fill("react", catalog=render_catalog(tools))),
        Message(role="user", content=f"Task: {task}"),
    ]
    for turn in history:
        call = json.dumps({"tool": turn.tool, "args": turn.args}, ensure_ascii=False, default=str)
        messages.append(Message(role="assistant", content=call))
        if turn.failed:
            text = f"Error: {turn.observation}\nFix the call or use another tool."
        else:
            text = f"Observation: {turn.observation}"
        messages.append(Message(role="user", content=text))
    return messages


REF_TEXT: dict[str, Any] = {"type": "string", "pattern": r"^\$n[0-9]{1,2}(\.[A-Za-z_][A-Za-z0-9_]*)*$"}
"""A whole-value reference to an earlier output (`$n1.field`), allowed wherever a typed argument is."""

_SCALARS = frozenset({"string", "number", "integer", "boolean", "null", "array", "object"})
MAX_TYPED_ARGS = 16


def _loose(prop: dict[str, Any]) -> dict[str, Any]:
    """What the decoder enforces of one argument: its JSON types and enum, nothing nested (a nested
    schema is the validator's to check, and a large one would only slow the grammar down)."""
    values = enum_values(prop)
    if values and all(isinstance(v, str | int | float | bool) for v in values):
        return {"enum": values[:64]}
    types = sorted(t for t in prop_types(prop) if t in _SCALARS)
    return {"type": types[0] if len(types) == 1 else types} if types else {}


def typed_args(spec: ToolSpec) -> dict[str, Any]:
    """The arguments of one tool as a decoding schema: only its own argument names, every required
    one present, each of its type (or enum) or a `$n1.field` reference."""
    props = dict(list(properties(spec.input_schema).items())[:MAX_TYPED_ARGS])
    return {
        "type": "object",
        "properties": {name: {"anyOf": [_loose(prop), REF_TEXT]} for name, prop in props.items()},
        "required": [name for name in required(spec.input_schema) if name in props],
        "additionalProperties": False,
    }


def step_schema(tools: Sequence[ToolSpec], purpose: str, *, typed: bool = True) -> dict[str, Any]:
    """One node of `plan_schema`; with a purpose, its `why` is fixed to it, so the tool and the arguments
    are chosen for that part of the task (a small model left to write its own purpose drifts off it).
    `typed`: one alternative per tool, whose arguments follow that tool's schema (`typed_args`), so a
    step cannot misname, leave out or mistype an argument, nor miss an enum."""
    node: dict[str, Any] = plan_schema([t.name for t in tools])["properties"]["nodes"]["items"]
    if purpose:
        node = {**node, "properties": {**node["properties"], "why": {"const": purpose[:160]}}}
    if not typed:
        return node
    return {
        "anyOf": [
            {**node, "properties": {**node["properties"], "tool": {"const": t.name}, "args": typed_args(t)}}
            for t in tools
        ]
    }
