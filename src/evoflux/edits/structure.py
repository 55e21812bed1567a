"""Graph-level edits: insert a producer node, delete a node, merge nodes that make the same call, swap a
tool for a similar one, break a cycle, put nodes in dependency order."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from evoflux.edits.arguments import fill_value, rename_map
from evoflux.edits.context import (
    EditContext,
    blamed_nodes,
    descendants,
    fresh_id,
    node_of,
    pick_site,
    schema_paths,
)
from evoflux.scoring.similarity import key_similarity, name_similarity, normalize, snap, word_overlap, words
from evoflux.servers.argschema import NO_VALUE, enum_values, prop_types, properties, required, type_fits
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Stage
from evoflux.workflow.execute import CallCache
from evoflux.workflow.graph import CycleError, Node, Workflow
from evoflux.workflow.refs import Ref, cut_refs, find_refs, is_ref_value, path_text, rewrite_refs

__all__ = [
    "break_cycle",
    "delete_node",
    "distinct_calls",
    "insert_producer",
    "merge_duplicates",
    "rank_producers",
    "reorder_nodes",
    "swap_tool",
    "without_node",
]

PRODUCER_THRESHOLD = 0.5
PRODUCER_KEY_THRESHOLD = 0.6
SWAP_THRESHOLD = 0.3


# -- insert a producer -------------------------------------------------------------------------------


def rank_producers(
    name: str, catalog: Mapping[str, ToolSpec], *, exclude: set[str] | None = None
) -> list[tuple[float, ToolSpec, tuple[str | int, ...]]]:
    """Catalog tools that look like they produce a value called `name`, best first, with the output
    path to take it from (empty: the whole output).

    Score: the best output-schema key matching the name, else the name's words in the tool's name
    (weight 0.8) or in its description (weight 0.6).
    """
    wanted = words(name)
    ranked: list[tuple[float, ToolSpec, tuple[str | int, ...]]] = []
    for spec in catalog.values():
        if spec.unusable or spec.name in (exclude or set()):
            continue
        key_score = 0.0
        key: tuple[str | int, ...] = ()
        for path in schema_paths(spec.output_schema or {}):
            last = [s for s in path if isinstance(s, str)][-1:]
            score = key_similarity(name, last[0]) if last else 0.0
            if score > key_score:
                key_score, key = score, path
        in_name = 0.8 * word_overlap(wanted, words(spec.tool))
        in_description = 0.6 * word_overlap(wanted, words(spec.description))
        path = key if key_score >= PRODUCER_KEY_THRESHOLD else ()
        ranked.append((max(key_score, in_name, in_description), spec, path))
    ranked.sort(key=lambda item: (-item[0], item[1].name))
    return ranked


def insert_producer(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Add a node before a consumer to produce a required argument that no literal can fill (no default,
    no upstream key, nothing in the task), and reference its output from the consumer."""
    gaps: dict[str, list[str]] = {}
    for node in workflow.nodes:
        spec = ctx.catalog.get(node.tool)
        if spec is None:
            continue
        props = properties(spec.input_schema)
        for name in required(spec.input_schema):
            if name not in node.args:
                found = fill_value(
                    workflow, node, name, props.get(name, {}), ctx, taken=list(node.args.values())
                )
                if found is NO_VALUE:
                    gaps.setdefault(node.id, []).append(name)
    target = pick_site(list(gaps), ctx, [Stage.SCHEMA, Stage.EXECUTE])
    if target is None:
        return None
    name = ctx.rng.choice(gaps[target])
    consumer = node_of(workflow, target)
    ranked = rank_producers(name, ctx.catalog, exclude={consumer.tool})
    if not ranked or ranked[0][0] < PRODUCER_THRESHOLD:
        return None
    _, spec, path = ranked[0]
    work = workflow.model_copy(deep=True)
    new = Node(id=fresh_id(work, avoid=ctx.traced_ids()), tool=spec.name, why=f"provides {name} for {target}")
    blocked = descendants(work, target) | {target}
    props = properties(spec.input_schema)
    for arg in required(spec.input_schema):
        value = fill_value(
            work, new, arg, props.get(arg, {}), ctx, taken=list(new.args.values()), blocked=blocked
        )
        if value is not NO_VALUE:
            new.args[arg] = value
    index = next(i for i, n in enumerate(work.nodes) if n.id == target)
    work.nodes.insert(index, new)
    work.nodes[index + 1].args[name] = {"$ref": path_text(new.id, path)}
    return work


# -- delete a node -----------------------------------------------------------------------------------


def without_node(workflow: Workflow, node_id: str) -> Workflow:
    """A copy without the node; references to it are removed from arguments and `answer.uses`. An
    answer template that quoted it is dropped whole (the answer is then written from the outputs): cut
    out, its placeholder would leave a sentence with a hole where the value was ("the pace is
    minutes per kilometer")."""
    work = workflow.model_copy(deep=True)
    work.nodes = [n for n in work.nodes if n.id != node_id]
    for node in work.nodes:
        node.args = cut_refs(node.args, {node_id}) or {}
    work.answer.uses = [u for u in work.answer.uses if u != node_id]
    if any(ref.node == node_id for _, ref in find_refs(work.answer.template)):
        work.answer.template = ""
    return work


def _unused(workflow: Workflow) -> list[str]:
    """Nodes whose output no other node and no part of a declared answer uses."""
    if not workflow.answer.uses and not workflow.answer.template:
        return []
    used = {d for deps in workflow.dependencies().values() for d in deps}
    used |= set(workflow.answer.uses) | {r.node for _, r in find_refs(workflow.answer.template)}
    return [n.id for n in workflow.nodes if n.id not in used]


def delete_node(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Delete a blamed node (else a node nobody uses) and clean up references to it."""
    if len(workflow.nodes) < 2:
        return None
    ids = {n.id for n in workflow.nodes}
    sites = [n for n in blamed_nodes(ctx.diagnostics) if n in ids] or _unused(workflow)
    return without_node(workflow, ctx.rng.choice(sites)) if sites else None


def merge_duplicates(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Merge nodes that make the same call (same tool, same arguments) into the first of them: the run's
    call cache serves them one output, so a copy only adds a step; references to it point at the first
    (`n4 = time.get_current_time(UTC)` twice -> once). Calls to a server whose state a step changes
    are left alone: a read after a write is another read."""
    return _merged(workflow, ctx.catalog)


def distinct_calls(workflow: Workflow, catalog: Mapping[str, ToolSpec]) -> int:
    """The number of nodes once copies of a call are merged (`merge_duplicates`)."""
    merged = _merged(workflow, catalog)
    return len((merged or workflow).nodes)


def _merged(workflow: Workflow, catalog: Mapping[str, ToolSpec]) -> Workflow | None:
    work, merged = workflow, False
    while alias := _copies(work, catalog):  # until none is left: merging n2 into n1 can make n4 a copy of n3
        merged = True

        def first(ref: Ref, alias: dict[str, str] = alias) -> str | None:
            return path_text(alias[ref.node], ref.steps) if ref.node in alias else None

        work = work.model_copy(deep=True)
        work.nodes = [n for n in work.nodes if n.id not in alias]
        for node in work.nodes:
            node.args = rewrite_refs(node.args, first)
        work.answer.uses = list(dict.fromkeys(alias.get(u, u) for u in work.answer.uses))
        work.answer.template = rewrite_refs(work.answer.template, first)
    return work if merged else None


def _copies(workflow: Workflow, catalog: Mapping[str, ToolSpec]) -> dict[str, str]:
    """Each node that repeats an earlier node's call, mapped to that node's id; not for the servers a
    node of the workflow changes the state of."""
    specs = {n.id: catalog.get(n.tool) for n in workflow.nodes}
    stateful = {spec.server for spec in specs.values() if spec is not None and spec.changes_state}
    seen: dict[str, str] = {}
    alias: dict[str, str] = {}
    for node in workflow.nodes:
        spec = specs[node.id]
        if spec is not None and spec.server in stateful:
            continue
        key = CallCache.key(node.tool, node.args)
        if key in seen:
            alias[node.id] = seen[key]
        else:
            seen[key] = node.id
    return alias


# -- swap a tool -------------------------------------------------------------------------------------


def swap_tool(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Replace the tool of a failing node with the catalog tool most alike: Jaccard of property names
    (0.45), name similarity (0.25), and the share of the node's literal values the tool accepts (0.3;
    an enum value of another tool says which tool was meant), mapping arguments by name. A node that
    fails only its schema is moved only to a tool that accepts more of its values than its own tool
    would after snapping (`cups` is a spelling of `cup` to fix, not a reason to change tools)."""
    ids = {n.id for n in workflow.nodes}
    failing = blamed_nodes(d for d in ctx.diagnostics if d.stage in (Stage.EXECUTE, Stage.SCHEMA))
    target = pick_site([n for n in failing if n in ids], ctx, [Stage.EXECUTE])
    if target is None:
        return None
    node = node_of(workflow, target)
    current = ctx.catalog.get(node.tool)
    ran = {d.node for d in ctx.diagnostics if d.stage == Stage.EXECUTE}
    floor = (
        -1.0
        if current is None or target in ran
        else values_fit(node.args, current.input_schema, snapping=True)
    )
    old_props = set(properties(current.input_schema)) if current else set(node.args)
    old_name = current.tool if current else node.tool.rsplit(".", 1)[-1]
    ranked: list[tuple[float, ToolSpec]] = []
    for spec in ctx.catalog.values():
        if spec.name == node.tool or spec.unusable:
            continue
        props = set(properties(spec.input_schema))
        union = old_props | props
        jaccard = len(old_props & props) / len(union) if union else 1.0
        fit = values_fit(node.args, spec.input_schema)
        if fit <= floor:
            continue
        ranked.append((0.45 * jaccard + 0.25 * name_similarity(old_name, spec.tool) + 0.3 * fit, spec))
    ranked.sort(key=lambda item: (-item[0], item[1].name))
    if not ranked or ranked[0][0] < SWAP_THRESHOLD:
        return None
    spec = ctx.rng.choice([s for score, s in ranked if score >= ranked[0][0] - 0.05])
    work = workflow.model_copy(deep=True)
    swapped = node_of(work, target)
    swapped.tool = spec.name
    swapped.args = _map_args(swapped.args, spec.input_schema)
    return work


def values_fit(args: dict[str, Any], schema: Mapping[str, Any], *, snapping: bool = False) -> float:
    """The share of the literal arguments (mapped by name) that the schema accepts: an enum member
    (compared as normalized words; with `snapping`, also a near spelling `snap_enum` would fix, `cups`
    for `cup`) or a value of a declared type; 0 when there are none."""
    props = properties(schema)
    literal = {k: v for k, v in _map_args(args, schema).items() if not is_ref_value(v)}
    if not literal:
        return 0.0
    fits = 0
    for key, value in literal.items():
        options = enum_values(props.get(key, {}))
        if options is not None:
            exact = any(normalize(str(o)) == normalize(str(value)) for o in options)
            fits += exact or (snapping and snap(value, options) is not NO_VALUE)
        else:
            fits += type_fits(value, prop_types(props.get(key, {})))
    return fits / len(literal)


def _map_args(args: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    props = properties(schema)
    if not props:
        return args
    renames = rename_map(args, schema)
    mapped = {renames.get(k, k): v for k, v in args.items()}
    return {k: v for k, v in mapped.items() if k in props}


# -- cycles and order --------------------------------------------------------------------------------


def _cycle_edges(workflow: Workflow) -> list[tuple[str, str]]:
    """(consumer, producer) edges of one cycle, or [] when the graph is acyclic."""
    try:
        workflow.waves()
    except CycleError as error:
        cycle = [str(n) for n in error.args[1]]
        deps = workflow.dependencies()
        edges: list[tuple[str, str]] = []
        for a, b in pairwise(cycle):
            if b in deps.get(a, set()):
                edges.append((a, b))
            elif a in deps.get(b, set()):
                edges.append((b, a))
        return edges
    return []


def break_cycle(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Cut one edge of a dependency cycle, preferring a back edge (one pointing at a later node). The
    reference is replaced by a literal from the schema or the task when one fits, else removed."""
    edges = _cycle_edges(workflow)
    if not edges:
        return None
    order = {n.id: i for i, n in enumerate(workflow.nodes)}
    back = [(c, p) for c, p in edges if order.get(p, 0) >= order.get(c, 0)] or edges
    consumer, producer = ctx.rng.choice(back)
    work = workflow.model_copy(deep=True)
    node = node_of(work, consumer)
    spec = ctx.catalog.get(node.tool)
    props = properties(spec.input_schema) if spec else {}
    blocked = descendants(work, consumer) | {consumer}
    args: dict[str, Any] = {}
    for key, value in node.args.items():
        if all(ref.node != producer for _, ref in find_refs(value)):
            args[key] = value
            continue
        kept = cut_refs(value, {producer})
        if kept is None:
            kept = fill_value(
                work, node, key, props.get(key, {}), ctx, taken=list(args.values()), blocked=blocked
            )
        if kept is not NO_VALUE:
            args[key] = kept
    node.args = args
    return work


def reorder_nodes(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """List nodes in dependency order (a stable topological sort) when one references a later node."""
    position = {n.id: i for i, n in enumerate(workflow.nodes)}
    deps = {
        n.id: {d for d in workflow.dependencies().get(n.id, set()) if d in position} for n in workflow.nodes
    }
    if not any(position[d] > position[n] for n, ds in deps.items() for d in ds) or _cycle_edges(workflow):
        return None
    done: set[str] = set()
    ordered: list[Node] = []
    pending = list(workflow.model_copy(deep=True).nodes)
    while pending:
        ready = next((n for n in pending if deps[n.id] <= done), None)
        if ready is None:
            return None
        pending.remove(ready)
        ordered.append(ready)
        done.add(ready.id)
    return workflow.model_copy(update={"nodes": ordered}, deep=True)
