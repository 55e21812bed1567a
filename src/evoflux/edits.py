"""What every edit operator shares: the edit context, blame, and reading and rewriting references.

Everything here is a pure function of data. Operators (`operators.py`, `repairs.py`, `rebinding.py`,
`restructure.py`, ...) build on these pieces and on `matching.py`; nothing here imports them.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evoflux.diagnostics import Diagnostic, Stage
from evoflux.graph import Node, Ref, RefError, Workflow, as_ref, find_refs, parse_ref
from evoflux.matching import properties, resolve_schema
from evoflux.tools import ToolSpec
from evoflux.trace import Trace

__all__ = [
    "ANSWER_SITE",
    "EditContext",
    "EditFn",
    "blamed_nodes",
    "cut_refs",
    "descendants",
    "fresh_id",
    "is_ref_value",
    "node_of",
    "output_paths",
    "path_text",
    "pick_site",
    "rewrite_refs",
    "schema_paths",
]


@dataclass(frozen=True, kw_only=True)
class EditContext:
    """Everything an edit operator may look at besides the workflow itself."""

    catalog: Mapping[str, ToolSpec]
    """The live tool catalog, by qualified name."""
    rng: random.Random
    """The search's one source of randomness; operators draw from nothing else."""
    diagnostics: Sequence[Diagnostic] = ()
    """The diagnostics of the workflow being edited (validation, execution and coverage feedback)."""
    trace: Trace | None = None
    """Its execution, when it ran: executed outputs let references be rebound to keys that exist."""
    task: str = ""
    """The user's request: quantities and words in it can fill missing arguments."""

    def outputs(self) -> dict[str, Any]:
        return self.trace.outputs if self.trace is not None else {}

    def traced_ids(self) -> set[str]:
        return set(self.trace.runs) if self.trace is not None else set()


EditFn = Callable[[Workflow, EditContext], Workflow | None]
"""An edit: a new workflow, or None when it does not apply. It never changes its input."""

ANSWER_SITE = "(answer)"
"""The site name of the answer step (not a valid node id, so it cannot collide with one). Diagnostics
blaming node "answer" at an `answer.*` path name this site."""


def node_of(workflow: Workflow, node_id: str) -> Node:
    """The node with this id; the caller knows it exists."""
    node = workflow.node(node_id)
    if node is None:
        raise KeyError(node_id)
    return node


def blamed_nodes(diagnostics: Iterable[Diagnostic]) -> list[str]:
    """The node ids the diagnostics blame, earliest stage first, then in order of appearance."""
    ranked = sorted(enumerate(diagnostics), key=lambda item: (item[1].stage, item[0]))
    seen: dict[str, None] = {}
    for _, diagnostic in ranked:
        if diagnostic.node is not None:
            seen.setdefault(diagnostic.node, None)
    return list(seen)


def _site(diagnostic: Diagnostic) -> str | None:
    """The site a diagnostic blames; `validate` blames the answer step as node "answer", path "answer.*"."""
    if diagnostic.node == "answer" and (diagnostic.path or "").startswith("answer"):
        return ANSWER_SITE
    return diagnostic.node


def pick_site(sites: Sequence[str], ctx: EditContext, stages: Iterable[Stage]) -> str | None:
    """One of `sites` to edit: one blamed at one of `stages` (earliest stage first) when there is one,
    else any site."""
    wanted = set(stages)
    ranked = sorted((d for d in ctx.diagnostics if d.stage in wanted), key=lambda d: d.stage)
    blamed = list(dict.fromkeys(site for d in ranked if (site := _site(d)) is not None))
    pool = [s for s in blamed if s in sites] or list(sites)
    return ctx.rng.choice(pool) if pool else None


# -- references --------------------------------------------------------------------------------------

_INTERP = re.compile(r"\{\{\s*\$?(?P<path>[^{}]+?)\s*\}\}")
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


def descendants(workflow: Workflow, node_id: str) -> set[str]:
    """The ids of nodes that (transitively) reference `node_id`."""
    users: dict[str, set[str]] = {}
    for consumer, deps in workflow.dependencies().items():
        for dep in deps:
            users.setdefault(dep, set()).add(consumer)
    found: set[str] = set()
    frontier = [node_id]
    while frontier:
        for user in users.get(frontier.pop(), ()):
            if user not in found:
                found.add(user)
                frontier.append(user)
    return found


def fresh_id(workflow: Workflow, prefix: str = "n", avoid: Iterable[str] = ()) -> str:
    """The first `n<k>` id not used in the workflow nor in `avoid` (e.g. ids with outputs in a trace,
    which would otherwise seem to belong to the new node)."""
    taken = {n.id for n in workflow.nodes} | set(avoid)
    k = len(taken) + 1
    while f"{prefix}{k}" in taken:
        k += 1
    return f"{prefix}{k}"


def schema_paths(schema: Mapping[str, Any], depth: int = 3) -> list[tuple[str | int, ...]]:
    """Paths into values of a JSON schema, shallow ones first among siblings (lists step into [0])."""
    return list(_schema_paths(schema, schema, depth))[:200]


def _schema_paths(
    schema: Mapping[str, Any], root: Mapping[str, Any], depth: int
) -> Iterator[tuple[Any, ...]]:
    if depth <= 0:
        return
    schema = resolve_schema(root, schema)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        for rest in _schema_paths(schema["items"], root, depth - 1):
            yield (0, *rest)
        return
    for key, prop in properties(schema, root).items():
        yield (key,)
        for rest in _schema_paths(prop, root, depth - 1):
            yield (key, *rest)


def _value_paths(value: Any, depth: int) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except ValueError:
            return
    if depth <= 0:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield (str(key),)
            for rest in _value_paths(item, depth - 1):
                yield (str(key), *rest)
    elif isinstance(value, list) and value:
        for rest in _value_paths(value[0], depth - 1):
            yield (0, *rest)


def output_paths(node: Node, ctx: EditContext, depth: int = 3) -> list[tuple[str | int, ...]]:
    """Paths into a node's output: from its executed output when the trace has it, else from the
    tool's output schema. The empty path (the whole output) comes first."""
    outputs = ctx.outputs()
    if node.id in outputs:
        found = list(_value_paths(outputs[node.id], depth))
    else:
        spec = ctx.catalog.get(node.tool)
        schema = spec.output_schema if spec is not None else None
        found = schema_paths(schema, depth) if schema else []
    return [(), *found[:200]]
