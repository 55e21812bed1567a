"""What every method shares: its settings, the tools the planner sees, and the chosen workflow evaluated
for the record."""

from __future__ import annotations

import time
from typing import Any

import anyio
from pydantic import BaseModel, Field

from evoflux.methods.result import RunResult, RunUsage, workflow_json
from evoflux.methods.verdict import Verdict
from evoflux.protocols import Judge, Observer, Planner, ToolCaller
from evoflux.scoring.contract import TaskContract
from evoflux.search.loop import SearchSettings
from evoflux.search.population import Evaluated
from evoflux.servers.retrieval import rank_tools
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.evaluate import evaluate
from evoflux.workflow.execute import CallCache, ExecutionSettings
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Event, Trace
from evoflux.workflow.writes import Confirm, Ledger, SentWrite, WriteMode, WritePolicy, refuse_all

__all__ = [
    "MethodSettings",
    "QuietObserver",
    "final_trace",
    "run_judge",
    "run_result",
    "visible_tools",
    "write_policy",
]


class MethodSettings(BaseModel):
    """Settings every method shares; `search` is read by evoflux and (its budget) by self-repair."""

    seed: int = 0
    top_k_tools: int = 12
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    writes: WriteMode = Field(
        default="staged",
        description="staged: candidates never write, the chosen workflow is committed once; live: every "
        "evaluation sends its writes (sandboxes, test servers); dry-run: nothing that may write is sent.",
    )
    contract: TaskContract | None = Field(
        default=None, description="What the task asks for, given by the caller (not inferred then)."
    )
    infer_contract: bool = Field(
        default=False,
        description="Have the planner state the task contract once before the run (one model call); the "
        "state-change check then reads its changes instead of the task's verbs.",
    )


async def task_contract(task: str, planner: Planner, settings: MethodSettings) -> TaskContract | None:
    """The caller's contract, else the one the planner states when `infer_contract`, else None."""
    if settings.contract is not None:
        return settings.contract
    state = getattr(planner, "contract", None)
    if not settings.infer_contract or not callable(state):
        return None
    stated = await anyio.to_thread.run_sync(state, task)
    return stated if isinstance(stated, TaskContract) else None


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

    def write(self, entry: SentWrite) -> None:
        return None


def write_policy(
    settings: MethodSettings,
    observer: Observer,
    confirm: Confirm | None,
    *,
    commit: bool,
    ledger: Ledger | None = None,
) -> WritePolicy:
    """How an evaluation treats calls that may change state, through one ledger per run: staged while
    searching and sent once when `commit` (never in a dry run); in live mode sent by every evaluation."""
    live = settings.writes == "live"
    return WritePolicy(
        send=live or (commit and settings.writes == "staged"),
        replay=not live,
        ledger=ledger if ledger is not None else Ledger(on_change=observer.write),
        confirm=confirm or refuse_all,
    )


def run_judge(judge: Judge | None, planner: Planner, settings: MethodSettings) -> Judge | None:
    """Who judges the final run: the given judge, else the planner; None when judging is off."""
    return (judge or planner) if settings.search.switches.judge else None


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
    writes: WritePolicy | None = None,
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
        writes=writes,
    )


def run_result(
    method: str,
    task: str,
    workflow: Workflow | None,
    trace: Trace,
    planner: Planner,
    settings: MethodSettings,
    started: float,
    writes: WritePolicy | None = None,
    verdict: Verdict | None = None,
) -> RunResult:
    """The result of a run, with its status from `verdict` (failed without one)."""
    staged = [
        {"node": run.node, "tool": run.tool, "arguments": run.arguments}
        for run in trace.runs.values()
        if run.status == "staged"
    ]
    result = RunResult(
        writes=list(writes.ledger.entries) if writes is not None else [],
        write_mode=settings.writes,
        staged=staged,
        method=method,
        task=task,
        feasible=trace.feasible,
        answer=trace.answer or "",
        workflow=workflow_json(workflow, trace),
        diagnostics=trace.diagnostics,
        usage=RunUsage.of(planner.usage, trace.tool_calls, time.monotonic() - started, planner),
        seed=settings.seed,
    )
    return (verdict or Verdict()).apply(result)
