"""Direction intent: a step that goes the wrong way round.

Small planners often fill a `from`/`to` pair of arguments from their prior instead of the request:
asked to turn Fahrenheit into Celsius, they convert Celsius into Fahrenheit, the plan runs, and a lenient
judge accepts it. The check reads only the task text and argument names and values -- never a tool's
name or meaning: a pair of literal string arguments whose names mark a source (`from`, `source`, `src`,
`origin`, `base`) and a target (`to`, `target`, `dest`, `destination`) is **reversed** when the task says
`<target value> to|into|in|as <source value>` and never `<source value> ... <target value>` that way.
Tasks that mention a value twice or in no such phrase are left alone: the check is meant to be sure.

`reversed_pairs` feeds the fitness discount and the feedback (`intent`); `swap_direction` is the
structured edit that repairs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from evoflux.diagnostics import Stage
from evoflux.edits import EditContext
from evoflux.graph import Workflow
from evoflux.matching import normalize

__all__ = ["Reversed", "reversed_pairs", "says_direction", "swap_direction"]

SOURCE_WORDS = frozenset({"from", "source", "src", "origin", "base"})
TARGET_WORDS = frozenset({"to", "target", "dest", "destination"})
_CONNECTOR = r"(?:to|into|in|as)"
_FILLER = r"(?:[^\W\d]+\W+){0,2}?"  # up to two words between a value and the connector


@dataclass(frozen=True)
class Reversed:
    """A node whose `source` argument holds what the task converts into, and `target` what it starts from."""

    node: str
    source: str
    target: str

    def message(self, args: dict[str, Any]) -> str:
        return (
            f"{self.node} goes from {args[self.source]!r} to {args[self.target]!r}, but the task asks "
            f"for {args[self.target]!r} to {args[self.source]!r}"
        )


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


def reversed_pairs(workflow: Workflow, task: str) -> list[Reversed]:
    """The nodes whose source/target literal arguments are the other way round from the task's words."""
    found: list[Reversed] = []
    for node in workflow.nodes:
        strings = {k: v for k, v in node.args.items() if isinstance(v, str) and not _is_reference(v)}
        sources = [k for k in strings if set(normalize(k).split()) & SOURCE_WORDS]
        targets = [k for k in strings if set(normalize(k).split()) & TARGET_WORDS]
        for s in sources:
            for t in targets:
                src, dst = strings[s], strings[t]
                if s == t or normalize(src) == normalize(dst):
                    continue
                if says_direction(task, dst, src) and not says_direction(task, src, dst):
                    found.append(Reversed(node.id, s, t))
    return found


def _is_reference(value: str) -> bool:
    return value.startswith("$") or "{{" in value


def swap_direction(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Swap the values of a source/target argument pair that go the other way round from the task."""
    found = reversed_pairs(workflow, ctx.task)
    if not found:
        return None
    blamed = {d.node for d in ctx.diagnostics if d.stage == Stage.ANSWER and d.node}
    pick = next((r for r in found if r.node in blamed), found[0])
    work = workflow.model_copy(deep=True)
    node = work.node(pick.node)
    if node is None:
        return None
    args = dict(node.args)
    args[pick.source], args[pick.target] = args[pick.target], args[pick.source]
    node.args = args
    return work
