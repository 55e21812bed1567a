"""What every method shares: its settings, the tools the planner sees, and the chosen workflow evaluated
for the record."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from evoflux.methods.result import RunResult, RunUsage, workflow_json
from evoflux.protocols import Observer, Planner, ToolCaller
from evoflux.search.loop import SearchSettings
from evoflux.search.population import Evaluated
from evoflux.servers.retrieval import rank_tools
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.evaluate import evaluate
from evoflux.workflow.execute import CallCache, ExecutionSettings
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Event, Trace

__all__ = ["MethodSettings", "QuietObserver", "final_trace", "run_result", "visible_tools"]


class MethodSettings(BaseModel):
    """Settings every method shares; `search` is read by evoflux and (its budget) by self-repair."""

    seed: int = 0
    top_k_tools: int = 12
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)


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


async def final_trace(
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


def run_result(
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
