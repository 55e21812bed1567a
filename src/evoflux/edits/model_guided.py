"""The model-guided edits: the exploitation step of the search."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from evoflux.edits.arguments import closest_tools
from evoflux.edits.context import EditContext, blamed_nodes, descendants, fresh_id, output_paths
from evoflux.edits.operators import Operator
from evoflux.edits.rebind import echoes_input
from evoflux.scoring.direction import mentions
from evoflux.servers.argschema import enum_values, prop_types, properties, required
from evoflux.servers.retrieval import rank_tools, spread_by_server
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import NOT_COVERED, Stage
from evoflux.workflow.graph import NODE_ID, Node, Workflow
from evoflux.workflow.refs import RefError, find_refs, path_text, resolve_path

__all__ = [
    "OTHER_TOOL_THRESHOLD",
    "Rewrite",
    "StepWriter",
    "append_context",
    "append_tools",
    "missing_parts",
    "model_append",
    "model_guided",
    "node_context",
    "shown_outputs",
    "signature",
    "splice",
    "step_purpose",
]

OTHER_TOOL_THRESHOLD = 0.3
Rewrite = Callable[[str], Mapping[str, Any] | None]
"""The planner's local rewrite: node context text in, a node (or neighbourhood) as JSON out."""
StepWriter = Callable[[str, Sequence[ToolSpec], str], Mapping[str, Any] | None]
"""Writes one new step from a context, choosing among the given tools, for the given purpose."""


# -- the model-guided local edit ---------------------------------------------------------------------


def _rewrite_target(workflow: Workflow, ctx: EditContext) -> str | None:
    """A node blamed at the earliest stage; with only node-less feedback (e.g. coverage), the last node."""
    ids = {n.id for n in workflow.nodes}
    blamed = [d for d in ctx.diagnostics if d.node in ids]
    if blamed:
        first = min(d.stage for d in blamed)
        return ctx.rng.choice(blamed_nodes(d for d in blamed if d.stage == first))
    return workflow.nodes[-1].id if workflow.nodes and ctx.diagnostics else None


SHOWN_VALUES = 40
"""The most enum values of one argument a tool's prompt line lists."""


def signature(spec: ToolSpec, named: str = "") -> str:
    """A tool as one prompt line: `name(arg: type|enum, optional?: type) -- description`. An argument
    whose values repeat an earlier argument's says so (`to_unit: same as from_unit`), and a very long
    enum is cut to `SHOWN_VALUES` values, those the text `named` mentions first: a converter's units
    are hundreds of prompt tokens that each call pays for, and every step is decoded under its tool's
    schema, so no value left out of the line can be written wrongly."""
    props, needed = properties(spec.input_schema), set(required(spec.input_schema))
    args: list[str] = []
    seen: dict[tuple[str, ...], str] = {}  # an enum's values -> the first argument that takes them
    for name, prop in props.items():
        options = enum_values(prop)
        if options and tuple(map(str, options)) in seen:
            kind = f"same as {seen[tuple(map(str, options))]}"
        elif options:
            kind = _values(options, named)
            seen[tuple(map(str, options))] = name
        else:
            kind = "|".join(sorted(prop_types(prop))) or "any"
        args.append(f"{name}{'' if name in needed else '?'}: {kind}")
    return f"{spec.name}({', '.join(args)}) -- {' '.join(spec.description.split())[:200]}"


def _values(options: Sequence[Any], named: str) -> str:
    if len(options) <= SHOWN_VALUES:
        return "|".join(map(str, options))
    first = [  # values under three letters are too short to tell (`mentions` counts them as named)
        v
        for v in options
        if isinstance(v, str) and len(v.replace(" ", "")) >= 3 and mentions(named, v, short_letters=3)
    ]
    shown = list(dict.fromkeys([*first, *options]))[:SHOWN_VALUES]
    return "|".join(map(str, shown)) + f"|... {len(options) - len(shown)} more"


def node_context(workflow: Workflow, node_id: str, ctx: EditContext, *, max_tools: int = 5) -> str:
    """What the model sees to rewrite one node: task, node, blamed diagnostics, tools, neighbours."""
    node = workflow.node(node_id)
    if node is None:
        raise KeyError(node_id)
    spec = ctx.catalog.get(node.tool)
    lines = [f"Task: {ctx.task}", "", f"Node to rewrite ({node_id}):"]
    lines.append(json.dumps(node.model_dump(), ensure_ascii=False, default=str))
    problems = [d for d in ctx.diagnostics if d.node in (node_id, None)]
    lines += ["", "Problems:", *([f"- {d}" for d in problems] or ["- (none reported)"])]
    named = f"{node.why} {ctx.task}"
    lines += [
        "",
        "Its tool:",
        f"- {signature(spec, named)}" if spec else f"- {node.tool} is not in the catalog",
    ]
    others = closest_tools(node.tool, ctx.catalog, hint=node.why, arg_names=node.args, exclude=[node.tool])
    fits = [f"- {signature(s, named)}" for score, s in others[:max_tools] if score >= OTHER_TOOL_THRESHOLD]
    lines += ["", "Other tools that may fit:", *(fits or ["- (none)"])]
    lines += ["", "Outputs it may reference:"]
    downstream = descendants(workflow, node_id) | {node_id}
    upstream = [n for n in workflow.nodes if n.id not in downstream]
    for other in upstream:
        lines.append(f"- {other.id} ({other.tool}): {shown_outputs(other, ctx)}")
    users = [
        f"{n.id} at {where}" for n in workflow.nodes for where, r in find_refs(n.args) if r.node == node_id
    ]
    if node_id in workflow.answer.uses or any(
        r.node == node_id for _, r in find_refs(workflow.answer.template)
    ):
        users.append("the answer")
    lines += ["", f"Its output is used by: {', '.join(users) or 'nothing yet'}", ""]
    lines.append(
        f'Reply with one JSON object: the node {{"id": "{node_id}", "tool": ..., "args": {{...}}}}, or '
        f'{{"nodes": [...]}} to replace it with several steps (the one with id "{node_id}", else the '
        "last, replaces it; new ids are inserted before it). Reference outputs as "
        '"$<node>.<key>" for a whole value or "{{<node>.<key>}}" inside text.'
    )
    return "\n".join(lines)


def splice(
    workflow: Workflow, target: str, reply: Mapping[str, Any], *, avoid: Iterable[str] = ()
) -> Workflow | None:
    """The workflow with the model's reply spliced in place of `target` (see the module docstring).
    New nodes without an id get a fresh `n<k>` not in the workflow, the reply, nor `avoid`."""
    items: Any = reply.get("nodes")
    if not isinstance(items, list):
        single = reply.get("node", reply if "tool" in reply else None)
        items = [single] if isinstance(single, Mapping) else None
    if not items or not all(isinstance(i, Mapping) for i in items):
        return None
    drafts = [dict(i) for i in items]
    if not any(d.get("id") == target for d in drafts):
        if "id" in drafts[-1]:
            return None
        drafts[-1]["id"] = target
    taken = {n.id for n in workflow.nodes} | {str(d["id"]) for d in drafts if "id" in d} | set(avoid)
    for draft in drafts:
        if "id" not in draft:
            k = 1
            while f"n{k}" in taken:
                k += 1
            draft["id"] = f"n{k}"
            taken.add(draft["id"])
    try:
        nodes = [Node.model_validate(d) for d in drafts]
    except ValidationError:
        return None
    if len({n.id for n in nodes}) != len(nodes) or not all(NODE_ID.match(n.id) for n in nodes):
        return None
    work = workflow.model_copy(deep=True)
    position = {n.id: i for i, n in enumerate(work.nodes)}
    inserted = []
    for node in nodes:
        if node.id in position:
            work.nodes[position[node.id]] = node
        else:
            inserted.append(node)
    index = position[target]
    work.nodes[index:index] = inserted
    return work


def model_guided(rewrite: Rewrite, *, name: str = "model_rewrite", max_tools: int = 5) -> Operator:
    """The model-guided local edit: rewrite the node the diagnostics blame first, through `rewrite`."""

    def edit(workflow: Workflow, ctx: EditContext) -> Workflow | None:
        target = _rewrite_target(workflow, ctx)
        if target is None:
            return None
        reply = rewrite(node_context(workflow, target, ctx, max_tools=max_tools))
        return splice(workflow, target, reply, avoid=ctx.traced_ids()) if reply is not None else None

    def probe(workflow: Workflow, ctx: EditContext) -> bool:
        return bool(workflow.nodes) and bool(ctx.diagnostics)

    return Operator(name, edit, frozenset(Stage), "rewrite one blamed node with the model", probe=probe)


# -- the model-guided step insertion -----------------------------------------------------------------


def missing_parts(ctx: EditContext) -> list[str]:
    """What the coverage verdict says the workflow leaves unanswered (node-less ANSWER feedback)."""
    return [d.message for d in ctx.diagnostics if d.stage == Stage.ANSWER and d.node is None]


def step_purpose(ctx: EditContext) -> str:
    """What a new step is for: the last part of the task the verdict says is missing (in a chain, the
    step still to add is usually the last one; the first parts tend to be what the task is about),
    else the first intent check (a task number no step uses), in words."""
    verdict = [d.message for d in ctx.diagnostics if d.stage == Stage.ANSWER and d.node is None]
    parts = [m[len(NOT_COVERED) :].strip() for m in verdict if m.startswith(NOT_COVERED)]
    return parts[-1] if parts else verdict[0] if verdict else ""


def append_tools(workflow: Workflow, ctx: EditContext, k: int) -> list[ToolSpec]:
    """The tools a new step for a missing part may use: ranked by relevance to the task and what is
    missing, tools of servers the workflow does not use yet first (what the steps so far do has not
    covered the part, so another kind of tool is the likelier fit), and the best tool of each server
    before a second tool of any (`spread_by_server`)."""
    catalog = [s for s in ctx.catalog.values() if not s.unusable]
    ranked = rank_tools(" ".join([ctx.task, *missing_parts(ctx)]), catalog, len(catalog))
    used = {ctx.catalog[n.tool].server for n in workflow.nodes if n.tool in ctx.catalog}
    ranked.sort(key=lambda spec: spec.server in used)  # stable: relevance order within each group
    return spread_by_server(ranked, k)


def shown_outputs(node: Node, ctx: EditContext, limit: int = 8) -> str:
    """A node's output paths for a prompt: with their values once it has run (`n1.converted_value=
    37.78`), and a field that only repeats one of the node's own arguments marked as such
    (`echoes_input`), so that a small model takes the result and not its input back. An output that
    ran and is an object is shown by its fields only: offered `n1` itself, a small model writes
    `$n1 * 0.9`."""
    output = ctx.outputs().get(node.id, _UNRUN)
    paths = output_paths(node, ctx)
    if isinstance(output, dict) and len(paths) > 1:  # its fields, not the whole object, are values
        paths = [p for p in paths if p]
    shown = []
    for path in paths[:limit]:
        text = path_text(node.id, path)
        if output is not _UNRUN and path:
            try:
                value = resolve_path(output, path)
            except RefError:
                value = _UNRUN
            if value is not _UNRUN and not isinstance(value, dict | list):
                echo = " (its input)" if echoes_input(node, path, ctx) else ""
                text = f"{text}={json.dumps(value, ensure_ascii=False, default=str)[:40]}{echo}"
        shown.append(text)
    return ", ".join(shown)


_UNRUN = object()


def append_context(workflow: Workflow, ctx: EditContext, related: Sequence[ToolSpec]) -> str:
    """What the model sees to add one step: the task, the steps and their outputs, what is missing,
    and the tools it may use."""
    lines = [f"Task: {ctx.task}", "", "Steps so far (they ran; reference their outputs):"]
    for node in workflow.nodes:
        args = json.dumps(node.args, ensure_ascii=False, default=str)[:200]
        lines.append(f"- {node.id} = {node.tool}({args}); outputs: {shown_outputs(node, ctx)}")
    missing = missing_parts(ctx)
    lines += ["", "Still missing:", *(f"- {m}" for m in missing)]
    lines += ["", "Tools that may provide it:", *(f"- {signature(s, ctx.task)}" for s in related)]
    new_id = fresh_id(workflow, avoid=ctx.traced_ids())
    lines += [
        "",
        f'Reply with ONE new step {{"id": "{new_id}", "tool": ..., "args": {{...}}}} that provides what is '
        'missing, taking values from the outputs above as "$n1.key" for a whole value or "{{n1.key}}" '
        "inside text.",
    ]
    return "\n".join(lines)


def model_append(write_step: StepWriter, *, name: str = "model_append", max_tools: int = 4) -> Operator:
    """The model-guided step insertion: when the workflow runs through but the verdict says part of the
    task is unanswered, the model writes one new step for that part, choosing among the few tools
    `append_tools` picks; it is appended and the answer uses it. (A rewrite of an existing node cannot
    add what no node does.)"""

    def edit(workflow: Workflow, ctx: EditContext) -> Workflow | None:
        if not workflow.nodes or not missing_parts(ctx):
            return None
        new_id = fresh_id(workflow, avoid=ctx.traced_ids())
        tools = append_tools(workflow, ctx, max_tools)
        reply = write_step(append_context(workflow, ctx, tools), tools, step_purpose(ctx))
        if reply is None:
            return None
        try:
            node = Node.model_validate({**dict(reply), "id": new_id})
        except ValidationError:
            return None
        work = workflow.model_copy(deep=True)
        work.nodes.append(node)
        work.answer.uses = [*work.answer.uses, new_id] if work.answer.uses else []
        return work

    def probe(workflow: Workflow, ctx: EditContext) -> bool:
        return bool(workflow.nodes) and bool(missing_parts(ctx))

    return Operator(name, edit, frozenset({Stage.ANSWER}), "add one step for a missing part", probe=probe)
