"""Node-level repairs: re-resolve a tool name, fix arguments against the tool's JSON schema (rebinding a
broken reference is `rebind`)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from evoflux.edits.context import EditContext, EditFn, descendants, node_of, output_paths, pick_site
from evoflux.scoring.similarity import key_similarity, name_similarity, snap, word_overlap, words
from evoflux.scoring.tasktext import numbers_in, task_value
from evoflux.servers.argschema import (
    NO_VALUE,
    coerce,
    enum_values,
    prop_types,
    properties,
    required,
    same_json,
    type_fits,
)
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Stage
from evoflux.workflow.graph import Node, Workflow
from evoflux.workflow.refs import find_refs, is_ref_value, path_text

__all__ = [
    "add_required_arg",
    "closest_tools",
    "coerce_arg",
    "drop_unknown_arg",
    "fill_value",
    "fix_args",
    "rename_arg",
    "rename_map",
    "resolve_tool",
    "snap_enum",
]

RESOLVE_THRESHOLD = 0.45
RENAME_THRESHOLD = 0.6
UPSTREAM_KEY_THRESHOLD = 0.8


# -- tools -------------------------------------------------------------------------------------------


def closest_tools(
    name: str,
    catalog: Mapping[str, ToolSpec],
    *,
    hint: str = "",
    arg_names: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> list[tuple[float, ToolSpec]]:
    """Catalog tools ranked by likeness to a tool name, best first.

    Score: name similarity (the server prefix is optional) and, lighter, the name's and `hint`'s words
    found in the tool's description, and the Jaccard overlap of argument names with its schema.
    """
    short = name.rsplit(".", 1)[-1]
    prefix = name.rsplit(".", 1)[0] if "." in name else ""
    wanted, args, skip = words(f"{short} {hint}"), set(arg_names), set(exclude)
    ranked: list[tuple[float, ToolSpec]] = []
    for spec in catalog.values():
        if spec.name in skip or spec.unusable:
            continue
        named = max(name_similarity(short, spec.tool), name_similarity(name, spec.name))
        if prefix and prefix == spec.server:
            named = min(1.0, named + 0.05)
        described = word_overlap(wanted, words(f"{spec.tool} {spec.description}"))
        props = set(properties(spec.input_schema))
        if args:
            jaccard = len(args & props) / len(args | props)
            score = 0.6 * named + 0.2 * described + 0.2 * jaccard
        else:
            score = 0.75 * named + 0.25 * described
        ranked.append((score, spec))
    ranked.sort(key=lambda item: (-item[0], item[1].name))
    return ranked


def resolve_tool(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Point a node whose tool is unknown (or unusable) at the closest catalog tool."""
    usable = {name for name, spec in ctx.catalog.items() if not spec.unusable}
    target = pick_site([n.id for n in workflow.nodes if n.tool not in usable], ctx, [Stage.RESOLVE])
    if target is None:
        return None
    work = workflow.model_copy(deep=True)
    node = node_of(work, target)
    ranked = closest_tools(node.tool, ctx.catalog, hint=node.why, arg_names=node.args, exclude=[node.tool])
    if not ranked or ranked[0][0] < RESOLVE_THRESHOLD:
        return None
    node.tool = ranked[0][1].name
    return work


# -- argument values ---------------------------------------------------------------------------------


def rename_map(args: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, str]:
    """Misnamed argument -> the schema property it most likely means (`tz` -> `timezone`).

    Unknown names pair greedily with missing properties by name similarity; when exactly one unknown
    name and one missing required property are left over and the value fits, they pair too.
    """
    props, needed = properties(schema), set(required(schema))
    unknown = [k for k in args if k not in props]
    missing = [p for p in props if p not in args]
    pairs = sorted(
        ((name_similarity(u, p) + (0.02 if p in needed else 0.0), u, p) for u in unknown for p in missing),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    renames: dict[str, str] = {}
    for score, old, new in pairs:
        if score >= RENAME_THRESHOLD and old not in renames and new not in renames.values():
            renames[old] = new
    left = [u for u in unknown if u not in renames]
    gaps = [p for p in missing if p in needed and p not in renames.values()]
    if len(left) == 1 and len(gaps) == 1:
        value, prop = args[left[0]], props[gaps[0]]
        if is_ref_value(value) or type_fits(value, prop_types(prop)) or coerce(value, prop) is not NO_VALUE:
            renames[left[0]] = gaps[0]
    return renames


def fill_value(
    workflow: Workflow,
    node: Node,
    name: str,
    prop: Mapping[str, Any],
    ctx: EditContext,
    *,
    taken: Sequence[Any] = (),
    blocked: set[str] | None = None,
) -> Any:
    """A value for a missing argument, or NO_VALUE. In order: the schema default; a reference to an
    upstream output with a matching key; a quantity or word of the task that fits the type (numbers
    the workflow does not use yet first); the first enum value. `blocked` nodes (default: the node
    and its descendants, which would make a cycle) are never referenced."""
    if "default" in prop:
        return copy.deepcopy(prop["default"])
    blocked = blocked if blocked is not None else descendants(workflow, node.id) | {node.id}
    ref = _upstream_ref(workflow, node, name, ctx, blocked, {str(r) for v in taken for _, r in find_refs(v)})
    if ref is not None:
        return {"$ref": ref}
    used = [n for other in workflow.nodes for n in numbers_in(other.args)]
    for avoid in ([*taken, *used], taken):
        found = task_value(ctx.task, name, prop, avoid)
        if found is not None:
            return found
    options = enum_values(prop)
    return options[0] if options else NO_VALUE


def _upstream_ref(
    workflow: Workflow, node: Node, name: str, ctx: EditContext, blocked: set[str], taken: set[str]
) -> str | None:
    """The best-matching output key of a node the argument may reference (siblings' references skipped)."""
    deps = workflow.dependencies().get(node.id, set())
    order = {n.id: i for i, n in enumerate(workflow.nodes)}
    upstream = sorted(
        (n for n in workflow.nodes if n.id not in blocked), key=lambda n: (n.id not in deps, order[n.id])
    )
    best: tuple[float, str] | None = None
    for other in upstream:
        for path in output_paths(other, ctx):
            keys = [s for s in path if isinstance(s, str)]
            score = key_similarity(name, keys[-1]) if keys else 0.0
            text = path_text(other.id, path)
            if score >= UPSTREAM_KEY_THRESHOLD and text not in taken and (best is None or score > best[0]):
                best = (score, text)
    return best[1] if best else None


# -- argument repairs --------------------------------------------------------------------------------

NodeFix = Callable[[Node, ToolSpec, Workflow, EditContext], dict[str, Any] | None]


def _rename(node: Node, spec: ToolSpec, workflow: Workflow, ctx: EditContext) -> dict[str, Any] | None:
    renames = rename_map(node.args, spec.input_schema)
    return {renames.get(k, k): v for k, v in node.args.items()} if renames else None


def _coerce(node: Node, spec: ToolSpec, workflow: Workflow, ctx: EditContext) -> dict[str, Any] | None:
    props, needed = properties(spec.input_schema), set(required(spec.input_schema))
    new: dict[str, Any] = {}
    for key, value in node.args.items():
        if key not in props or is_ref_value(value):
            new[key] = value
        elif value is None and key not in needed:
            continue
        else:
            converted = coerce(value, props[key])
            new[key] = value if converted is NO_VALUE else converted
    return new


def _snap_enums(node: Node, spec: ToolSpec, workflow: Workflow, ctx: EditContext) -> dict[str, Any] | None:
    props = properties(spec.input_schema)
    new = dict(node.args)
    for key, value in node.args.items():
        options = enum_values(props.get(key, {}))
        if options and not is_ref_value(value):
            snapped = snap(value, options)
            new[key] = value if snapped is NO_VALUE else snapped
    return new


def _drop(node: Node, spec: ToolSpec, workflow: Workflow, ctx: EditContext) -> dict[str, Any] | None:
    props = properties(spec.input_schema)
    if not props and spec.input_schema.get("additionalProperties") is not False:
        return None
    renamable = rename_map(node.args, spec.input_schema)
    return {k: v for k, v in node.args.items() if k in props or k in renamable}


def _add(node: Node, spec: ToolSpec, workflow: Workflow, ctx: EditContext) -> dict[str, Any] | None:
    props = properties(spec.input_schema)
    claimed = set(rename_map(node.args, spec.input_schema).values())
    new = dict(node.args)
    for name in required(spec.input_schema):
        prop = props.get(name, {})
        absent = name not in new or (new[name] is None and not type_fits(None, prop_types(prop)))
        if absent and name not in claimed:
            value = fill_value(
                workflow, node, name, prop, ctx, taken=[v for k, v in new.items() if k != name]
            )
            if value is not NO_VALUE:
                new[name] = value
    return new


def _all_fixes(node: Node, spec: ToolSpec, workflow: Workflow, ctx: EditContext) -> dict[str, Any] | None:
    args = node.args
    for fix in (_rename, _coerce, _snap_enums, _drop, _add):
        new = fix(node.model_copy(update={"args": args}), spec, workflow, ctx)
        args = args if new is None else new
    return args


def _on_one_node(fix: NodeFix, stages: Sequence[Stage]) -> EditFn:
    """An edit applying `fix` to one node it changes, a blamed one when there is one."""

    def apply(workflow: Workflow, ctx: EditContext) -> Workflow | None:
        fixes: dict[str, dict[str, Any]] = {}
        for node in workflow.nodes:
            spec = ctx.catalog.get(node.tool)
            new = fix(node, spec, workflow, ctx) if spec is not None else None
            if new is not None and not same_json(new, node.args):
                fixes.setdefault(node.id, new)
        target = pick_site(list(fixes), ctx, stages)
        if target is None:
            return None
        work = workflow.model_copy(deep=True)
        node_of(work, target).args = copy.deepcopy(fixes[target])
        return work

    return apply


_SCHEMA = [Stage.SCHEMA]
rename_arg = _on_one_node(_rename, _SCHEMA)
"""Rename misnamed arguments to the schema's names (`tz` -> `timezone`, `from` -> `from_unit`)."""
coerce_arg = _on_one_node(_coerce, _SCHEMA)
"""Coerce literal arguments to the schema's types; drop optional nulls."""
snap_enum = _on_one_node(_snap_enums, _SCHEMA)
"""Snap literal arguments to the nearest enum value."""
drop_unknown_arg = _on_one_node(_drop, _SCHEMA)
"""Drop arguments the schema does not declare (and `rename_arg` would not rename)."""
add_required_arg = _on_one_node(_add, _SCHEMA)
"""Add missing required arguments that no misnamed argument stands for (see `fill_value`)."""
fix_args = _on_one_node(_all_fixes, _SCHEMA)
"""All argument repairs on one node: rename, coerce, snap, drop, add."""
