"""Executing workflows against the real toy MCP server over stdio: waves, references, failures, cache,
deadline, and the answer written from executed outputs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import ServersConfig, parse_servers
from evoflux.servers.tools import ToolResult, tool_failure
from evoflux.workflow.answer import compose_answer
from evoflux.workflow.diagnostics import Stage
from evoflux.workflow.evaluate import evaluate
from evoflux.workflow.execute import CallCache, ExecutionSettings, execute
from evoflux.workflow.graph import Answer, Node, Workflow
from evoflux.workflow.trace import Event, NodeRun, Trace

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def toy_servers() -> ServersConfig:
    return parse_servers({"mcpServers": {"t": {"command": sys.executable, "args": [TOY]}}}, environ={})


def wf(
    *nodes: tuple[str, str, dict[str, Any]], uses: list[str] | None = None, template: str = ""
) -> Workflow:
    return Workflow(
        nodes=[Node(id=i, tool=t, args=a) for i, t, a in nodes],
        answer=Answer(uses=uses or [], template=template),
    )


def statuses(trace: Trace) -> dict[str, str]:
    return {node: run.status for node, run in sorted(trace.runs.items())}


# -- tool_failure --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (ToolResult(is_error=True, error_kind="tool", text="no such city"), "no such city"),
        (ToolResult(is_error=True, error_kind="timeout"), "timeout"),
        (ToolResult(text='{"error": "no such city"}'), "no such city"),
        (ToolResult(structured={"error": "quota exceeded", "code": 429}), "quota exceeded"),
        (ToolResult(text='{"success": false, "detail": "x"}'), '{"success": false, "detail": "x"}'),
        (ToolResult(text='{"ok": false}'), '{"ok": false}'),
        (ToolResult(structured={"status": "error", "why": "down"}), '{"status": "error", "why": "down"}'),
        (ToolResult(text="Error: city not found"), "Error: city not found"),
        (
            ToolResult(text="  Traceback (most recent call last):\n  boom"),
            "Traceback (most recent call last):\n  boom",
        ),
        (ToolResult(text="Unknown tool: frobnicate"), "Unknown tool: frobnicate"),
    ],
)
def test_failures_reported_as_normal_results_are_recognised(result: ToolResult, reason: str) -> None:
    assert tool_failure(result) == reason


@pytest.mark.parametrize(
    "result",
    [
        ToolResult(text="5", structured={"sum": 5}),
        ToolResult(text="sunny"),
        ToolResult(text='{"error": null, "items": []}'),
        ToolResult(text='{"error": "", "city": "Paris"}'),
        ToolResult(text='{"error": "partial", "items": [1], "count": 1}'),
        ToolResult(text="errors: none", structured={"errors": 0}),
        ToolResult(text="Error rate is 2%", structured={"rate": 0.02}),
        ToolResult(text="[]"),
    ],
)
def test_ordinary_results_are_not_failures(result: ToolResult) -> None:
    assert tool_failure(result) is None


# -- execute against the toy server --------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_wave_runs_its_nodes_in_parallel() -> None:
    events: list[Event] = []
    workflow = wf(
        ("n1", "t.slow", {"seconds": 1}),
        ("n2", "t.slow", {"seconds": 1}),
        ("n3", "t.echo", {"text": "{{n1}} and {{n2}}"}),
    )
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            started = time.monotonic()
            trace = await execute(workflow, catalog, on_event=events.append)
            elapsed = time.monotonic() - started
    assert elapsed < 1.8  # one after another would take at least 2 s
    assert trace.diagnostics == [] and trace.tool_calls == 3
    assert statuses(trace) == {"n1": "ok", "n2": "ok", "n3": "ok"}
    assert trace.outputs == {"n1": "slept", "n2": "slept", "n3": "slept and slept"}
    assert 1.0 <= trace.wall_s < 1.8
    kinds = [(e.kind, e.node) for e in events]
    assert kinds[:2] == [("started", "n1"), ("started", "n2")]
    assert sorted(kinds[2:4]) == [("ok", "n1"), ("ok", "n2")]
    assert kinds[4:] == [("started", "n3"), ("ok", "n3")]


@pytest.mark.anyio
async def test_references_resolve_against_structured_content() -> None:
    workflow = wf(
        ("n1", "t.add", {"a": 2, "b": 3}),
        ("n2", "t.add", {"a": "$n1.sum", "b": {"$ref": "n1.result.sum"}}),
        ("n3", "t.echo", {"text": "total {{n2.sum}} from {{ $n1 }}"}),
    )
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            trace = await execute(workflow, catalog)
    assert trace.diagnostics == []
    assert trace.runs["n2"].arguments == {"a": 5, "b": 5}  # numbers stay numbers
    assert trace.runs["n2"].result is not None and trace.runs["n2"].result.structured == {"sum": 10}
    assert trace.outputs == {"n1": {"sum": 5}, "n2": {"sum": 10}, "n3": 'total 10 from {"sum": 5}'}


@pytest.mark.anyio
async def test_references_resolve_against_json_in_text_content() -> None:
    payload = {"city": "Paris", "items": [{"id": 7}, {"id": 9}], "raw": json.dumps({"zip": 75001})}
    workflow = wf(
        ("n1", "t.echo", {"text": json.dumps(payload)}),
        ("n2", "t.add", {"a": "$n1.items[-1].id", "b": "$n1.result.items[0].id"}),
        ("n3", "t.echo", {"text": "{{n1.city}} {{n1.raw.zip}}"}),
        ("n4", "t.add", {"a": "$n1.raw.zip", "b": 0}),
    )
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            trace = await execute(workflow, catalog)
    assert trace.diagnostics == []
    assert trace.runs["n1"].result is not None and trace.runs["n1"].result.structured is None
    assert trace.outputs["n1"] == payload
    assert trace.outputs["n2"] == {"sum": 16}
    assert trace.outputs["n3"] == "Paris 75001"
    assert trace.outputs["n4"] == {"sum": 75001}


@pytest.mark.anyio
async def test_a_timeout_is_an_execute_diagnostic_and_skips_what_depends_on_it() -> None:
    events: list[Event] = []
    workflow = wf(
        ("n1", "t.slow", {"seconds": 20}),
        ("n2", "t.echo", {"text": "$n1"}),
        ("n3", "t.echo", {"text": "{{n2}}"}),
        ("n4", "t.echo", {"text": "independent"}),
    )
    settings = ExecutionSettings(call_timeout_s=0.3)
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            trace = await execute(workflow, catalog, settings=settings, on_event=events.append)
    assert trace.wall_s < 3
    assert statuses(trace) == {"n1": "error", "n2": "skipped", "n3": "skipped", "n4": "ok"}
    [d] = trace.diagnostics
    assert (d.stage, d.node) == (Stage.EXECUTE, "n1")
    assert d.message.startswith("t.slow failed (timeout): t.slow did not answer within 0.3 s")
    assert d.hint.startswith("the tool did not answer in time")
    assert trace.runs["n1"].result is not None and trace.runs["n1"].result.error_kind == "timeout"
    assert trace.runs["n1"].output is None
    assert trace.stage == Stage.EXECUTE and not trace.feasible
    assert trace.tool_calls == 2
    assert ("skipped", "n2") in [(e.kind, e.node) for e in events]
    assert ("failed", "n1") in [(e.kind, e.node) for e in events]


@pytest.mark.anyio
async def test_is_error_and_error_payloads_are_execute_diagnostics() -> None:
    workflow = wf(
        ("n1", "t.fail", {"message": "no such city"}),
        ("n2", "t.echo", {"text": json.dumps({"error": "quota exceeded"})}),
        ("n3", "t.echo", {"text": "Error: the service is down"}),
        ("n4", "t.echo", {"text": json.dumps({"success": False, "reason": "closed"})}),
        ("n5", "t.echo", {"text": json.dumps({"error": None, "items": [1, 2]})}),
        ("n6", "t.echo", {"text": "{{n1}} {{n5}}"}),
        ("n7", "t.add", {"a": "$n5.items[1]", "b": 1}),
    )
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            trace = await execute(workflow, catalog)
    assert statuses(trace) == {
        "n1": "error",
        "n2": "error",
        "n3": "error",
        "n4": "error",
        "n5": "ok",
        "n6": "skipped",
        "n7": "ok",
    }
    found = {d.node: (d.stage, d.message) for d in trace.diagnostics}
    assert found == {
        "n1": (Stage.EXECUTE, "t.fail failed (tool): no such city"),
        "n2": (Stage.EXECUTE, "t.echo failed (tool): quota exceeded"),
        "n3": (Stage.EXECUTE, "t.echo failed (tool): Error: the service is down"),
        "n4": (Stage.EXECUTE, 't.echo failed (tool): {"success": false, "reason": "closed"}'),
    }
    assert all(d.hint for d in trace.diagnostics)
    assert trace.outputs == {"n5": {"error": None, "items": [1, 2]}, "n7": {"sum": 3}}
    assert trace.tool_calls == 6


@pytest.mark.anyio
async def test_references_that_do_not_resolve_at_run_time_and_bad_real_values() -> None:
    workflow = wf(
        ("n1", "t.echo", {"text": json.dumps({"city": "Paris", "count": 2})}),
        ("n2", "t.add", {"a": "$n1.count", "b": "$n1.cuont"}),
        ("n3", "t.add", {"a": "$n1.city", "b": 1}),
        ("n4", "t.echo", {"text": "{{n1.count}}"}),
    )
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            trace = await execute(workflow, catalog)
    assert statuses(trace) == {"n1": "ok", "n2": "error", "n3": "error", "n4": "ok"}
    ref, bad = sorted(trace.diagnostics, key=lambda d: d.node or "")
    assert (ref.stage, ref.node, ref.path) == (Stage.EXECUTE, "n2", "args.b")
    assert "key 'cuont' not found; available keys: city, count" in ref.message
    assert (bad.stage, bad.node, bad.path) == (Stage.SCHEMA, "n3", "args.a")
    assert "'Paris' is not of type 'number'" in bad.message
    assert trace.runs["n3"].arguments == {"a": "Paris", "b": 1} and trace.runs["n3"].result is None
    assert trace.tool_calls == 2  # neither n2 nor n3 was sent


@pytest.mark.anyio
async def test_the_cache_serves_a_repeated_workflow_without_new_calls() -> None:
    workflow = wf(
        ("n1", "t.add", {"a": 1, "b": 2}),
        ("n2", "t.echo", {"text": "sum {{n1.sum}}"}),
        ("n3", "t.fail", {"message": "always"}),
    )
    cache = CallCache()
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            first = await execute(workflow, catalog, cache=cache)
            events: list[Event] = []
            second = await execute(workflow, catalog, cache=cache, on_event=events.append)
            changed = wf(("n1", "t.add", {"b": 2, "a": 1}), ("n2", "t.echo", {"text": "sum: {{n1.sum}}"}))
            third = await execute(changed, catalog, cache=cache)
            fresh = await execute(workflow, catalog)
    assert first.tool_calls == 3 and len(cache) == 4  # three calls, then the changed echo
    assert second.tool_calls == 0
    assert all(run.cached for run in second.runs.values())
    assert not any(run.cached for run in first.runs.values())
    assert second.outputs == first.outputs == {"n1": {"sum": 3}, "n2": "sum 3"}
    assert [d.message for d in second.diagnostics] == [d.message for d in first.diagnostics]
    assert ("cached", "n1") in [(e.kind, e.node) for e in events]
    assert third.tool_calls == 1 and third.runs["n1"].cached and not third.runs["n2"].cached
    assert fresh.tool_calls == 3


@pytest.mark.anyio
async def test_calls_after_a_state_change_are_cached_apart_and_run_in_order() -> None:
    workflow = wf(
        ("n1", "t.fetch", {"key": "k"}),
        ("n2", "t.store", {"key": "k", "value": "new"}),
        ("n3", "t.fetch", {"key": "k"}),  # no reference to n2, so the same wave: it must still go after
        ("n4", "t.add", {"a": 1, "b": 2}),
    )
    other = wf(
        ("n1", "t.fetch", {"key": "k"}),
        ("n2", "t.store", {"key": "k", "value": "other"}),
        ("n3", "t.fetch", {"key": "k"}),
    )
    cache = CallCache()
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            assert catalog.tools["t.store"].changes_state and not catalog.tools["t.fetch"].changes_state
            first = await execute(workflow, catalog, cache=cache)
            again = await execute(workflow, catalog, cache=cache)
            changed = await execute(other, catalog, cache=cache)
    assert (first.outputs["n1"], first.outputs["n3"]) == ("", "new")  # before and after the write
    assert first.tool_calls == 4
    assert again.tool_calls == 0 and again.outputs == first.outputs  # replayed as the workflow did it
    # the first read is the same call (nothing written before it); the write and what follows are new
    assert changed.runs["n1"].cached and not changed.runs["n2"].cached and not changed.runs["n3"].cached
    assert changed.outputs["n3"] == "other"


@pytest.mark.anyio
async def test_timeouts_are_not_cached() -> None:
    workflow = wf(("n1", "t.slow", {"seconds": 20}))
    cache = CallCache()
    settings = ExecutionSettings(call_timeout_s=0.2)
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            first = await execute(workflow, catalog, settings=settings, cache=cache)
            second = await execute(workflow, catalog, settings=settings, cache=cache)
    assert first.tool_calls == second.tool_calls == 1 and len(cache) == 0
    assert [d.node for d in second.diagnostics] == ["n1"]


@pytest.mark.anyio
async def test_the_run_deadline_stops_unfinished_nodes() -> None:
    workflow = wf(
        ("n1", "t.slow", {"seconds": 20}),
        ("n2", "t.echo", {"text": "$n1"}),
        ("n3", "t.echo", {"text": "quick"}),
    )
    settings = ExecutionSettings(call_timeout_s=10, deadline_s=0.5)
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            trace = await execute(workflow, catalog, settings=settings)
            after = await catalog.call_tool("t.echo", {"text": "still here"}, timeout=5)
    assert 0.5 <= trace.wall_s < 2
    assert statuses(trace) == {"n1": "error", "n2": "error", "n3": "ok"}
    assert [(d.stage, d.node, d.message) for d in trace.diagnostics] == [
        (Stage.EXECUTE, "n1", "the run deadline of 0.5s was reached"),
        (Stage.EXECUTE, "n2", "the run deadline of 0.5s was reached"),
    ]
    assert trace.outputs == {"n3": "quick"}
    assert after.text == "still here"


# -- evaluate and the answer ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_feasible_workflow_gets_an_answer_from_executed_outputs() -> None:
    workflow = wf(
        ("n1", "t.add", {"a": 2, "b": 3}),
        ("n2", "t.echo", {"text": json.dumps({"city": "Paris"})}),
        uses=["n1", "n2"],
        template="The sum is {{n1.sum}} in {{n2.city}}.",
    )
    plain = wf(("n1", "t.add", {"a": 2, "b": 3}), ("n2", "t.add", {"a": "$n1.sum", "b": 1}))
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            trace = await evaluate("add 2 and 3", workflow, catalog)
            untemplated = await evaluate("add 2, 3 and 1", plain, catalog)
    assert trace.feasible and trace.stage == Stage.ANSWER
    assert trace.answer == "The sum is 5 in Paris."
    assert trace.answer_evidence == ["n1", "n2"]
    assert untemplated.feasible
    assert untemplated.answer_evidence == ["n2"]  # the sink, since the answer step names no node
    assert untemplated.answer == 't.add returned: {"sum": 6}'  # no arguments: no number the outputs lack


def test_a_writer_phrases_the_answer_from_the_evidence_and_the_draft() -> None:
    seen: list[tuple[str, str, str]] = []

    class Writer:
        def write_answer(self, task: str, evidence: str, draft: str, changes: str = "") -> str | None:
            seen.append((task, evidence, draft))
            return " It is 5. "

    workflow = wf(("n1", "t.add", {"a": 2, "b": 3}), template="sum={{n1.sum}}")
    trace = Trace(
        runs={
            "n1": NodeRun(node="n1", tool="t.add", status="ok", arguments={"a": 2, "b": 3}, output={"sum": 5})
        }
    )
    compose_answer("add", workflow, trace, Writer())
    assert trace.answer == "It is 5." and trace.feasible
    assert seen == [("add", 'n1 = t.add({"a": 2, "b": 3}) returned: {"sum": 5}', "sum=5")]


@pytest.mark.anyio
async def test_a_template_field_the_output_lacks_is_an_answer_diagnostic() -> None:
    workflow = wf(
        ("n1", "t.echo", {"text": json.dumps({"city": "Paris", "temp": 21})}),
        uses=["n1"],
        template="It is {{n1.temperature}} degrees in {{n1.city}}.",
    )
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            trace = await evaluate("weather in Paris", workflow, catalog)
    assert statuses(trace) == {"n1": "ok"}
    [d] = trace.diagnostics
    assert (d.stage, d.node, d.path) == (Stage.ANSWER, "answer", "answer.template")
    assert "key 'temperature' not found; available keys: city, temp" in d.message
    assert d.hint == "refer only to fields the executed outputs have"
    assert trace.answer is None and not trace.feasible and trace.stage == Stage.ANSWER


@pytest.mark.anyio
async def test_evaluate_sends_nothing_for_a_statically_invalid_workflow() -> None:
    workflow = wf(("n1", "t.ad", {"a": 1, "b": 2}), ("n2", "t.add", {"a": "one", "b": 2}))
    with anyio.fail_after(30):
        async with open_catalog(toy_servers()) as catalog:
            trace = await evaluate("add", workflow, catalog)
    assert [(d.stage, d.node) for d in trace.diagnostics] == [(Stage.RESOLVE, "n1"), (Stage.SCHEMA, "n2")]
    assert "t.add" in trace.diagnostics[0].hint
    assert trace.runs == {} and trace.tool_calls == 0 and trace.answer is None
    assert trace.stage == Stage.RESOLVE


def test_a_batch_whose_every_item_failed_is_a_failure() -> None:
    from evoflux.servers.tools import ToolResult, tool_failure

    failed = '{"batch_results": [{"request_id": "e0", "success": false, "error": "Missing conversion_type"}]}'
    assert "every item failed" in (tool_failure(ToolResult(text=failed)) or "")
    mixed = '{"batch_results": [{"success": false, "error": "x"}, {"success": true, "value": 3}]}'
    assert tool_failure(ToolResult(text=mixed)) is None


def test_a_written_answer_with_a_number_no_tool_returned_falls_back_to_the_template() -> None:
    class Writer:
        def write_answer(self, task: str, evidence: str, draft: str, changes: str = "") -> str | None:
            return "77.0 F, and twice that is 154.0 F."  # 154 was computed by the writer, not a tool

    workflow = wf(("n1", "t.convert", {"value": 25}), template="25 C is {{n1.value}} F")
    trace = Trace(
        runs={
            "n1": NodeRun(
                node="n1", tool="t.convert", status="ok", arguments={"value": 25}, output={"value": 77.0}
            )
        }
    )
    compose_answer("Convert 25 C to F and double it", workflow, trace, Writer())
    assert trace.answer == "25 C is 77.0 F"
    guessed = wf(("n1", "t.convert", {"value": 25}), template="25 C is {{n1.value}} F, doubled 154 F")
    trace.answer = None
    compose_answer("Convert 25 C to F and double it", guessed, trace, Writer())
    assert trace.answer == 't.convert returned: {"value": 77.0}' and trace.answer_is_evidence
    from evoflux.workflow.evidence import ungrounded_numbers

    assert ungrounded_numbers("77.0 F, twice is 154.0", {"n1": {"value": 77.0}}) == ["154.0"]
    assert ungrounded_numbers("about 77 F from 25 C", {"n1": {"value": 77.0}}, "25 C") == []
