"""Endpoint intent: a step whose source and target go the wrong way round, nowhere, or somewhere else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from evoflux.scoring.similarity import IRREGULAR_PLURALS, abbreviates, normalize
from evoflux.workflow.graph import Node, Workflow

__all__ = [
    "Kind",
    "Misdirected",
    "mentions",
    "misdirected",
    "says_direction",
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
