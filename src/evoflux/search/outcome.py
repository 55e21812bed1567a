"""What a search works with and returns: `Evaluated` (a candidate with its trace and coverage
verdict), `SearchOutcome` (the best one and how the search went), and the `Judge` that rates coverage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evoflux.scoring.coverage import Coverage
from evoflux.scoring.fitness import ANSWERED
from evoflux.search.population import Evaluated
from evoflux.workflow.execute import CallCache
from evoflux.workflow.trace import Trace

__all__ = ["SOLVED_COVERAGE", "Listener", "SearchOutcome", "ready_to_commit", "solved", "summarize"]

SOLVED_COVERAGE = 0.999
"""The coverage a judged candidate needs to count as solved (and stop the search)."""


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


def ready_to_commit(best: Evaluated) -> bool:
    """Whether the best candidate ran through up to its staged writes and is credited with part of the
    task: what is left to learn needs its writes sent."""
    staged = any(run.status == "staged" for run in best.trace.runs.values())
    fitness = best.candidate.fitness
    return staged and fitness.reached == ANSWERED and fitness.coverage > 0


def summarize(trace: Trace, coverage: Coverage | None) -> str:
    text = f"{trace.stage.label}: {trace.executed}/{len(trace.runs)} ran"
    if trace.diagnostics:
        text += f"; {trace.diagnostics[0]}"
    if coverage is not None:
        missing = f", missing {coverage.missing[0]}" if coverage.missing else ""
        text += f"; coverage {coverage.score:.2f}{missing}"
    return text[:300]
