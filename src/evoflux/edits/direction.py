"""Direction edits: swap a reversed source/target pair, give a stationary step a source the task mentions,
move a step whose ends the task never mentions to a tool whose values it does (`scoring.direction` finds
them)."""

from __future__ import annotations

import re

from evoflux.edits.context import EditContext
from evoflux.scoring.direction import Kind, Misdirected, misdirected
from evoflux.scoring.similarity import normalize
from evoflux.scoring.tasktext import mention, numbers_in, task_value
from evoflux.servers.argschema import enum_values, properties
from evoflux.workflow.diagnostics import Stage
from evoflux.workflow.graph import Workflow

__all__ = ["move_source", "retool_endpoints", "swap_direction"]


def _pick(found: list[Misdirected], ctx: EditContext, kind: Kind) -> list[Misdirected]:
    blamed = {d.node for d in ctx.diagnostics if d.stage == Stage.ANSWER and d.node}
    return sorted((m for m in found if m.kind == kind), key=lambda m: m.node not in blamed)


def swap_direction(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Swap the values of a source/target argument pair that go the other way round from the task."""
    for pick in _pick(misdirected(workflow, ctx.task), ctx, "reversed"):
        work = workflow.model_copy(deep=True)
        node = work.node(pick.node)
        if node is not None:
            args = dict(node.args)
            args[pick.source], args[pick.target] = args[pick.target], args[pick.source]
            node.args = args
            return work
    return None


def move_source(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Give a step that goes nowhere (same source and target) a source the task mentions: among the
    source argument's enum values, the one mentioned soonest after the step's number in the task (the
    unit written after `4` in `4 tablespoons`), else the first one mentioned."""
    for pick in _pick(misdirected(workflow, ctx.task), ctx, "stationary"):
        node = workflow.node(pick.node)
        spec = ctx.catalog.get(node.tool) if node is not None else None
        if node is None or spec is None:
            continue
        options = enum_values(properties(spec.input_schema).get(pick.source, {})) or []
        target = normalize(str(node.args[pick.target]))
        mentioned = [
            (at, v)
            for v in options
            if isinstance(v, str) and normalize(v) != target and (at := mention(ctx.task, v)) is not None
        ]
        if not mentioned:
            continue
        anchors = _number_positions(ctx.task, numbers_in(node.args))
        after = [(at - a, v) for at, v in mentioned for a in anchors if at > a]
        value = min(after)[1] if after else min(mentioned)[1]
        work = workflow.model_copy(deep=True)
        moved = work.node(pick.node)
        if moved is not None:
            moved.args = {**moved.args, pick.source: value}
            return work
    return None


def retool_endpoints(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Move a step whose source and target the task never mentions to the catalog tool with the same
    source/target arguments whose enums hold the most values the task mentions (a tool of the step's
    own server first on a tie), reading source and target from the task."""
    for pick in _pick(misdirected(workflow, ctx.task), ctx, "unrelated"):
        node = workflow.node(pick.node)
        if node is None:
            continue
        ranked: list[tuple[int, bool, str]] = []  # (-values the task mentions, other server, name)
        for spec in ctx.catalog.values():
            props = properties(spec.input_schema)
            if spec.unusable or spec.name == node.tool or not {pick.source, pick.target} <= set(props):
                continue
            options = {
                v
                for arg in (pick.source, pick.target)
                for v in enum_values(props[arg]) or []
                if isinstance(v, str) and mention(ctx.task, v) is not None
            }
            if len(options) >= 2:
                other_server = spec.name.split(".")[0] != node.tool.split(".")[0]
                ranked.append((-len(options), other_server, spec.name))
        if not ranked:
            continue
        spec = ctx.catalog[min(ranked)[2]]
        props = properties(spec.input_schema)
        source = task_value(ctx.task, pick.source, props[pick.source], [])
        target = task_value(ctx.task, pick.target, props[pick.target], [source])
        if source is None or target is None:
            continue
        work = workflow.model_copy(deep=True)
        moved = work.node(pick.node)
        if moved is not None:
            kept = {k: v for k, v in moved.args.items() if k in props}
            moved.tool, moved.args = spec.name, {**kept, pick.source: source, pick.target: target}
            return work
    return None


def _number_positions(task: str, numbers: list[float]) -> list[int]:
    """Where the task writes any of these numbers."""
    out: list[int] = []
    for match in re.finditer(r"(?<![\w.])\d+(?:\.\d+)?(?![\d])", task):
        if float(match[0]) in numbers:
            out.append(match.start())
    return out
