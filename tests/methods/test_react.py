"""The ReAct baseline over a real MCP server (the toy server, over stdio), with `ScriptedPlanner` playing the
model's replies; one smoke test runs the lite model, embedded, when it is installed."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from evoflux.errors import EvofluxError
from evoflux.methods import METHODS, MethodSettings, run_method
from evoflux.methods.react import max_steps, react
from evoflux.methods.result import RunResult
from evoflux.models.lm import Completion, Usage
from evoflux.models.registry import MODELS, cache_dir
from evoflux.planner.prompting import react_messages, react_schema
from evoflux.planner.scripted import ScriptedPlanner
from evoflux.search.budget import Budget
from evoflux.search.loop import SearchSettings
from evoflux.servers.catalog import Catalog, open_catalog
from evoflux.servers.config import parse_servers
from evoflux.workflow.execute import ExecutionSettings

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")
TASK = "Add 2 and 3, then echo the sum."
ADD = {"tool": "toy.add", "args": {"a": 2, "b": 3}}
ECHO = {"tool": "toy.echo", "args": {"text": "5"}}
FINAL = {"final_answer": "The sum is 5."}
LITE = cache_dir() / "models" / MODELS["lite"].filename


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def catalog() -> AsyncIterator[Catalog]:
    config = parse_servers({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}, environ={})
    with anyio.fail_after(360):  # bounds the test too: the slow one runs a real model for up to 300 s
        async with open_catalog(config, call_timeout=10) as live:
            yield live


def scripted(*steps: Any) -> ScriptedPlanner:
    return ScriptedPlanner([], react_steps=list(steps), answer_fn=lambda t, e, d: f"{d} (rewritten)")


async def run(catalog: Catalog, planner: Any, settings: MethodSettings | None = None) -> RunResult:
    with anyio.fail_after(60):
        return await run_method("react", TASK, catalog, planner, settings or MethodSettings())


@pytest.mark.anyio
async def test_two_calls_then_a_grounded_final_answer(catalog: Catalog) -> None:
    planner = scripted(ADD, ECHO, FINAL)
    result = await run(catalog, planner)
    assert result.method == "react" and result.feasible and not result.diagnostics
    assert result.answer == "The sum is 5. (rewritten)"  # rewritten from the evidence
    nodes = result.workflow["nodes"]
    assert [(n["id"], n["tool"], n["args"], n["status"]) for n in nodes] == [
        ("n1", "toy.add", {"a": 2, "b": 3}, "ok"),
        ("n2", "toy.echo", {"text": "5"}, "ok"),
    ]
    assert nodes[0]["output"] == {"sum": 5} and result.workflow["answer"]["uses"] == ["n1", "n2"]
    assert result.search == {
        "steps": 2,
        "stopped_because": "final_answer",
        "max_steps": 12,
        "rejected": 0,
        "repaired": 0,
        "parse_failures": 0,
    }
    assert result.usage.lm_calls == 5 and result.usage.tool_calls == 2  # 3 steps, answer, verdict
    assert result.usage.prompt_tokens == 500
    assert planner.calls == ["react", "react", "react", "answer", "judge"]
    history, _ = planner.react_seen[1]  # what the model saw before its second step
    assert [(t.tool, t.observation, t.failed) for t in history] == [("toy.add", '{"sum": 5}', False)]


@pytest.mark.anyio
async def test_a_final_answer_with_a_number_no_tool_returned_is_not_kept(catalog: Catalog) -> None:
    invented = ScriptedPlanner([], react_steps=[ADD, {"final_answer": "The sum is 5, doubled 10."}])
    result = await run(catalog, invented)  # the writer (test double) says nothing; the final says 10
    assert result.feasible and result.answer == 'toy.add returned: {"sum": 5}'


@pytest.mark.anyio
async def test_a_schema_invalid_call_is_rejected_before_sending_then_corrected(catalog: Catalog) -> None:
    planner = scripted(
        {"tool": "toy.add", "args": {"a": "2", "b": 3}}, {"tool": "toy.plus", "args": {}}, ADD, FINAL
    )
    result = await run(catalog, planner)
    assert result.feasible
    assert result.usage.tool_calls == 1  # neither rejected call was sent
    assert [n["id"] for n in result.workflow["nodes"]] == ["n1"]
    assert result.search is not None and result.search["rejected"] == 2 and result.search["steps"] == 3
    history, _ = planner.react_seen[2]
    assert all(t.failed for t in history)
    assert "not sent" in history[0].observation and "args.a" in history[0].observation
    assert "'toy.plus' is not available" in history[1].observation and "toy.add" in history[1].observation


@pytest.mark.anyio
async def test_a_failing_tools_error_becomes_the_observation(catalog: Catalog) -> None:
    planner = scripted({"tool": "toy.fail", "args": {"message": "boom"}}, ADD, FINAL)
    result = await run(catalog, planner)
    history, _ = planner.react_seen[1]
    assert history[0].failed and "boom" in history[0].observation
    assert [(n["id"], n["status"]) for n in result.workflow["nodes"]] == [("n1", "error"), ("n2", "ok")]
    assert not result.feasible  # a call that was sent failed, and no later call of toy.fail worked
    assert [(d.stage.label, d.node) for d in result.diagnostics] == [("execute", "n1")]
    assert "5" in result.answer  # still answered from the call that worked
    assert result.usage.tool_calls == 2


@pytest.mark.anyio
async def test_a_failed_call_repaired_by_a_later_call_of_the_same_tool_is_feasible(catalog: Catalog) -> None:
    settings = MethodSettings(top_k_tools=20, execution=ExecutionSettings(call_timeout_s=0.5))
    planner = scripted(
        {"tool": "toy.slow", "args": {"seconds": 5}}, {"tool": "toy.slow", "args": {"seconds": 0}}, FINAL
    )
    result = await run(catalog, planner, settings)
    history, _ = planner.react_seen[1]
    assert history[0].failed  # the model saw the error and changed the arguments
    assert [(n["id"], n["status"]) for n in result.workflow["nodes"]] == [("n1", "error"), ("n2", "ok")]
    assert result.feasible and not result.diagnostics
    assert result.search is not None and result.search["repaired"] == 1
    assert result.workflow["answer"]["uses"] == ["n2"]  # the answer rests on the call that worked


@pytest.mark.anyio
async def test_the_run_stops_after_max_steps(catalog: Catalog) -> None:
    assert max_steps(MethodSettings()) == 12
    assert max_steps(MethodSettings(search=SearchSettings(budget=Budget(lm_calls=400)))) == 12
    assert max_steps(MethodSettings(search=SearchSettings(budget=Budget(lm_calls=1)))) == 1
    settings = MethodSettings(search=SearchSettings(budget=Budget(lm_calls=4)))  # three steps
    planner = scripted(ADD)  # the last reply repeats: the model never answers
    result = await run(catalog, planner, settings)
    assert result.search is not None
    assert result.search["stopped_because"] == "max_steps" and result.search["steps"] == 3
    assert not result.feasible and result.answer == ""
    assert [(d.stage.label, d.message) for d in result.diagnostics] == [
        ("answer", "no final answer within 3 steps")
    ]
    assert result.usage.lm_calls == 3 and result.usage.tool_calls == 3
    assert [n["status"] for n in result.workflow["nodes"]] == ["ok"] * 3


@pytest.mark.anyio
async def test_steps_stop_when_the_token_budget_is_spent(catalog: Catalog) -> None:
    settings = MethodSettings(search=SearchSettings(budget=Budget(tokens=250)))  # each step costs 100
    result = await run(catalog, scripted(ADD), settings)
    assert result.search is not None
    assert result.search["stopped_because"] == "budget" and result.search["steps"] == 3
    assert result.diagnostics[0].message == "no final answer: the budget ran out after 3 steps"
    assert result.usage.lm_calls == 3 and not result.feasible


@pytest.mark.anyio
async def test_parse_retries_count_against_the_model_call_budget(catalog: Catalog) -> None:
    settings = MethodSettings(search=SearchSettings(budget=Budget(lm_calls=3)))  # two calls, one kept
    result = await run(catalog, scripted(ADD, "not json", "still not json", FINAL), settings)
    assert result.search is not None and result.search["stopped_because"] == "budget"
    assert result.search["parse_failures"] == 1 and result.usage.lm_calls == 2


@pytest.mark.anyio
async def test_replies_that_do_not_parse_are_retried_hotter_then_give_up(catalog: Catalog) -> None:
    cut = Completion(text='{"final_answer": "The sum"}', finish_reason="length")  # parses, but was cut
    planner = scripted("I think I should add.", cut, {"args": {}}, ADD)
    result = await run(catalog, planner)
    assert result.search is not None
    assert result.search["stopped_because"] == "parse_failures" and result.search["parse_failures"] == 3
    assert [temperature for _, temperature in planner.react_seen] == [0.0, 0.5, 0.9]
    assert not result.feasible and result.workflow["nodes"] == [] and result.usage.lm_calls == 3
    assert "did not parse 3 times" in result.diagnostics[0].message
    recovered = await run(catalog, scripted("not json", ADD, FINAL))
    assert recovered.feasible and recovered.search is not None
    assert recovered.search["parse_failures"] == 1 and recovered.usage.lm_calls == 5  # + verdict


@pytest.mark.anyio
async def test_an_answer_without_any_call_is_not_feasible(catalog: Catalog) -> None:
    result = await run(catalog, scripted(FINAL))
    assert not result.feasible and result.answer == "The sum is 5."
    assert result.diagnostics[0].message == "the final answer was given without any tool call"


class PlanOnly:
    usage = Usage()


@pytest.mark.anyio
async def test_react_is_registered_and_needs_a_planner_with_react_steps(catalog: Catalog) -> None:
    assert METHODS["react"] is react
    with pytest.raises(EvofluxError, match="react_step"):
        await run(catalog, PlanOnly())


def test_the_step_prompt_replays_the_history_and_the_schema_offers_call_or_answer() -> None:
    from evoflux.planner.plans import ReactTurn
    from evoflux.servers.tools import ToolSpec

    tools = [ToolSpec(name="toy.add", server="toy", tool="add")]
    history = [ReactTurn(tool="toy.add", args={"a": 1}, observation="b is required", failed=True)]
    messages = react_messages("Add.", tools, history)
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert "toy.add" in messages[0].content and messages[1].content == "Task: Add."
    assert messages[2].content == '{"tool": "toy.add", "args": {"a": 1}}'
    assert messages[3].content.startswith("Error: b is required")
    call, final = react_schema(["toy.add"])["anyOf"]
    assert call["properties"]["tool"] == {"enum": ["toy.add"]} and final["required"] == ["final_answer"]


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.skipif(not LITE.is_file(), reason="the lite model is not installed: run scripts/setup.sh")
async def test_a_real_small_model_runs_react(catalog: Catalog) -> None:
    from evoflux.models.embedded import EmbeddedModel
    from evoflux.planner.planner import LMPlanner

    model = EmbeddedModel(LITE, name="lite", n_ctx=8192)
    try:
        settings = MethodSettings(search=SearchSettings(budget=Budget(lm_calls=4)))  # at most 3 steps
        with anyio.fail_after(300):
            result = await react("Add 2 and 3.", catalog, LMPlanner(model), settings)
    finally:
        model.close()
    assert result.method == "react" and result.usage.lm_calls >= 1
    assert result.search is not None and result.search["stopped_because"] in (
        "final_answer",
        "max_steps",
        "parse_failures",
        "budget",
    )
    assert result.search["steps"] <= 3 and result.usage.tool_calls <= 3
    assert isinstance(result.workflow["nodes"], list)
