"""References between nodes, the one syntax: `{"$ref": "n1.a[0]"}`, `"$n1.a"` and `"... {{n1.a}} ..."`;
parsing, finding, resolving, substituting and rewriting them (docs/architecture.md has the grammar)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ROOT_ALIASES",
    "Ref",
    "RefError",
    "as_ref",
    "cut_refs",
    "find_refs",
    "inline_refs",
    "interpolate",
    "is_ref_value",
    "parse_ref",
    "path_text",
    "resolve_path",
    "rewrite_refs",
    "substitute",
    "template_refs",
]

_REF_STRING = re.compile(r"^\$(?P<path>[A-Za-z_][A-Za-z0-9_\-]*(?:\.[^\s]+|\[[^\s]+)?)$")


_INTERP = re.compile(r"\{\{\s*\$?(?P<path>[A-Za-z_][A-Za-z0-9_\-]*(?:[.\[][^{}]*?)?)\s*\}\}")


_STEP = re.compile(r"\.(?P<key>[^.\[\]]+)|\[(?P<idx>-?\d+)\]|\[\"(?P<qkey>[^\"]*)\"\]|\['(?P<skey>[^']*)'\]")


ROOT_ALIASES = ("result", "output", "outputs", "results")


_INLINE_DOLLAR = re.compile(r"\{\{.*?\}\}|(?<![\w$])\$(?P<path>n\d{1,3}(?:\.[A-Za-z_]\w*|\[\d+\])*)")


def _placeholder(match: re.Match[str]) -> str:
    return f"{{{{{match['path']}}}}}" if match["path"] else match[0]  # `{{...}}` stays as written


def inline_refs(value: Any) -> Any:
    """`$n1.x` written inside a longer text, read as `{{n1.x}}`; whole-string references stay as they are."""
    if isinstance(value, str):
        return value if _REF_STRING.match(value.strip()) else _INLINE_DOLLAR.sub(_placeholder, value)
    if isinstance(value, dict):
        return value if set(value) == {"$ref"} else {k: inline_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [inline_refs(v) for v in value]
    return value


@dataclass(frozen=True)
class Ref:
    """A parsed reference: a node id and the steps into its output."""

    node: str
    steps: tuple[str | int, ...] = ()
    text: str = ""

    def __str__(self) -> str:
        return self.text or self.node


class RefError(ValueError):
    """A reference that does not parse or does not resolve."""


def parse_ref(path: str) -> Ref:
    """Parse `n1.a[0].b` into a Ref. Raises RefError."""
    path = path.strip().lstrip("$")
    match = re.match(r"[A-Za-z_][A-Za-z0-9_\-]*", path)
    if not match:
        raise RefError(f"reference {path!r} does not start with a node id")
    steps: list[str | int] = []
    pos = match.end()
    while pos < len(path):
        step = _STEP.match(path, pos)
        if not step:
            raise RefError(f"reference {path!r} has an unreadable step at {path[pos:]!r}")
        if step.group("idx") is not None:
            steps.append(int(step.group("idx")))
        else:
            steps.append(step.group("key") or step.group("qkey") or step.group("skey") or "")
        pos = step.end()
    return Ref(match.group(0), tuple(steps), path)


def as_ref(value: Any) -> Ref | None:
    """The reference a whole argument value stands for, if it is one (object or `$` string form)."""
    if isinstance(value, dict) and set(value) == {"$ref"} and isinstance(value["$ref"], str):
        return parse_ref(value["$ref"])
    if isinstance(value, str):
        match = _REF_STRING.match(value.strip())
        if match:
            return parse_ref(match.group("path"))
    return None


def template_refs(text: str) -> Iterator[Ref]:
    """The references of the `{{...}}` placeholders in a text (unreadable ones skipped)."""
    for match in _INTERP.finditer(text):
        try:
            yield parse_ref(match.group("path"))
        except RefError:
            continue


def find_refs(value: Any, where: str = "") -> Iterator[tuple[str, Ref]]:
    """Every reference inside an argument value, with the argument path where it sits.

    A reference that does not parse is reported as a Ref to the node id `?` so validation can flag it.
    """
    try:
        ref = as_ref(value)
    except RefError:
        yield where, Ref("?", (), str(value))
        return
    if ref is not None:
        yield where, ref
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from find_refs(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from find_refs(item, f"{where}[{i}]")
    elif isinstance(value, str):
        for ref in template_refs(value):
            yield where, ref


def resolve_path(value: Any, steps: tuple[str | int, ...]) -> Any:
    """Follow steps into a value. Raises RefError with the keys that do exist."""
    current = value
    for i, step in enumerate(steps):
        if isinstance(current, str) and current[:1] in "[{":
            with contextlib.suppress(ValueError):
                current = json.loads(current)
        if i == 0 and step in ROOT_ALIASES and not (isinstance(current, dict) and step in current):
            continue
        if isinstance(step, int):
            if isinstance(current, list) and -len(current) <= step < len(current):
                current = current[step]
                continue
            size = len(current) if isinstance(current, list) else "not a list"
            raise RefError(f"index [{step}] is out of range (length: {size})")
        if isinstance(current, dict):
            if step in current:
                current = current[step]
                continue
            keys = ", ".join(list(map(str, current))[:12])
            raise RefError(f"key {step!r} not found; available keys: {keys or '(none)'}")
        if isinstance(current, list) and current and isinstance(current[0], dict) and step in current[0]:
            current = current[0][step]
            continue
        raise RefError(f"cannot take {step!r} of a {type(current).__name__}")
    return current


def _lookup(ref: Ref, outputs: dict[str, Any]) -> Any:
    if ref.node not in outputs:
        raise RefError(f"node {ref.node!r} has no output")
    return resolve_path(outputs[ref.node], ref.steps)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def interpolate(text: str, outputs: dict[str, Any]) -> str:
    """Replace `{{n1.path}}` placeholders with the values they reference. Raises RefError."""

    def replace(match: re.Match[str]) -> str:
        return _as_text(_lookup(parse_ref(match.group("path")), outputs))

    return _INTERP.sub(replace, text)


def substitute(value: Any, outputs: dict[str, Any]) -> Any:
    """An argument value with every reference replaced by what it points to. Raises RefError."""
    ref = as_ref(value)
    if ref is not None:
        return _lookup(ref, outputs)
    if isinstance(value, dict):
        return {k: substitute(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, outputs) for v in value]
    if isinstance(value, str) and "{{" in value:
        return interpolate(value, outputs)
    return value


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def path_text(node: str, steps: Sequence[str | int]) -> str:
    """The reference text for a node id and steps: `n1.items[0]["odd key"]`."""
    parts = [node]
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(f".{step}" if _IDENT.match(step) else f'["{step}"]')
    return "".join(parts)


def rewrite_refs(value: Any, rebind: Callable[[Ref], str | None]) -> Any:
    """A copy of `value` whose references `rebind` maps to new path text (None keeps one as it is)."""
    ref = _whole_ref(value)
    if ref is not None:
        new = rebind(ref)
        if new is None:
            return value
        return {"$ref": new} if isinstance(value, dict) else f"${new}"
    if isinstance(value, dict):
        return {k: rewrite_refs(v, rebind) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_refs(v, rebind) for v in value]
    if isinstance(value, str) and "{{" in value:

        def replace(match: re.Match[str]) -> str:
            try:
                new = rebind(parse_ref(match.group("path")))
            except RefError:
                return match.group(0)
            return match.group(0) if new is None else "{{" + new + "}}"

        return _INTERP.sub(replace, value)
    return value


_CUT = object()


def cut_refs(value: Any, nodes: set[str]) -> Any:
    """A copy of `value` without references to `nodes`: such values are dropped from their dict or
    list, and interpolations of them become empty text. None when the value is itself such a reference.
    """
    kept = _cut(value, nodes)
    return None if kept is _CUT else kept


def _cut(value: Any, nodes: set[str]) -> Any:
    ref = _whole_ref(value)
    if ref is not None:
        return _CUT if ref.node in nodes else value
    if isinstance(value, dict):
        kept = {k: _cut(v, nodes) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not _CUT}
    if isinstance(value, list):
        return [v for v in (_cut(item, nodes) for item in value) if v is not _CUT]
    if isinstance(value, str) and "{{" in value:

        def drop(match: re.Match[str]) -> str:
            try:
                return "" if parse_ref(match.group("path")).node in nodes else match.group(0)
            except RefError:
                return match.group(0)

        return _INTERP.sub(drop, value)
    return value


def _whole_ref(value: Any) -> Ref | None:
    try:
        return as_ref(value)
    except RefError:
        return None


def is_ref_value(value: Any) -> bool:
    """Whether a value is, or contains, a reference (its type is only known at run time)."""
    return next(find_refs(value), None) is not None
