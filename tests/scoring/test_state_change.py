"""State-change intent (`scoring.state_change`): pure functions over the task text and tool specs, and the
search's use of it over the real toy server (`ScriptedPlanner` is the test double for the model)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from evoflux.planner.scripted import ScriptedPlanner
from evoflux.scoring.contract import Change, Need, TaskContract
from evoflux.scoring.coverage import Coverage, Part
from evoflux.scoring.state_change import (
    change_clauses,
    credit_changes,
    judged_with_changes,
    makes_change,
    unmet_change,
)
from evoflux.search.budget import Budget
from evoflux.search.loop import SearchSettings, evolve
from evoflux.servers.catalog import Catalog, open_catalog
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import NodeRun, Trace
from helpers import servers, toy

ORDER = (
    "Save an order note in order.txt with the text 'unit price 48.50, quantity 7'. "
    "Read it back and compute the total."
)


def spec(name: str, read_only: bool | None = None) -> ToolSpec:
    server, tool = name.split(".", 1)
    return ToolSpec(name=name, server=server, tool=tool, read_only=read_only)


def workflow(*tools: str) -> Workflow:
    return Workflow.model_validate(
        {"nodes": [{"id": f"n{i}", "tool": t, "args": {}} for i, t in enumerate(tools, 1)], "answer": {}}
    )


CATALOG = {
    s.name: s
    for s in (
        spec("files.write_file", read_only=False),
        spec("files.read_file", read_only=True),
        spec("calc.calculate"),
    )
}


def test_change_clauses_run_from_the_verb_to_the_end_of_the_sentence() -> None:
    assert change_clauses(ORDER) == [
        "Save an order note in order.txt with the text 'unit price 48.50, quantity 7'"
    ]
    assert change_clauses("Remember that Ada is a person. Then record that she wrote notes.") == [
        "Remember that Ada is a person",
        "record that she wrote notes",
    ]
    assert change_clauses("Convert 5 miles to kilometers, then add 2 to it.") == []


def test_a_tool_changes_state_as_its_server_says_else_by_the_verb_of_its_name() -> None:
    assert makes_change(spec("files.write_file", read_only=False))
    assert not makes_change(spec("files.write_file", read_only=True))  # the server's word counts
    assert makes_change(spec("notes.save_note")) and makes_change(spec("issues.createIssue"))
    assert makes_change(spec("kv.set"))
    assert not makes_change(spec("calc.calculate")) and not makes_change(spec("calc.add"))
    assert not makes_change(spec("files.read_file")) and not makes_change(spec("files.writer_info"))


def test_a_workflow_that_never_changes_anything_leaves_the_asked_change_undone() -> None:
    assert unmet_change(workflow("calc.calculate"), ORDER, CATALOG) == change_clauses(ORDER)[0]
    assert unmet_change(workflow("files.read_file", "calc.calculate"), ORDER, CATALOG) is not None
    assert unmet_change(workflow("files.write_file", "calc.calculate"), ORDER, CATALOG) is None
    assert (
        unmet_change(workflow("calc.calculate"), "Multiply 48.50 by 7.", CATALOG) is None
    )  # no change asked
    read_only = {k: v for k, v in CATALOG.items() if k != "files.write_file"}
    assert unmet_change(workflow("calc.calculate"), ORDER, read_only) is None  # nothing could make one
    unusable = {
        **CATALOG,
        "files.write_file": CATALOG["files.write_file"].model_copy(update={"unusable": "x"}),
    }
    assert unmet_change(workflow("calc.calculate"), ORDER, unusable) is None


def test_with_a_contract_the_changes_are_the_contract_s_not_the_verbs() -> None:
    question = "Which file did the last cleanup remove, and when was it created?"
    assert change_clauses(question)  # the verb list reads a question about past changes as a request
    reads = workflow("files.read_file")
    assert unmet_change(reads, question, CATALOG) is not None
    asks_nothing = TaskContract(parts=[Need(asks="the removed file", kind="text")])
    assert unmet_change(reads, question, CATALOG, asks_nothing) is None
    assert judged_with_changes(Coverage(score=1.0), reads, question, CATALOG, None, asks_nothing) == Coverage(
        score=1.0
    )
    wants = TaskContract(changes=[Change(what="save the order note", where="order.txt")])
    assert unmet_change(workflow("calc.calculate"), "Note the order, please.", CATALOG, wants) == (
        "save the order note"
    )
    assert unmet_change(workflow("files.write_file"), "Note the order, please.", CATALOG, wants) is None


def test_the_verdict_on_an_undone_change_is_halved_and_names_the_clause_first() -> None:
    full = Coverage(score=1.0, missing=["the total"])
    judged = judged_with_changes(full, workflow("calc.calculate"), ORDER, CATALOG)
    assert judged is not None and judged.score == 0.5
    assert judged.missing == [change_clauses(ORDER)[0], "the total"]
    assert judged_with_changes(full, workflow("files.write_file"), ORDER, CATALOG) == full
    assert judged_with_changes(None, workflow("calc.calculate"), ORDER, CATALOG) is None


def test_a_write_that_carries_a_change_part_is_credited_with_it_sent_or_staged() -> None:
    note = "Save an order note in order.txt with the text 'unit price 48.50, quantity 7'"
    checklist = [Part(text=note), Part(text="the total")]
    verdict = Coverage(score=0.0, missing=[note, "the total"], checklist=checklist)
    args = {"path": "order.txt", "content": "unit price 48.50, quantity 7"}
    for status in ("staged", "ok"):
        write = NodeRun(node="n1", tool="files.write_file", status=status, arguments=args)  # type: ignore[arg-type]
        credited = credit_changes(verdict, Trace(runs={"n1": write}), CATALOG)
        assert (credited.score, credited.missing) == (0.25, ["the total"])  # half a verified part
        assert [p.value for p in credited.checklist] == ["written", None]
    other = {"path": "todo.txt", "content": "buy milk"}  # a write of something else earns nothing
    unrelated = NodeRun(node="n1", tool="files.write_file", status="staged", arguments=other)
    assert credit_changes(verdict, Trace(runs={"n1": unrelated}), CATALOG) == verdict
    read = NodeRun(node="n1", tool="files.read_file", status="ok", arguments=args)  # a read earns nothing
    assert credit_changes(verdict, Trace(runs={"n1": read}), CATALOG) == verdict
    unsaid = Coverage(score=1 / 3, missing=[note, "the total"])  # parts derived from score and missing
    assert credit_changes(unsaid, Trace(runs={"n1": write}), CATALOG).score == pytest.approx(0.5)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def catalog() -> AsyncIterator[Catalog]:
    with anyio.fail_after(30):
        async with open_catalog(servers(toy=toy()), call_timeout=10) as live:
            yield live


@pytest.mark.anyio
async def test_a_lenient_judge_does_not_stop_the_search_while_the_asked_change_is_undone(
    catalog: Catalog,
) -> None:
    task = "Add 2 and 3, then store the word done under the key answer."
    add = {"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}
    store = {"id": "n2", "tool": "toy.store", "args": {"key": "answer", "value": "done"}}
    lenient = ScriptedPlanner(
        [{"nodes": [add], "answer": {"uses": ["n1"], "template": ""}}],
        judge_fn=lambda *_: Coverage(score=1.0),
        rewrite=lambda _: None,
    )
    search = SearchSettings(budget=Budget(generations=2, seeds=1))
    with anyio.fail_after(60):
        out = await evolve(task, catalog, lenient, list(catalog.tools.values()), search)
    assert out.stopped_because != "solved"
    assert out.best is not None and out.best.coverage is not None
    assert out.best.coverage.missing[0] == "store the word done under the key answer"

    complete = ScriptedPlanner(
        [{"nodes": [add, store], "answer": {"uses": ["n1", "n2"], "template": ""}}],
        judge_fn=lambda *_: Coverage(score=1.0),
    )
    with anyio.fail_after(60):
        out = await evolve(task, catalog, complete, list(catalog.tools.values()), search)
    assert out.stopped_because == "solved"
