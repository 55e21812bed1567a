"""`narrow_ref`: point a reference at the one field of an executed output that the consumer needs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from evoflux.edits.context import EditContext, node_of, pick_site
from evoflux.scoring.similarity import key_similarity, words
from evoflux.servers.argschema import prop_types, properties, same_json
from evoflux.workflow.diagnostics import Stage
from evoflux.workflow.graph import Workflow
from evoflux.workflow.refs import Ref, RefError, find_refs, path_text, resolve_path, rewrite_refs

__all__ = ["narrow_ref"]

_RESULT_WORDS = {"value", "result", "results", "converted", "output", "answer", "total", "sum", "amount"}
_ARITHMETIC = re.compile(r"[-+*/%^]\s*\{\{|\}\}\s*[-+*/%^]")
_MIN_SCORE = 0.35


def _leaves(
    value: Any, steps: tuple[str | int, ...] = (), depth: int = 2
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Scalar fields of a JSON value, with their paths, down to `depth` levels (first list item only)."""
    if isinstance(value, dict):
        if depth == 0:
            return
        for key, item in list(value.items())[:50]:
            yield from _leaves(item, (*steps, str(key)), depth - 1)
    elif isinstance(value, list):
        if value and depth > 0:
            yield from _leaves(value[0], (*steps, 0), depth - 1)
    elif isinstance(value, str | int | float | bool) and value is not None:
        yield steps, value


def _wants_number(param_schema: dict[str, Any] | None, text: str) -> bool:
    kinds = prop_types(param_schema or {})
    return bool(kinds & {"number", "integer"}) or bool(_ARITHMETIC.search(text))


def _score(
    path: tuple[str | int, ...],
    value: Any,
    hints: list[str],
    numeric: bool,
    task_words: set[str],
    echoes: list[Any],
) -> float:
    keys = [s for s in path if isinstance(s, str)]
    key = keys[-1] if keys else ""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    fit = 1.0 if is_number == numeric else 0.0
    by_name = max((key_similarity(h, key) for h in hints if h), default=0.0)
    key_words = words(key)
    result_like = 1.0 if key_words & _RESULT_WORDS else 0.0
    in_task = 1.0 if key_words & task_words else 0.0
    echo = 1.0 if any(_same_value(value, e) for e in echoes) else 0.0
    return 0.45 * fit + 0.3 * by_name + 0.15 * result_like + 0.1 * in_task - 0.3 * echo


def _same_value(a: Any, b: Any) -> bool:
    """Equal as values: numbers by value (100 == 100.0), the rest as JSON, case-insensitively for text."""
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool | str):
        return not isinstance(b, bool) and float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return same_json(a, b)


def _needs_narrowing(ref: Ref, outputs: dict[str, Any], echoes: list[Any]) -> Any | None:
    """The producer's output when `ref` points at a whole object/list, at a key it lacks, or at a field
    that only echoes one of the producer's own arguments (the literal would do; the result is elsewhere),
    else None."""
    if ref.node not in outputs:
        return None
    output = outputs[ref.node]
    try:
        target = resolve_path(output, ref.steps)
    except RefError:
        return output
    if isinstance(target, dict | list):
        return output
    return output if ref.steps and any(_same_value(target, e) for e in echoes) else None


def narrow_ref(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Point a reference to a whole executed output (or to a key it lacks) at its best scalar field."""
    outputs = ctx.outputs()
    if not outputs:
        return None
    task_words = words(ctx.task)
    plans: dict[str, dict[str, str]] = {}
    for node in workflow.nodes:
        spec = ctx.catalog.get(node.tool)
        params = properties(spec.input_schema) if spec is not None else {}
        plan: dict[str, str] = {}
        for where, ref in find_refs(node.args):
            producer = workflow.node(ref.node)
            echoes = [v for _, v in _leaves(producer.args, depth=3)] if producer is not None else []
            output = _needs_narrowing(ref, outputs, echoes)
            if output is None or str(ref) in plan:
                continue
            param = where.split(".")[0].split("[")[0]
            text = str(node.args.get(param, ""))
            numeric = _wants_number(params.get(param), text)
            broken = [s for s in ref.steps if isinstance(s, str)]
            hints = [param, *broken[-1:]]
            scored = [(_score(p, v, hints, numeric, task_words, echoes), p) for p, v in _leaves(output)]
            if scored:
                score, path = max(scored, key=lambda item: (item[0], -len(item[1])))
                if score >= _MIN_SCORE:
                    plan[str(ref)] = path_text(ref.node, path)
        if plan:
            plans[node.id] = plan
    target = pick_site(list(plans), ctx, [Stage.EXECUTE, Stage.SCHEMA])
    if target is None:
        return None
    work = workflow.model_copy(deep=True)
    chosen = plans[target]
    node = node_of(work, target)
    node.args = rewrite_refs(node.args, lambda r: chosen.get(str(r)))
    return work
