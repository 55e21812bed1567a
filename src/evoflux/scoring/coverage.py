"""The coverage verdict: which parts of a task the executed outputs answer, checked against the evidence."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from evoflux.scoring.tasktext import readings
from evoflux.workflow.diagnostics import NOT_COVERED, Diagnostic, Stage
from evoflux.workflow.evidence import CALL_PREFIX, computed_numbers, number_found, number_tokens

__all__ = ["STOP_WORDS", "Coverage", "Part", "salient_terms", "verified_coverage"]

STOP_WORDS = frozenset(
    " ".join(
        [
            "that this with from have which there their would about into than then they them were been what",
            "when where your will also some more most only over such very just here does each other these",
            "those could should shall after before while being because answer result results output value",
        ]
    ).split()
)


class Part(BaseModel):
    """One part of a task and the value that answers it (None: missing)."""

    text: str
    value: str | None = None


class Coverage(BaseModel):
    """The task-fulfilment judgement of an answer, by the planner model or an external judge."""

    score: float = Field(ge=0.0, le=1.0, description="Share of the request the answer fulfils.")
    missing: list[str] = Field(default_factory=list, description="Parts of the request left unanswered.")
    checklist: list[Part] = Field(
        default_factory=list, description="Every judged part with its verified value (empty: not told)."
    )
    dimensions: dict[str, float] | None = Field(
        default=None, description="Per-dimension ratings (0-10) from a six-dimension judge, when one judged."
    )

    def feedback(self) -> list[Diagnostic]:
        """The missing parts as ANSWER-stage diagnostics, for the next edit to act on."""
        return [
            Diagnostic(
                stage=Stage.ANSWER,
                message=f"{NOT_COVERED}{part}",
                hint=f"add or fix a step whose output provides {part}, and use it in the answer",
            )
            for part in self.missing
        ]


def verified_coverage(parts: list[tuple[str, str]], evidence: str, task: str = "") -> Coverage:
    """Coverage from a judge's (part, quoted value) pairs: a part counts only when its value is not empty,
    really occurs in what the tools *returned* (as text, case-insensitively, or as numbers at their
    precision; the `nX = tool(args)` call prefixes of `evidence` are not evidence), and is not merely
    an echo of the task (a value every number or word of which the task already holds), and is not a
    value already credited to another part. A part that shares no word or number with the task is left
    out unless its value is verified (a small judge copies its prompt's example, values and all: taken
    as missing, "population of Oslo" would go to the next edit as a part to add).
    A number counts only when a call computed it: a number a call merely repeats from its own arguments
    (a conversion from a unit to itself, an echo of the input) is not evidence that any part was done.
    A judge that claims a value the tools never returned gains nothing."""
    returned = CALL_PREFIX.sub(" ", evidence)
    have_text = " ".join(returned.lower().split())
    have_numbers = computed_numbers(evidence)
    task_text = " ".join(task.lower().split())
    task_numbers_ = {r for n in number_tokens(task) for r in readings(float(n))}
    wanted = salient_terms(task) if task else set()
    missing: list[str] = []
    credited: set[str] = set()
    checklist: list[Part] = []
    for part, value in parts:
        quoted = " ".join(value.lower().strip().strip("\"'").split())
        numbers = number_tokens(quoted)
        found = bool(quoted) and (
            quoted in have_text or (bool(numbers) and all(number_found(n, have_numbers) for n in numbers))
        )
        if task and not found and not salient_terms(part) & wanted:
            continue  # nothing of the task in it and nothing verified: the judge copying its example
        echo = quoted in task_text if not numbers else all(float(n) in task_numbers_ for n in numbers)
        if not found or echo or quoted in credited:  # one value answers one part
            missing.append(part)
            checklist.append(Part(text=part))
        else:
            credited.add(quoted)
            checklist.append(Part(text=part, value=value.strip().strip("\"'")))
    kept = len(checklist)
    score = (kept - len(missing)) / kept if kept else 0.0
    return Coverage(score=score, missing=missing, checklist=checklist)


def salient_terms(text: str) -> set[str]:
    """The words (three letters or more, common ones left out) and numbers of a text, for overlap tests."""
    return (set(re.findall(r"[a-z]{3,}", text.lower())) - STOP_WORDS) | {
        str(float(n)) for n in number_tokens(text)
    }
