"""Structured edits for lost intent: a step uses a number the task never gave while a number the task does
give is used by no step."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from evoflux.edits.context import EditContext, output_paths
from evoflux.edits.rebind import echoes_input
from evoflux.scoring.intent import invented_numbers, unused_task_numbers
from evoflux.workflow.diagnostics import Stage
from evoflux.workflow.graph import Node, Workflow
from evoflux.workflow.refs import RefError, path_text, resolve_path

__all__ = [
    "as_written",
    "chain_invented_number",
    "copied_from",
    "link_copied_output",
    "numeric_result",
    "replace_number",
    "use_task_number",
]

_NUMBER = re.compile(r"\{\{.*?\}\}|(?<![\w.])(?P<n>\d+(?:\.\d+)?)(?![\w.])")


def use_task_number(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Replace a number the task does not give with one of the task's numbers that no step uses."""
    unused = unused_task_numbers(workflow, ctx.task)
    if not unused:
        return None
    blamed = [d.node for d in ctx.diagnostics if d.stage == Stage.ANSWER and d.node]
    order = sorted(workflow.nodes, key=lambda n: n.id not in blamed)  # blamed steps first
    for node in order:
        invented = invented_numbers(node.args, ctx.task)
        if not invented:
            continue
        wanted = unused[0] if len(unused) == 1 else ctx.rng.choice(unused)
        args = replace_number(node.args, invented[0], as_written(wanted, ctx.task))
        work = workflow.model_copy(deep=True)
        target = work.node(node.id)
        if target is None or args == node.args:
            continue
        target.args = args
        return work
    return None


def chain_invented_number(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """In a step that takes no earlier output, replace a number the task never gave with a reference to
    the numeric result of the latest earlier step whose output nothing uses yet (`$n3.result` as a
    whole argument, `{{n3.result}}` inside text)."""
    deps = workflow.dependencies()
    used = {dep for ds in deps.values() for dep in ds}
    for index, node in enumerate(workflow.nodes):
        invented = invented_numbers(node.args, ctx.task)
        if deps.get(node.id) or not invented:
            continue
        sources = [n for n in workflow.nodes[:index] if n.id not in used]
        path = next((p for n in reversed(sources) if (p := numeric_result(n, ctx)) is not None), None)
        if path is None:
            continue
        args = _put_ref(node.args, invented[0], path)
        if args != node.args:
            work = workflow.model_copy(deep=True)
            target = work.node(node.id)
            assert target is not None
            target.args = args
            return work
    return None


def link_copied_output(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Replace, in every step, each number the task never gave that copies (as shown, perhaps rounded or
    cut) a numeric output of an earlier executed step with a reference to that output."""
    work = workflow.model_copy(deep=True)
    for index, node in enumerate(work.nodes):
        for number in invented_numbers(node.args, ctx.task):
            path = copied_from(number, workflow.nodes[:index], ctx)
            if path is not None:
                node.args = _put_ref(node.args, number, path)
    return work if work.canonical() != workflow.canonical() else None


def copied_from(number: float, earlier: list[Node], ctx: EditContext) -> str | None:
    """The reference path of the earlier step's numeric output (not an echo of its input) that `number`
    copies: equal, or equal to its written decimals (at least two, so that `3.6` is not taken for any
    value near it); the closest when several do, the latest among equals. None when none does."""
    written = repr(number)
    decimals = len(written.split(".")[1]) if "." in written and "e" not in written else 0
    best: tuple[float, str] | None = None
    for node in earlier:
        output = ctx.outputs().get(node.id)
        if output is None:
            continue
        for path in output_paths(node, ctx):
            value = _number_at(output, path)
            if value is None or echoes_input(node, path, ctx):
                continue
            gap = abs(value - number)
            close = gap == 0 or (decimals >= 2 and gap < 10.0**-decimals)
            if close and (best is None or gap <= best[0]):
                best = (gap, path_text(node.id, path))
    return best[1] if best else None


def _number_at(output: Any, path: tuple[str | int, ...]) -> float | None:
    try:
        value = resolve_path(output, tuple(path))
    except RefError:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\s*", value):
        return float(value)
    return None


def numeric_result(node: Node, ctx: EditContext) -> str | None:
    """The first field of a node's executed output that holds a number (or a numeric text) and does not
    only repeat the node's own input, as a reference path (`n1.converted_value`); None if none."""
    output = ctx.outputs().get(node.id)
    if output is None:
        return None
    for path in output_paths(node, ctx):
        if _number_at(output, path) is not None and not echoes_input(node, path, ctx):
            return path_text(node.id, path)
    return None


def _put_ref(args: dict[str, Any], number: float, path: str) -> dict[str, Any]:
    """The arguments with the first argument equal to `number` (or, failing that, the number's first
    occurrence in a text argument, outside placeholders) replaced by a reference to `path`."""
    swapped, done = _swap_first(args, number, whole=lambda _: f"${path}")
    if not done:
        swapped, done = _swap_first(args, number, text=f"{{{{{path}}}}}")
    return swapped if done else args


def as_written(number: float, task: str) -> float:
    """The number as a step should use it: a percentage of the task (`90%`, `90 percent`) as a fraction."""
    written = _text(number)
    percent = re.search(rf"(?<![\d.]){re.escape(written)}\s*(?:%|percent\b|per cent\b)", task, re.IGNORECASE)
    return number / 100 if percent else number


def replace_number(value: Any, old: float, new: float) -> Any:
    """The argument value with the first occurrence of `old` (a JSON number, or a number written in a
    text outside `{{...}}` placeholders) replaced by `new`."""

    def whole(item: int | float) -> int | float:
        return int(new) if isinstance(item, int) and new.is_integer() else new

    return _swap_first(value, old, whole=whole, text=_text(new))[0]


def _swap_first(
    value: Any, old: float, *, whole: Callable[[int | float], Any] | None = None, text: str | None = None
) -> tuple[Any, bool]:
    """`value` with the first occurrence of the number `old` replaced, and whether one was: a JSON
    number by `whole(number)`, a number written in a text (outside `{{...}}`) by `text`; a kind given no
    replacement is left alone. `{"$ref": ...}` objects are not entered."""
    done = False

    def swap(item: Any) -> Any:
        nonlocal done
        if done or isinstance(item, bool):
            return item
        if isinstance(item, int | float):
            if whole is None or float(item) != old:
                return item
            done = True
            return whole(item)
        if isinstance(item, str) and text is not None:
            replacement = text

            def sub(match: re.Match[str]) -> str:
                nonlocal done
                if done or match["n"] is None or float(match["n"]) != old:
                    return match[0]
                done = True
                return replacement

            return _NUMBER.sub(sub, item)
        if isinstance(item, dict):
            return item if set(item) == {"$ref"} else {k: swap(v) for k, v in item.items()}
        if isinstance(item, list):
            return [swap(v) for v in item]
        return item

    return swap(value), done


def _text(number: float) -> str:
    return str(int(number)) if number.is_integer() else repr(number)
