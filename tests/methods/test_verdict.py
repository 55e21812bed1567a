"""The final verdict (`methods.verdict`): the status from feasibility and the judged parts, and when the
judge is asked at all. `ScriptedPlanner` is the test double for the model's judge."""

from __future__ import annotations

import anyio
import pytest

from evoflux.methods.result import RunResult
from evoflux.methods.verdict import Verdict, judge_final, readable, status_of
from evoflux.planner.scripted import ScriptedPlanner
from evoflux.scoring.coverage import Coverage, Part
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import NodeRun, Trace

WORKFLOW = Workflow.model_validate(
    {"nodes": [{"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}], "answer": {"uses": ["n1"]}}
)


def ran(answer: str | None = "5") -> Trace:
    return Trace(
        runs={"n1": NodeRun(node="n1", tool="toy.add", status="ok", output={"sum": 5})}, answer=answer
    )


def test_the_status_is_failed_partial_or_answered() -> None:
    assert status_of(False, Coverage(score=1.0)) == "failed"
    assert status_of(True, None) == "partial"  # ran, but nobody checked the parts
    assert status_of(True, Coverage(score=0.5, missing=["the product"])) == "partial"
    assert status_of(True, Coverage(score=1.0)) == "answered"


def test_a_verdict_gives_the_result_its_status_and_checklist() -> None:
    coverage = Coverage(score=0.5, missing=["b"], checklist=[Part(text="a", value="5"), Part(text="b")])
    result = Verdict(coverage=coverage, evidence="n1 returned 5").apply(
        RunResult(method="m", task="t", feasible=True)
    )
    assert (result.status, result.missing, result.evidence) == ("partial", ["b"], "n1 returned 5")
    only_missing = Verdict(coverage=Coverage(score=0.0, missing=["c"])).apply(result)
    assert only_missing.checklist == [Part(text="c")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_final_run_is_judged_once_and_not_again_on_known_evidence() -> None:
    asked: list[str] = []
    judge = ScriptedPlanner(
        [WORKFLOW], judge_fn=lambda task, evidence, answer: asked.append(evidence) or Coverage(score=1.0)
    )
    with anyio.fail_after(10):
        fresh = await judge_final("Add 2 and 3.", WORKFLOW, ran(), {}, judge)
        again = await judge_final(
            "Add 2 and 3.",
            WORKFLOW,
            ran(),
            {},
            judge,
            known=Coverage(score=0.2),
            known_evidence=fresh.evidence,
        )
        off = await judge_final("Add 2 and 3.", WORKFLOW, ran(), {}, None)
        unfinished = await judge_final("Add 2 and 3.", WORKFLOW, ran(answer=None), {}, judge)
    assert len(asked) == 1 and fresh.coverage == Coverage(score=1.0)
    assert again.coverage == Coverage(score=0.2)  # the search's verdict on the same evidence
    assert off.coverage is None and "judging is off" in off.unchecked
    assert unfinished.coverage is None and len(asked) == 1  # not feasible: nothing to judge


def test_a_raw_dump_becomes_the_checklist_in_prose_when_every_number_is_grounded() -> None:
    dump = ran(answer="n1 = toy.add(...) returned: {...}")
    dump.answer_is_evidence = True
    checklist = [Part(text="the sum of 2 and 3", value="5"), Part(text="the sum times 4")]
    coverage = Coverage(score=0.5, missing=["the sum times 4"], checklist=checklist)
    task = "Add 2 and 3, then multiply the sum by 4."
    assert readable(task, dump, coverage) == "the sum of 2 and 3: 5.\nNot answered: the sum times 4."
    complete = Coverage(score=1.0, checklist=[Part(text="the sum of 2 and 3", value="5")])
    assert readable(task, ran(), complete) is None  # every part verified: the written answer stays
    invented = [Part(text="the sum", value="5"), Part(text="the product, 20")]  # 20: in no output
    assert readable(task, dump, coverage.model_copy(update={"checklist": invented})) is None


def test_a_run_with_parts_missing_answers_with_its_checklist_unless_its_changes_went_through() -> None:
    task = "Add 2 and 3, then save the sum to the log."
    said = ran(answer="The sum is 5 and I saved it to the log.")  # a claim no call made
    checklist = [Part(text="the sum of 2 and 3", value="5"), Part(text="save the sum to the log")]
    coverage = Coverage(score=0.5, missing=["save the sum to the log"], checklist=checklist)
    assert readable(task, said, coverage) == "the sum of 2 and 3: 5.\nNot answered: save the sum to the log."
    wrote = ran(answer="The sum is 5; I saved it.")  # a write went through: the written answer stays
    assert readable(task, wrote, coverage, changed=True) == (
        "The sum is 5; I saved it.\nNot answered: save the sum to the log."
    )
