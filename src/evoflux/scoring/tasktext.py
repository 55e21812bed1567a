"""Reading the task text: the numbers it gives, where it mentions a value, and which of its quantities and
words could fill an argument (`task_value`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz

from evoflux.scoring.similarity import normalize
from evoflux.servers.argschema import enum_values, prop_types

__all__ = [
    "mention",
    "numbers_in",
    "readings",
    "strings_in",
    "task_numbers",
    "task_texts",
    "task_value",
]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
_IANA = re.compile(r"\b(?:[A-Z][A-Za-z_]+/[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_]+)?|UTC|GMT)\b")
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b")
_EXPRESSION = re.compile(r"[-(\d][\d\s.+\-*/^%()]*[+\-*/^%][\d\s.+\-*/^%()]*[\d)]")
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'")


def _numbers(text: str) -> list[int | float]:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    found: list[int | float] = []
    for match in _NUMBER.findall(text):
        found.append(float(match) if "." in match else int(match))
    return found


def task_numbers(task: str) -> list[int | float]:
    """The quantities in the task, in order (`1,234` read as 1234)."""
    return _numbers(task)


_TASK_QUOTE = re.compile(r"(?<![\w'])'([^'\n]{2,160})'(?![\w'])|\"([^\"\n]{2,160})\"")
_FILE_NAME = re.compile(r"(?<![\w/.-])[\w-]{2,}\.[A-Za-z][A-Za-z0-9]{1,4}\b")


def task_texts(task: str) -> list[str]:
    """The texts the task gives to be used as they are, in order, each once: quoted text (`'unit price
    48.50, quantity 7'`) and file names (`order.txt`)."""
    quoted = [a or b for a, b in _TASK_QUOTE.findall(task)]
    unquoted = _TASK_QUOTE.sub(" ", task)
    return list(dict.fromkeys([*quoted, *_FILE_NAME.findall(unquoted)]))


def strings_in(value: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [s for item in items for s in strings_in(item)]


def numbers_in(value: Any) -> list[float]:
    """Every number inside a JSON value, including the ones written inside strings."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, str):
        return [float(n) for n in _numbers(value)]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [n for item in items for n in numbers_in(item)]


def mention(task: str, value: str) -> int | None:
    """Where the task mentions an enum value (exactly or nearly), or None."""
    text, wanted = task.lower(), normalize(value)
    if not wanted:
        return None
    exact = re.search(rf"\b{re.escape(wanted)}\b", text) or re.search(
        rf"\b{re.escape(value.lower())}\b", text
    )
    if exact:
        return exact.start()
    alignment = fuzz.partial_ratio_alignment(wanted, text)
    return alignment.dest_start if alignment is not None and alignment.score >= 85 else None


def task_value(task: str, name: str, prop: Mapping[str, Any], taken: Sequence[Any]) -> Any | None:
    """A value for argument `name` read from the task, when one of the property's type shows up there.

    `taken` holds values already used (by sibling arguments): they are skipped so `from_unit` and
    `to_unit` get different units. For an enum the first mention goes to a `from`/`source` argument
    and the last to a `to`/`target` one.
    """
    types = prop_types(prop)
    options = enum_values(prop)
    words = set(normalize(name).split())
    if options is not None:
        mentioned = sorted(
            (at, v)
            for v in options
            if isinstance(v, str) and v not in taken and (at := mention(task, v)) is not None
        )
        mentioned = [(at, v) for at, v in mentioned if not _inside_longer(at, v, mentioned)]
        if not mentioned:
            return None
        return mentioned[-1][1] if words & {"to", "target", "dest", "destination"} else mentioned[0][1]
    if types & {"integer", "number"}:
        numbers = [n for n in task_numbers(task) if n not in taken]
        if "number" not in types:
            numbers = [n for n in numbers if isinstance(n, int)]
        return numbers[0] if numbers else None
    if "string" not in types and types:
        return None
    return _string_from_task(task, words, prop, taken)


def _inside_longer(at: int, value: str, mentioned: Sequence[tuple[int, Any]]) -> bool:
    """Whether this mention is part of a longer value's mention (`meter` inside `kilometers`)."""
    short = normalize(value)
    return any(
        len(normalize(other)) > len(short) and short in normalize(other) and there <= at < there + len(other)
        for there, other in mentioned
    )


def _string_from_task(
    task: str, words: set[str], prop: Mapping[str, Any], taken: Sequence[Any]
) -> str | None:
    patterns: list[re.Pattern[str]] = []
    pattern = prop.get("pattern")
    if isinstance(pattern, str):
        with contextlib.suppress(re.error):
            patterns.append(re.compile(pattern.strip("^$")))
    described = f"{' '.join(words)} {prop.get('description', '')}".lower()
    if words & {"timezone", "tz", "zone"} or "timezone" in described:
        patterns.append(_IANA)
    if words & {"time", "clock"} or "hh:mm" in described:
        patterns.append(_CLOCK)
    if words & {"expression", "expr", "formula", "equation"}:
        patterns.append(_EXPRESSION)
    patterns.append(_QUOTED)
    for regex in patterns:
        for match in regex.finditer(task):
            text = next((g for g in match.groups() if g), match.group(0)).strip()
            if text and text not in taken:
                return text
    return None


def readings(number: float) -> tuple[float, float]:
    """The values a number the task gives may stand for: itself and, read as a percentage, its fraction
    (15 -> 15.0 and 0.15). The one home of the percent rule."""
    return float(number), number / 100
