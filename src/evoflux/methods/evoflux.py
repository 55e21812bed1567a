"""Evoflux: the evolutionary search over workflows, answered from the best candidate's evidence."""

from __future__ import annotations

import time
from typing import Any

from evoflux.methods.base import MethodSettings, QuietObserver, final_trace, run_result, visible_tools
from evoflux.methods.result import RunResult
from evoflux.protocols import Judge, Observer, Planner, ToolCaller
from evoflux.search.loop import evolve
from evoflux.search.population import Evaluated
from evoflux.workflow.diagnostics import Diagnostic, Stage

__all__ = ["evoflux"]


async def evoflux(
    task: str,
    caller: ToolCaller,
    planner: Planner,
    settings: MethodSettings,
    observer: Observer | None = None,
    judge: Judge | None = None,
) -> RunResult:
    """Evolutionary search over workflows (see `search.evolve`), answered from the best one's evidence."""
    observer = observer or QuietObserver()
    started = time.monotonic()
    tools = visible_tools(task, caller, settings.top_k_tools)
    search = settings.search.model_copy(update={"seed": settings.seed, "execution": settings.execution})

    outcome = await evolve(
        task,
        caller,
        planner,
        tools,
        search,
        judge=judge,
        on_generation=observer.generation,
        on_candidate=observer.candidate,
    )
    best = outcome.best
    workflow = best.candidate.workflow if best else None
    diagnostics = [] if best else [Diagnostic(stage=Stage.PARSE, message="no plan parsed", hint="")]
    if workflow is not None:
        observer.planned(workflow, [])
    trace = await final_trace(task, workflow, diagnostics, caller, planner, settings, observer, outcome.cache)
    result = run_result("evoflux", task, workflow, trace, planner, settings, started)
    usage = result.usage.model_copy(update={"tool_calls": outcome.tool_calls + trace.tool_calls})
    report = {**outcome.summary(), **_verdict(best)}
    return result.model_copy(update={"search": report, "usage": usage})


def _verdict(best: Evaluated | None) -> dict[str, Any]:
    """The coverage verdict on the chosen workflow, when it was judged."""
    if best is None or best.coverage is None:
        return {"coverage": None, "missing": []}
    return {"coverage": round(best.coverage.score, 3), "missing": best.coverage.missing}
