"""The final answer, written only from executed evidence."""

from __future__ import annotations

from collections.abc import Sequence

from evoflux.protocols import AnswerWriter
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.evidence import (
    answer_sources,
    evidence_text,
    outputs_text,
    tidy_numbers,
    ungrounded_numbers,
)
from evoflux.workflow.graph import Workflow
from evoflux.workflow.refs import RefError, interpolate
from evoflux.workflow.trace import Trace

__all__ = ["compose_answer"]


def compose_answer(
    task: str,
    workflow: Workflow,
    trace: Trace,
    writer: AnswerWriter | None = None,
    changed: Sequence[str] = (),
) -> None:
    """Fill `trace.answer` from executed outputs, or add an `answer` diagnostic saying why not.
    `changed`: the calls of the trace that changed something (their tools' effect class says so)."""
    if trace.diagnostics or any(run.status not in ("ok", "staged", "waiting") for run in trace.runs.values()):
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
    if trace.pending:  # a staged candidate: what ran, and the writes it would send
        trace.answer, trace.answer_evidence = evidence, sources
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
    written = writer.write_answer(task, evidence, draft, ", ".join(changed)) if writer is not None else None
    # a number no tool returned (the writer or the template did arithmetic the workflow did not, or
    # guessed) disqualifies that text: the answer keeps to what the tools said
    grounded = [t for t in (written, draft) if t and not ungrounded_numbers(t, trace.outputs, task)]
    trace.answer = tidy_numbers(
        (grounded[0] if grounded else outputs_text(workflow, trace) or evidence).strip()
    )
    trace.answer_evidence, trace.answer_is_evidence = sources, not grounded
