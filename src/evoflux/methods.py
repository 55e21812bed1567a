"""Methods behind one interface: a task, a live catalog and a planner in, a `RunResult` out."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import anyio
from pydantic import BaseModel, Field

from evoflux.decoding import opening_temperature
from evoflux.diagnostics import Diagnostic, Stage
from evoflux.errors import EvofluxError
from evoflux.evaluate import evaluate
from evoflux.execute import CallCache, Event, ExecutionSettings
from evoflux.graph import Workflow
from evoflux.planners.planner import Planner, PlanResult
from evoflux.react import react
from evoflux.result import RunResult, RunUsage, workflow_json
from evoflux.retrieval import rank_tools
from evoflux.search import Evaluated, Judge, SearchSettings, evolve
from evoflux.tools import ToolCaller, ToolSpec
from evoflux.trace import Trace
from evoflux.validate import canonicalise_tools

__all__ = [
    "METHODS",
    "MethodSettings",
    "Observer",
    "QuietObserver",
    "evoflux",
    "run_method",
    "self_repair",
    "visible_tools",
    "zero_shot",
]


class MethodSettings(BaseModel):
    """Settings every method shares; `search` is read by evoflux and (its budget) by self-repair."""

    seed: int = 0
    top_k_tools: int = 12
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)


class Observer(Protocol):
    """Receives progress: plans as they are made, node events, search generations."""

    def planned(self, workflow: Workflow | None, diagnostics: list[Diagnostic]) -> None: ...

    def event(self, event: Event) -> None: ...

    def generation(self, summary: dict[str, Any]) -> None: ...

    def candidate(self, mode: str, item: Evaluated, parent: str) -> None: ...


class QuietObserver:
    """An observer that ignores everything."""

    def planned(self, workflow: Workflow | None, diagnostics: list[Diagnostic]) -> None:
        return None

    def event(self, event: Event) -> None:
        return None

    def generation(self, summary: dict[str, Any]) -> None:
        return None

    def candidate(self, mode: str, item: Evaluated, parent: str) -> None:
        return None


def visible_tools(task: str, caller: ToolCaller, k: int) -> list[ToolSpec]:
    """The tools the planner sees: all usable ones when they fit, else the top-k by retrieval."""
    usable = [spec for spec in caller.tools.values() if not spec.unusable]
    return usable if len(usable) <= k else rank_tools(task, usable, k)


async def zero_shot(
    task: str,
    caller: ToolCaller,
    planner: Planner,
    settings: MethodSettings,
    observer: Observer | None = None,
    judge: Judge | None = None,
) -> RunResult:
    """Plan once, validate, execute, answer: the baseline the search must beat."""
    observer = observer or QuietObserver()
    started = time.monotonic()
    tools = visible_tools(task, caller, settings.top_k_tools)
    plan = await anyio.to_thread.run_sync(
        lambda: planner.plan(task, tools, seed=settings.seed, temperature=opening_temperature(settings.seed))
    )
    workflow = canonicalise_tools(plan.workflow, caller.tools) if plan.workflow else None
    observer.planned(workflow, plan.diagnostics)
    trace = await _final(task, workflow, plan.diagnostics, caller, planner, settings, observer, CallCache())
    return _result("zero-shot", task, workflow, trace, planner, settings, started)


async def self_repair(
    task: str,
    caller: ToolCaller,
    planner: Planner,
    settings: MethodSettings,
    observer: Observer | None = None,
    judge: Judge | None = None,
) -> RunResult:
    """Plan, then re-plan from the diagnostics (and the outputs that ran) until the workflow is feasible
    or the model-call budget of the search is spent: the control that shows whether evolution beats
    plain retrying."""
    observer = observer or QuietObserver()
    started, calls0 = time.monotonic(), planner.usage.calls
    budget = settings.search.budget
    tools = visible_tools(task, caller, settings.top_k_tools)
    cache = CallCache()
    plan = await anyio.to_thread.run_sync(
        lambda: planner.plan(task, tools, seed=settings.seed, temperature=opening_temperature(settings.seed))
    )
    attempt = tool_calls = 0
    while True:
        workflow = canonicalise_tools(plan.workflow, caller.tools) if plan.workflow else None
        observer.planned(workflow, plan.diagnostics)
        trace = await _final(task, workflow, plan.diagnostics, caller, planner, settings, observer, cache)
        attempt, tool_calls = attempt + 1, tool_calls + trace.tool_calls
        spent = planner.usage.calls - calls0
        if trace.feasible or spent + 2 > budget.lm_calls or time.monotonic() - started > budget.wall_s:
            break
        plan = await anyio.to_thread.run_sync(
            _retry, planner, task, tools, workflow, trace, settings.seed + attempt
        )
    result = _result("self-repair", task, workflow, trace, planner, settings, started)
    usage = result.usage.model_copy(update={"tool_calls": tool_calls})
    return result.model_copy(update={"search": {"attempts": attempt}, "usage": usage})


def _retry(
    planner: Planner, task: str, tools: list[ToolSpec], workflow: Workflow | None, trace: Trace, seed: int
) -> PlanResult:
    """Self-repair's next attempt: a repair from the diagnostics, or a fresh sample if nothing parsed."""
    if workflow is None:
        return planner.plan(task, tools, seed=seed, temperature=0.7)
    outputs = "\n".join(
        f"{r.node}: {json.dumps(r.output, default=str)[:300]}"
        for r in trace.runs.values()
        if r.status == "ok"
    )
    return planner.repair(task, tools, workflow, trace.diagnostics, outputs, seed=seed)


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
    trace = await _final(task, workflow, diagnostics, caller, planner, settings, observer, outcome.cache)
    result = _result("evoflux", task, workflow, trace, planner, settings, started)
    usage = result.usage.model_copy(update={"tool_calls": outcome.tool_calls + trace.tool_calls})
    report = {**outcome.summary(), **_verdict(best)}
    return result.model_copy(update={"search": report, "usage": usage})


def _verdict(best: Evaluated | None) -> dict[str, Any]:
    """The coverage verdict on the chosen workflow, when it was judged."""
    if best is None or best.coverage is None:
        return {"coverage": None, "missing": []}
    return {"coverage": round(best.coverage.score, 3), "missing": best.coverage.missing}


async def _final(
    task: str,
    workflow: Workflow | None,
    diagnostics: list[Diagnostic],
    caller: ToolCaller,
    planner: Planner,
    settings: MethodSettings,
    observer: Observer,
    cache: CallCache,
) -> Trace:
    """The chosen workflow evaluated for the record, its answer written by the planner from evidence."""
    if workflow is None:
        return Trace(diagnostics=diagnostics)
    return await evaluate(
        task,
        workflow,
        caller,
        writer=planner,
        settings=settings.execution,
        cache=cache,
        on_event=observer.event,
    )


def _result(
    method: str,
    task: str,
    workflow: Workflow | None,
    trace: Trace,
    planner: Planner,
    settings: MethodSettings,
    started: float,
) -> RunResult:
    return RunResult(
        method=method,
        task=task,
        feasible=trace.feasible,
        answer=trace.answer or "",
        workflow=workflow_json(workflow, trace),
        diagnostics=trace.diagnostics,
        usage=RunUsage.of(planner.usage, trace.tool_calls, time.monotonic() - started),
        seed=settings.seed,
    )


MethodFn = Callable[
    [str, ToolCaller, Planner, MethodSettings, Observer | None, Judge | None], Awaitable[RunResult]
]

METHODS: dict[str, MethodFn] = {
    "zero-shot": zero_shot,
    "self-repair": self_repair,
    "evoflux": evoflux,
    "react": react,
}


async def run_method(
    name: str,
    task: str,
    caller: ToolCaller,
    planner: Planner,
    settings: MethodSettings,
    observer: Observer | None = None,
    judge: Judge | None = None,
) -> RunResult:
    """Run the method called `name` (a key of `METHODS`)."""
    if name not in METHODS:
        raise EvofluxError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    return await METHODS[name](task, caller, planner, settings, observer, judge)


__all__ += ["MethodFn"]
