"""Static checks before anything is sent: resolve, schema, dependency. Pure functions of data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from graphlib import CycleError
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaViolation
from pydantic import BaseModel
from rapidfuzz import fuzz, process

from evoflux.servers.schemas import SchemaUnusable, Unresolvable, nesting_depth, validator_for
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import Workflow
from evoflux.workflow.parse import structure_diagnostics
from evoflux.workflow.refs import ROOT_ALIASES, Ref, find_refs, parse_ref, path_text, rewrite_refs

__all__ = [
    "Limits",
    "canonicalise_tools",
    "check_arguments",
    "closest_tools",
    "validate",
]


class Limits(BaseModel):
    """Caps on what a plan may contain."""

    max_nodes: int = 24
    max_arg_bytes: int = 64 * 1024
    max_arg_depth: int = 24
    max_errors_per_node: int = 8


def closest_tools(name: str, tools: Mapping[str, ToolSpec], limit: int = 3) -> list[str]:
    """The catalog tools whose names are most like `name` (qualified or bare)."""
    bare = name.split(".")[-1].split(":")[-1]
    by_bare = process.extract(bare, {q: t.tool for q, t in tools.items()}, scorer=fuzz.WRatio, limit=limit)
    by_full = process.extract(name, list(tools), scorer=fuzz.WRatio, limit=limit)
    ranked = sorted([(s, q) for _, s, q in by_bare] + [(s, q) for q, s, _ in by_full], reverse=True)
    out: list[str] = []
    for _, qualified in ranked:
        if qualified not in out:
            out.append(qualified)
    return out[:limit]


def canonicalise_tools(workflow: Workflow, tools: Mapping[str, ToolSpec]) -> Workflow:
    """Write unambiguous short names (`get_current_time`, `Time:get_current_time`) as `server.tool`, and
    drop nodes that repeat an earlier node exactly (same tool, same arguments: small models loop),
    pointing references to a dropped node at the node it repeated."""
    by_bare: dict[str, list[str]] = {}
    for qualified, spec in tools.items():
        by_bare.setdefault(spec.tool, []).append(qualified)
    nodes = []
    for node in workflow.nodes:
        bare = node.tool.replace(":", ".").split(".")[-1]
        matches = by_bare.get(bare, [])
        if node.tool not in tools and len(matches) == 1:
            node = node.model_copy(update={"tool": matches[0]})
        nodes.append(node)
    return _drop_repeats(workflow.model_copy(update={"nodes": nodes}))


def _drop_repeats(workflow: Workflow) -> Workflow:
    first: dict[str, str] = {}
    alias: dict[str, str] = {}
    for node in workflow.nodes:
        key = node.tool + "\x00" + json.dumps(node.args, sort_keys=True, default=str)
        if key in first:
            alias[node.id] = first[key]
        else:
            first[key] = node.id
    if not alias:
        return workflow
    work = workflow.model_copy(deep=True)

    def rename(ref: Ref) -> str | None:
        return path_text(alias[ref.node], ref.steps) if ref.node in alias else None

    work.nodes = [n for n in work.nodes if n.id not in alias]
    for node in work.nodes:
        node.args = rewrite_refs(node.args, rename)
    work.answer.template = rewrite_refs(work.answer.template, rename)
    work.answer.uses = list(dict.fromkeys(alias.get(u, u) for u in work.answer.uses))
    return work


def _fmt_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _hint(error: SchemaViolation, schema: dict[str, Any]) -> str:
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else ""
        spec = props.get(missing, {}) if isinstance(props, dict) else {}
        desc = spec.get("description", "") if isinstance(spec, dict) else ""
        kind = spec.get("type", "value") if isinstance(spec, dict) else "value"
        return f"add '{missing}' ({kind}){': ' + desc[:120] if desc else ''}"
    if error.validator == "enum":
        return f"use one of {json.dumps(error.validator_value)[:200]}"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        return f"allowed arguments: {', '.join(map(str, props)) or '(none)'}"
    if error.validator == "type":
        return f"give a value of type {error.validator_value}"
    return f"the argument must satisfy {error.validator}: {json.dumps(error.validator_value)[:120]}"


def check_arguments(
    node_id: str, args: dict[str, Any], spec: ToolSpec, limits: Limits, *, skip: set[str] | None = None
) -> list[Diagnostic]:
    """Schema diagnostics for one node's arguments. Argument paths in `skip` hold references."""
    # depth first: it is measured without recursion, and serialising arguments nested deeper than the
    # interpreter's recursion limit would raise
    if nesting_depth(args, limits.max_arg_depth) > limits.max_arg_depth:
        return [_schema(node_id, f"arguments nest deeper than {limits.max_arg_depth}", "flatten them")]
    size = len(json.dumps(args, default=str).encode())
    if size > limits.max_arg_bytes:
        return [_schema(node_id, f"arguments are {size} bytes (cap {limits.max_arg_bytes})", "shorten them")]
    try:
        validator = validator_for(spec.input_schema)
        errors = []
        for error in validator.iter_errors(args):
            errors.append(error)
            if len(errors) >= limits.max_errors_per_node:
                break
    except (SchemaUnusable, Unresolvable, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200]
        return [_schema(node_id, f"{spec.name} has an unusable input schema: {reason}", "use another tool")]
    out = []
    skip = skip or set()
    for error in errors:
        path = _fmt_path(error.absolute_path)
        if any(path == s or path.startswith((s + ".", s + "[")) for s in skip):
            continue
        shown = f"args.{path}" if path else "args"
        out.append(
            Diagnostic(
                stage=Stage.SCHEMA,
                node=node_id,
                path=shown,
                message=f"{spec.name}: {error.message[:300]}",
                hint=_hint(error, spec.input_schema),
            )
        )
    return out


def _schema(node: str, message: str, hint: str) -> Diagnostic:
    return Diagnostic(stage=Stage.SCHEMA, node=node, message=message, hint=hint)


def _output_field_error(ref: Ref, spec: ToolSpec | None) -> str | None:
    """Why `ref` cannot exist according to the producer's outputSchema, or None."""
    schema = spec.output_schema if spec else None
    steps = list(ref.steps)
    if (
        steps
        and steps[0] in ROOT_ALIASES
        and not (  # the aliases `resolve_path` accepts
            schema and steps[0] in schema.get("properties", {})
        )
    ):
        steps = steps[1:]
    for step in steps:
        if not isinstance(schema, dict):
            return None
        if isinstance(step, int):
            schema = schema.get("items")
            continue
        props = schema.get("properties")
        if not isinstance(props, dict) or (
            schema.get("additionalProperties", False) is not False and not props
        ):
            return None
        if step not in props:
            if schema.get("additionalProperties") not in (None, False):
                return None
            return (
                f"{spec.name if spec else 'the tool'} returns no field {step!r}; fields: {', '.join(props)}"
            )
        schema = props[step]
    return None


def _dependency_diagnostics(workflow: Workflow, tools: Mapping[str, ToolSpec]) -> list[Diagnostic]:
    ids = [n.id for n in workflow.nodes]
    out: list[Diagnostic] = []

    def check(owner: str, where: str, ref: Ref) -> None:
        if ref.node == "?":
            message, hint = f"unreadable reference {ref.text!r}", 'write references as "$n1.field"'
        elif ref.node not in ids:
            message, hint = f"reference to unknown node {ref.node!r}", f"refer to one of: {', '.join(ids)}"
        elif ref.node == owner:
            message, hint = "the node refers to its own output", "refer to an earlier node"
        else:
            producer = workflow.node(ref.node)
            error = _output_field_error(ref, tools.get(producer.tool) if producer else None)
            if error is None:
                return
            message, hint = error, "refer to a field the tool returns"
        out.append(Diagnostic(stage=Stage.DEPENDENCY, node=owner, path=where, message=message, hint=hint))

    for node in workflow.nodes:
        for where, ref in find_refs(node.args):
            check(node.id, f"args.{where}" if where else "args", ref)
    for used in workflow.answer.uses:
        check("answer", "answer.uses", parse_ref(used) if used[:1].isalpha() or used[:1] == "_" else Ref("?"))
    for _, ref in find_refs(workflow.answer.template):
        check("answer", "answer.template", ref)
    if not out:
        try:
            workflow.waves()
        except CycleError as exc:
            cycle = " -> ".join(map(str, exc.args[1])) if len(exc.args) > 1 else "?"
            out.append(
                Diagnostic(
                    stage=Stage.DEPENDENCY,
                    node=str(exc.args[1][0]) if len(exc.args) > 1 else None,
                    message=f"the references form a cycle: {cycle}",
                    hint="remove one reference so every node depends only on earlier ones",
                )
            )
    return out


def validate(
    workflow: Workflow, tools: Mapping[str, ToolSpec], limits: Limits | None = None
) -> list[Diagnostic]:
    """All static diagnostics of a workflow against a live catalog, earliest stage first."""
    limits = limits or Limits()
    out = structure_diagnostics(workflow)
    if len(workflow.nodes) > limits.max_nodes:
        out.append(
            Diagnostic(
                stage=Stage.PARSE,
                message=f"the workflow has {len(workflow.nodes)} nodes (cap {limits.max_nodes})",
                hint="use fewer steps",
            )
        )
        return out
    for node in workflow.nodes:
        spec = tools.get(node.tool)
        if spec is None:
            near = closest_tools(node.tool, tools)
            out.append(
                Diagnostic(
                    stage=Stage.RESOLVE,
                    node=node.id,
                    message=f"tool {node.tool!r} is not in the live catalog",
                    hint=f"closest tools: {', '.join(near)}" if near else "the catalog is empty",
                )
            )
        elif spec.unusable:
            out.append(
                Diagnostic(
                    stage=Stage.RESOLVE,
                    node=node.id,
                    message=f"tool {node.tool!r} is unusable: {spec.unusable}",
                    hint="use another tool: "
                    + ", ".join(n for n in closest_tools(node.tool, tools) if n != spec.name),
                )
            )
        else:
            refs = {where for where, _ in find_refs(node.args)}
            out += check_arguments(node.id, node.args, spec, limits, skip=refs)
    out += _dependency_diagnostics(workflow, tools)
    return sorted(out, key=lambda d: d.stage)
