"""The workflow graph: reference syntaxes, paths into outputs, canonical form, waves and the diagram."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from evoflux.workflow.graph import Answer, CycleError, Node, Workflow
from evoflux.workflow.refs import (
    Ref,
    RefError,
    as_ref,
    find_refs,
    interpolate,
    parse_ref,
    resolve_path,
    substitute,
)


def wf(
    *nodes: tuple[str, str, dict[str, Any]], uses: list[str] | None = None, template: str = ""
) -> Workflow:
    return Workflow(
        nodes=[Node(id=i, tool=t, args=a) for i, t, a in nodes],
        answer=Answer(uses=uses or [], template=template),
    )


# -- parse_ref -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "node", "steps"),
    [
        ("n1", "n1", ()),
        ("n1.result.items[0].id", "n1", ("result", "items", 0, "id")),
        ("$n1.city", "n1", ("city",)),
        ("  $n1.city ", "n1", ("city",)),
        ("n1.items[-1]", "n1", ("items", -1)),
        ('n1["odd key"].x', "n1", ("odd key", "x")),
        ("n1['a.b'][2]", "n1", ("a.b", 2)),
        ('n1[""]', "n1", ("",)),
        ("get-weather_2[0][1]", "get-weather_2", (0, 1)),
    ],
)
def test_parse_ref_steps(text: str, node: str, steps: tuple[str | int, ...]) -> None:
    ref = parse_ref(text)
    assert (ref.node, ref.steps) == (node, steps)
    assert str(ref) == text.strip().lstrip("$")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1n.x", "does not start with a node id"),
        (".x", "does not start with a node id"),
        ("n1.a[x]", "unreadable step at '[x]'"),
        ("n1[0", "unreadable step at '[0'"),
        ("https://example.com/x.json", "unreadable step at '://example.com/x.json'"),
    ],
)
def test_parse_ref_rejects_what_it_cannot_read(text: str, message: str) -> None:
    with pytest.raises(RefError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_ref(text)


# -- the three reference syntaxes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"$ref": "n1.result.items[0].id"}, Ref("n1", ("result", "items", 0, "id"), "n1.result.items[0].id")),
        ("$n1.items[0].id", Ref("n1", ("items", 0, "id"), "n1.items[0].id")),
        ("$n1", Ref("n1", (), "n1")),
        ("$n1[2]", Ref("n1", (2,), "n1[2]")),
        (" $n1.city ", Ref("n1", ("city",), "n1.city")),
    ],
)
def test_whole_value_references(value: Any, expected: Ref) -> None:
    assert as_ref(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "costs $5",
        "$5",
        "$n1.city and more",
        "n1.city",
        "{{n1.city}}",
        {"$ref": 1},
        {"$ref": "n1", "extra": True},
        ["$ref", "n1"],
        42,
        None,
    ],
)
def test_values_that_are_not_whole_references(value: Any) -> None:
    assert as_ref(value) is None


def test_find_refs_reports_each_syntax_with_its_argument_path() -> None:
    args = {
        "a": {"$ref": "n1.result.items[0].id"},
        "b": "$n2.city",
        "c": "Weather in {{n2.city}} on {{ $n3.date }}",
        "d": [1, {"e": "$n4"}],
        "f": "plain text, {{not a ref!}} and $5",
    }
    found = [(where, ref.node, ref.steps) for where, ref in find_refs(args)]
    assert found == [
        ("a", "n1", ("result", "items", 0, "id")),
        ("b", "n2", ("city",)),
        ("c", "n2", ("city",)),
        ("c", "n3", ("date",)),
        ("d[1].e", "n4", ()),
    ]


def test_find_refs_reports_an_unreadable_reference_as_node_question_mark() -> None:
    [(where, ref)] = list(find_refs({"x": {"$ref": "https://example.com/x.json"}}))
    assert (where, ref.node, ref.text) == ("x", "?", "{'$ref': 'https://example.com/x.json'}")


def test_substitute_keeps_types_of_whole_references_and_interpolates_text() -> None:
    outputs = {"n1": {"items": [{"id": 7}, {"id": 9}], "city": "Paris"}, "n2": {"temp": 21.5}}
    args = {
        "id": {"$ref": "n1.result.items[0].id"},
        "last": "$n1.items[-1].id",
        "all": "$n1.items",
        "text": "{{n1.city}} is {{ n2.temp }}C; items: {{n1.items}}",
        "nested": [{"city": "$n1.city"}, "literal", 3],
    }
    assert substitute(args, outputs) == {
        "id": 7,
        "last": 9,
        "all": [{"id": 7}, {"id": 9}],
        "text": 'Paris is 21.5C; items: [{"id": 7}, {"id": 9}]',
        "nested": [{"city": "Paris"}, "literal", 3],
    }
    assert args["id"] == {"$ref": "n1.result.items[0].id"}  # the input is left alone


def test_substitute_and_interpolate_raise_for_missing_nodes_and_fields() -> None:
    outputs = {"n1": {"city": "Paris"}}
    with pytest.raises(RefError, match="node 'n9' has no output"):
        substitute({"x": "$n9.city"}, outputs)
    with pytest.raises(RefError, match="key 'town' not found; available keys: city"):
        interpolate("in {{n1.town}}", outputs)
    assert interpolate("no placeholders {here}", outputs) == "no placeholders {here}"


# -- resolve_path --------------------------------------------------------------------------------------


def test_resolve_path_into_dicts_and_lists() -> None:
    value = {"a": {"b": [10, 20, {"c": "deep"}]}, "odd key": 1}
    assert resolve_path(value, ()) is value
    assert resolve_path(value, ("a", "b", 0)) == 10
    assert resolve_path(value, ("a", "b", -1, "c")) == "deep"
    assert resolve_path(value, ("a", "b", -3)) == 10
    assert resolve_path(value, ("odd key",)) == 1
    assert resolve_path([[1, 2], [3, 4]], (1, 0)) == 3


def test_resolve_path_takes_a_key_of_a_list_of_objects_from_its_first_item() -> None:
    assert resolve_path({"items": [{"id": 1}, {"id": 2}]}, ("items", "id")) == 1


def test_resolve_path_reads_json_inside_text() -> None:
    assert resolve_path('{"items": [{"id": 7}]}', ("items", 0, "id")) == 7
    assert resolve_path("[1, 2, 3]", (-1,)) == 3
    assert resolve_path({"payload": '{"city": "Oslo"}'}, ("payload", "city")) == "Oslo"
    with pytest.raises(RefError, match="cannot take 'city' of a str"):
        resolve_path("{not json", ("city",))


@pytest.mark.parametrize("alias", ["result", "output", "results", "outputs"])
def test_the_first_step_result_names_the_whole_output(alias: str) -> None:
    assert resolve_path({"sum": 5}, (alias, "sum")) == 5
    assert resolve_path("plain text", (alias,)) == "plain text"
    assert resolve_path([4, 5], (alias, 1)) == 5
    assert resolve_path('{"sum": 5}', (alias, "sum")) == 5


def test_a_real_result_key_wins_over_the_alias_and_the_alias_is_only_the_first_step() -> None:
    assert resolve_path({"result": {"sum": 1}, "sum": 2}, ("result", "sum")) == 1
    with pytest.raises(RefError, match="key 'result' not found; available keys: b"):
        resolve_path({"a": {"b": 1}}, ("a", "result"))


def test_ref_errors_say_what_does_exist() -> None:
    with pytest.raises(RefError) as info:
        resolve_path({"city": "Paris", "temperature": 21, "units": "C"}, ("temprature",))
    assert str(info.value) == "key 'temprature' not found; available keys: city, temperature, units"
    with pytest.raises(RefError, match=r"available keys: \(none\)"):
        resolve_path({}, ("x",))
    many = {f"k{i}": i for i in range(20)}
    with pytest.raises(RefError) as info:
        resolve_path(many, ("x",))
    assert str(info.value).endswith("k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11")
    with pytest.raises(RefError, match=r"index \[3\] is out of range \(length: 2\)"):
        resolve_path([1, 2], (3,))
    with pytest.raises(RefError, match=r"index \[-3\] is out of range \(length: 2\)"):
        resolve_path([1, 2], (-3,))
    with pytest.raises(RefError, match=r"index \[0\] is out of range \(length: not a list\)"):
        resolve_path({"a": 1}, (0,))
    with pytest.raises(RefError, match="cannot take 'x' of a int"):
        resolve_path({"a": 1}, ("a", "x"))


# -- canonical form and digest -------------------------------------------------------------------------


def test_canonical_json_drops_notes_and_ignores_key_and_uses_order() -> None:
    one = Workflow(
        nodes=[Node(id="n1", tool="t.add", args={"a": 1, "b": {"x": 1, "y": 2}}, why="add them")],
        answer=Answer(uses=["n1", "n1"], template="{{n1.sum}}"),
    )
    two = Workflow(
        nodes=[Node(id="n1", tool="t.add", args={"b": {"y": 2, "x": 1}, "a": 1}, why="something else")],
        answer=Answer(uses=["n1"], template="{{n1.sum}}"),
    )
    assert one.canonical() == two.canonical()
    assert one.canonical() == (
        '{"answer":{"template":"{{n1.sum}}","uses":["n1"]},'
        '"nodes":[{"args":{"a":1,"b":{"x":1,"y":2}},"id":"n1","tool":"t.add"}]}'
    )
    assert one.digest() == two.digest()


def test_digest_is_stable_and_changes_with_the_graph() -> None:
    base = wf(("n1", "t.add", {"a": 1, "b": 2}), ("n2", "t.echo", {"text": "$n1.sum"}), uses=["n2"])
    assert base.digest() == hashlib.sha256(base.canonical().encode()).hexdigest()[:16]
    assert base.digest() == "c751031f287a3f66"  # fixed across runs, processes and versions
    assert len(base.digest()) == 16 and int(base.digest(), 16) >= 0
    assert base.model_copy(deep=True).digest() == base.digest()
    changed = [
        wf(("n1", "t.add", {"a": 1, "b": 3}), ("n2", "t.echo", {"text": "$n1.sum"}), uses=["n2"]),
        wf(("n1", "t.add", {"a": 1, "b": 2}), ("n2", "t.echo", {"text": "$n1.sum"}), uses=["n1"]),
        wf(("n1", "t.sub", {"a": 1, "b": 2}), ("n2", "t.echo", {"text": "$n1.sum"}), uses=["n2"]),
        wf(
            ("n1", "t.add", {"a": 1, "b": 2}),
            ("n2", "t.echo", {"text": "$n1.sum"}),
            uses=["n2"],
            template="x",
        ),
    ]
    assert len({base.digest(), *(w.digest() for w in changed)}) == 5


# -- dependencies, waves, diagram ----------------------------------------------------------------------


def test_dependencies_include_every_syntax_and_unknown_ids() -> None:
    w = wf(
        ("n1", "t.a", {}),
        ("n2", "t.b", {"x": {"$ref": "n1.v"}}),
        ("n3", "t.c", {"x": "$n2.v", "y": "{{n1.v}} and {{ghost.v}}"}),
    )
    assert w.dependencies() == {"n1": set(), "n2": {"n1"}, "n3": {"n1", "n2", "ghost"}}


def test_independent_nodes_share_a_wave() -> None:
    w = wf(
        ("a", "t.x", {}),
        ("b", "t.x", {}),
        ("c", "t.x", {"p": "$a.v", "q": "$b.v"}),
        ("d", "t.x", {}),
        ("e", "t.x", {"p": "{{c.v}}"}),
    )
    assert w.waves() == [["a", "b", "d"], ["c"], ["e"]]


def test_forward_references_are_ordered_by_dependency_and_unknown_ids_ignored() -> None:
    w = wf(("n1", "t.x", {"p": "$n2.v"}), ("n2", "t.x", {"p": "$n3.v"}), ("n3", "t.x", {"q": "$ghost"}))
    assert w.waves() == [["n3"], ["n2"], ["n1"]]
    assert wf().waves() == []


@pytest.mark.parametrize(
    "nodes",
    [
        [("n1", "t.x", {"p": "$n2.v"}), ("n2", "t.x", {"p": "$n1.v"})],
        [("n1", "t.x", {"p": "$n1.v"})],
        [
            ("n0", "t.x", {}),
            ("n1", "t.x", {"p": "$n3"}),
            ("n2", "t.x", {"p": "$n1"}),
            ("n3", "t.x", {"p": "$n2"}),
        ],
    ],
)
def test_cycles_raise_cycle_error(nodes: list[tuple[str, str, dict[str, Any]]]) -> None:
    with pytest.raises(CycleError):
        wf(*nodes).waves()


def test_mermaid_has_every_node_edge_and_the_answer() -> None:
    w = wf(
        ("n1", "geo.locate", {"q": "Paris"}),
        ("n-2", 'we"ird.tool', {}),
        ("n3", "wx.forecast", {"lat": "$n1.lat", "when": "{{n-2.date}}", "x": "$ghost.v"}),
        uses=["n3"],
        template="{{n1.name}}: {{n3.temp}}",
    )
    text = w.mermaid()
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    node_n1["n1: geo.locate"]' in lines
    assert '    node_n_2["n-2: we\'ird.tool"]' in lines
    assert '    node_n3["n3: wx.forecast"]' in lines
    assert '    answer(["answer"])' in lines
    edges = {line.strip() for line in lines if "-->" in line}
    assert edges == {
        "node_n1 --> node_n3",
        "node_n_2 --> node_n3",
        "node_n1 --> answer",
        "node_n3 --> answer",
    }
    assert "ghost" not in text


def test_a_dollar_reference_inside_text_becomes_a_placeholder() -> None:
    node = Node(
        id="n2",
        tool="calc.calculate",
        args={"expression": "$n1.converted_value * 0.9", "whole": "$n1.x", "price": "$USD 5", "cost": "$5"},
    )
    assert node.args == {
        "expression": "{{n1.converted_value}} * 0.9",
        "whole": "$n1.x",
        "price": "$USD 5",
        "cost": "$5",
    }
    assert Node(id="n3", tool="t.x", args={"list": ["$n2 + 1"]}).args == {"list": ["{{n2}} + 1"]}
