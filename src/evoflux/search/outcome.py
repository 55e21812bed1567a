"""What a search works with and returns: `Evaluated` (a candidate with its trace and coverage
verdict), `SearchOutcome` (the best one and how the search went), and the `Judge` that rates coverage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evoflux.scoring.fitness import ANSWERED, Coverage
from evoflux.scoring.intent import intent_feedback
from evoflux.search.population import Candidate
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.execute import CallCache
from evoflux.workflow.trace import Trace

__all__ = ["SOLVED_COVERAGE", "Evaluated", "Listener", "SearchOutcome", "solved", "summarize"]

SOLVED_COVERAGE = 0.999
"""The coverage a judged candidate needs to count as solved (and stop the search)."""


@dataclass
class Evaluated:
    """A candidate with what its evaluation produced."""

    candidate: Candidate
    trace: Trace
    coverage: Coverage | None = None
    task: str = ""

    @property
    def feedback(self) -> list[Diagnostic]:
        """Execution diagnostics, the coverage verdict and, once it ran through, the intent checks (task
        numbers no step uses, numbers no one gave): what the next edit acts on."""
        verdict = self.coverage.feedback() if self.coverage else []
        intent = intent_feedback(self.candidate.workflow, self.task) if self.trace.feasible else []
        return self.trace.diagnostics + verdict + intent


@dataclass
class SearchOutcome:
    """The best candidate found and how the search went."""

    best: Evaluated | None
    generations: int = 0
    candidates: int = 0
    stopped_because: str = "generations"
    best_history: list[float] = field(default_factory=list)
    intensity_history: list[float] = field(default_factory=list)
    redesigns: int = 0
    tool_calls: int = 0
    """Tool calls sent during the search (cache hits excluded)."""
    cache: CallCache = field(default_factory=CallCache)
    """The run's call cache, so the final evaluation of the best pays for no call twice."""

    def summary(self) -> dict[str, Any]:
        return {
            "generations": self.generations,
            "candidates": self.candidates,
            "best_history": [round(v, 4) for v in self.best_history],
            "intensity_history": [round(v, 3) for v in self.intensity_history],
            "redesigns": self.redesigns,
            "stopped_because": self.stopped_because,
        }


Listener = Callable[[str, Evaluated, str], None]
"""Called for every evaluated candidate with (mode, evaluated, parent id or '')."""


def solved(best: Evaluated, *, judged: bool) -> bool:
    fitness = best.candidate.fitness
    if fitness.reached != ANSWERED:
        return False
    return not judged or fitness.coverage >= SOLVED_COVERAGE


def summarize(trace: Trace, coverage: Coverage | None) -> str:
    text = f"{trace.stage.label}: {trace.executed}/{len(trace.runs)} ran"
    if trace.diagnostics:
        text += f"; {trace.diagnostics[0]}"
    if coverage is not None:
        missing = f", missing {coverage.missing[0]}" if coverage.missing else ""
        text += f"; coverage {coverage.score:.2f}{missing}"
    return text[:300]
