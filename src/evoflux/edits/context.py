"""What every edit operator shares: the edit context, blame, and the sites and output paths an edit may
touch. Pure functions of data; the operators build on these and nothing here imports them."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evoflux.servers.argschema import properties, resolve_schema
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import Node, Workflow
from evoflux.workflow.trace import Trace

__all__ = [
    "ANSWER_SITE",
    "EditContext",
    "EditFn",
    "blamed_nodes",
    "descendants",
    "fresh_id",
    "node_of",
    "output_paths",
    "pick_site",
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
