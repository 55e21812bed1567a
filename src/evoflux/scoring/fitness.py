"""Fitness: how good a candidate workflow is, as one totally ordered value. Pure: no I/O, no model."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evoflux.scoring.arithmetic import chain_gap
from evoflux.scoring.coverage import STOP_WORDS, Coverage
from evoflux.scoring.intent import (
    invented_quantities,
    misdirected_share,
    unused_quantities,
)
from evoflux.workflow.diagnostics import Stage
from evoflux.workflow.evidence import number_found, number_tokens
from evoflux.workflow.graph import Workflow
from evoflux.workflow.refs import find_refs
from evoflux.workflow.trace import Trace

__all__ = [
    "ANSWERED",
    "PENALTY_WEIGHTS",
    "Fitness",
    "compute_fitness",
    "effective_coverage",
    "grounding",
]

ANSWERED = len(Stage)
"""`Fitness.reached` of a workflow that ran through and answered (one past `Stage.ANSWER`)."""
PENALTY_WEIGHTS = {"unused_quantities": 0.4, "unused_outputs": 0.3, "dropped_steps": 0.2, "size": 0.1}
SIZE_SCALE = 20
_SHARE, _PENALTY = 100, 1000


class Fitness(BaseModel):
    """The components of a candidate's fitness (see the module docstring for the order)."""

    model_config = ConfigDict(frozen=True)

    reached: int = Field(ge=0, le=ANSWERED, description="Earliest failing stage, or ANSWERED.")
    executed: float = Field(default=0.0, ge=0.0, le=1.0, description="Share of nodes executed.")
    coverage: float = Field(default=0.0, ge=0.0, le=1.0, description="Task coverage (0 if unjudged).")
    grounding: float = Field(default=0.0, ge=0.0, le=1.0, description="Answer tokens found in outputs.")
    unused_quantities: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Task numbers and texts never used."
    )
    unused_outputs: float = Field(default=0.0, ge=0.0, le=1.0, description="Share of nodes nobody uses.")
    dropped_steps: float = Field(default=0.0, ge=0.0, le=1.0, description="Share of seed steps dropped.")
    size: int = Field(default=0, ge=0, description="Number of nodes.")

    @classmethod
    def worst(cls) -> Fitness:
        """The fitness of a plan that did not even parse."""
        return cls(reached=int(Stage.PARSE))

    @property
    def penalty(self) -> float:
        w = PENALTY_WEIGHTS
        return (
            w["unused_quantities"] * self.unused_quantities
            + w["unused_outputs"] * self.unused_outputs
            + w["dropped_steps"] * self.dropped_steps
            + w["size"] * min(1.0, self.size / SIZE_SCALE)
        )

    def key(self) -> tuple[int, int, int, int, int]:
        """The lexicographic sort key, quantized; larger is better."""
        executed = _SHARE if self.reached == ANSWERED else round(self.executed * _SHARE)
        penalty = round(min(1.0, self.penalty) * _PENALTY)
        return (
            self.reached,
            executed,
            round(self.coverage * _SHARE),
            round(self.grounding * _SHARE),
            -penalty,
        )

    @property
    def value(self) -> float:
        """A scalar in [0, 1], strictly monotone with `key()` (for growth and relative improvement)."""
        reached, executed, coverage, grounded, penalty = self.key()
        digits = [coverage, grounded] if reached == ANSWERED else [executed, coverage, grounded]
        index, span = 0, _PENALTY + 1
        for digit in digits:
            index = index * (_SHARE + 1) + digit
            span *= _SHARE + 1
        index = index * (_PENALTY + 1) + (_PENALTY + penalty)
        inner = index / (span - 1) if reached == ANSWERED else index / span
        return (reached + inner) / (ANSWERED + 1)

    @property
    def stage_label(self) -> str:
        return "answered" if self.reached == ANSWERED else Stage(self.reached).label

    def describe(self) -> str:
        return (
            f"{self.stage_label} exec={self.executed:.2f} cov={self.coverage:.2f} "
            f"grd={self.grounding:.2f} pen={self.penalty:.3f}"
        )

    def __lt__(self, other: Fitness) -> bool:
        return self.key() < other.key()

    def __le__(self, other: Fitness) -> bool:
        return self.key() <= other.key()

    def __gt__(self, other: Fitness) -> bool:
        return self.key() > other.key()

    def __ge__(self, other: Fitness) -> bool:
        return self.key() >= other.key()


def compute_fitness(
    workflow: Workflow,
    trace: Trace,
    coverage: Coverage | None = None,
    task: str = "",
    *,
    seed_size: int | None = None,
) -> Fitness:
    """The fitness of a workflow from its trace, the coverage judgement and the task text.

    `seed_size` is the number of steps of the plan this one descends from (parent or seed): steps
    dropped relative to it cost a little, so repairs that delete their way to success rank lower.
    """
    ids = [n.id for n in workflow.nodes]
    ok = {node for node, run in trace.runs.items() if run.status == "ok"}
    executed = sum(i in ok for i in ids) / len(ids) if ids else 0.0
    if trace.diagnostics:
        reached = int(trace.stage)
    elif trace.answer is not None and all(i in ok or i in trace.pending for i in ids):
        reached, executed = ANSWERED, 1.0
    else:
        reached = int(Stage.ANSWER)
    return Fitness(
        reached=reached,
        executed=executed,
        coverage=effective_coverage(coverage, workflow, task),
        grounding=grounding(trace.answer, trace.outputs, task),
        unused_quantities=unused_quantities(workflow, task),
        unused_outputs=_unused_outputs(workflow, trace),
        dropped_steps=max(0, seed_size - len(ids)) / seed_size if seed_size else 0.0,
        size=len(ids),
    )


def effective_coverage(coverage: Coverage | None, workflow: Workflow, task: str) -> float:
    """The judged coverage, discounted by half the share of the task's quantities that no argument uses
    (a workflow that never passes on the numbers the user gave rarely does what was asked), and by half
    the share of steps that invent quantities (a numeric literal neither in the task nor a trivial
    constant: such a step computes something nobody asked for, whatever a lenient judge says), and by
    half the share of steps whose source and target go the other way round from the task, from a
    value to itself, or between values the task never mentions (`endpoints`), and by half when the task
    asks for arithmetic on earlier results and no step takes another's output (`chains`)."""
    if coverage is None:
        return 0.0
    unused, invented = unused_quantities(workflow, task), invented_quantities(workflow, task)
    backwards = misdirected_share(workflow, task)
    flat = 0.5 if chain_gap(workflow, task) else 0.0
    return (
        coverage.score
        * (1.0 - 0.5 * unused)
        * (1.0 - 0.5 * invented)
        * (1.0 - 0.5 * backwards)
        * (1.0 - flat)
    )


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z][a-z0-9]{3,}", text.lower()))


def grounding(answer: str | None, outputs: dict[str, Any], task: str = "") -> float:
    """The share of the answer's numbers and salient words found in the outputs (0 with nothing to check).

    A number counts when an output number rounds to it at the answer's precision (22.2 ~ 22.2222).
    Words the task already contains are not evidence of anything, so they are left out.
    """
    if not answer:
        return 0.0
    text = json.dumps(outputs, ensure_ascii=False, default=str)[:200_000]
    have_numbers = {float(n) for n in number_tokens(text)}
    have_words = set(re.findall(r"[a-z0-9]+", text.lower()))
    numbers = number_tokens(answer)
    salient = _tokens(answer) - _tokens(task) - STOP_WORDS
    found = sum(number_found(n, have_numbers) for n in numbers) + len(salient & have_words)
    total = len(numbers) + len(salient)
    return found / total if total else 0.0


def _unused_outputs(workflow: Workflow, trace: Trace) -> float:
    """Share of nodes whose output nothing uses. When the answer names no sources at all, it is taken
    to draw on the final outputs (nodes no other node uses)."""
    if not workflow.nodes:
        return 0.0
    used = {d for deps in workflow.dependencies().values() for d in deps}
    named = set(workflow.answer.uses) | set(trace.answer_evidence)
    named |= {ref.node for _, ref in find_refs(workflow.answer.template)}
    if not named:
        return 0.0
    return sum(n.id not in used | named for n in workflow.nodes) / len(workflow.nodes)
