"""The final answer, written only from executed evidence.

The workflow's answer step names the nodes whose outputs answer the task (`uses`; the graph's sinks when
it names none) and may carry a template with `{{n1.path}}` placeholders. The template is filled from
executed outputs; a writer (the planner model) may then phrase the answer from that evidence. Without a
writer, the filled template -- or a plain rendering of the evidence -- is the answer. A written answer
(or a filled template) that states a number no tool returned and the task does not give (arithmetic the
workflow did not do, or a guess) is dropped for the next of: filled template, evidence.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from evoflux.diagnostics import Diagnostic, Stage
from evoflux.fitness import ungrounded_numbers
from evoflux.graph import RefError, Workflow, interpolate
from evoflux.trace import Trace

__all__ = ["AnswerWriter", "answer_sources", "compose_answer", "evidence_text", "render_value"]


class AnswerWriter(Protocol):
    """Phrases the final answer from evidence (the planner model implements this)."""

    def write_answer(self, task: str, evidence: str, draft: str) -> str | None: ...


def answer_sources(workflow: Workflow) -> list[str]:
    """The nodes the answer draws on: those the answer step names, else the graph's sinks."""
    ids = [n.id for n in workflow.nodes]
    named = [u for u in workflow.answer.uses if u in ids]
    if named:
        return named
    referenced = {dep for deps in workflow.dependencies().values() for dep in deps}
    return [i for i in ids if i not in referenced] or ids


def render_value(value: Any, max_chars: int = 1500) -> str:
    """A tool output as compact JSON (a text output as a quoted JSON string, so that whatever it says stays
    one delimited value in a prompt, never new prompt lines), truncated with a marker."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= max_chars else text[:max_chars] + " …[truncated]"


def evidence_text(
    workflow: Workflow, trace: Trace, max_chars: int = 4000, *, every_node: bool = False
) -> str:
    """What the executed sources (or, with `every_node`, all executed nodes) returned, one block per
    node, bounded."""
    blocks = []
    budget = max_chars
    for node_id in [n.id for n in workflow.nodes] if every_node else answer_sources(workflow):
        run = trace.runs.get(node_id)
        if run is None or run.status != "ok":
            continue
        args = json.dumps(run.arguments or {}, ensure_ascii=False, default=str)
        block = f"{node_id} = {run.tool}({args[:300]}) returned: {render_value(run.output, max(200, budget))}"
        blocks.append(block)
        budget -= len(block)
        if budget <= 200:
            break
    return "\n".join(blocks)


def compose_answer(task: str, workflow: Workflow, trace: Trace, writer: AnswerWriter | None = None) -> None:
    """Fill `trace.answer` from executed outputs, or add an `answer` diagnostic saying why not."""
    if trace.diagnostics or any(run.status != "ok" for run in trace.runs.values()):
        return
    sources = answer_sources(workflow)
    evidence = evidence_text(workflow, trace)
    if not evidence:
        trace.diagnostics.append(
            Diagnostic(
                stage=Stage.ANSWER,
                node="answer",
                message="no executed output to answer from",
                hint="name in answer.uses the nodes whose outputs answer the task",
            )
        )
        return
    draft = ""
    if workflow.answer.template:
        try:
            draft = interpolate(workflow.answer.template, trace.outputs)
        except RefError as exc:
            trace.diagnostics.append(
                Diagnostic(
                    stage=Stage.ANSWER,
                    node="answer",
                    path="answer.template",
                    message=f"the answer template does not resolve: {exc}",
                    hint="refer only to fields the executed outputs have",
                )
            )
            return
    written = writer.write_answer(task, evidence, draft) if writer is not None else None
    # a number no tool returned (the writer or the template did arithmetic the workflow did not, or
    # guessed) disqualifies that text: the answer keeps to what the tools said
    grounded = [t for t in (written, draft) if t and not ungrounded_numbers(t, trace.outputs, task)]
    trace.answer = (grounded[0] if grounded else evidence).strip()
    trace.answer_evidence = sources
