"""The run's status: the final run's evidence judged once, part by part, into answered, partial or
failed."""

from __future__ import annotations

from collections.abc import Mapping

import anyio
from pydantic import BaseModel, Field

from evoflux.methods.result import RunResult, Status
from evoflux.protocols import Judge
from evoflux.scoring.coverage import Coverage, Part
from evoflux.scoring.state_change import judged_with_changes
from evoflux.search.outcome import SOLVED_COVERAGE
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.evidence import evidence_text, ungrounded_numbers
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Trace

__all__ = ["Verdict", "judge_final", "readable", "status_of"]


class Verdict(BaseModel):
    """The coverage of the final run (None: not judged), why it was not, and the evidence judged."""

    coverage: Coverage | None = None
    unchecked: str = ""
    evidence: str = ""
    dry: bool = False
    answer: str | None = Field(default=None, description="A readable answer to use instead of a raw dump.")

    def apply(self, result: RunResult) -> RunResult:
        """`result` with its status, checklist and evidence."""
        checklist = self.coverage.checklist if self.coverage is not None else []
        if self.coverage is not None and not checklist:  # a judge that names only what is missing
            checklist = [Part(text=part) for part in self.coverage.missing]
        return result.model_copy(
            update={
                "status": "partial" if self.dry else status_of(result.feasible, self.coverage),
                "checklist": checklist,
                "unchecked": self.unchecked,
                "evidence": self.evidence,
                "answer": self.answer if self.answer is not None else result.answer,
            }
        )


def status_of(feasible: bool, coverage: Coverage | None) -> Status:
    """failed when not feasible; answered when a judge found every part; else partial."""
    if not feasible:
        return "failed"
    if coverage is not None and not coverage.missing and coverage.score >= SOLVED_COVERAGE:
        return "answered"
    return "partial"


async def judge_final(
    task: str,
    workflow: Workflow | None,
    trace: Trace,
    tools: Mapping[str, ToolSpec],
    judge: Judge | None,
    *,
    known: Coverage | None = None,
    known_evidence: str = "",
    feasible: bool | None = None,
) -> Verdict:
    """Judge the final run once (no call when `known` was judged on the same evidence, or the run is
    not feasible: `feasible`, else the trace's); `judge` None means judging is off."""
    if workflow is None:
        return Verdict()
    evidence = evidence_text(workflow, trace, every_node=True)
    if trace.pending and not trace.diagnostics:
        why = f"not checked: a dry run, {len(trace.pending)} step(s) not run"
        return Verdict(unchecked=why, evidence=evidence, dry=True)
    if not (trace.feasible if feasible is None else feasible):
        return Verdict(evidence=evidence)
    if known is not None and known_evidence == evidence:
        return Verdict(coverage=known, evidence=evidence, answer=readable(task, trace, known))
    if judge is None:
        return Verdict(unchecked="not checked: judging is off", evidence=evidence)
    answer = trace.answer or ""
    coverage = await anyio.to_thread.run_sync(lambda: judge.judge(task, evidence, answer))
    if coverage is None:
        return Verdict(unchecked="not checked: the judge's reply did not parse", evidence=evidence)
    coverage = judged_with_changes(coverage, workflow, task, tools, trace)
    return Verdict(coverage=coverage, evidence=evidence, answer=readable(task, trace, coverage))


def readable(task: str, trace: Trace, coverage: Coverage | None) -> str | None:
    """When the answer is a raw dump of outputs, the checklist as prose: each verified part with its
    value, then the parts left unanswered; None when the answer was written, or when this text would
    state a number no output holds and the task does not give."""
    if not trace.answer_is_evidence or coverage is None or not coverage.checklist:
        return None
    found = [f"{part.text}: {part.value}" for part in coverage.checklist if part.value is not None]
    missing = [part.text for part in coverage.checklist if part.value is None]
    text = "; ".join(found) + "." if found else ""
    if missing:
        text += f" Not answered: {'; '.join(missing)}."
    text = text.strip()
    return text if text and not ungrounded_numbers(text, trace.outputs, task) else None
