"""Static checks: every stage reports a structured Diagnostic {stage, node, message, hint, path}."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic, Stage, earliest_stage, render
from evoflux.workflow.graph import Answer, Node, Workflow
from evoflux.workflow.parse import parse_workflow
from evoflux.workflow.validate import Limits, canonicalise_tools, check_arguments, closest_tools, validate

FORECAST_IN = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name, e.g. Paris"},
        "days": {"type": "integer", "minimum": 1},
        "units": {"enum": ["metric", "imperial"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}
FORECAST_OUT = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}},
    },
    "additionalProperties": False,
}
NUMBER_PAIR = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
}
SUM = {"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}


def spec(
    name: str, schema: dict[str, Any] | None = None, output: dict[str, Any] | None = None, **kw: Any
) -> ToolSpec:
    server, tool = name.split(".")
    return ToolSpec(
        name=name,
        server=server,
        tool=tool,
        input_schema=schema or {"type": "object"},
        output_schema=output,
        **kw,
    )


TOOLS = {
    s.name: s
    for s in [
        spec("weather.get_forecast", FORECAST_IN, FORECAST_OUT),
        spec("weather.geocode", {"type": "object", "properties": {"q": {"type": "string"}}}),
        spec("math.add", NUMBER_PAIR, SUM),
        spec(
            "notes.search",
            {"type": "object"},
            {"type": "object", "properties": {"hits": {}}, "additionalProperties": True},
        ),
        spec("files.read", {"type": "object"}, unusable="server 'files' is unavailable: it exited"),
        spec("files.read_text", {"type": "object"}),
    ]
}


def wf(
    *nodes: tuple[str, str, dict[str, Any]], uses: list[str] | None = None, template: str = ""
) -> Workflow:
    return Workflow(
        nodes=[Node(id=i, tool=t, args=a) for i, t, a in nodes],
        answer=Answer(uses=uses or [], template=template),
    )


def one(diagnostics: list[Diagnostic]) -> Diagnostic:
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


# -- the Diagnostic itself -----------------------------------------------------------------------------


def test_diagnostic_serialises_its_stage_by_name_and_renders_as_one_line() -> None:
    d = Diagnostic(stage=Stage.SCHEMA, node="n1", message="bad", hint="fix it", path="args.city")
    assert d.model_dump() == {
        "stage": "schema",
        "node": "n1",
        "message": "bad",
        "hint": "fix it",
        "path": "args.city",
    }
    assert Diagnostic.model_validate(json.loads(d.model_dump_json())) == d
    assert str(d) == "[schema] n1 at args.city: bad (hint: fix it)"
    assert str(Diagnostic(stage="parse", message="no JSON")) == "[parse]: no JSON"
    many = [Diagnostic(stage=Stage.EXECUTE, message=f"m{i}") for i in range(5)] + [d]
    assert earliest_stage(many) == Stage.SCHEMA and earliest_stage([]) is None
    assert render(many, limit=2).splitlines() == ["- [execute]: m0", "- [execute]: m1", "- ... and 4 more"]


# -- parse ---------------------------------------------------------------------------------------------

PLAN = {
    "nodes": [
        {"id": "n1", "tool": "weather.get_forecast", "args": {"city": "Paris"}, "why": "get it"},
        {"id": "n2", "tool": "math.add", "args": {"a": "$n1.items[0].id", "b": 1}},
    ],
    "answer": {"uses": ["n2"], "template": "{{n2.sum}}"},
}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I am sorry, I cannot plan this.", "no JSON object found in the model output"),
        ("", "no JSON object found in the model output"),
        ('{"nodes": [{"id": "n1", "tool": "weather.get_fo', "no JSON object found in the model output"),
        ("42", "expected a JSON object with a 'nodes' list, got int"),
        ('{"answer": "it is sunny"}', "the workflow has no 'nodes' list"),
        ('{"nodes": ["weather.get_forecast"]}', "node #1 is a str, not an object"),
    ],
)
def test_unreadable_output_is_a_parse_diagnostic(text: str, message: str) -> None:
    workflow, diagnostics = parse_workflow(text)
    assert workflow is None
    d = one(diagnostics)
    assert (d.stage, d.node, d.path, d.message) == (Stage.PARSE, None, None, message)
    assert '{"nodes": [{"id", "tool", "args"}], "answer": {...}}' in d.hint


def test_truncated_output_asks_for_a_shorter_plan() -> None:
    workflow, diagnostics = parse_workflow(json.dumps(PLAN)[:60], truncated=True)
    assert workflow is None
    d = one(diagnostics)
    assert d.stage == Stage.PARSE and "ran out of tokens" in d.message
    assert d.hint.startswith("Write a shorter plan")


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(PLAN),
        f"Sure! Here is the plan:\n```json\n{json.dumps(PLAN, indent=2)}\n```\nLet me know if it helps.",
        f"Here it is:\n```\n{json.dumps(PLAN)}\n```",
        f"Plan: {json.dumps(PLAN)} -- the answer will be {{{{n2.sum}}}} {{roughly}}.",
        f"Thinking... the plan is {json.dumps(PLAN)}",
    ],
)
def test_json_wrapped_in_prose_or_fences_is_read(text: str) -> None:
    workflow, diagnostics = parse_workflow(text)
    assert diagnostics == []
    assert workflow is not None
    assert [(n.id, n.tool, n.args) for n in workflow.nodes] == [
        ("n1", "weather.get_forecast", {"city": "Paris"}),
        ("n2", "math.add", {"a": "$n1.items[0].id", "b": 1}),
    ]
    assert workflow.nodes[0].why == "get it"
    assert workflow.answer == Answer(uses=["n2"], template="{{n2.sum}}")


def test_the_shapes_small_models_write_are_normalised() -> None:
    text = json.dumps(
        {
            "steps": [
                {"name": "weather.geocode", "arguments": {"q": "Paris"}, "purpose": "find it"},
                {"function": {"name": "weather.get_forecast", "arguments": '{"city": "$n1.name"}'}},
                {"node_id": "last", "tool_name": "math.add", "params": "not json"},
            ],
            "final_answer": {"from": "$n2.result", "text": "It is {{n2.city}}"},
        }
    )
    workflow, diagnostics = parse_workflow(text)
    assert diagnostics == [] and workflow is not None
    assert [(n.id, n.tool, n.args, n.why) for n in workflow.nodes] == [
        ("n1", "weather.geocode", {"q": "Paris"}, "find it"),
        ("n2", "weather.get_forecast", {"city": "$n1.name"}, ""),
        ("last", "math.add", {"input": "not json"}, ""),
    ]
    assert workflow.answer == Answer(uses=["n2"], template="It is {{n2.city}}")


def test_a_list_of_calls_and_an_answer_string_are_accepted() -> None:
    workflow, diagnostics = parse_workflow('[{"tool": "math.add", "args": {"a": 1, "b": 2}}]')
    assert diagnostics == [] and workflow is not None
    assert [(n.id, n.tool) for n in workflow.nodes] == [("n1", "math.add")]
    workflow, _ = parse_workflow('{"plan": {"x": {"tool": "math.add"}}, "answer": "sum: {{x.sum}}"}')
    assert workflow is not None
    assert [n.id for n in workflow.nodes] == ["x"]
    assert workflow.answer == Answer(uses=[], template="sum: {{x.sum}}")


def test_structural_problems_are_parse_diagnostics_on_their_node() -> None:
    text = json.dumps(
        {
            "nodes": [
                {"id": "n1", "tool": "math.add"},
                {"id": "n1", "tool": "math.add"},
                {"id": "answer", "tool": "math.add"},
                {"id": "bad id!", "tool": "math.add"},
                {"id": "n5"},
            ]
        }
    )
    workflow, diagnostics = parse_workflow(text)
    assert workflow is not None
    assert [(d.stage, d.node) for d in diagnostics] == [
        (Stage.PARSE, "n1"),
        (Stage.PARSE, "answer"),
        (Stage.PARSE, "bad id!"),
        (Stage.PARSE, "n5"),
    ]
    assert [d.message for d in diagnostics] == [
        "node id 'n1' is used twice",
        "node id 'answer' is not a valid identifier",
        "node id 'bad id!' is not a valid identifier",
        "the node names no tool",
    ]
    assert all(d.hint for d in diagnostics)
    _, empty = parse_workflow('{"nodes": []}')
    assert one(empty).message == "the workflow calls no tool"


def test_too_many_nodes_stops_validation_at_parse() -> None:
    workflow = wf(*[(f"n{i}", "nowhere.tool", {}) for i in range(3)])
    d = one(validate(workflow, TOOLS, Limits(max_nodes=2)))
    assert (d.stage, d.message) == (Stage.PARSE, "the workflow has 3 nodes (cap 2)")


# -- resolve -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "best"),
    [
        ("weather.get_forcast", "weather.get_forecast"),
        ("get_forecast", "weather.get_forecast"),
        ("wether.geocode", "weather.geocode"),
        ("math.sum", "math.add"),  # same server: among the closest, not necessarily first
    ],
)
def test_unknown_tool_is_a_resolve_diagnostic_naming_the_closest_tools(tool: str, best: str) -> None:
    d = one(validate(wf(("n1", tool, {})), TOOLS))
    assert (d.stage, d.node, d.path) == (Stage.RESOLVE, "n1", None)
    assert d.message == f"tool {tool!r} is not in the live catalog"
    assert d.hint.startswith("closest tools: ")
    near = d.hint.removeprefix("closest tools: ").split(", ")
    assert len(near) == 3 and set(near) <= set(TOOLS)
    assert best in near
    assert near[0] == best or tool == "math.sum"


def test_closest_tools_on_an_empty_catalog() -> None:
    assert closest_tools("x.y", {}) == []
    d = one(validate(wf(("n1", "x.y", {})), {}))
    assert d.hint == "the catalog is empty"


def test_an_unusable_tool_is_a_resolve_diagnostic() -> None:
    d = one(validate(wf(("n1", "files.read", {})), TOOLS))
    assert (d.stage, d.node) == (Stage.RESOLVE, "n1")
    assert d.message == "tool 'files.read' is unusable: server 'files' is unavailable: it exited"
    assert d.hint.startswith("use another tool: ") and "files.read_text" in d.hint
    assert "files.read" not in d.hint.removeprefix("use another tool: ").split(", ")


def test_canonicalise_tools_qualifies_unambiguous_short_names() -> None:
    tools = {**TOOLS, "other.geocode": spec("other.geocode")}
    workflow = wf(
        ("n1", "get_forecast", {"city": "Paris"}),
        ("n2", "weather:get_forecast", {"city": "Oslo"}),
        ("n3", "Weather.add", {"a": 1, "b": 2}),
        ("n4", "geocode", {}),
        ("n5", "math.add", {"a": 3, "b": 4}),  # not a repeat of n3: kept
        ("n6", "no_such_tool", {}),
    )
    fixed = canonicalise_tools(workflow, tools)
    assert [n.tool for n in fixed.nodes] == [
        "weather.get_forecast",
        "weather.get_forecast",
        "math.add",
        "geocode",  # two servers have it: left for the resolve diagnostic
        "math.add",
        "no_such_tool",
    ]
    assert [n.args for n in fixed.nodes] == [n.args for n in workflow.nodes]
    assert workflow.nodes[0].tool == "get_forecast"  # the input is not changed
    assert [d.node for d in validate(fixed, tools)] == ["n4", "n6"]


# -- schema --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "path", "message", "hint"),
    [
        (
            {"city": "Paris", "days": "three"},
            "args.days",
            "weather.get_forecast: 'three' is not of type 'integer'",
            "give a value of type integer",
        ),
        (
            {"days": 2},
            "args",
            "weather.get_forecast: 'city' is a required property",
            "add 'city' (string): City name, e.g. Paris",
        ),
        (
            {"city": "Paris", "colour": "red"},
            "args",
            "weather.get_forecast: Additional properties are not allowed ('colour' was unexpected)",
            "allowed arguments: city, days, units",
        ),
        (
            {"city": "Paris", "units": "kelvin"},
            "args.units",
            "weather.get_forecast: 'kelvin' is not one of ['metric', 'imperial']",
            'use one of ["metric", "imperial"]',
        ),
        (
            {"city": "Paris", "days": 0},
            "args.days",
            "weather.get_forecast: 0 is less than the minimum of 1",
            "the argument must satisfy minimum: 1",
        ),
    ],
)
def test_schema_violations_are_diagnostics_with_a_path(
    args: dict[str, Any], path: str, message: str, hint: str
) -> None:
    d = one(validate(wf(("n1", "weather.get_forecast", args)), TOOLS))
    assert d == Diagnostic(stage=Stage.SCHEMA, node="n1", path=path, message=message, hint=hint)


def test_nested_paths_and_draft_2020_12_keywords() -> None:
    schema = {
        "type": "object",
        "properties": {
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
            "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
        },
        "$defs": {"item": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}},
    }
    tool = spec("s.nested", schema)
    assert check_arguments("n1", {"pair": ["a", 1], "items": [{"id": 1}]}, tool, Limits()) == []
    found = check_arguments("n1", {"pair": ["a", "b"], "items": [{"id": 1}, {"id": "x"}, {}]}, tool, Limits())
    assert sorted(d.path or "" for d in found) == ["args.items[1].id", "args.items[2]", "args.pair[1]"]
    assert all(d.stage == Stage.SCHEMA and d.node == "n1" for d in found)


def test_arguments_that_hold_references_are_not_type_checked() -> None:
    workflow = wf(
        ("n1", "weather.get_forecast", {"city": "Paris"}),
        ("n2", "math.add", {"a": "$n1.items[0].id", "b": {"$ref": "n1.items[-1].id"}}),
    )
    assert validate(workflow, TOOLS) == []
    d = one(
        validate(
            wf(("n1", "weather.get_forecast", {"city": "Paris"}), ("n2", "math.add", {"a": "$n1.city"})),
            TOOLS,
        )
    )
    assert (d.stage, d.path) == (Stage.SCHEMA, "args") and "'b' is a required property" in d.message


def test_errors_per_node_are_capped() -> None:
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(10)}}
    args = {f"p{i}": "x" for i in range(10)}
    assert len(check_arguments("n1", args, spec("s.t", schema), Limits(max_errors_per_node=3))) == 3


def test_size_and_depth_caps() -> None:
    tool = spec("s.t", {"type": "object"})
    big = one(check_arguments("n1", {"text": "x" * 200}, tool, Limits(max_arg_bytes=100)))
    assert (big.stage, big.node, big.message, big.hint) == (
        Stage.SCHEMA,
        "n1",
        "arguments are 212 bytes (cap 100)",
        "shorten them",
    )
    deep: Any = "leaf"
    for _ in range(6):
        deep = {"d": deep}
    d = one(check_arguments("n1", deep, tool, Limits(max_arg_depth=4)))
    assert (d.stage, d.message, d.hint) == (Stage.SCHEMA, "arguments nest deeper than 4", "flatten them")
    assert check_arguments("n1", deep, tool, Limits(max_arg_depth=7)) == []
    nested_lists: Any = [[[[[1]]]]]
    assert one(check_arguments("n1", {"x": nested_lists}, tool, Limits(max_arg_depth=4))).message.startswith(
        "arguments nest"
    )
    d = one(validate(wf(("n1", "notes.search", deep)), TOOLS, Limits(max_arg_depth=4)))
    assert d.node == "n1" and d.stage == Stage.SCHEMA


def test_an_invalid_schema_is_reported_not_raised() -> None:
    d = one(check_arguments("n1", {}, spec("s.broken", {"type": "objekt"}), Limits()))
    assert d.stage == Stage.SCHEMA and d.message.startswith("s.broken has an unusable input schema: ")
    assert d.hint == "use another tool"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}},
        {"$ref": "https://example.com/evoflux-test/root.json"},
        {"type": "object", "properties": {"x": {"$ref": "http://127.0.0.1:9/defs.json#/x"}}},
    ],
)
def test_a_remote_ref_is_reported_and_never_fetched(
    schema: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError("the validator touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    tool = spec("remote.tool", schema)
    d = one(validate(wf(("n1", "remote.tool", {"x": 1})), {"remote.tool": tool}))
    assert (d.stage, d.node) == (Stage.SCHEMA, "n1")
    assert "remote.tool has an unusable input schema" in d.message and "Unresolvable" in d.message
    assert d.hint == "use another tool"
    assert attempts == []


# -- dependency ----------------------------------------------------------------------------------------


def test_dangling_reference() -> None:
    workflow = wf(
        ("n1", "weather.geocode", {"q": "Paris"}), ("n2", "weather.get_forecast", {"city": "$n9.name"})
    )
    assert one(validate(workflow, TOOLS)) == Diagnostic(
        stage=Stage.DEPENDENCY,
        node="n2",
        path="args.city",
        message="reference to unknown node 'n9'",
        hint="refer to one of: n1, n2",
    )


def test_self_reference() -> None:
    d = one(validate(wf(("n1", "weather.geocode", {"q": "{{n1.name}}"})), TOOLS))
    assert (d.stage, d.node, d.path, d.message) == (
        Stage.DEPENDENCY,
        "n1",
        "args.q",
        "the node refers to its own output",
    )


def test_unreadable_reference() -> None:
    d = one(validate(wf(("n1", "notes.search", {"x": {"$ref": "https://example.com/x.json"}})), TOOLS))
    assert (d.stage, d.node, d.path) == (Stage.DEPENDENCY, "n1", "args.x")
    assert d.message.startswith("unreadable reference")


def test_forward_references_are_allowed_when_acyclic() -> None:
    workflow = wf(
        ("n1", "weather.get_forecast", {"city": "$n2.name"}),
        ("n2", "weather.geocode", {"q": "Paris"}),
        uses=["n1"],
    )
    assert validate(workflow, TOOLS) == []


@pytest.mark.parametrize(
    "nodes",
    [
        [("n1", "weather.geocode", {"q": "$n2.city"}), ("n2", "weather.get_forecast", {"city": "$n1.name"})],
        [
            ("n1", "weather.geocode", {"q": "$n3.city"}),
            ("n2", "weather.geocode", {"q": "{{n1.name}}"}),
            ("n3", "weather.get_forecast", {"city": {"$ref": "n2.name"}}),
        ],
    ],
)
def test_cycles_are_one_dependency_diagnostic(nodes: list[tuple[str, str, dict[str, Any]]]) -> None:
    d = one(validate(wf(*nodes), TOOLS))
    assert d.stage == Stage.DEPENDENCY and d.node in {n[0] for n in nodes}
    assert d.message.startswith("the references form a cycle: ")
    cycle = d.message.removeprefix("the references form a cycle: ").split(" -> ")
    assert cycle[0] == cycle[-1] and set(cycle) == {n[0] for n in nodes}
    assert d.hint.startswith("remove one reference")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("$n1.total", "math.add returns no field 'total'; fields: sum"),
        ("$n1.result.total", "math.add returns no field 'total'; fields: sum"),
        ("{{n1.output.total}}", "math.add returns no field 'total'; fields: sum"),
        ("$n2.items[0].name", "weather.get_forecast returns no field 'name'; fields: id"),
        ("$n2.temperature", "weather.get_forecast returns no field 'temperature'; fields: city, items"),
        ("$n1.sum", None),
        ("$n1.result.sum", None),
        ("$n1.output.sum", None),
        ("$n1.results.sum", None),
        ("$n1.outputs.sum", None),
        ("$n1", None),
        ("$n2.items[0].id", None),
        ("$n2.city", None),
        ("$n3.anything.at.all", None),
        ("$n4.anything", None),
    ],
)
def test_references_to_fields_the_output_schema_rules_out(ref: str, message: str | None) -> None:
    workflow = wf(
        ("n1", "math.add", {"a": 1, "b": 2}),
        ("n2", "weather.get_forecast", {"city": "Paris"}),
        ("n3", "notes.search", {}),
        ("n4", "weather.geocode", {}),
        ("n5", "notes.search", {"q": ref}),
    )
    diagnostics = validate(workflow, TOOLS)
    if message is None:
        assert diagnostics == []
    else:
        assert one(diagnostics) == Diagnostic(
            stage=Stage.DEPENDENCY,
            node="n5",
            path="args.q",
            message=message,
            hint="refer to a field the tool returns",
        )


def test_the_answer_step_is_checked_too() -> None:
    workflow = wf(
        ("n1", "math.add", {"a": 1, "b": 2}),
        uses=["n1", "n7", "$bad"],
        template="{{n1.sum}} {{n1.total}} {{n8.x}}",
    )
    found = [(d.stage, d.node, d.path, d.message) for d in validate(workflow, TOOLS)]
    assert found == [
        (Stage.DEPENDENCY, "answer", "answer.uses", "reference to unknown node 'n7'"),
        (Stage.DEPENDENCY, "answer", "answer.uses", "unreadable reference ''"),
        (Stage.DEPENDENCY, "answer", "answer.template", "math.add returns no field 'total'; fields: sum"),
        (Stage.DEPENDENCY, "answer", "answer.template", "reference to unknown node 'n8'"),
    ]


def test_diagnostics_come_earliest_stage_first() -> None:
    workflow = wf(
        ("n1", "math.add", {"a": "x", "b": 2}),
        ("n2", "nowhere.tool", {"p": "$n9.v"}),
        ("n2", "math.add", {"a": 1, "b": 2}),
    )
    stages = [d.stage for d in validate(workflow, TOOLS)]
    assert stages == [Stage.PARSE, Stage.RESOLVE, Stage.SCHEMA, Stage.DEPENDENCY]


def test_canonicalise_drops_exact_repeats_and_repoints_their_references() -> None:
    from evoflux.servers.tools import ToolSpec
    from evoflux.workflow.graph import Workflow
    from evoflux.workflow.validate import canonicalise_tools

    spec = ToolSpec(name="u.convert", server="u", tool="convert")
    looped = Workflow.model_validate(
        {
            "nodes": [
                {"id": "n1", "tool": "u.convert", "args": {"value": 25}},
                {"id": "n2", "tool": "u.convert", "args": {"value": 25}},
                {"id": "n3", "tool": "convert", "args": {"x": "$n2.converted"}},
            ],
            "answer": {"uses": ["n2", "n3"], "template": "{{n2.converted}}"},
        }
    )
    fixed = canonicalise_tools(looped, {"u.convert": spec})
    assert [n.id for n in fixed.nodes] == ["n1", "n3"]
    assert fixed.nodes[1].tool == "u.convert" and fixed.nodes[1].args == {"x": "$n1.converted"}
    assert fixed.answer.uses == ["n1", "n3"] and fixed.answer.template == "{{n1.converted}}"


def test_a_plan_with_thousands_of_nodes_is_rejected_quickly_with_the_reason() -> None:
    import time

    from evoflux.workflow.graph import Workflow

    huge = Workflow.model_validate(
        {
            "nodes": [
                {"id": f"n{i}", "tool": "math.add", "args": {"a": i, "b": f"$n{i - 1}.sum"}}
                for i in range(5000)
            ]
        }
    )
    started = time.monotonic()
    diagnostics = validate(huge, TOOLS)
    assert time.monotonic() - started < 1.0
    assert [d.message for d in diagnostics if d.stage == Stage.PARSE][
        -1
    ] == "the workflow has 5000 nodes (cap 24)"
