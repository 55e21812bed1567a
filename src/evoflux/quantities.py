"""A structured edit for lost intent: a step uses a number the task never gave while a number the task
does give is used by no step. Small planners do this often (`0.5` where the task says 90%, an example's
`25` copied from a prompt); the fix is to put the task's number in its place.

The edit is generic: it reads only the task text and the arguments, never a tool's name or meaning.
"""

from __future__ import annotations

import re
from typing import Any

from evoflux.diagnostics import Stage
from evoflux.edits import EditContext
from evoflux.graph import Workflow
from evoflux.intent import invented_numbers, unused_task_numbers

__all__ = ["as_written", "replace_number", "use_task_number"]

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


def as_written(number: float, task: str) -> float:
    """The number as a step should use it: a percentage of the task (`90%`, `90 percent`) as a fraction."""
    written = _text(number)
    percent = re.search(rf"(?<![\d.]){re.escape(written)}\s*(?:%|percent\b|per cent\b)", task, re.IGNORECASE)
    return number / 100 if percent else number


def replace_number(value: Any, old: float, new: float) -> Any:
    """The argument value with the first occurrence of `old` (a JSON number, or a number written in a
    text outside `{{...}}` placeholders) replaced by `new`."""
    done = False

    def swap(item: Any) -> Any:
        nonlocal done
        if done or isinstance(item, bool):
            return item
        if isinstance(item, int | float) and float(item) == old:
            done = True
            return int(new) if isinstance(item, int) and new.is_integer() else new
        if isinstance(item, str):

            def sub(match: re.Match[str]) -> str:
                nonlocal done
                if done or match["n"] is None or float(match["n"]) != old:
                    return match[0]
                done = True
                return _text(new)

            return _NUMBER.sub(sub, item)
        if isinstance(item, dict):
            return item if set(item) == {"$ref"} else {k: swap(v) for k, v in item.items()}
        if isinstance(item, list):
            return [swap(v) for v in item]
        return item

    return swap(value)


def _text(number: float) -> str:
    return str(int(number)) if number.is_integer() else repr(number)
