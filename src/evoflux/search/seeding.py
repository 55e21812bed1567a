"""The stepwise seed: a workflow built one step at a time from the planner's decomposition of the task."""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from evoflux.edits.context import EditContext
from evoflux.edits.model_guided import shown_outputs, signature
from evoflux.edits.operators import mutate
from evoflux.edits.quantities import link_copied_output
from evoflux.scoring.direction import mentions
from evoflux.scoring.similarity import normalize
from evoflux.servers.argschema import enum_values, properties
from evoflux.servers.retrieval import rank_tools, spread_by_server
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.graph import Node, Workflow
from evoflux.workflow.trace import Trace

__all__ = ["STEP_TOOLS", "build_stepwise", "named_values", "step_context", "step_tools"]

STEP_TOOLS = 4
"""How many tools the model chooses among for one step."""

AsyncStepWriter = Callable[[str, Sequence[ToolSpec], str], Awaitable[Mapping[str, Any] | None]]
"""Writes one node from a context, choosing among the given tools, for the given purpose."""
Run = Callable[[Workflow], Awaitable[Trace]]
"""Validates and executes a (partial) workflow."""
Revalidate = Callable[[Workflow], list[Diagnostic]]


def step_tools(purpose: str, catalog: Mapping[str, ToolSpec], k: int = STEP_TOOLS) -> list[ToolSpec]:
    """The tools one step may use, ranked by relevance to the step's own words (not the whole task's,
    whose words are mostly about the other steps): first by how many of a tool's enum values the step
    names (`Convert 12 feet to meters` names two units a length converter accepts, none an area
    converter does), then by BM25; the best tool of each server first (`spread_by_server`), so that a
    server with one tool that computes is not crowded out by another's ten converters."""
    usable = [spec for spec in catalog.values() if not spec.unusable]
    ranked = rank_tools(purpose, usable, len(usable))
    ranked.sort(key=lambda spec: -named_values(purpose, spec))  # stable: BM25 order among equals
    return spread_by_server(ranked, k)


def named_values(text: str, spec: ToolSpec) -> int:
    """How many distinct enum values of the tool's arguments the text names (plurals and abbreviations
    of up to three letters allowed, see `endpoints.mentions`: `feet` does not abbreviate `feet per
    second`); values under three letters are too short to tell."""
    values = {
        normalize(v)
        for prop in properties(spec.input_schema).values()
        for v in enum_values(prop) or ()
        if isinstance(v, str)
    }
    return sum(len(v.replace(" ", "")) >= 3 and mentions(text, v, short_letters=3) for v in values)


def step_context(
    task: str,
    steps: Sequence[str],
    index: int,
    workflow: Workflow,
    ctx: EditContext,
    tools: Sequence[ToolSpec],
) -> str:
    """What the model sees to write step `index` (0-based): the task, the plan in words with the node
    each earlier step became, what those nodes returned, and the tools for this step."""
    made = {node.why: node.id for node in workflow.nodes}
    lines = [f"Task: {task}", "", "The task's steps:"]
    for i, step in enumerate(steps):
        mark = f" (done: {made[step]})" if step in made else " <- write this one" if i == index else ""
        lines.append(f"{i + 1}. {step}{mark}")
    if workflow.nodes:
        lines += ["", "Steps that ran (reference their outputs):"]
        for node in workflow.nodes:
            args = json.dumps(node.args, ensure_ascii=False, default=str)[:200]
            lines.append(f"- {node.id} = {node.tool}({args}); outputs: {shown_outputs(node, ctx)}")
    lines += ["", "Tools for this step:", *(f"- {signature(s, f'{steps[index]} {task}')}" for s in tools), ""]
    new_id = f"n{index + 1}"
    lines.append(
        f'Reply with ONE step {{"id": "{new_id}", "tool": ..., "args": {{...}}}} that does step {index + 1}, '
        "with numbers, names and units from the task; an earlier step's result (only steps above, "
        'never this one) as "$n1.key" for a whole value or "{{n1.key}}" inside text, or its value copied '
        "exactly as shown."
    )
    return "\n".join(lines)


async def build_stepwise(
    task: str,
    steps: Sequence[str],
    catalog: Mapping[str, ToolSpec],
    write_step: AsyncStepWriter,
    run: Run,
    rng: random.Random,
    *,
    revalidate: Revalidate | None = None,
    repair_tries: int = 3,
    stop: Callable[[], bool] = lambda: False,
) -> Workflow | None:
    """A workflow with one node per step (a step whose reply does not apply is left out), each executed
    as soon as it is written; None when no step gave a node. `stop` is asked before each model call."""
    workflow, trace = Workflow(), Trace()
    for index, purpose in enumerate(steps):
        if stop():
            break
        ctx = EditContext(catalog=catalog, rng=rng, diagnostics=trace.diagnostics, trace=trace, task=task)
        tools = step_tools(purpose, catalog)
        reply = await write_step(step_context(task, steps, index, workflow, ctx, tools), tools, purpose)
        node = _node(reply, f"n{index + 1}", purpose, workflow)
        if node is None:
            continue
        grown = workflow.model_copy(deep=True)
        grown.nodes.append(node)
        grown = link_copied_output(grown, ctx) or grown  # a result copied as a number: a reference
        workflow, trace = await _repaired(
            grown, node.id, await run(grown), ctx, run, revalidate, repair_tries
        )
    return workflow if workflow.nodes else None


def _node(reply: Mapping[str, Any] | None, node_id: str, purpose: str, workflow: Workflow) -> Node | None:
    if reply is None or workflow.node(node_id) is not None:
        return None
    try:
        return Node.model_validate({**dict(reply), "id": node_id, "why": purpose})
    except ValidationError:
        return None


def _ran(trace: Trace, node_id: str) -> bool:
    """It ran, or it is a write held back while searching (or a read waiting for one): nothing to
    repair. Repairing a staged write until "it runs" would trade it for a read."""
    run = trace.runs.get(node_id)
    return run is not None and run.status in ("ok", "staged", "waiting")


async def _repaired(
    workflow: Workflow,
    node_id: str,
    trace: Trace,
    ctx: EditContext,
    run: Run,
    revalidate: Revalidate | None,
    tries: int,
) -> tuple[Workflow, Trace]:
    """The workflow as it is when its new node ran; else the first of a few rule-based repairs (aimed at
    what the diagnostics blame) under which it runs; else as it is, for the search to repair."""
    for _ in range(tries):
        if _ran(trace, node_id):
            break
        edit_ctx = replace(ctx, diagnostics=trace.diagnostics, trace=trace if trace.runs else ctx.trace)
        child, edits = mutate(workflow, edit_ctx, n_edits=2, revalidate=revalidate)
        if not edits or child.node(node_id) is None:
            continue
        child_trace = await run(child)
        if _ran(child_trace, node_id):
            return child, child_trace
    return workflow, trace
