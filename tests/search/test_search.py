"""The search loop over a real MCP server (the toy server, over stdio), with `ScriptedPlanner` as the
test double for the model: what the "model" proposes is scripted; what the search does with it is real."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from evoflux.methods import MethodSettings, run_method
from evoflux.planner.scripted import ScriptedPlanner
from evoflux.scoring.coverage import Coverage
from evoflux.scoring.fitness import ANSWERED
from evoflux.search.budget import Budget, BudgetError
from evoflux.search.intensity import IntensityConfig
from evoflux.search.loop import SearchSettings, Switches, evolve
from evoflux.search.outcome import SearchOutcome
from evoflux.search.population import Evaluated
from evoflux.search.redesign import failure_summary
from evoflux.servers.catalog import Catalog, open_catalog
from evoflux.servers.config import parse_servers

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")
TASK = "Add 2 and 3, then echo the sum."


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def catalog() -> AsyncIterator[Catalog]:
    config = parse_servers({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}, environ={})
    with anyio.fail_after(30):
        async with open_catalog(config, call_timeout=10) as live:
            yield live


def plan(*nodes: dict[str, Any], uses: list[str] | None = None) -> dict[str, Any]:
    return {"nodes": list(nodes), "answer": {"uses": uses or [nodes[-1]["id"]], "template": ""}}


ADD = {"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}
ECHO = {"id": "n2", "tool": "toy.echo", "args": {"text": "$n1.sum"}}
GOOD = plan(ADD, ECHO)


def echo_judge(task: str, evidence: str, answer: str) -> Coverage:
    """Full coverage only when the echo step echoed the sum (as a real judge would read the evidence)."""
    if "toy.echo" in evidence and "returned: 5" in evidence:
        return Coverage(score=1.0)
    return Coverage(score=0.4, missing=["the echoed sum"])


def settings(**budget: Any) -> SearchSettings:
    return SearchSettings(budget=Budget(**{"generations": 4, "seeds": 1, **budget}))


@pytest.mark.anyio
async def test_rule_edits_repair_a_broken_plan_until_it_is_solved(catalog: Catalog) -> None:
    broken = plan(
        {"id": "n1", "tool": "toy.addition", "args": {"a": "2", "b": 3, "c": 1}},  # unknown tool, bad args
        {"id": "n2", "tool": "toy.echo", "args": {"txt": "$n1.sum"}},  # misnamed argument
    )
    planner = ScriptedPlanner([broken], judge_fn=echo_judge)
    tools = list(catalog.tools.values())
    with anyio.fail_after(60):
        out = await evolve(TASK, catalog, planner, tools, settings(), judge=planner)
    assert out.best is not None
    assert out.best.trace.feasible
    assert out.best.candidate.fitness.reached == ANSWERED
    assert out.stopped_because == "solved"
    assert "5" in (out.best.trace.answer or "")
    assert out.best_history == sorted(out.best_history)  # the best never gets worse


@pytest.mark.anyio
async def test_the_search_is_deterministic_for_a_seed(catalog: Catalog) -> None:
    broken = plan({"id": "n1", "tool": "toy.ad", "args": {"a": "2", "b": "3"}}, ECHO)

    async def once() -> tuple[list[float], int, str | None]:
        planner = ScriptedPlanner([broken], judge_fn=echo_judge)
        out = await evolve(TASK, catalog, planner, list(catalog.tools.values()), settings(), judge=planner)
        return out.best_history, out.candidates, out.best.candidate.id if out.best else None

    with anyio.fail_after(60):
        assert await once() == await once()


@pytest.mark.anyio
async def test_a_budget_stops_the_search_and_the_best_so_far_is_returned(catalog: Catalog) -> None:
    # the planner only ever proposes a workflow whose tool fails: nothing can be solved
    failing = plan({"id": "n1", "tool": "toy.fail", "args": {"message": "no"}})
    planner = ScriptedPlanner([failing], rewrite=lambda _: None)
    with anyio.fail_after(60):
        out = await evolve(
            TASK, catalog, planner, list(catalog.tools.values()), settings(generations=50, lm_calls=5)
        )
    assert out.stopped_because == "lm_calls"
    assert out.best is not None
    assert planner.usage.calls <= 6  # overshoots by at most one evaluation's calls
    assert out.generations < 50


@pytest.mark.anyio
async def test_coverage_ranks_a_complete_answer_above_a_runnable_partial_one(catalog: Catalog) -> None:
    partial = plan(ADD)  # runs, but never echoes: feasible, not solved
    planner = ScriptedPlanner([partial, GOOD], judge_fn=echo_judge)
    with anyio.fail_after(60):
        out = await evolve(TASK, catalog, planner, list(catalog.tools.values()), settings(seeds=2))
    assert out.best is not None
    assert [n.tool for n in out.best.candidate.workflow.nodes] == ["toy.add", "toy.echo"]
    assert out.stopped_because == "solved"


@pytest.mark.anyio
async def test_meta_guided_redesign_replaces_a_stalled_population(catalog: Catalog) -> None:
    partial = plan(ADD)
    planner = ScriptedPlanner([partial], redesigns=[GOOD], judge_fn=echo_judge, rewrite=lambda _: None)
    search = settings(generations=8)
    with anyio.fail_after(90):
        out = await evolve(TASK, catalog, planner, list(catalog.tools.values()), search)
    assert "redesign" in planner.calls
    assert out.redesigns >= 1
    assert out.stopped_because == "solved"
    assert out.best is not None and out.best.candidate.origin == "redesign"

    planner = ScriptedPlanner([partial], redesigns=[GOOD], judge_fn=echo_judge, rewrite=lambda _: None)
    search = search.model_copy(update={"switches": Switches(redesign=False)})
    with anyio.fail_after(90):
        out = await evolve(TASK, catalog, planner, list(catalog.tools.values()), search)
    assert "redesign" not in planner.calls
    assert out.stopped_because != "solved"


@pytest.mark.anyio
async def test_a_model_guided_edit_rewrites_the_blamed_node(catalog: Catalog) -> None:
    broken = plan({"id": "n1", "tool": "toy.fail", "args": {"message": "x"}}, ECHO)
    contexts: list[str] = []

    def rewrite(context: str) -> dict[str, Any]:
        contexts.append(context)
        return {"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}

    planner = ScriptedPlanner([broken], rewrite=rewrite, judge_fn=echo_judge)
    search = settings().model_copy(update={"intensity": IntensityConfig(fixed=0.0)})  # always exploit
    with anyio.fail_after(60):
        out = await evolve(TASK, catalog, planner, list(catalog.tools.values()), search)
    assert contexts and "n1" in contexts[0] and "toy.fail" in contexts[0]
    assert out.best is not None and out.best.candidate.edits == ["model_rewrite"]
    assert out.stopped_because == "solved"


@pytest.mark.anyio
async def test_without_feedback_nothing_runs_until_the_best_is_chosen(catalog: Catalog) -> None:
    broken = plan({"id": "n1", "tool": "toy.add", "args": {"a": "2", "b": 3}}, ECHO)
    planner = ScriptedPlanner([broken], judge_fn=echo_judge)
    search = settings(generations=2).model_copy(update={"switches": Switches(feedback=False)})
    with anyio.fail_after(60):
        out = await evolve(TASK, catalog, planner, list(catalog.tools.values()), search)
    assert out.best is not None
    assert out.best.trace.runs  # the chosen one was executed at the end
    assert out.best.trace.feasible


@pytest.mark.anyio
async def test_the_evoflux_method_reports_the_search(catalog: Catalog) -> None:
    planner = ScriptedPlanner(
        [plan({"id": "n1", "tool": "add", "args": {"a": 2, "b": 3}}, ECHO)],
        judge_fn=echo_judge,
        answer_fn=lambda t, e, d: "The sum is 5.",
    )
    with anyio.fail_after(60):
        result = await run_method("evoflux", TASK, catalog, planner, MethodSettings())
    data = result.to_json()
    assert data["method"] == "evoflux" and data["feasible"] is True
    assert data["answer"] == "The sum is 5."
    assert set(data["search"]) >= {"generations", "candidates", "best_history", "stopped_because"}
    assert [n["tool"] for n in data["workflow"]["nodes"]] == ["toy.add", "toy.echo"]
    assert data["usage"]["lm_calls"] == planner.usage.calls


@pytest.mark.anyio
async def test_self_repair_replans_from_the_diagnostics(catalog: Catalog) -> None:
    planner = ScriptedPlanner([plan({"id": "n1", "tool": "toy.fail", "args": {}})], repairs=[GOOD])
    with anyio.fail_after(60):
        result = await run_method("self-repair", TASK, catalog, planner, MethodSettings())
    assert result.feasible
    assert planner.calls[:2] == ["plan", "repair"]
    assert result.search == {"attempts": 2}


def test_budget_strings_parse_and_bad_ones_say_how_to_fix() -> None:
    budget = Budget.parse("generations=2, population=5,lm_calls=9,wall-s=30")
    assert (budget.generations, budget.population, budget.lm_calls, budget.wall_s) == (2, 5, 9, 30.0)
    with pytest.raises(BudgetError, match="keys among"):
        Budget.parse("gens=2")
    with pytest.raises(BudgetError, match="population"):
        Budget.parse("population=0")


def test_failure_summary_names_stages_tools_and_messages() -> None:
    from evoflux.scoring.fitness import Fitness
    from evoflux.search.population import Candidate, Evaluated
    from evoflux.workflow.diagnostics import Diagnostic, Stage
    from evoflux.workflow.graph import Workflow
    from evoflux.workflow.trace import Trace

    workflow = Workflow.model_validate(plan({"id": "n1", "tool": "toy.fail", "args": {}}))
    bad = Diagnostic(stage=Stage.EXECUTE, node="n1", message="toy.fail: boom")
    item = Evaluated(Candidate.new(workflow, Fitness(reached=4)), Trace(diagnostics=[bad]))
    text = failure_summary(TASK, [item, item], item)
    assert "execute x2" in text and "toy.fail x2" in text and "boom" in text and "Best so far" in text


@pytest.mark.anyio
async def test_a_missing_part_gets_a_new_step_from_the_model(catalog: Catalog) -> None:
    partial = plan(ADD)  # runs through, but the verdict says the echo is missing
    contexts: list[str] = []

    def write_step(context: str) -> dict[str, Any]:
        contexts.append(context)
        return {"tool": "toy.echo", "args": {"text": "{{n1.sum}}"}}

    planner = ScriptedPlanner([partial], rewrite=write_step, judge_fn=echo_judge)
    search = settings().model_copy(update={"intensity": IntensityConfig(fixed=0.0)})  # always exploit
    with anyio.fail_after(60):
        out = await evolve(TASK, catalog, planner, list(catalog.tools.values()), search)
    assert contexts and "Still missing" in contexts[0] and "the echoed sum" in contexts[0]
    assert "toy.echo" in contexts[0] and "n1.sum" in contexts[0]
    assert out.best is not None and out.best.candidate.edits == ["model_append"]
    assert [n.tool for n in out.best.candidate.workflow.nodes] == ["toy.add", "toy.echo"]
    assert out.stopped_because == "solved"


@pytest.mark.anyio
async def test_the_tool_call_budget_stops_a_search_that_never_converges(catalog: Catalog) -> None:
    # every candidate runs, none is ever judged complete, each new step is a new call: only a cap stops it
    counter = iter(range(10**6))

    def new_step(context: str) -> dict[str, Any]:
        return {"tool": "toy.echo", "args": {"text": f"call {next(counter)}"}}

    planner = ScriptedPlanner(
        [plan(ADD)], rewrite=new_step, judge_fn=lambda t, e, a: Coverage(score=0.2, missing=["more"])
    )
    search = settings(generations=1000, lm_calls=100_000, tool_calls=5)
    search = search.model_copy(update={"intensity": IntensityConfig(fixed=0.0)})
    with anyio.fail_after(60):
        out = await evolve(TASK, catalog, planner, list(catalog.tools.values()), search)
    assert out.stopped_because == "tool_calls" and 5 <= out.tool_calls <= 8 and out.best is not None


# -- the stepwise seed ---------------------------------------------------------------------------------

STEPS = ["Add 2 and 3", "Echo the sum from step 1"]


def stepwise_settings(**switches: bool) -> SearchSettings:
    return SearchSettings(budget=Budget(generations=2, seeds=2), switches=Switches(**switches))


async def search_toy(
    catalog: Catalog, planner: ScriptedPlanner, search: SearchSettings, seen: list[Evaluated] | None = None
) -> SearchOutcome:
    with anyio.fail_after(60):
        return await evolve(
            TASK,
            catalog,
            planner,
            list(catalog.tools.values()),
            search,
            on_candidate=(lambda mode, e, parent: seen.append(e)) if seen is not None else None,
        )


ECHO_ONLY = {
    "nodes": [{"id": "n1", "tool": "toy.echo", "args": {"text": "2 + 3"}}],
    "answer": {"uses": ["n1"]},
}


@pytest.mark.anyio
async def test_the_first_seed_is_built_step_by_step_from_executed_outputs(catalog: Catalog) -> None:
    contexts: list[str] = []

    def write(context: str) -> dict[str, Any]:
        contexts.append(context)
        if "Add 2 and 3 <- write this one" in context:
            return {"tool": "toy.add", "args": {"a": 2, "bb": 3}}  # misnamed: repaired before step 2
        return {"tool": "toy.echo", "args": {"text": "{{n1.sum}}"}}

    planner = ScriptedPlanner([ECHO_ONLY], rewrite=write, judge_fn=echo_judge, steps=STEPS)
    seen: list[Evaluated] = []
    out = await search_toy(catalog, planner, stepwise_settings(), seen)
    assert [e.candidate.origin for e in seen] == ["stepwise"]  # solved: no plan was needed
    assert planner.calls == ["decompose", "rewrite", "rewrite", "judge"]
    assert len(contexts) == 2
    assert "1. Add 2 and 3 <- write this one" in contexts[0] and "toy.add" in contexts[0]
    # step 2 sees step 1 as repaired and run: its real output value, and step 1 marked done
    assert "1. Add 2 and 3 (done: n1)" in contexts[1] and "n1.sum=5" in contexts[1]
    stepwise = seen[0]
    assert [n.why for n in stepwise.candidate.workflow.nodes] == STEPS
    assert stepwise.trace.feasible
    assert out.stopped_because == "solved" and out.best is not None
    assert out.best.candidate.origin == "stepwise"


@pytest.mark.anyio
async def test_no_stepwise_seed_when_switched_off_without_feedback_or_without_steps(catalog: Catalog) -> None:
    def never(context: str) -> dict[str, Any]:
        raise AssertionError("no step should be written")

    for planner, switches in (
        (ScriptedPlanner([ECHO_ONLY], rewrite=never, steps=STEPS), {"stepwise": False}),
        (ScriptedPlanner([ECHO_ONLY], rewrite=never, steps=STEPS), {"feedback": False}),
        (ScriptedPlanner([ECHO_ONLY], rewrite=never), {}),  # the model gave no steps: a second plan
    ):
        out = await search_toy(catalog, planner, stepwise_settings(model_edits=False, **switches))
        assert out.best is not None and out.best.candidate.origin != "stepwise"
        assert "decompose" not in planner.calls
        assert planner.calls.count("plan") == 2
