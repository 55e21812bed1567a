"""The typed workflow graph: tool-call nodes, references between them, and a final answer step.

Argument values are JSON. Three forms inside them are references to the output of an earlier node:

* ``{"$ref": "n1.result.items[0].id"}`` -- the referenced value, with its type;
* ``"$n1.items[0].id"`` -- the same, as a whole string (small models like to write this);
* ``"... {{n1.city}} ..."`` -- interpolation of the value, as text, inside a longer string.

A path is a node id followed by ``.key`` and ``[index]`` steps (``["odd key"]`` for keys that are not
identifiers). The first step ``result`` (or ``output``) names the node's whole output unless the output
has such a key. A node's output is its structured content when the tool returned some, else the JSON
found in its text content, else the text itself (see `tools.output_value`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from pydantic import BaseModel, Field, field_validator

__all__ = [
    "Answer",
    "Node",
    "Ref",
    "RefError",
    "Workflow",
    "find_refs",
    "interpolate",
    "parse_ref",
    "resolve_path",
    "substitute",
]

NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
_REF_STRING = re.compile(r"^\$(?P<path>[A-Za-z_][A-Za-z0-9_\-]*(?:\.[^\s]+|\[[^\s]+)?)$")
_INTERP = re.compile(r"\{\{\s*\$?(?P<path>[A-Za-z_][A-Za-z0-9_\-]*(?:[.\[][^{}]*?)?)\s*\}\}")
_STEP = re.compile(r"\.(?P<key>[^.\[\]]+)|\[(?P<idx>-?\d+)\]|\[\"(?P<qkey>[^\"]*)\"\]|\['(?P<skey>[^']*)'\]")
_ROOT_ALIASES = ("result", "output", "outputs", "results")


class Node(BaseModel):
    """One tool call."""

    id: str = Field(description="Unique id, referenced by later nodes as `id.path`.")
    tool: str = Field(description="Qualified tool name, `server.tool`.")
    args: dict[str, Any] = Field(default_factory=dict, description="Literals and references.")
    why: str = Field(default="", description="The planner's note on the step's purpose (not hashed).")

    @field_validator("args")
    @classmethod
    def _inline_dollar_refs(cls, args: dict[str, Any]) -> dict[str, Any]:
        """`"$n1.value * 0.9"`: a `$`-reference to a planner-style node id (`n` and digits) inside a longer
        text is read as `{{n1.value}}` (small models write this; sent as is, it reaches the tool as
        the literal text). Whole-string references and other `$` words are left alone."""
        return {key: _inline_refs(value) for key, value in args.items()}


_INLINE_DOLLAR = re.compile(r"\{\{.*?\}\}|(?<![\w$])\$(?P<path>n\d{1,3}(?:\.[A-Za-z_]\w*|\[\d+\])*)")


def _placeholder(match: re.Match[str]) -> str:
    return f"{{{{{match['path']}}}}}" if match["path"] else match[0]  # `{{...}}` stays as written


def _inline_refs(value: Any) -> Any:
    if isinstance(value, str):
        return value if _REF_STRING.match(value.strip()) else _INLINE_DOLLAR.sub(_placeholder, value)
    if isinstance(value, dict):
        return value if set(value) == {"$ref"} else {k: _inline_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_inline_refs(v) for v in value]
    return value


class Answer(BaseModel):
    """The explicit final step: which outputs the answer is written from."""

    uses: list[str] = Field(default_factory=list, description="Node ids whose outputs answer the task.")
    template: str = Field(default="", description="Answer text with `{{n1.path}}` placeholders.")


class Workflow(BaseModel):
    """A DAG of tool calls plus the final answer step."""

    nodes: list[Node] = Field(default_factory=list)
    answer: Answer = Field(default_factory=Answer)

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def canonical(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, planner notes dropped."""
        data = {
            "nodes": [{"id": n.id, "tool": n.tool, "args": n.args} for n in self.nodes],
            "answer": {"uses": sorted(set(self.answer.uses)), "template": self.answer.template},
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)

    def digest(self) -> str:
        """A stable 16-hex-digit hash of the canonical form."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:16]

    def dependencies(self) -> dict[str, set[str]]:
        """Node id -> ids of the nodes its arguments reference (unknown ids included)."""
        return {n.id: {ref.node for _, ref in find_refs(n.args)} for n in self.nodes}

    def waves(self) -> list[list[str]]:
        """Topological generations: each wave depends only on earlier waves. Raises CycleError."""
        ids = {n.id for n in self.nodes}
        sorter: TopologicalSorter[str] = TopologicalSorter()
        for node_id, deps in self.dependencies().items():
            sorter.add(node_id, *(d for d in deps if d in ids))
        sorter.prepare()
        waves: list[list[str]] = []
        order = {n.id: i for i, n in enumerate(self.nodes)}
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=order.__getitem__)
            waves.append(ready)
            sorter.done(*ready)
        return waves

    def mermaid(self) -> str:
        """A mermaid flowchart of the graph."""
        lines = ["flowchart TD"]
        for n in self.nodes:
            label = f"{n.id}: {n.tool}".replace('"', "'")
            lines.append(f'    {_mermaid_id(n.id)}["{label}"]')
        lines.append('    answer(["answer"])')
        ids = {n.id for n in self.nodes}
        for node_id, deps in self.dependencies().items():
            lines += [f"    {_mermaid_id(d)} --> {_mermaid_id(node_id)}" for d in sorted(deps) if d in ids]
        used = set(self.answer.uses) | {r.node for r in _template_refs(self.answer.template)}
        lines += [f"    {_mermaid_id(u)} --> answer" for u in sorted(used) if u in ids]
        return "\n".join(lines)


def _mermaid_id(node_id: str) -> str:
    return "node_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)


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


def _template_refs(text: str) -> Iterator[Ref]:
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
        for ref in _template_refs(value):
            yield where, ref


def resolve_path(value: Any, steps: tuple[str | int, ...]) -> Any:
    """Follow steps into a value. Raises RefError with the keys that do exist."""
    current = value
    for i, step in enumerate(steps):
        if isinstance(current, str) and current[:1] in "[{":
            with contextlib.suppress(ValueError):
                current = json.loads(current)
        if i == 0 and step in _ROOT_ALIASES and not (isinstance(current, dict) and step in current):
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


__all__ += ["NODE_ID", "CycleError", "as_ref"]
