"""`fix_nested_args`: argument repairs inside objects nested in the arguments."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from evoflux.edits.arguments import rename_map
from evoflux.edits.context import EditContext, node_of, pick_site
from evoflux.servers.argschema import (
    NO_VALUE,
    coerce,
    prop_types,
    properties,
    resolve_schema,
    same_json,
    type_fits,
)
from evoflux.workflow.diagnostics import Stage
from evoflux.workflow.graph import Workflow
from evoflux.workflow.refs import is_ref_value

__all__ = ["MAX_DEPTH", "fix_nested_args", "fix_value"]

MAX_DEPTH = 4


def fix_nested_args(workflow: Workflow, ctx: EditContext) -> Workflow | None:
    """Repair the objects nested in one node's arguments against their schemas (rename, drop, coerce)."""
    fixes: dict[str, dict[str, Any]] = {}
    for node in workflow.nodes:
        spec = ctx.catalog.get(node.tool)
        if spec is None:
            continue
        root = spec.input_schema
        props = properties(root)
        new = {k: fix_value(v, props[k], root) if k in props else v for k, v in node.args.items()}
        if not same_json(new, node.args):
            fixes[node.id] = new
    target = pick_site(list(fixes), ctx, [Stage.SCHEMA])
    if target is None:
        return None
    work = workflow.model_copy(deep=True)
    node_of(work, target).args = copy.deepcopy(fixes[target])
    return work


def fix_value(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], depth: int = 0) -> Any:
    """`value` repaired against `schema` (resolved in `root`), down to `MAX_DEPTH` nested levels."""
    schema = resolve_schema(root, schema)
    if depth > MAX_DEPTH or is_ref_value(value) or not schema:
        return value
    types = prop_types(schema)
    items = resolve_schema(root, schema.get("items"))
    if "array" in types and items:
        if isinstance(value, list):
            return [fix_value(item, items, root, depth + 1) for item in value]
        if value is not None and not type_fits(value, types):
            return [fix_value(value, items, root, depth + 1)]
    if isinstance(value, dict) and "object" in types and properties(schema, root):
        return _fix_object(value, schema, root, depth)
    if isinstance(value, dict) and len(value) == 1 and types and "object" not in types:
        (inner,) = value.values()  # {"content": "text"} where a string is expected
        if type_fits(inner, types):
            return inner
    converted = coerce(value, schema)
    return value if converted is NO_VALUE else converted


def _fix_object(value: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> Any:
    props = properties(schema, root)
    local = {**schema, "properties": props}  # `rename_map` resolves against the schema it is given
    renames = rename_map(value, local)
    renamed = {renames.get(k, k): v for k, v in value.items()}
    if schema.get("additionalProperties") is False:
        renamed = {k: v for k, v in renamed.items() if k in props}
    return {k: fix_value(v, props[k], root, depth + 1) if k in props else v for k, v in renamed.items()}
