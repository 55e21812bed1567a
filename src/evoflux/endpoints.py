"""Endpoint intent: a step whose source and target go the wrong way round, nowhere, or somewhere else.

Small planners often fill a `from`/`to` pair of arguments from their prior instead of the request:
asked to turn Fahrenheit into Celsius, they convert Celsius into Fahrenheit; they give both ends the
same value (kilopascal to kilopascal), a call that runs and computes nothing; or they pick the wrong
tool of a family and fill it with its own values (a temperature conversion for a distance). Each call
runs and a lenient judge may accept it. The checks read only the task text and the argument names and
values -- never a tool's name or meaning. A pair of literal string arguments whose names mark a source
(`from`, `source`, `src`, `origin`, `base`) and a target (`to`, `target`, `dest`, `destination`) is

- **reversed** when the task says `<target value> to|into|in|as <source value>` and never the source
  value that way round to the target value (a task that says both, or neither, is left alone: the
  check is meant to be sure);
- **stationary** when both ends hold the same value, one without digits (a unit, a currency, a zone;
  a one-day date range `from 2025-03-01 to 2025-03-01` is a fair request and is left alone);
- **unrelated** when the task mentions neither end: not as written (a plural allowed; a path-like
  value by its last segment, `London` for `Europe/London`), nor by a short word of the task that
  abbreviates it (`km`, `F`, `mph`).

`misdirected` feeds the fitness discount and the feedback (`intent`); `swap_direction`, `move_source`
and `retool_endpoints` are the structured edits that repair them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from evoflux.diagnostics import Stage
from evoflux.edits import EditContext
from evoflux.graph import Node, Workflow
from evoflux.matching import IRREGULAR_PLURALS, abbreviates, enum_values, normalize, properties
from evoflux.tasktext import mention, numbers_in, task_value

__all__ = [
    "Misdirected",
    "mentions",
    "misdirected",
    "move_source",
    "retool_endpoints",
    "says_direction",
    "swap_direction",
]

SOURCE_WORDS = frozenset({"from", "source", "src", "origin", "base"})
TARGET_WORDS = frozenset({"to", "target", "dest", "destination"})
_CONNECTOR = r"(?:to|into|in|as)"
_FILLER = r"(?:[^\W\d]+\W+){0,2}?"  # up to two words between a value and the connector
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "per",
        "the",
        "then",
        "to",
    ]
)
Kind = Literal["reversed", "stationary", "unrelated"]


@dataclass(frozen=True)
class Misdirected:
    """A node whose source/target arguments go the other way round from the task, nowhere, or to
    values the task never mentions."""

    node: str
    source: str
    target: str
    kind: Kind

    def message(self, args: dict[str, Any]) -> str:
        there, back = args[self.source], args[self.target]
        if self.kind == "stationary":
            return f"{self.node} goes from {there!r} to {back!r}: the call computes nothing"
        if self.kind == "unrelated":
            return f"{self.node} goes from {there!r} to {back!r}, neither of which the task mentions"
        return f"{self.node} goes from {there!r} to {back!r}, but the task asks for {back!r} to {there!r}"

    def hint(self) -> str:
        if self.kind == "stationary":
            return f"set {self.source} to what the task gives for this value"
        if self.kind == "unrelated":
            return "use the tool whose values are the ones the task talks about"
        return f"swap the values of {self.source} and {self.target}"


def says_direction(task: str, first: str, second: str) -> bool:
    """Whether the task says `first` (to|into|in|as) `second`, allowing a couple of words around the
    connector and a plural (`Fahrenheit to degrees Celsius`, `dollars into euros`)."""
    a, b = _word_pattern(first), _word_pattern(second)
    if a is None or b is None:
        return False
    pattern = rf"{a}\W+{_FILLER}{_CONNECTOR}\W+{_FILLER}{b}"
    return re.search(pattern, task, re.IGNORECASE) is not None


def mentions(task: str, value: str, *, short_letters: int = 4) -> bool:
    """Whether the task names `value`: as written (a plural allowed), a path-like value by its last
    segment (`London` for `Europe/London`), or by a short word of the task (at most `short_letters`
    letters) abbreviating it (`km`)."""
    for form in dict.fromkeys([value, value.rsplit("/", 1)[-1]]):
        pattern = _word_pattern(form)
        if pattern is None or re.search(pattern, task, re.IGNORECASE):
            return True  # a value too short to judge counts as mentioned: the check stays sure
    joined = normalize(value).replace(" ", "")
    short = {w for w in re.findall(r"[a-z]+", task.lower()) if len(w) <= short_letters} - _FUNCTION_WORDS
    return any(w == joined or abbreviates(w, joined) for w in short)


def _word_pattern(value: str) -> str | None:
    """A pattern for the words of `value` in a text, each also in its plural (`-s`, `-es`, `-y` as
    `-ies`, and the irregular ones of units and people: `foot` as `feet`, `degrees celsius`)."""
    words = normalize(value).split()
    if not words or len("".join(words)) < 2:
        return None
    return r"\b" + r"[\s_-]+".join(_plural_forms(w) for w in words) + r"\b"


def _plural_forms(word: str) -> str:
    forms = [re.escape(word) + "(?:s|es)?"]
    if word.endswith("y") and len(word) > 2:
        forms.append(re.escape(word[:-1]) + "ies")
    if word in IRREGULAR_PLURALS:
        forms.append(IRREGULAR_PLURALS[word])
    return "(?:" + "|".join(forms) + ")"


def misdirected(workflow: Workflow, task: str) -> list[Misdirected]:
    """The nodes whose source/target literal arguments are the other way round from the task's words,
    the same value at both ends, or two values the task never mentions."""
    found: list[Misdirected] = []
    for node in workflow.nodes:
        for s, t in _pairs(node):
            src, dst = normalize(node.args[s]), normalize(node.args[t])
            if src == dst and not any(ch.isdigit() for ch in src):
                found.append(Misdirected(node.id, s, t, "stationary"))
            elif says_direction(task, dst, src) and not says_direction(task, src, dst):
                found.append(Misdirected(node.id, s, t, "reversed"))
            elif task and not mentions(task, node.args[s]) and not mentions(task, node.args[t]):
                found.append(Misdirected(node.id, s, t, "unrelated"))
    return found


def _pairs(node: Node) -> list[tuple[str, str]]:
    strings = [k for k, v in node.args.items() if isinstance(v, str) and v and not _is_reference(v)]
    sources = [k for k in strings if set(normalize(k).split()) & SOURCE_WORDS]
    targets = [k for k in strings if set(normalize(k).split()) & TARGET_WORDS]
    return [(s, t) for s in sources for t in targets if s != t]


def _is_reference(value: str) -> bool:
    return value.startswith("$") or "{{" in value


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
