"""Typed structured edit operators over the workflow graph, and the two ways the search applies them."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from evoflux.edits.arguments import (
    add_required_arg,
    coerce_arg,
    drop_unknown_arg,
    fix_args,
    rename_arg,
    resolve_tool,
    snap_enum,
)
from evoflux.edits.context import EditContext, EditFn, blamed_nodes
from evoflux.edits.direction import move_source, retool_endpoints, swap_direction
from evoflux.edits.narrow import narrow_ref
from evoflux.edits.nested import fix_nested_args
from evoflux.edits.quantities import chain_invented_number, link_copied_output, use_task_number
from evoflux.edits.rebind import rebind_ref
from evoflux.edits.structure import (
    break_cycle,
    delete_node,
    insert_producer,
    merge_duplicates,
    reorder_nodes,
    swap_tool,
)
from evoflux.workflow.diagnostics import Diagnostic, Stage, earliest_stage
from evoflux.workflow.graph import Workflow

__all__ = [
    "ON_TARGET_WEIGHT",
    "OPERATORS_BY_NAME",
    "RULE_OPERATORS",
    "EditContext",
    "Operator",
    "applicable_operators",
    "blamed_nodes",
    "mutate",
]

ON_TARGET_WEIGHT = 3.0


@dataclass(frozen=True)
class Operator:
    """A named structured edit and the stages of failure it targets."""

    name: str
    edit: EditFn
    stages: frozenset[Stage]
    description: str = ""
    weight: float = 1.0
    """Relative chance of being drawn by `mutate` (destructive edits weigh less)."""
    probe: Callable[[Workflow, EditContext], bool] | None = None
    """A cheap applicability test used instead of a trial run (for edits that call a model)."""

    def __call__(self, workflow: Workflow, ctx: EditContext) -> Workflow | None:
        result = self.edit(workflow, ctx)
        if result is None or result.canonical() == workflow.canonical():
            return None
        return result


def _op(name: str, edit: EditFn, *stages: Stage, weight: float = 1.0) -> Operator:
    return Operator(name, edit, frozenset(stages), (edit.__doc__ or "").strip().split("\n")[0], weight)


_S = Stage
RULE_OPERATORS: tuple[Operator, ...] = (
    _op("resolve_tool", resolve_tool, _S.RESOLVE),
    _op("rename_arg", rename_arg, _S.SCHEMA),
    _op("coerce_arg", coerce_arg, _S.SCHEMA),
    _op("snap_enum", snap_enum, _S.SCHEMA),
    _op("drop_unknown_arg", drop_unknown_arg, _S.SCHEMA),
    _op("add_required_arg", add_required_arg, _S.SCHEMA),
    _op("fix_args", fix_args, _S.SCHEMA),
    _op("fix_nested_args", fix_nested_args, _S.SCHEMA),
    _op("rebind_ref", rebind_ref, _S.DEPENDENCY, _S.EXECUTE, _S.ANSWER),
    _op("narrow_ref", narrow_ref, _S.EXECUTE, _S.SCHEMA),
    _op("insert_producer", insert_producer, _S.SCHEMA, _S.EXECUTE),
    _op("use_task_number", use_task_number, _S.ANSWER),
    _op("chain_invented_number", chain_invented_number, _S.ANSWER),
    _op("link_copied_output", link_copied_output, _S.ANSWER),
    _op("swap_direction", swap_direction, _S.ANSWER),
    _op("move_source", move_source, _S.ANSWER),
    _op("retool_endpoints", retool_endpoints, _S.ANSWER),
    _op("delete_node", delete_node, _S.EXECUTE, _S.ANSWER, weight=0.5),
    _op("merge_duplicates", merge_duplicates, _S.ANSWER),
    _op("swap_tool", swap_tool, _S.EXECUTE, _S.SCHEMA),
    _op("break_cycle", break_cycle, _S.DEPENDENCY),
    _op("reorder_nodes", reorder_nodes, _S.DEPENDENCY),
)
OPERATORS_BY_NAME: dict[str, Operator] = {op.name: op for op in RULE_OPERATORS}


def _trial(ctx: EditContext) -> EditContext:
    """The context with a copy of its random state, so a trial run draws nothing from the search's."""
    rng = random.Random()
    rng.setstate(ctx.rng.getstate())
    return replace(ctx, rng=rng)


def applicable_operators(
    workflow: Workflow, ctx: EditContext, operators: Sequence[Operator] = RULE_OPERATORS
) -> list[Operator]:
    """The operators that would change this workflow (tried on a copy of the random state)."""
    return [
        op
        for op in operators
        if (op.probe(workflow, ctx) if op.probe is not None else op(workflow, _trial(ctx)) is not None)
    ]


def mutate(
    workflow: Workflow,
    ctx: EditContext,
    *,
    n_edits: int,
    operators: Sequence[Operator] = RULE_OPERATORS,
    revalidate: Callable[[Workflow], list[Diagnostic]] | None = None,
) -> tuple[Workflow, list[str]]:
    """Apply up to `n_edits` rule-based edits in a row (exploration); returns the result and the names
    of the edits made. Each edit is drawn among the applicable operators with `ctx.rng`, in proportion
    to `weight`, times `ON_TARGET_WEIGHT` for operators that target the earliest failing stage.
    `revalidate` (e.g. the static checks) refreshes the diagnostics between edits; without it, later
    edits rely on their own checks of the data."""
    current, names = workflow, []
    for _ in range(n_edits):
        ops = applicable_operators(current, ctx, operators)
        if not ops:
            break
        first = earliest_stage(list(ctx.diagnostics))
        weights = [op.weight * (ON_TARGET_WEIGHT if first in op.stages else 1.0) for op in ops]
        op = ctx.rng.choices(ops, weights=weights)[0]
        result = op(current, ctx)
        if result is None:
            continue
        current = result
        names.append(op.name)
        if revalidate is not None:
            ctx = replace(ctx, diagnostics=revalidate(current))
    return current, names
