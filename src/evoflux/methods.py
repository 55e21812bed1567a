"""Methods behind one interface: a task, a live catalog and a planner in, a `RunResult` out."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import anyio
from pydantic import BaseModel

from evoflux.diagnostics import Diagnostic
from evoflux.evaluate import evaluate
from evoflux.execute import CallCache, Event, ExecutionSettings
from evoflux.graph import Workflow
from evoflux.planners.planner import Planner
from evoflux.result import RunResult, RunUsage, workflow_json
from evoflux.retrieval import rank_tools
from evoflux.tools import ToolCaller, ToolSpec
from evoflux.trace import Trace
from evoflux.validate import canonicalise_tools

__all__ = ["METHODS", "MethodSettings", "Observer", "QuietObserver", "visible_tools", "zero_shot"]


class MethodSettings(BaseModel):
    """Settings every method shares."""

    seed: int = 0
    top_k_tools: int = 12
    execution: ExecutionSettings = ExecutionSettings()


class Observer(Protocol):
    """Receives progress: plans as they are made, node events, search generations."""

    def planned(self, workflow: Workflow | None, diagnostics: list[Diagnostic]) -> None: ...

    def event(self, event: Event) -> None: ...

    def generation(self, summary: dict[str, Any]) -> None: ...


class QuietObserver:
    """An observer that ignores everything."""

    def planned(self, workflow: Workflow | None, diagnostics: list[Diagnostic]) -> None:
        return None

    def event(self, event: Event) -> None:
        return None

    def generation(self, summary: dict[str, Any]) -> None:
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
) -> RunResult:
    """Plan once, validate, execute, answer: the baseline the search must beat."""
    observer = observer or QuietObserver()
    started = time.monotonic()
    tools = visible_tools(task, caller, settings.top_k_tools)
    plan = await anyio.to_thread.run_sync(lambda: planner.plan(task, tools, seed=settings.seed))
    workflow = canonicalise_tools(plan.workflow, caller.tools) if plan.workflow else None
    observer.planned(workflow, plan.diagnostics)
    if workflow is None:
        trace = Trace(diagnostics=plan.diagnostics)
    else:
        trace = await evaluate(
            task, workflow, caller, writer=planner, settings=settings.execution, cache=CallCache(),
            on_event=observer.event,
        )
    return RunResult(
        method="zero-shot",
        task=task,
        feasible=trace.feasible,
        answer=trace.answer or "",
        workflow=workflow_json(workflow, trace),
        diagnostics=trace.diagnostics,
        usage=RunUsage.of(planner.usage, trace.tool_calls, time.monotonic() - started),
        seed=settings.seed,
    )


MethodFn = Callable[[str, ToolCaller, Planner, MethodSettings, Observer | None], Awaitable[RunResult]]

METHODS: dict[str, MethodFn] = {"zero-shot": zero_shot}


def method_names() -> Sequence[str]:
    return list(METHODS)


__all__ += ["MethodFn", "method_names"]
