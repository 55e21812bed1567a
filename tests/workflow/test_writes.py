"""Side effects against a real server that counts the writes it receives (the toy server over stdio):
effect classes and config rules, staged writes, the ledger that sends each write once, confirmation of
destructive calls, and a search whose candidates differ in a write. `ScriptedPlanner` stands in for the
model."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from evoflux.methods import MethodSettings, run_method
from evoflux.planner.scripted import ScriptedPlanner
from evoflux.scoring.coverage import Coverage, Part, verified_coverage
from evoflux.search.budget import Budget
from evoflux.search.loop import SearchSettings
from evoflux.servers.catalog import Catalog, open_catalog
from evoflux.servers.config import parse_servers
from evoflux.servers.effects import effect_of
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.execute import execute
from evoflux.workflow.graph import Workflow
from evoflux.workflow.writes import Ledger, SentWrite, WritePolicy

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def toy_config(**rules: Any) -> Any:
    entry = {"command": sys.executable, "args": [TOY], **rules}
    return parse_servers({"mcpServers": {"toy": entry}}, environ={})


@pytest.fixture
async def catalog() -> AsyncIterator[Catalog]:
    with anyio.fail_after(30):
        async with open_catalog(toy_config(), call_timeout=10) as live:
            yield live


async def writes_received(catalog: Catalog) -> int:
    result = await catalog.call_tool("toy.writes", {}, timeout=10)
    return int(result.text)


async def kept(catalog: Catalog, key: str) -> str:
    return (await catalog.call_tool("toy.fetch", {"key": key}, timeout=10)).text


def workflow(*nodes: dict[str, Any]) -> Workflow:
    return Workflow.model_validate({"nodes": list(nodes), "answer": {"uses": [nodes[-1]["id"]]}})


APPEND_A = {"id": "n1", "tool": "toy.append", "args": {"key": "log", "value": "a"}}
READ_LOG = {"id": "n2", "tool": "toy.fetch", "args": {"key": "log"}}
RECORD_SUM_TASK = "Record the sum of 2 and 3 in the log, then read the log back."
RECORD_SUM: dict[str, Any] = {
    "nodes": [
        {"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}},
        {"id": "n2", "tool": "toy.append", "args": {"key": "log", "value": "$n1.sum"}},
        {"id": "n3", "tool": "toy.fetch", "args": {"key": "log"}},
    ],
    "answer": {"uses": ["n3"]},
}


def test_effect_classes_follow_the_annotations_and_the_mcp_defaults() -> None:
    assert effect_of(True, None) == ("read", "server")
    assert effect_of(False, False) == ("write", "server")
    assert effect_of(None, False) == ("write", "server")
    assert effect_of(False, True) == ("destructive", "server")
    assert effect_of(False, None) == ("destructive", "spec default")
    assert effect_of(None, None) == ("destructive", "spec default")
    unannotated = ToolSpec(name="s.t", server="s", tool="t")
    assert (unannotated.effect, unannotated.changes_state) == ("destructive", True)


@pytest.mark.anyio
async def test_the_catalog_shows_each_tool_s_class_and_where_it_came_from(catalog: Catalog) -> None:
    tools = catalog.tools
    assert (tools["toy.fetch"].effect, tools["toy.fetch"].effect_source) == ("read", "server")
    assert (tools["toy.append"].effect, tools["toy.append"].effect_source) == ("write", "server")
    assert (tools["toy.store"].effect, tools["toy.store"].effect_source) == ("destructive", "spec default")


@pytest.mark.anyio
async def test_the_config_overrides_classes_and_keeps_denied_tools_out_of_the_catalog() -> None:
    config = toy_config(readOnlyTools=["store"], destructiveTools=["app*"], denyTools=["exit", "spawn"])
    with anyio.fail_after(30):
        async with open_catalog(config, call_timeout=10) as live:
            assert (live.tools["toy.store"].effect, live.tools["toy.store"].effect_source) == (
                "read",
                "config",
            )
            assert live.tools["toy.append"].effect == "destructive"
            assert "toy.exit" not in live.tools and "toy.spawn" not in live.tools
            refused = await live.call_tool("toy.exit", {}, timeout=10)
            assert refused.is_error  # a denied tool cannot be called either
        async with open_catalog(toy_config(allowTools=["add", "echo"]), call_timeout=10) as narrow:
            assert sorted(narrow.tools) == ["toy.add", "toy.echo"]


@pytest.mark.anyio
async def test_a_staged_write_is_not_sent_and_the_reads_after_it_wait(catalog: Catalog) -> None:
    policy = WritePolicy(send=False)
    with anyio.fail_after(30):
        trace = await execute(workflow(APPEND_A, READ_LOG), catalog, writes=policy)
        assert [trace.runs["n1"].status, trace.runs["n2"].status] == ["staged", "waiting"]
        assert trace.diagnostics == [] and sorted(trace.pending) == ["n1", "n2"]
        assert await writes_received(catalog) == 0
        assert len(policy.ledger) == 0


@pytest.mark.anyio
async def test_a_committed_write_is_sent_once_and_answered_from_the_ledger_after(catalog: Catalog) -> None:
    seen: list[SentWrite] = []
    ledger = Ledger(on_change=lambda entry: seen.append(entry.model_copy()))
    commit = WritePolicy(send=True, ledger=ledger)
    with anyio.fail_after(30):
        first = await execute(workflow(APPEND_A, READ_LOG), catalog, writes=commit)
        again = await execute(workflow(APPEND_A, READ_LOG), catalog, writes=commit)
        assert first.feasible is False and first.runs["n2"].output == "a"  # no answer step ran: no answer
        assert again.runs["n1"].cached and again.runs["n2"].output == "a"
        assert await writes_received(catalog) == 1
        assert await kept(catalog, "log") == "a"
    assert [(e.tool, e.status) for e in seen] == [("toy.append", "sending"), ("toy.append", "sent")]
    assert [e.status for e in ledger.entries] == ["sent"]


@pytest.mark.anyio
async def test_a_destructive_call_is_sent_only_when_confirmed(catalog: Catalog) -> None:
    store = workflow({"id": "n1", "tool": "toy.store", "args": {"key": "k", "value": "v"}})
    asked: list[str] = []
    with anyio.fail_after(30):
        refused = await execute(store, catalog, writes=WritePolicy(send=True))
        assert refused.runs["n1"].status == "refused"
        assert "not sent" in refused.diagnostics[0].message
        assert await writes_received(catalog) == 0
        yes = WritePolicy(send=True, confirm=lambda tool, args: asked.append(tool) or True)
        sent = await execute(store, catalog, writes=yes)
        assert sent.runs["n1"].status == "ok" and asked == ["toy.store"]
        assert await writes_received(catalog) == 1


def settings(writes: str, **budget: Any) -> MethodSettings:
    search = SearchSettings(budget=Budget(**{"generations": 3, "seeds": 3, "lm_calls": 30, **budget}))
    return MethodSettings(search=search, writes=writes)  # type: ignore[arg-type]


def appends(value: str) -> dict[str, Any]:
    return {
        "nodes": [{"id": "n1", "tool": "toy.append", "args": {"key": "log", "value": value}}],
        "answer": {"uses": ["n1"]},
    }


@pytest.mark.anyio
async def test_a_search_whose_candidates_differ_in_a_write_sends_one_write(catalog: Catalog) -> None:
    planner = ScriptedPlanner(
        [appends("a"), appends("b"), appends("c")], judge_fn=lambda t, e, a: Coverage(score=0.5)
    )
    with anyio.fail_after(120):
        result = await run_method("evoflux", "Log one value.", catalog, planner, settings("staged"))
        assert await writes_received(catalog) == 1
    assert [(w.tool, w.status) for w in result.writes] == [("toy.append", "sent")]
    assert result.write_mode == "staged" and result.feasible


@pytest.mark.anyio
async def test_live_mode_sends_every_candidate_s_writes(catalog: Catalog) -> None:
    planner = ScriptedPlanner(
        [appends("a"), appends("b"), appends("c")], judge_fn=lambda t, e, a: Coverage(score=0.5)
    )
    with anyio.fail_after(120):
        result = await run_method("evoflux", "Log one value.", catalog, planner, settings("live"))
        sent = await writes_received(catalog)
    assert sent >= 2  # the behaviour before staging, kept for sandboxes
    assert len(result.writes) == sent and {w.arguments["value"] for w in result.writes} >= {"a", "b"}


@pytest.mark.anyio
async def test_a_dry_run_sends_nothing_and_lists_the_writes_it_would_send(catalog: Catalog) -> None:
    planner = ScriptedPlanner([appends("a")], judge_fn=lambda t, e, a: Coverage(score=0.5))
    with anyio.fail_after(120):
        result = await run_method("evoflux", "Log one value.", catalog, planner, settings("dry-run"))
        assert await writes_received(catalog) == 0
    assert result.writes == [] and not result.feasible
    assert [(s["tool"], s["arguments"]) for s in result.staged] == [
        ("toy.append", {"key": "log", "value": "a"})
    ]


@pytest.mark.anyio
async def test_a_failed_commit_is_repaired_without_resending_the_writes_before_it(catalog: Catalog) -> None:
    refused_second = {
        "nodes": [
            {"id": "n1", "tool": "toy.append", "args": {"key": "log", "value": "a"}},
            {"id": "n2", "tool": "toy.reject", "args": {"value": "b"}},
        ],
        "answer": {"uses": ["n2"]},
    }
    fixed = {
        "nodes": [
            {"id": "n1", "tool": "toy.append", "args": {"key": "log", "value": "a"}},
            {"id": "n2", "tool": "toy.append", "args": {"key": "log", "value": "b"}},
        ],
        "answer": {"uses": ["n2"]},
    }
    solved = lambda task, evidence, answer: Coverage(score=1.0)  # noqa: E731 - a judge that accepts all
    planner = ScriptedPlanner([refused_second, fixed], judge_fn=solved)
    with anyio.fail_after(120):
        result = await run_method("evoflux", "Log a then b.", catalog, planner, settings("staged", seeds=1))
        assert await kept(catalog, "log") == "a,b"  # `a` went out once, in the first commit
        assert await writes_received(catalog) == 3  # append a, reject b, then append b
    assert [(w.tool, w.arguments["value"], w.status) for w in result.writes] == [
        ("toy.append", "a", "sent"),
        ("toy.reject", "b", "failed"),
        ("toy.append", "b", "sent"),
    ]
    assert result.feasible and result.search is not None and result.search["commits"] == 2


@pytest.mark.anyio
async def test_a_staged_write_earns_the_part_it_carries_so_the_search_commits_it(catalog: Catalog) -> None:
    task = "Record the word alpha in the log, then read the log back."
    echo = {"id": "n1", "tool": "toy.echo", "args": {"text": "alpha"}}
    only_reads = {"nodes": [echo, READ_LOG], "answer": {"uses": ["n2"]}}
    writes_then_reads = {
        "nodes": [{**APPEND_A, "args": {"key": "log", "value": "alpha"}}, READ_LOG],
        "answer": {"uses": ["n2"]},
    }
    parts = [("record the word alpha in the log", "alpha"), ("read the log back", "alpha")]

    def judge(task: str, evidence: str, answer: str) -> Coverage:  # the model's parts, checked for real
        return verified_coverage(parts, evidence, task)

    planner = ScriptedPlanner([only_reads, writes_then_reads], judge_fn=judge)
    with anyio.fail_after(120):
        result = await run_method("evoflux", task, catalog, planner, settings("staged", seeds=2))
        assert await writes_received(catalog) == 1
        assert await kept(catalog, "log") == "alpha"
    assert [(w.tool, w.arguments["value"]) for w in result.writes] == [("toy.append", "alpha")]
    assert [node["tool"] for node in result.workflow["nodes"]] == ["toy.append", "toy.fetch"]


@pytest.mark.anyio
async def test_a_search_commits_early_so_that_the_reads_after_a_write_can_run(catalog: Catalog) -> None:
    task, plan = RECORD_SUM_TASK, RECORD_SUM
    parts = [Part(text="record the sum of 2 and 3 in the log", value="5"), Part(text="read the log back")]

    def judge(task: str, evidence: str, answer: str) -> Coverage:  # test double: the read-back is the rest
        if "toy.fetch" in evidence and "waits" not in evidence:
            return Coverage(score=1.0)
        return Coverage(score=0.5, missing=["read the log back"], checklist=parts)

    planner = ScriptedPlanner([plan], judge_fn=judge)
    with anyio.fail_after(120):
        result = await run_method("evoflux", task, catalog, planner, settings("staged", seeds=1))
        assert await writes_received(catalog) == 1  # sent by the early commit, replayed after it
        assert await kept(catalog, "log") == "5"
    assert result.search is not None and result.search["commits"] == 2
    assert result.status == "answered" and [w.tool for w in result.writes] == ["toy.append"]
    assert result.workflow["nodes"][2]["output"] == 5  # read after the write, not before


@pytest.mark.anyio
async def test_the_stepwise_seed_keeps_a_write_step_that_is_held_back(catalog: Catalog) -> None:
    steps = ["Record the word alpha in the log", "Read the log back"]

    def write(context: str) -> dict[str, Any]:
        if "1. Record the word alpha in the log <- write this one" in context:
            return {"tool": "toy.append", "args": {"key": "log", "value": "alpha"}}
        return {"tool": "toy.fetch", "args": {"key": "log"}}

    def judge(task: str, evidence: str, answer: str) -> Coverage:  # test double: the read-back is the rest
        if "toy.fetch" in evidence and "waits" not in evidence:
            return Coverage(score=1.0)
        parts = [Part(text=steps[0], value="written"), Part(text=steps[1])]
        return Coverage(score=0.5, missing=[steps[1]], checklist=parts)

    planner = ScriptedPlanner([appends("beta")], rewrite=write, judge_fn=judge, steps=steps)
    with anyio.fail_after(120):
        result = await run_method("evoflux", " then ".join(steps) + ".", catalog, planner, settings("staged"))
        assert await kept(catalog, "log") == "alpha" and await writes_received(catalog) == 1
    assert [n["tool"] for n in result.workflow["nodes"]] == ["toy.append", "toy.fetch"]
    assert result.status == "answered" and result.workflow["nodes"][1]["output"] == "alpha"


@pytest.mark.anyio
async def test_an_answer_never_claims_a_change_that_no_call_made(catalog: Catalog) -> None:
    task = "Record the word alpha in the log."

    def claims(task: str, evidence: str, draft: str) -> str:  # test double: the writer says it did
        return "I recorded alpha in the log."

    def judge(task: str, evidence: str, answer: str) -> Coverage:  # the model's parts, checked for real
        return verified_coverage([("record the word alpha in the log", "alpha")], evidence, task)

    planner = ScriptedPlanner([workflow({**READ_LOG, "id": "n1"})], answer_fn=claims, judge_fn=judge)
    with anyio.fail_after(60):
        result = await run_method("zero-shot", task, catalog, planner, settings("staged"))
        assert await writes_received(catalog) == 0
    assert planner.calls.count("answer") == 1 and result.feasible and result.status == "partial"
    assert result.answer == "Not answered: record the word alpha in the log."
    planner = ScriptedPlanner([appends("alpha")], answer_fn=claims, judge_fn=judge)
    with anyio.fail_after(60):
        result = await run_method("zero-shot", task, catalog, planner, settings("staged"))
        assert await writes_received(catalog) == 1
    assert (result.answer or "").startswith("I recorded alpha in the log.")  # it went through: it may say so


@pytest.mark.anyio
async def test_a_later_commit_that_fails_does_not_undo_the_answer_of_one_that_ran(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules["evoflux.methods.evoflux"]
    monkeypatch.setattr(module, "MAX_COMMITS", 2)  # the failed commit is the last one
    task, first = RECORD_SUM_TASK, RECORD_SUM
    refused = {  # a later plan whose extra write the server refuses when it is sent
        "nodes": [
            *first["nodes"][:2],
            {"id": "n4", "tool": "toy.reject", "args": {"value": "x"}},
            first["nodes"][2],
        ],
        "answer": {"uses": ["n3"]},
    }

    def judge(task: str, evidence: str, answer: str) -> Coverage:  # test double: prefers the refused write
        if "toy.reject" in evidence:
            return Coverage(score=1.0)
        return Coverage(score=0.5, missing=["read the log back"], checklist=[Part(text="the sum", value="5")])

    planner = ScriptedPlanner([first, refused], judge_fn=judge)
    with anyio.fail_after(120):
        result = await run_method("evoflux", task, catalog, planner, settings("staged", seeds=2))
        assert await kept(catalog, "log") == "5"  # the append went once, whatever came after
    assert result.search is not None and result.search["commits"] == 2
    assert "toy.reject" in [w.tool for w in result.writes]  # the refused write is on record
    assert result.feasible and result.status != "failed"
    assert [n["tool"] for n in result.workflow["nodes"]] == ["toy.add", "toy.append", "toy.fetch"]
