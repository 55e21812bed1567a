"""The edit operators: each fixes the failure it targets, never changes its input, and is deterministic
under a seeded random.Random."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from evoflux.edits.context import EditContext, blamed_nodes
from evoflux.edits.model_guided import model_guided, node_context, splice
from evoflux.edits.operators import OPERATORS_BY_NAME, RULE_OPERATORS, applicable_operators, mutate
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import Answer, Node, Workflow
from evoflux.workflow.trace import NodeRun, Trace


def _tool(
    name: str, description: str, schema: dict[str, Any], output: dict[str, Any] | None = None
) -> ToolSpec:
    server, tool = name.split(".")
    return ToolSpec(
        name=name,
        server=server,
        tool=tool,
        description=description,
        input_schema=schema,
        output_schema=output,
        read_only=True,
    )


def _str(description: str = "") -> dict[str, Any]:
    return {"type": "string", "description": description}


def _converter(name: str, description: str, units: list[str]) -> ToolSpec:
    """A unit converter: a value, and a source and a target unit from one enum."""
    unit = {"type": "string", "enum": units}
    schema = {
        "type": "object",
        "properties": {"value": {"type": "number"}, "from_unit": unit, "to_unit": unit},
        "required": ["value", "from_unit", "to_unit"],
        "additionalProperties": False,
    }
    return _tool(name, description, schema)


UNITS = ["celsius", "fahrenheit", "kelvin"]
CATALOG = {
    spec.name: spec
    for spec in [
        _tool(
            "time.get_current_time",
            "Get current time in a specific timezone",
            {
                "type": "object",
                "properties": {"timezone": _str("IANA timezone name (e.g. 'America/New_York')")},
                "required": ["timezone"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"timezone": _str(), "datetime": _str(), "is_dst": {"type": "boolean"}},
            },
        ),
        _tool(
            "time.convert_time",
            "Convert time between timezones",
            {
                "type": "object",
                "properties": {
                    "source_timezone": _str("Source IANA timezone name"),
                    "time": _str("Time to convert in 24-hour format (HH:MM)"),
                    "target_timezone": _str("Target IANA timezone name"),
                },
                "required": ["source_timezone", "time", "target_timezone"],
            },
        ),
        _tool(
            "calc.calculate",
            "Evaluate an arithmetic expression",
            {"type": "object", "properties": {"expression": _str()}, "required": ["expression"]},
        ),
        _converter("units.convert_temperature", "Convert a temperature between units", UNITS),
        _tool(
            "web.search",
            "Search the web",
            {
                "type": "object",
                "properties": {
                    "query": _str(),
                    "max_results": {"type": "integer", "default": 5},
                    "safe": {"type": "boolean"},
                    "sites": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["query", "max_results"],
            },
        ),
        _tool(
            "wiki.search_articles",
            "Search encyclopedia articles",
            {
                "type": "object",
                "properties": {"query": _str(), "max_results": {"type": "integer"}},
                "required": ["query"],
            },
        ),
    ]
}


def _ctx(
    diagnostics: list[Diagnostic] | None = None, *, task: str = "", trace: Trace | None = None, seed: int = 0
) -> EditContext:
    return EditContext(
        catalog=CATALOG, rng=random.Random(seed), diagnostics=diagnostics or [], trace=trace, task=task
    )


def _wf(*nodes: Node, uses: tuple[str, ...] = (), template: str = "") -> Workflow:
    return Workflow(nodes=list(nodes), answer=Answer(uses=list(uses), template=template))


def _diag(stage: Stage, node: str | None, path: str | None = None, message: str = "broken") -> Diagnostic:
    return Diagnostic(stage=stage, node=node, path=path, message=message)


def _args(workflow: Workflow, node_id: str) -> dict[str, Any]:
    node = workflow.node(node_id)
    assert node is not None
    return node.args


def _apply(name: str, workflow: Workflow, ctx: EditContext) -> Workflow:
    before = workflow.model_dump()
    result = OPERATORS_BY_NAME[name](workflow, ctx)
    assert workflow.model_dump() == before, f"{name} changed its input"
    assert result is not None, f"{name} did not apply"
    return result


def _time_trace(output: Any) -> Trace:
    run = NodeRun(node="n1", tool="time.get_current_time", status="ok", output=output)
    return Trace(runs={"n1": run})


TOKYO = {"timezone": "Asia/Tokyo", "datetime": "2025-01-01T14:30:00+09:00", "is_dst": False}


# -- blame -------------------------------------------------------------------------------------------


def test_blamed_nodes_orders_by_stage_then_appearance() -> None:
    diagnostics = [
        _diag(Stage.EXECUTE, "n3"),
        _diag(Stage.SCHEMA, "n2"),
        _diag(Stage.ANSWER, None),
        _diag(Stage.SCHEMA, "n1"),
        _diag(Stage.EXECUTE, "n2"),
    ]
    assert blamed_nodes(diagnostics) == ["n2", "n1", "n3"]


# -- resolve -----------------------------------------------------------------------------------------


def test_resolve_tool_maps_a_guessed_name_to_the_catalog_tool() -> None:
    workflow = _wf(Node(id="n1", tool="get_time", args={"timezone": "Asia/Tokyo"}))
    fixed = _apply("resolve_tool", workflow, _ctx([_diag(Stage.RESOLVE, "n1")]))
    assert fixed.nodes[0].tool == "time.get_current_time"


def test_resolve_tool_accepts_a_wrong_server_prefix() -> None:
    workflow = _wf(Node(id="n1", tool="temperature.convert_temp", args={"value": 3}))
    fixed = _apply("resolve_tool", workflow, _ctx())
    assert fixed.nodes[0].tool == "units.convert_temperature"


def test_resolve_tool_leaves_known_tools_alone() -> None:
    workflow = _wf(Node(id="n1", tool="calc.calculate", args={"expression": "1+1"}))
    assert OPERATORS_BY_NAME["resolve_tool"](workflow, _ctx()) is None


# -- arguments ---------------------------------------------------------------------------------------


def test_rename_arg_fixes_misnamed_arguments() -> None:
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args={"tz": "Asia/Tokyo"}),
        Node(id="n2", tool="units.convert_temperature", args={"value": 3, "from": "celsius", "to": "kelvin"}),
    )
    ctx = _ctx([_diag(Stage.SCHEMA, "n1", "args.timezone", "'timezone' is a required property")])
    assert _args(_apply("rename_arg", workflow, ctx), "n1") == {"timezone": "Asia/Tokyo"}
    ctx = _ctx([_diag(Stage.SCHEMA, "n2", "args")])
    assert _args(_apply("rename_arg", workflow, ctx), "n2") == {
        "value": 3,
        "from_unit": "celsius",
        "to_unit": "kelvin",
    }


def test_coerce_arg_converts_types() -> None:
    workflow = _wf(
        Node(id="n1", tool="units.convert_temperature", args={"value": "3", "from_unit": "celsius"}),
        Node(id="n2", tool="calc.calculate", args={"expression": 3}),
        Node(
            id="n3",
            tool="web.search",
            args={"query": "x", "max_results": "3.0", "safe": "true", "sites": "a"},
        ),
    )
    assert _args(_apply("coerce_arg", workflow, _ctx([_diag(Stage.SCHEMA, "n1")])), "n1")["value"] == 3
    assert _args(_apply("coerce_arg", workflow, _ctx([_diag(Stage.SCHEMA, "n2")])), "n2") == {
        "expression": "3"
    }
    fixed = _args(_apply("coerce_arg", workflow, _ctx([_diag(Stage.SCHEMA, "n3")])), "n3")
    assert fixed == {"query": "x", "max_results": 3, "safe": True, "sites": ["a"]}


def test_coerce_arg_leaves_references_alone() -> None:
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args={"timezone": "Asia/Tokyo"}),
        Node(id="n2", tool="calc.calculate", args={"expression": {"$ref": "n1.is_dst"}}),
    )
    assert OPERATORS_BY_NAME["coerce_arg"](workflow, _ctx()) is None


def test_snap_enum_picks_the_nearest_value() -> None:
    args = {"value": 3, "from_unit": "Farenheit", "to_unit": "C"}
    workflow = _wf(Node(id="n1", tool="units.convert_temperature", args=args))
    fixed = _args(_apply("snap_enum", workflow, _ctx()), "n1")
    assert fixed == {"value": 3, "from_unit": "fahrenheit", "to_unit": "celsius"}


def test_drop_unknown_arg_removes_undeclared_arguments() -> None:
    workflow = _wf(Node(id="n1", tool="time.get_current_time", args={"timezone": "UTC", "format": "iso"}))
    ctx = _ctx(
        [_diag(Stage.SCHEMA, "n1", "args", "Additional properties are not allowed ('format' was unexpected)")]
    )
    assert _args(_apply("drop_unknown_arg", workflow, ctx), "n1") == {"timezone": "UTC"}


def test_add_required_arg_uses_default_then_task_then_enum() -> None:
    workflow = _wf(
        Node(id="n1", tool="web.search", args={"query": "evoflux"}),
        Node(id="n2", tool="units.convert_temperature", args={}),
    )
    ctx = _ctx([_diag(Stage.SCHEMA, "n1", "args.max_results")], task="Convert 451 fahrenheit to celsius")
    assert _args(_apply("add_required_arg", workflow, ctx), "n1")["max_results"] == 5
    ctx = _ctx([_diag(Stage.SCHEMA, "n2", "args.value")], task="Convert 451 fahrenheit to celsius")
    assert _args(_apply("add_required_arg", workflow, ctx), "n2") == {
        "value": 451,
        "from_unit": "fahrenheit",
        "to_unit": "celsius",
    }
    ctx = _ctx([_diag(Stage.SCHEMA, "n2")], task="How cold is it?")
    assert _args(_apply("add_required_arg", workflow, ctx), "n2") == {
        "from_unit": "celsius",
        "to_unit": "celsius",
    }


def test_add_required_arg_replaces_a_null_the_schema_does_not_allow() -> None:
    workflow = _wf(Node(id="n1", tool="web.search", args={"query": None, "max_results": None}))
    ctx = _ctx(task='Search for "mcp servers"')
    assert _args(_apply("add_required_arg", workflow, ctx), "n1") == {
        "query": "mcp servers",
        "max_results": 5,
    }


def test_add_required_arg_reads_timezones_and_clock_times_from_the_task() -> None:
    workflow = _wf(Node(id="n1", tool="time.convert_time", args={}))
    ctx = _ctx(task="What is 09:15 in Europe/London as America/New_York time?")
    assert _args(_apply("add_required_arg", workflow, ctx), "n1") == {
        "source_timezone": "Europe/London",
        "time": "09:15",
        "target_timezone": "America/New_York",
    }


def test_add_required_arg_references_an_upstream_output_with_the_same_key() -> None:
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args={"timezone": "Asia/Tokyo"}),
        Node(id="n2", tool="time.convert_time", args={"time": "10:00", "target_timezone": "UTC"}),
    )
    ctx = _ctx([_diag(Stage.SCHEMA, "n2", "args.source_timezone")], trace=_time_trace(TOKYO))
    assert _args(_apply("add_required_arg", workflow, ctx), "n2")["source_timezone"] == {
        "$ref": "n1.timezone"
    }


def test_fix_args_renames_before_it_drops() -> None:
    args = {"val": "20", "from": "Celsius", "to_unit": "kelvin", "precision": 2}
    workflow = _wf(Node(id="n1", tool="units.convert_temperature", args=args))
    fixed = _args(_apply("fix_args", workflow, _ctx([_diag(Stage.SCHEMA, "n1")])), "n1")
    assert fixed == {"value": 20, "from_unit": "celsius", "to_unit": "kelvin"}


# -- references --------------------------------------------------------------------------------------


def test_rebind_ref_uses_a_key_that_exists_in_the_executed_output() -> None:
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args={"timezone": "Asia/Tokyo"}),
        Node(id="n2", tool="calc.calculate", args={"expression": "{{n1.time}} + 1"}),
        Node(id="n3", tool="time.convert_time", args={"time": {"$ref": "n1.time"}}),
    )
    ctx = _ctx([_diag(Stage.EXECUTE, "n3", "args.time")], trace=_time_trace(TOKYO))
    fixed = _apply("rebind_ref", workflow, ctx)
    assert _args(fixed, "n3")["time"] == {"$ref": "n1.datetime"}
    assert _args(fixed, "n2") == {"expression": "{{n1.time}} + 1"}


def test_rebind_ref_uses_the_output_schema_before_execution() -> None:
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args={"timezone": "Asia/Tokyo"}),
        Node(id="n2", tool="time.convert_time", args={"time": "$n1.time"}),
    )
    assert _args(_apply("rebind_ref", workflow, _ctx()), "n2")["time"] == "$n1.datetime"


def test_rebind_ref_points_a_missing_node_at_an_existing_one() -> None:
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args={"timezone": "Asia/Tokyo"}),
        Node(id="n2", tool="time.convert_time", args={"time": {"$ref": "n0.datetime"}}),
        uses=("n2", "step2"),
    )
    ctx = _ctx([_diag(Stage.DEPENDENCY, "n2", "args.time")])
    assert _args(_apply("rebind_ref", workflow, ctx), "n2")["time"] == {"$ref": "n1.datetime"}
    ctx = _ctx([_diag(Stage.ANSWER, None)])
    fixed = OPERATORS_BY_NAME["rebind_ref"](_wf(*workflow.nodes[:1], uses=("n_1",)), ctx)
    assert fixed is not None and fixed.answer.uses == ["n1"]


def test_rebind_ref_takes_answer_blame_from_validation() -> None:
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args={"timezone": "Asia/Tokyo"}),
        Node(id="n2", tool="time.convert_time", args={"time": {"$ref": "n0.datetime"}}),
        uses=("n2",),
        template="It is {{n1.time}}",
    )
    blame = Diagnostic(stage=Stage.DEPENDENCY, node="answer", path="answer.template", message="no such field")
    fixed = _apply("rebind_ref", workflow, _ctx([blame]))
    assert fixed.answer.template == "It is {{n1.datetime}}" and fixed.nodes == workflow.nodes


# -- graph edits -------------------------------------------------------------------------------------


def test_insert_producer_adds_a_node_for_an_input_nobody_provides() -> None:
    args = {"source_timezone": "Asia/Tokyo", "target_timezone": "Europe/Paris"}
    workflow = _wf(Node(id="n1", tool="time.convert_time", args=args), uses=("n1",))
    ctx = _ctx(
        [_diag(Stage.SCHEMA, "n1", "args.time")], task="What time is it in Paris when it is now in Tokyo?"
    )
    fixed = _apply("insert_producer", workflow, ctx)
    producer, consumer = fixed.nodes
    assert producer.tool == "time.get_current_time" and fixed.waves() == [[producer.id], ["n1"]]
    assert consumer.args["time"] == {"$ref": f"{producer.id}.datetime"}


def test_delete_node_removes_references_and_answer_uses() -> None:
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args={"timezone": "Asia/Tokyo"}),
        Node(id="n2", tool="calc.calculate", args={"expression": "{{n1.datetime}} now"}),
        Node(
            id="n3",
            tool="time.convert_time",
            args={"time": {"$ref": "n1.datetime"}, "target_timezone": "UTC"},
        ),
        uses=("n1", "n3"),
        template="At {{n1.datetime}}: {{n3.time}}",
    )
    fixed = _apply("delete_node", workflow, _ctx([_diag(Stage.EXECUTE, "n1")]))
    assert [n.id for n in fixed.nodes] == ["n2", "n3"]
    assert _args(fixed, "n2") == {"expression": " now"}
    assert _args(fixed, "n3") == {"target_timezone": "UTC"}
    assert fixed.answer.uses == ["n3"]
    assert fixed.answer.template == ""  # not "At : {{n3.time}}": a sentence with a hole where n1 was
    kept = _apply("delete_node", workflow, _ctx([_diag(Stage.EXECUTE, "n2")]))
    assert kept.answer.template == "At {{n1.datetime}}: {{n3.time}}"  # n2 was not quoted


def test_delete_node_without_blame_removes_an_unused_node() -> None:
    workflow = _wf(
        Node(id="n1", tool="calc.calculate", args={"expression": "1+1"}),
        Node(id="n2", tool="calc.calculate", args={"expression": "2+2"}),
        uses=("n2",),
    )
    assert [n.id for n in _apply("delete_node", workflow, _ctx()).nodes] == ["n2"]


def test_merge_duplicates_keeps_the_first_of_identical_calls_and_moves_references() -> None:
    from evoflux.edits.structure import distinct_calls

    utc = {"timezone": "UTC"}
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args=utc),
        Node(id="n2", tool="time.get_current_time", args=dict(utc)),
        Node(
            id="n3", tool="time.convert_time", args={"time": "$n1.datetime", "target_timezone": "Asia/Dubai"}
        ),
        Node(
            id="n4", tool="time.convert_time", args={"time": "$n2.datetime", "target_timezone": "Asia/Dubai"}
        ),
        Node(id="n5", tool="time.get_current_time", args={"timezone": "Asia/Dubai"}),
        uses=("n3", "n4", "n5"),
        template="Dubai: {{n4.target.datetime}}",
    )
    assert distinct_calls(workflow, {}) == 3
    fixed = _apply("merge_duplicates", workflow, _ctx())
    assert [n.id for n in fixed.nodes] == ["n1", "n3", "n5"]  # n4 became a copy of n3 once n2 was n1
    assert fixed.answer.uses == ["n3", "n5"] and fixed.answer.template == "Dubai: {{n3.target.datetime}}"
    assert distinct_calls(fixed, {}) == 3 and OPERATORS_BY_NAME["merge_duplicates"](fixed, _ctx()) is None
    # a server whose state a step changes: the same read before and after a write is two reads
    files = {
        name: ToolSpec(name=name, server="fs", tool=name[3:], read_only=name == "fs.read")
        for name in ("fs.read", "fs.write")
    }
    path = {"path": "a.txt"}
    stateful = _wf(
        Node(id="n1", tool="fs.read", args=path),
        Node(id="n2", tool="fs.write", args={**path, "content": "x"}),
        Node(id="n3", tool="fs.read", args=dict(path)),
        Node(id="n4", tool="time.get_current_time", args=utc),
        Node(id="n5", tool="time.get_current_time", args=utc),
    )
    ctx = EditContext(catalog={**CATALOG, **files}, rng=random.Random(0), diagnostics=[])
    kept = OPERATORS_BY_NAME["merge_duplicates"](stateful, ctx)
    assert kept is not None and [n.id for n in kept.nodes] == ["n1", "n2", "n3", "n4"]
    assert distinct_calls(stateful, ctx.catalog) == 4


def test_swap_tool_replaces_a_failing_tool_with_a_similar_one() -> None:
    workflow = _wf(
        Node(id="n1", tool="web.search", args={"query": "evoflux", "max_results": 3, "safe": True})
    )
    ctx = _ctx([_diag(Stage.EXECUTE, "n1", message="HTTP 503")])
    fixed = _apply("swap_tool", workflow, ctx)
    assert fixed.nodes[0].tool == "wiki.search_articles"
    assert fixed.nodes[0].args == {"query": "evoflux", "max_results": 3}


def test_break_cycle_cuts_a_back_edge() -> None:
    workflow = _wf(
        Node(id="n1", tool="time.get_current_time", args={"timezone": {"$ref": "n2.source_timezone"}}),
        Node(id="n2", tool="time.convert_time", args={"source_timezone": "$n1.timezone", "time": "10:00"}),
    )
    fixed = _apply("break_cycle", workflow, _ctx([_diag(Stage.DEPENDENCY, "n1")], task="Time in Asia/Tokyo?"))
    assert fixed.waves() == [["n1"], ["n2"]]
    assert _args(fixed, "n1") == {"timezone": "Asia/Tokyo"}


def test_reorder_nodes_puts_producers_first() -> None:
    workflow = _wf(
        Node(id="n2", tool="time.convert_time", args={"time": {"$ref": "n1.datetime"}}),
        Node(id="n1", tool="time.get_current_time", args={"timezone": "UTC"}),
        Node(id="n3", tool="calc.calculate", args={"expression": "1"}),
    )
    fixed = _apply("reorder_nodes", workflow, _ctx())
    assert [n.id for n in fixed.nodes] == ["n1", "n2", "n3"]
    assert OPERATORS_BY_NAME["reorder_nodes"](fixed, _ctx()) is None


# -- the model-guided edit ---------------------------------------------------------------------------


class ScriptedRewrite:
    """Test double for the planner's local rewrite: replays scripted replies and records the contexts."""

    def __init__(self, *replies: Mapping[str, Any] | None) -> None:
        self.replies = list(replies)
        self.contexts: list[str] = []
        self.tools: list[list[str]] = []
        self.purposes: list[str] = []

    def __call__(
        self, node_context: str, tools: Sequence[ToolSpec] = (), purpose: str = ""
    ) -> Mapping[str, Any] | None:
        self.contexts.append(node_context)
        self.tools.append([t.name for t in tools])
        self.purposes.append(purpose)
        return self.replies.pop(0)


BROKEN = _wf(
    Node(id="n1", tool="time.get_current_time", args={"timezone": "Asia/Tokyo"}),
    Node(id="n2", tool="calc.calculate", args={"expr": "2 * 21"}),
    uses=("n2",),
)
BLAME = [_diag(Stage.SCHEMA, "n2", "args.expression", "'expression' is a required property")]


def test_model_guided_edit_shows_the_blamed_node_and_splices_the_reply() -> None:
    rewrite = ScriptedRewrite({"tool": "calc.calculate", "args": {"expression": "2 * 21"}})
    fixed = model_guided(rewrite)(BROKEN, _ctx(BLAME, task="What is 2 * 21?"))
    assert fixed is not None and _args(fixed, "n2") == {"expression": "2 * 21"}
    (context,) = rewrite.contexts
    assert "Node to rewrite (n2)" in context and "'expression' is a required property" in context
    assert "calc.calculate(expression: string)" in context and "n1.datetime" in context


def test_model_guided_edit_can_rewrite_a_neighbourhood() -> None:
    reply = {
        "nodes": [
            {
                "tool": "units.convert_temperature",
                "args": {"value": 2, "from_unit": "celsius", "to_unit": "kelvin"},
            },
            {"tool": "calc.calculate", "args": {"expression": "{{n3.result}} * 21"}},
        ]
    }
    fixed = model_guided(ScriptedRewrite(reply))(BROKEN, _ctx(BLAME))
    assert fixed is not None
    assert [n.id for n in fixed.nodes] == ["n1", "n3", "n2"]
    assert fixed.waves() == [["n1", "n3"], ["n2"]]


def test_model_guided_edit_rejects_invalid_or_empty_replies() -> None:
    ctx = _ctx(BLAME)
    assert model_guided(ScriptedRewrite(None))(BROKEN, ctx) is None
    assert model_guided(ScriptedRewrite({"tool": 3}))(BROKEN, ctx) is None
    assert (
        model_guided(ScriptedRewrite({"nodes": [{"id": "n9", "tool": "calc.calculate"}]}))(BROKEN, ctx)
        is None
    )
    assert model_guided(ScriptedRewrite({"id": "bad id!", "tool": "x.y"}))(BROKEN, ctx) is None
    assert model_guided(ScriptedRewrite(BROKEN.nodes[1].model_dump()))(BROKEN, ctx) is None
    assert model_guided(ScriptedRewrite())(BROKEN, _ctx()) is None


def test_splice_replaces_existing_neighbours_in_place() -> None:
    reply = {
        "nodes": [{"id": "n1", "tool": "time.get_current_time", "args": {"timezone": "UTC"}}, {"tool": "x.y"}]
    }
    fixed = splice(BROKEN, "n2", reply)
    assert fixed is not None and [(n.id, n.tool) for n in fixed.nodes] == [
        ("n1", "time.get_current_time"),
        ("n2", "x.y"),
    ]
    assert _args(fixed, "n1") == {"timezone": "UTC"}


def test_node_context_lists_only_upstream_outputs() -> None:
    chain = _wf(*BROKEN.nodes[:1], Node(id="n2", tool="calc.calculate", args={"expression": "$n1.is_dst"}))
    context = node_context(chain, "n1", _ctx(BLAME))
    assert "Outputs it may reference:\n\nIts output is used by: n2 at expression" in context


# -- applying several edits --------------------------------------------------------------------------

MESSY = _wf(
    Node(id="n1", tool="get_time", args={"tz": "Asia/Tokyo", "verbose": True}),
    Node(id="n2", tool="units.convert_temperature", args={"value": "451", "from": "F", "to_unit": "Celsius"}),
    Node(id="n3", tool="time.convert_time", args={"time": {"$ref": "n1.time"}}),
    uses=("n2", "n3"),
)
MESSY_DIAGNOSTICS = [
    _diag(Stage.RESOLVE, "n1"),
    _diag(Stage.SCHEMA, "n2", "args.from_unit"),
    _diag(Stage.SCHEMA, "n3", "args.source_timezone"),
]


def test_every_operator_leaves_its_input_unchanged() -> None:
    for seed in range(5):
        for op in RULE_OPERATORS:
            before = MESSY.model_dump()
            op(MESSY, _ctx(MESSY_DIAGNOSTICS, task="Convert 451 F to celsius in Asia/Tokyo", seed=seed))
            assert MESSY.model_dump() == before, op.name


def test_applicable_operators_draw_nothing_from_the_search_rng() -> None:
    ctx = _ctx(MESSY_DIAGNOSTICS)
    state = ctx.rng.getstate()
    names = {op.name for op in applicable_operators(MESSY, ctx)}
    assert ctx.rng.getstate() == state
    assert {"resolve_tool", "fix_args", "snap_enum", "rename_arg"} <= names
    assert "break_cycle" not in names and "rebind_ref" not in names  # n1's keys are unknown until resolved


def test_mutate_applies_several_named_edits_deterministically() -> None:
    runs = [mutate(MESSY, _ctx(MESSY_DIAGNOSTICS, seed=7), n_edits=4) for _ in range(2)]
    (first, names), (second, names_again) = runs
    assert first.canonical() == second.canonical() and names == names_again
    assert 1 <= len(names) <= 4 and set(names) <= set(OPERATORS_BY_NAME)
    assert first.canonical() != MESSY.canonical()


def _revalidate(workflow: Workflow) -> list[Diagnostic]:
    """A stand-in for the static checks: unknown tools and literal arguments against the schemas."""
    found = []
    for node in workflow.nodes:
        spec = CATALOG.get(node.tool)
        if spec is None:
            found.append(_diag(Stage.RESOLVE, node.id))
            continue
        literals = {k: v for k, v in node.args.items() if not isinstance(v, dict)}
        schema = {
            **spec.input_schema,
            "required": [r for r in spec.input_schema["required"] if r in literals],
        }
        for error in Draft202012Validator(schema).iter_errors(literals):
            found.append(_diag(Stage.SCHEMA, node.id, "args", error.message))
        found += [
            _diag(Stage.SCHEMA, node.id) for name in spec.input_schema["required"] if name not in node.args
        ]
    return found


def test_mutate_with_revalidation_reaches_a_valid_workflow() -> None:
    safe = [op for op in RULE_OPERATORS if op.name not in ("delete_node", "swap_tool", "insert_producer")]
    task = "Convert 451 F to celsius, and say what time it is in Asia/Tokyo as UTC"
    for seed in range(10):
        ctx = _ctx(_revalidate(MESSY), task=task, seed=seed)
        fixed, names = mutate(MESSY, ctx, n_edits=30, operators=safe, revalidate=_revalidate)
        assert _revalidate(fixed) == [], (seed, names)
        assert _args(fixed, "n2") == {"value": 451, "from_unit": "fahrenheit", "to_unit": "celsius"}, names
        assert _args(fixed, "n3")["time"] == {"$ref": "n1.datetime"}, names


# -- robustness --------------------------------------------------------------------------------------

_ids = st.sampled_from(["n1", "n2", "n3", "n9"])
_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 500),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["3", "true", "Celsius", "Asia/Tokyo", "", "{{n1.datetime}} x", "$n2.time", "$n9"]),
        _ids.map(lambda i: {"$ref": f"{i}.datetime"}),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2)
    ),
    max_leaves=6,
)
_arg_names = st.sampled_from(
    ["timezone", "tz", "value", "from", "to_unit", "time", "expression", "query", "x"]
)
_nodes = st.lists(
    st.builds(
        Node,
        id=_ids,
        tool=st.sampled_from([*CATALOG, "get_time", "nope.nothing"]),
        args=st.dictionaries(_arg_names, _values, max_size=4),
    ),
    max_size=4,
)
_workflows = st.builds(
    Workflow,
    nodes=_nodes,
    answer=st.builds(
        Answer, uses=st.lists(_ids, max_size=2), template=st.sampled_from(["", "{{n1.x}} and {{n7}}"])
    ),
)
_diagnostics = st.lists(
    st.builds(Diagnostic, stage=st.sampled_from(list(Stage)), node=st.none() | _ids, message=st.just("m")),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(_workflows, _diagnostics, st.integers(0, 3), st.booleans())
def test_operators_never_fail_on_messy_workflows(
    workflow: Workflow, diagnostics: list[Diagnostic], seed: int, traced: bool
) -> None:
    trace = _time_trace(TOKYO) if traced else None
    ctx = _ctx(diagnostics, task="Convert 451 F to celsius at 10:30 in Asia/Tokyo", trace=trace, seed=seed)
    before = workflow.model_dump()
    for op in RULE_OPERATORS:
        result = op(workflow, ctx)
        assert workflow.model_dump() == before, op.name
        if result is not None:
            assert Workflow.model_validate(result.model_dump()).canonical() == result.canonical()
    mutated, names = mutate(workflow, ctx, n_edits=3)
    assert len(names) <= 3 and isinstance(mutated, Workflow)


def test_narrow_ref_picks_the_numeric_field_of_a_whole_output_in_arithmetic() -> None:
    converted = {
        "original_value": 100.0,
        "original_unit": "fahrenheit",
        "converted_value": 37.78,
        "converted_unit": "celsius",
    }
    trace = Trace(runs={"n1": NodeRun(node="n1", tool="unit.convert", status="ok", output=converted)})
    workflow = _wf(
        Node(id="n1", tool="unit.convert", args={"value": 100}),
        Node(id="n2", tool="calc.calculate", args={"expression": "3 * {{n1}}"}),
    )
    ctx = _ctx([_diag(Stage.EXECUTE, "n2", message="Unsupported operation: Dict")], trace=trace, task="x")
    fixed = _apply("narrow_ref", workflow, ctx)
    assert _args(fixed, "n2") == {"expression": "3 * {{n1.converted_value}}"}
    # a key the output lacks is narrowed the same way
    broken = _wf(
        workflow.nodes[0], Node(id="n2", tool="calc.calculate", args={"expression": "{{n1.celsius}} * 3"})
    )
    assert _args(_apply("narrow_ref", broken, ctx), "n2") == {"expression": "{{n1.converted_value}} * 3"}
    # a reference to a scalar is left alone
    fine = _wf(
        workflow.nodes[0], Node(id="n2", tool="calc.calculate", args={"expression": "{{n1.converted_value}}"})
    )
    assert OPERATORS_BY_NAME["narrow_ref"](fine, ctx) is None


def test_narrow_ref_retargets_a_field_that_echoes_the_producers_input() -> None:
    output = {"original_value": 25.0, "converted_value": 77.0, "converted_unit": "fahrenheit"}
    trace = Trace(runs={"n1": NodeRun(node="n1", tool="unit.convert", status="ok", output=output)})
    workflow = _wf(
        Node(id="n1", tool="unit.convert", args={"value": 25, "to_unit": "fahrenheit"}),
        Node(id="n2", tool="calc.calculate", args={"expression": "2 * {{n1.original_value}}"}),
    )
    fixed = _apply("narrow_ref", workflow, _ctx(trace=trace, task="25 C in F, times 2"))
    assert _args(fixed, "n2") == {"expression": "2 * {{n1.converted_value}}"}


def test_snap_enum_leaves_a_value_with_no_close_option() -> None:
    from evoflux.scoring.similarity import snap
    from evoflux.servers.argschema import NO_VALUE

    assert snap("megabytes", ["megatonne", "kilotonne", "gram"]) is NO_VALUE
    assert snap("miles", ["mile", "kilometer"]) == "mile"


def test_snap_enum_takes_the_singular_before_a_nearer_spelling() -> None:
    from evoflux.scoring.similarity import snap

    units = ["mil", "mile", "inch", "foot", "yard", "kilometer"]  # `mil`: a thousandth of an inch
    assert snap("miles", units) == "mile" and snap("Miles", ["MILE", "mil"]) == "MILE"
    assert snap("feet", units) == "foot" and snap("inches", units) == "inch"
    assert snap("centuries", ["century", "cent"]) == "century"


def test_step_insertion_offers_tools_of_servers_the_workflow_does_not_use_yet() -> None:
    from evoflux.edits.model_guided import model_append

    ran = _wf(
        Node(id="n1", tool="units.convert_temperature", args={"value": 25, "from_unit": "C", "to_unit": "F"}),
        uses=("n1",),
    )
    missing = [Diagnostic(stage=Stage.ANSWER, message="the answer does not cover: that value times 2")]
    writer = ScriptedRewrite({"tool": "calc.calculate", "args": {"expression": "{{n1.value}} * 2"}})
    grown = model_append(writer, max_tools=3)(
        ran, _ctx(missing, task="Convert 25 C to F, then multiply by 2")
    )
    assert grown is not None and [n.tool for n in grown.nodes] == [
        "units.convert_temperature",
        "calc.calculate",
    ]
    (offered,) = writer.tools
    assert len(offered) == 3 and "units.convert_temperature" not in offered[:2]
    assert "calc.calculate" in offered and all(name in writer.contexts[0] for name in offered)
    assert writer.purposes == ["that value times 2"]


def test_use_task_number_puts_the_unused_task_number_in_place_of_an_invented_one() -> None:
    from evoflux.edits.quantities import use_task_number

    task = "Convert 32 psi to kilopascals and then compute 90% of that value."
    invented = _wf(
        Node(id="n1", tool="units.convert_temperature", args={"value": 32, "from_unit": "C", "to_unit": "F"}),
        Node(id="n2", tool="calc.calculate", args={"expression": "{{n1.value}} * 0.5"}),
        uses=("n2",),
    )
    fixed = use_task_number(invented, _ctx(task=task))
    assert fixed is not None and _args(fixed, "n2") == {"expression": "{{n1.value}} * 0.9"}
    assert use_task_number(fixed, _ctx(task=task)) is None  # every task number is used now
    literal = _wf(Node(id="n1", tool="units.convert_temperature", args={"value": 25}), uses=("n1",))
    assert _args(use_task_number(literal, _ctx(task="What is 72 F in C?")), "n1") == {"value": 72}


def test_replace_number_leaves_placeholders_and_other_numbers_alone() -> None:
    from evoflux.edits.quantities import as_written, replace_number

    value = {"expression": "{{n12.x}} * 12 + 12", "k": [12.0, 3]}
    assert replace_number(value, 12.0, 7.5) == {"expression": "{{n12.x}} * 7.5 + 12", "k": [12.0, 3]}
    assert replace_number({"k": [5, 12]}, 12.0, 1536.0) == {"k": [5, 1536]}
    assert as_written(18.5, "Work out 18.5 percent of 2640") == 0.185
    assert as_written(2640.0, "Work out 18.5 percent of 2640") == 2640.0


def test_rebind_ref_prefers_a_computed_key_to_one_that_echoes_the_input() -> None:
    workflow = _wf(
        Node(id="n1", tool="units.convert_temperature", args={"value": 25, "from_unit": "C", "to_unit": "F"}),
        Node(id="n2", tool="calc.calculate", args={"expression": "2 * {{n1.value}}"}),
        uses=("n2",),
    )
    output = {"original_value": 25.0, "converted_value": 77.0, "converted_unit": "fahrenheit"}
    run = NodeRun(node="n1", tool="units.convert_temperature", status="ok", output=output)
    ctx = _ctx([_diag(Stage.EXECUTE, "n2", "args.expression")], trace=Trace(runs={"n1": run}))
    assert _args(_apply("rebind_ref", workflow, ctx), "n2") == {"expression": "2 * {{n1.converted_value}}"}


def _conversion(value: float, source: str, target: str) -> Workflow:
    """One temperature conversion step, answered from: the shape the endpoint tests vary."""
    args = {"value": value, "from_unit": source, "to_unit": target}
    return _wf(Node(id="n1", tool="units.convert_temperature", args=args), uses=("n1",))


def test_swap_direction_turns_a_backwards_conversion_round() -> None:
    from evoflux.edits.direction import swap_direction
    from evoflux.scoring.direction import misdirected

    task = "Convert 100 degrees Fahrenheit to Celsius, then multiply the result by 3."
    backwards = _conversion(100, "celsius", "fahrenheit")
    assert [(m.node, m.source, m.target, m.kind) for m in misdirected(backwards, task)] == [
        ("n1", "from_unit", "to_unit", "reversed")
    ]
    fixed = swap_direction(backwards, _ctx(task=task))
    assert fixed is not None
    assert _args(fixed, "n1") == {"value": 100, "from_unit": "fahrenheit", "to_unit": "celsius"}
    assert swap_direction(fixed, _ctx(task=task)) is None  # the right way round now


def test_misdirected_is_silent_when_the_task_does_not_say_a_direction() -> None:
    from evoflux.scoring.direction import misdirected, says_direction

    node = Node(id="n1", tool="fx.convert", args={"amount": 5, "base": "EUR", "target": "USD"})
    # both directions are said: the check cannot be sure, so it stays silent
    there_and_back = "Convert 5 USD to EUR and then EUR to USD again."
    assert misdirected(_wf(node, uses=("n1",)), there_and_back) == []
    assert misdirected(_wf(node, uses=("n1",)), "How much is 5 EUR worth?") == []
    assert misdirected(_wf(node, uses=("n1",)), "Turn 5 USD into EUR.") != []
    # references are never judged, and a plural or a couple of words around the connector still count
    ref = Node(id="n2", tool="fx.convert", args={"base": "{{n1.currency}}", "target": "USD"})
    assert misdirected(_wf(node, ref, uses=("n2",)), "Turn 5 USD into EUR.") == [
        misdirected(_wf(node, uses=("n1",)), "Turn 5 USD into EUR.")[0]
    ]
    assert says_direction("10 kilometers into statute miles", "kilometer", "mile")
    assert not says_direction("10 kilometers, and miles", "kilometer", "mile")


def test_move_source_gives_a_step_that_goes_nowhere_the_unit_the_task_writes_after_its_number() -> None:
    from evoflux.edits.direction import move_source
    from evoflux.scoring.direction import misdirected

    task = "Take 20 kelvin and 451 fahrenheit, and convert 451 to Celsius."
    nowhere = _conversion(451, "celsius", "celsius")
    [found] = misdirected(nowhere, task)
    assert found.kind == "stationary" and "computes nothing" in found.message(nowhere.nodes[0].args)
    moved = move_source(nowhere, _ctx(task=task))
    assert moved is not None and _args(moved, "n1")["from_unit"] == "fahrenheit"  # written after 451
    assert misdirected(moved, task) == [] and move_source(moved, _ctx(task=task)) is None
    # without the number in the task, the first unit the task mentions (other than the target)
    unanchored = nowhere.model_copy(deep=True)
    unanchored.nodes[0].args["value"] = 7
    assert _args(move_source(unanchored, _ctx(task=task)), "n1")["from_unit"] == "kelvin"
    # a tool without an enum for the source gives the edit nothing to choose from
    free = _wf(
        Node(id="n1", tool="time.convert_time", args={"source_timezone": "UTC", "target_timezone": "UTC"})
    )
    assert misdirected(free, task) != [] and move_source(free, _ctx(task=task)) is None
    one_day = _wf(Node(id="n1", tool="cal.events", args={"from_date": "2025-03-01", "to_date": "2025-03-01"}))
    assert misdirected(one_day, "What is on 2025-03-01?") == []


LENGTHS = ["meter", "kilometer", "mile", "foot"]


def _length_catalog() -> dict[str, ToolSpec]:
    length = _converter("units.convert_length", "Convert a length between units", LENGTHS)
    return {**CATALOG, length.name: length}


def test_retool_endpoints_moves_a_step_the_task_never_talks_about_to_the_tool_that_fits() -> None:
    from evoflux.edits.direction import retool_endpoints
    from evoflux.scoring.direction import misdirected

    task = "A runner finishes a 26.2 mile marathon. Convert the distance to kilometers."
    wrong_tool = _conversion(26.2, "celsius", "fahrenheit")
    [found] = misdirected(wrong_tool, task)
    assert found.kind == "unrelated" and "neither of which" in found.message(wrong_tool.nodes[0].args)
    ctx = EditContext(catalog=_length_catalog(), rng=random.Random(0), task=task)
    fixed = retool_endpoints(wrong_tool, ctx)
    assert fixed is not None and fixed.nodes[0].tool == "units.convert_length"
    assert _args(fixed, "n1") == {"value": 26.2, "from_unit": "mile", "to_unit": "kilometer"}
    assert misdirected(fixed, task) == [] and retool_endpoints(fixed, ctx) is None
    # nothing in the catalog holds what the task mentions: no edit
    assert retool_endpoints(wrong_tool, _ctx(task=task)) is None


def test_a_short_word_of_the_task_that_abbreviates_a_value_is_a_mention() -> None:
    from evoflux.scoring.direction import mentions, misdirected

    assert mentions("What is 72 F in C?", "fahrenheit") and mentions("What is 72 F in C?", "celsius")
    assert mentions("Run 10 km", "kilometer") and mentions("Drive at 60 mph", "miles per hour")
    assert not mentions("Run 10 km", "fahrenheit")
    assert mentions("9 am in London", "Europe/London") and not mentions("9 am in London", "Asia/Tokyo")
    node = Node(id="n1", tool="u.t", args={"value": 72, "from_unit": "fahrenheit", "to_unit": "celsius"})
    assert misdirected(_wf(node), "What is 72 F in C?") == []


def test_a_value_is_mentioned_in_its_plural_forms_irregular_ones_too() -> None:
    from evoflux.scoring.direction import mentions, misdirected, says_direction

    assert mentions("A 6 feet wall", "foot") and mentions("Two centuries later", "century")
    assert mentions("Now in degrees Celsius", "degree celsius")
    assert mentions("at 3 feet per second", "foot per second") and not mentions("3 feet", "foot per second")
    assert not mentions("A footnote", "foot") and not mentions("A 6 feet wall", "meter")
    assert says_direction("Convert 6 feet to metres", "foot", "metre")
    node = Node(id="n1", tool="u.t", args={"value": 6, "from_unit": "meter", "to_unit": "foot"})
    assert [m.kind for m in misdirected(_wf(node), "Convert 6 feet to meters")] == ["reversed"]


def test_swap_tool_picks_the_tool_whose_enums_accept_the_values_the_node_holds() -> None:
    from evoflux.edits.structure import swap_tool, values_fit

    task = "Convert 26.2 miles to kilometers."
    wrong = _conversion(26.2, "mile", "kilometer")
    catalog = _length_catalog()
    assert values_fit(wrong.nodes[0].args, catalog["units.convert_length"].input_schema) == 1.0
    assert values_fit(wrong.nodes[0].args, catalog["units.convert_temperature"].input_schema) == 1 / 3
    diagnostics = [_diag(Stage.SCHEMA, "n1", "from_unit", "'mile' is not one of ['celsius', ...]")]
    ctx = EditContext(catalog=catalog, rng=random.Random(0), diagnostics=diagnostics, task=task)
    fixed = _apply("swap_tool", wrong, ctx)
    assert fixed.nodes[0].tool == "units.convert_length" and _args(fixed, "n1") == wrong.nodes[0].args
    # a plural of its own tool's unit is a spelling for snap_enum to fix, not a reason to change tools
    plural = Node(
        id="n1", tool="units.convert_length", args={"value": 3, "from_unit": "miles", "to_unit": "meter"}
    )
    assert swap_tool(_wf(plural, uses=("n1",)), ctx) is None


ENTITIES = _tool(
    "memory.create_entities",
    "Create entities in the knowledge graph",
    {
        "type": "object",
        "properties": {
            "entities": {
                "type": "array",
                "items": {"$ref": "#/$defs/entity"},
            }
        },
        "required": ["entities"],
        "$defs": {
            "entity": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "entityType": {"type": "string"},
                    "observations": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["name", "entityType", "observations"],
                "additionalProperties": False,
            }
        },
    },
)


def test_fix_nested_args_repairs_objects_inside_a_list_argument() -> None:
    from evoflux.edits.nested import fix_nested_args

    wrong = _wf(
        Node(
            id="n1",
            tool="memory.create_entities",
            args={
                "entities": [
                    {"name": "Reykjavik", "type": "city", "observations": [{"content": "population 139000"}]},
                    {"name": "Kestrel", "entity_type": "project", "observation": "codename", "colour": "red"},
                ]
            },
        ),
        uses=("n1",),
    )
    catalog = {**CATALOG, ENTITIES.name: ENTITIES}
    diagnostics = [_diag(Stage.SCHEMA, "n1", "args.entities[0]", "'entityType' is a required property")]
    ctx = EditContext(catalog=catalog, rng=random.Random(0), diagnostics=diagnostics)
    fixed = fix_nested_args(wrong, ctx)
    assert fixed is not None
    assert _args(fixed, "n1") == {
        "entities": [
            {"name": "Reykjavik", "entityType": "city", "observations": ["population 139000"]},
            {"name": "Kestrel", "entityType": "project", "observations": ["codename"]},
        ]
    }
    assert fix_nested_args(fixed, ctx) is None  # nothing left to repair
    validator = Draft202012Validator(ENTITIES.input_schema)
    assert list(validator.iter_errors(_args(fixed, "n1"))) == []


def test_prompts_show_executed_values_and_mark_fields_that_echo_the_input() -> None:
    from evoflux.edits.model_guided import append_context, shown_outputs

    output = {"original_value": 26.2, "original_unit": "mile", "converted_value": 42.16, "note": {"a": 1}}
    trace = Trace(runs={"n1": NodeRun(node="n1", tool="units.convert_length", status="ok", output=output)})
    node = Node(id="n1", tool="units.convert_length", args={"value": 26.2, "from_unit": "mile"})
    ctx = _ctx([_diag(Stage.ANSWER, None, message="the answer does not cover: pace")], trace=trace, task="t")
    shown = shown_outputs(node, ctx)
    assert "n1.original_value=26.2 (its input)" in shown and '"mile" (its input)' in shown
    assert (
        "n1.converted_value=42.16," in shown and "(its input)" not in shown.split("converted_value")[1][:12]
    )
    assert "n1.note" in shown and "n1.note=" not in shown  # objects are named, not printed
    assert not shown.startswith("n1,") and ", n1," not in shown  # an object output: fields, not itself
    unrun = Node(id="n2", tool="calc.calculate", args={"expression": "1"})
    assert "=" not in shown_outputs(unrun, ctx)  # nothing ran: paths only
    assert "n1.converted_value=42.16" in append_context(_wf(node, uses=("n1",)), ctx, [])


def test_a_chain_step_that_starts_over_from_an_invented_number_takes_the_earlier_result() -> None:
    from evoflux.edits.quantities import chain_invented_number

    task = "Add 700 and 60 milliliters, then express the total in fluid ounces."
    add = Node(id="n1", tool="calc.calculate", args={"expression": "700 + 60"})
    convert = Node(id="n2", tool="units.convert_volume", args={"value": 1000, "from_unit": "milliliter"})
    runs = {
        "n1": NodeRun(node="n1", tool="calc.calculate", status="ok", output={"result": "760"}),
        "n2": NodeRun(node="n2", tool="units.convert_volume", status="ok", output={"converted_value": 33.8}),
    }
    ctx = _ctx(task=task, trace=Trace(runs=runs))
    fixed = chain_invented_number(_wf(add, convert, uses=("n2",)), ctx)
    assert fixed is not None
    assert _args(fixed, "n2") == {"value": "$n1.result", "from_unit": "milliliter"}
    assert chain_invented_number(fixed, ctx) is None  # it takes an earlier output now
    # inside a text argument, the number becomes a placeholder
    ratio = Node(id="n2", tool="calc.calculate", args={"expression": "1000 / 29.57"})
    fixed = chain_invented_number(_wf(add, ratio), ctx)
    assert fixed is not None and _args(fixed, "n2") == {"expression": "{{n1.result}} / 29.57"}
    # a task number is no invention; a field that repeats the step's own input is not its result
    given = Node(id="n2", tool="units.convert_volume", args={"value": 60, "from_unit": "milliliter"})
    assert chain_invented_number(_wf(add, given), ctx) is None
    length = Node(id="n1", tool="units.convert_length", args={"value": 12, "from_unit": "foot"})
    echo = {"original_value": 12, "converted_value": 3.6576}
    ctx = _ctx(
        task="Convert 12 feet to meters, then add 5.",
        trace=Trace(runs={"n1": NodeRun(node="n1", tool="units.convert_length", status="ok", output=echo)}),
    )
    plus = Node(id="n2", tool="calc.calculate", args={"expression": "3.6 + 5"})
    fixed = chain_invented_number(_wf(length, plus), ctx)
    assert fixed is not None and _args(fixed, "n2") == {"expression": "{{n1.converted_value}} + 5"}


def test_a_step_that_copies_an_earlier_result_as_a_number_references_it_instead() -> None:
    from evoflux.edits.quantities import link_copied_output

    task = "Someone weighs 165 pounds and is 70 inches tall: compute kilograms divided by meters squared."
    mass = Node(id="n1", tool="units.convert_mass", args={"value": 165, "from_unit": "pound"})
    height = Node(id="n2", tool="units.convert_length", args={"value": 70, "from_unit": "inch"})
    runs = {
        "n1": NodeRun(
            node="n1",
            tool="units.convert_mass",
            status="ok",
            output={"original_value": 165, "converted_value": 74.84274105},
        ),
        "n2": NodeRun(
            node="n2",
            tool="units.convert_length",
            status="ok",
            output={"original_value": 70, "converted_value": 1.778},
        ),
    }
    ctx = _ctx(task=task, trace=Trace(runs=runs))
    bmi = Node(id="n3", tool="calc.calculate", args={"expression": "74.84 / 1.778**2"})  # rounded copy
    fixed = link_copied_output(_wf(mass, height, bmi), ctx)
    assert fixed is not None
    assert _args(fixed, "n3") == {"expression": "{{n1.converted_value}} / {{n2.converted_value}}**2"}
    assert link_copied_output(fixed, ctx) is None  # nothing copied is left
    # a whole numeric argument becomes a whole reference
    again = Node(id="n3", tool="units.convert_mass", args={"value": 74.84274105, "from_unit": "kilogram"})
    fixed = link_copied_output(_wf(mass, height, again), ctx)
    assert fixed is not None and _args(fixed, "n3")["value"] == "$n1.converted_value"
    # inside a nested argument too
    nested = Node(id="n3", tool="calc.stats", args={"values": [2, {"x": 74.84274105}]})
    fixed = link_copied_output(_wf(mass, height, nested), ctx)
    assert fixed is not None and _args(fixed, "n3") == {"values": [2, {"x": "$n1.converted_value"}]}
    # the task's own numbers, an echo of a step's input, a one-decimal near miss and a later step's
    # output are not copies
    for args in ({"expression": "165 / 70"}, {"expression": "74.8 / 2"}):
        assert (
            link_copied_output(_wf(mass, height, Node(id="n3", tool="calc.calculate", args=args)), ctx)
            is None
        )
    first = Node(id="n0", tool="calc.calculate", args={"expression": "1.778 * 2"})
    assert link_copied_output(_wf(first, mass, height), ctx) is None
