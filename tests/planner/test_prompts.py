"""The planner's prompts: every template is filled completely, and each call shows the model what it is
for (a recording test double stands in for the model)."""

from __future__ import annotations

import pytest

from evoflux.planner.planner import LMPlanner
from evoflux.planner.prompting import fill
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import Node, Workflow
from helpers import CALC, LENGTH, FixedReply

TASK = "Convert 12 feet to meters, then multiply it by 3."
NODE = '{"id": "n2", "tool": "calculator.calculate", "args": {"expression": "{{n1.converted_value}} * 3"}}'


def test_every_call_sends_a_filled_prompt_and_a_step_sees_its_context() -> None:
    model = FixedReply(NODE)
    planner = LMPlanner(model)
    tools = [LENGTH, CALC]
    context = "Task: ...\nSteps that ran: n1.converted_value=3.6576 <- the context of this step"
    planner.rewrite_node(TASK, tools, context, purpose="Multiply the result of step 1 by 3")
    planner.plan(TASK, tools)
    workflow = Workflow(nodes=[Node(id="n1", tool=LENGTH.name, args={"value": 12})])
    planner.repair(TASK, tools, workflow, [Diagnostic(stage=Stage.SCHEMA, node="n1", message="bad unit")])
    planner.redesign(TASK, tools, "every candidate failed at n1")
    planner.decompose(TASK)
    planner.write_answer(TASK, "n1 returned 3.6576", "")
    planner.judge(TASK, "n1 returned 3.6576", "3.6576 m")
    assert len(model.chats) == 7
    kinds = {"step", "plan", "repair", "redesign", "decompose", "answer", "judge"}
    assert set(planner.by_kind) == kinds and all(k["calls"] == 1 for k in planner.by_kind.values())
    for chat in model.chats:
        for message in chat:
            assert "<<" not in message.content, message.content[:200]
    assert context in model.chats[0][-1].content  # the step is written from its context
    assert "bad unit" in model.chats[2][-1].content and TASK in model.chats[3][-1].content


def test_a_template_filled_with_missing_or_unknown_values_is_refused() -> None:
    with pytest.raises(ValueError, match="context"):
        fill("rewrite", workflow="the old name of the placeholder")
    # a value holding a placeholder's name is not filled in again
    text = fill("judge", task="<<evidence>>", evidence="E", answer="A")
    assert "<<evidence>>" in text and "\nE\n" in text
