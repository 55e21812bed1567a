"""Direction intent: a step that goes the wrong way round, or nowhere.

Small planners often fill a `from`/`to` pair of arguments from their prior instead of the request:
asked to turn Fahrenheit into Celsius, they convert Celsius into Fahrenheit, the plan runs, and a lenient
judge accepts it. Or they give both ends the same value (kilopascal to kilopascal), a call that runs
and computes nothing. The checks read only the task text and argument names and values -- never a
tool's name or meaning. A pair of literal string arguments whose names mark a source (`from`, `source`,
`src`, `origin`, `base`) and a target (`to`, `target`, `dest`, `destination`) is

- **reversed** when the task says `<target value> to|into|in|as <source value>` and never the source
  value that way round to the target value (a task that says both, or neither, is left alone: the
  check is meant to be sure);
- **stationary** when both ends hold the same value, one without digits (a unit, a currency, a zone;
  a one-day date range `from 2025-03-01 to 2025-03-01` is a fair request and is left alone).

`misdirected` feeds the fitness discount and the feedback (`intent`); `swap_direction` and
`move_source` are the structured edits that repair them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from evoflux.diagnostics import Stage
from evoflux.edits import EditContext
from evoflux.graph import Node, Workflow
from evoflux.matching import enum_values, mention, normalize, numbers_in, properties

__all__ = ["Misdirected", "misdirected", "move_source", "says_direction", "swap_direction"]

SOURCE_WORDS = frozenset({"from", "source", "src", "origin", "base"})
TARGET_WORDS = frozenset({"to", "target", "dest", "destination"})
_CONNECTOR = r"(?:to|into|in|as)"
_FILLER = r"(?:[^\W\d]+\W+){0,2}?"  # up to two words between a value and the connector


@dataclass(frozen=True)
class Misdirected:
    """A node whose source/target arguments go the other way round from the task, or nowhere."""

    node: str
    source: str
    target: str
    kind: Literal["reversed", "stationary"]

    def message(self, args: dict[str, Any]) -> str:
        there, back = args[self.source], args[self.target]
        if self.kind == "stationary":
            return f"{self.node} goes from {there!r} to {back!r}: the call computes nothing"
        return f"{self.node} goes from {there!r} to {back!r}, but the task asks for {back!r} to {there!r}"

    def hint(self) -> str:
        if self.kind == "stationary":
            return f"set {self.source} to what the task gives for this value"
        return f"swap the values of {self.source} and {self.target}"


def says_direction(task: str, first: str, second: str) -> bool:
    """Whether the task says `first` (to|into|in|as) `second`, allowing a couple of words around the
    connector and a plural (`Fahrenheit to degrees Celsius`, `dollars into euros`)."""
    a, b = _word_pattern(first), _word_pattern(second)
    if a is None or b is None:
        return False
    pattern = rf"{a}\W+{_FILLER}{_CONNECTOR}\W+{_FILLER}{b}"
    return re.search(pattern, task, re.IGNORECASE) is not None


def _word_pattern(value: str) -> str | None:
    words = normalize(value).split()
    if not words or len("".join(words)) < 2:
        return None
    return r"\b" + r"[\s_-]+".join(re.escape(w) for w in words) + r"(?:s|es)?\b"


def misdirected(workflow: Workflow, task: str) -> list[Misdirected]:
    """The nodes whose source/target literal arguments are the other way round from the task's words,
    or the same value at both ends."""
    found: list[Misdirected] = []
    for node in workflow.nodes:
        for s, t in _pairs(node):
            src, dst = normalize(node.args[s]), normalize(node.args[t])
            if src == dst and not any(ch.isdigit() for ch in src):
                found.append(Misdirected(node.id, s, t, "stationary"))
            elif says_direction(task, dst, src) and not says_direction(task, src, dst):
                found.append(Misdirected(node.id, s, t, "reversed"))
    return found


def _pairs(node: Node) -> list[tuple[str, str]]:
    strings = [k for k, v in node.args.items() if isinstance(v, str) and v and not _is_reference(v)]
    sources = [k for k in strings if set(normalize(k).split()) & SOURCE_WORDS]
    targets = [k for k in strings if set(normalize(k).split()) & TARGET_WORDS]
    return [(s, t) for s in sources for t in targets if s != t]


def _is_reference(value: str) -> bool:
    return value.startswith("$") or "{{" in value


def _pick(found: list[Misdirected], ctx: EditContext, kind: str) -> list[Misdirected]:
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


def _number_positions(task: str, numbers: list[float]) -> list[int]:
    """Where the task writes any of these numbers."""
    out: list[int] = []
    for match in re.finditer(r"(?<![\w.])\d+(?:\.\d+)?(?![\d])", task):
        if float(match[0]) in numbers:
            out.append(match.start())
    return out
