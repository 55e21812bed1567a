"""`rebind_ref`: point a broken reference at an output that exists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from evoflux.edits.context import ANSWER_SITE, EditContext, descendants, node_of, output_paths, pick_site
from evoflux.scoring.similarity import key_similarity, name_similarity
from evoflux.servers.argschema import properties
from evoflux.workflow.diagnostics import Stage
from evoflux.workflow.graph import Node, Workflow
from evoflux.workflow.refs import (
    ROOT_ALIASES,
    Ref,
    RefError,
    find_refs,
    path_text,
    resolve_path,
    rewrite_refs,
)

__all__ = ["REBIND_THRESHOLD", "echoes_input", "rebind_ref"]

REBIND_THRESHOLD = 0.5


def _broken(ref: Ref, workflow: Workflow, ctx: EditContext) -> bool:
    if ref.node == "?":
        return False
    node = workflow.node(ref.node)
    if node is None:
        return True
    outputs = ctx.outputs()
    if ref.node in outputs:
        try:
            resolve_path(outputs[ref.node], ref.steps)
        except RefError:
            return True
        return False
    spec = ctx.catalog.get(node.tool)
    steps = ref.steps[1:] if ref.steps[:1] and ref.steps[0] in ROOT_ALIASES else ref.steps
    keys = set(properties(spec.output_schema)) if spec is not None and spec.output_schema else set()
    return bool(keys and steps and isinstance(steps[0], str) and steps[0] not in keys)


def _rebind(ref: Ref, workflow: Workflow, allowed: Sequence[Node], ctx: EditContext) -> str | None:
    """The best path to use instead of a broken reference, or None."""
    known = workflow.node(ref.node) is not None
    last = next((s for s in reversed(ref.steps) if isinstance(s, str) and s not in ROOT_ALIASES), None)
    best: tuple[float, str] | None = None
    for cand in allowed:
        by_id = 1.0 if cand.id == ref.node else 0.0 if known else name_similarity(ref.node, cand.id)
        for path in output_paths(cand, ctx):
            keys = [s for s in path if isinstance(s, str)]
            if cand.id == ref.node and tuple(path) == ref.steps:
                continue
            if not path:
                by_key = 0.5 if last is None else 0.3
            else:
                by_key = key_similarity(last, keys[-1]) if last and keys else 0.2
            score = 0.7 * by_key + 0.3 * by_id - (0.1 if echoes_input(cand, path, ctx) else 0.0)
            if score >= REBIND_THRESHOLD and (best is None or score > best[0]):
                best = (score, path_text(cand.id, path))
    return best[1] if best else None


def echoes_input(node: Node, path: Sequence[str | int], ctx: EditContext) -> bool:
    """Whether the executed output at `path` only repeats one of the node's own arguments (an
    `original_value` next to a `converted_value`): a later step rarely wants its input back."""
    output = ctx.outputs().get(node.id)
    if output is None or not path:
        return False
    try:
        value = resolve_path(output, tuple(path))
    except RefError:
        return False
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    given = _leaves(node.args)
    return value in given or (isinstance(value, int | float) and float(value) in given)


def _leaves(value: Any) -> set[Any]:
    if isinstance(value, dict):
        return {leaf for item in value.values() for leaf in _leaves(item)}
    if isinstance(value, list):
        return {leaf for item in value for leaf in _leaves(item)}
    return {value} if isinstance(value, int | float | str) and not isinstance(value, bool) else set()


def _plan(value: Any, workflow: Workflow, allowed: Sequence[Node], ctx: EditContext) -> dict[str, str]:
    plan: dict[str, str] = {}
    for _, ref in find_refs(value):
        if str(ref) not in plan and _broken(ref, workflow, ctx):
            new = _rebind(ref, workflow, allowed, ctx)
            if new is not None:
                plan[str(ref)] = new
    return plan


def rebind_ref(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Point broken references of one node (or of the answer) at a compatible upstream output: a key
    that exists in the executed output (`n1.time` -> `n1.datetime`), or a node that exists. A key whose
    value only repeats the producer's own argument ranks a little lower."""
    plans: dict[str, dict[str, str]] = {}
    for node in workflow.nodes:
        blocked = descendants(workflow, node.id) | {node.id}
        plan = _plan(node.args, workflow, [n for n in workflow.nodes if n.id not in blocked], ctx)
        if plan:
            plans.setdefault(node.id, plan)
    ids = {n.id for n in workflow.nodes}
    uses = {u: _closest_id(u, ids) for u in workflow.answer.uses if u not in ids}
    plan = _plan(workflow.answer.template, workflow, workflow.nodes, ctx)
    if plan or uses:
        plans[ANSWER_SITE] = plan
    target = pick_site(list(plans), ctx, [Stage.DEPENDENCY, Stage.EXECUTE, Stage.ANSWER])
    if target is None:
        return None
    work = workflow.model_copy(deep=True)
    plan = plans[target]
    if target == ANSWER_SITE:
        work.answer.template = rewrite_refs(work.answer.template, lambda r: plan.get(str(r)))
        renamed = [uses.get(u, u) for u in work.answer.uses]
        work.answer.uses = list(dict.fromkeys(u for u in renamed if u is not None))
    else:
        node = node_of(work, target)
        node.args = rewrite_refs(node.args, lambda r: plan.get(str(r)))
    return work


def _closest_id(wanted: str, ids: Iterable[str]) -> str | None:
    scored = sorted(((name_similarity(wanted, i), i) for i in ids), key=lambda t: (-t[0], t[1]))
    return scored[0][1] if scored and scored[0][0] >= REBIND_THRESHOLD else None
