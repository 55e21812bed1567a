"""The run's status: the final run's evidence judged once, part by part, into answered, partial or
failed."""

from __future__ import annotations

from collections.abc import Mapping

import anyio
from pydantic import BaseModel, Field

from evoflux.methods.result import RunResult, Status
from evoflux.protocols import Judge
from evoflux.scoring.contract import TaskContract
from evoflux.scoring.coverage import Coverage, Part
from evoflux.scoring.state_change import judged_with_changes
from evoflux.search.outcome import SOLVED_COVERAGE
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.evaluate import changed_calls
from evoflux.workflow.evidence import evidence_text, tidy_numbers, ungrounded_numbers
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
    contract: TaskContract | None = None,
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
    changed = bool(changed_calls(trace, tools))
    if known is not None and known_evidence == evidence:
        return Verdict(coverage=known, evidence=evidence, answer=readable(task, trace, known, changed))
    if judge is None:
        return Verdict(unchecked="not checked: judging is off", evidence=evidence)
    answer = trace.answer or ""
    coverage = await anyio.to_thread.run_sync(lambda: judge.judge(task, evidence, answer))
    if coverage is None:
        return Verdict(unchecked="not checked: the judge's reply did not parse", evidence=evidence)
    coverage = judged_with_changes(coverage, workflow, task, tools, trace, contract)
    return Verdict(coverage=coverage, evidence=evidence, answer=readable(task, trace, coverage, changed))


def readable(task: str, trace: Trace, coverage: Coverage | None, changed: bool = False) -> str | None:
    """The answer a person reads, when the written one will not do (None: keep it). With a checklist:
    a raw dump of outputs, or a run with parts missing and no call that changed anything (its written
    answer may claim a change no call made), becomes the checklist in prose: each verified part with
    its value, then the parts left unanswered; a run with parts missing whose changes went through keeps
    its written answer and names the missing parts after it. A prose that would state a number no output
    holds and the task does not give is not used."""
    if coverage is None or not coverage.checklist or trace.answer is None:
        return None
    listed = {part.text.casefold().strip(" .") for part in coverage.checklist}
    missing = [p.text for p in coverage.checklist if p.value is None]
    missing += [text for text in coverage.missing if text.casefold().strip(" .") not in listed]
    if trace.answer_is_evidence or (missing and not changed):
        found = [f"{part.text}: {part.value}" for part in coverage.checklist if part.value is not None]
        text = "; ".join(found) + "." if found else ""
    elif missing:
        text = trace.answer
    else:
        return None
    if missing:
        text += f"\nNot answered: {'; '.join(missing)}." if text else f"Not answered: {'; '.join(missing)}."
    text = tidy_numbers(text.strip())
    return text if text and not ungrounded_numbers(text, trace.outputs, task) else None
