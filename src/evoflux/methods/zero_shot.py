"""Zero-shot: plan once, validate, execute, answer."""

from __future__ import annotations

import time

import anyio

from evoflux.methods.base import (
    MethodSettings,
    QuietObserver,
    final_trace,
    run_judge,
    run_result,
    visible_tools,
    write_policy,
)
from evoflux.methods.result import RunResult
from evoflux.methods.verdict import judge_final
from evoflux.models.decoding import opening_temperature
from evoflux.protocols import Judge, Observer, Planner, ToolCaller
from evoflux.workflow.execute import CallCache
from evoflux.workflow.validate import canonicalise_tools
from evoflux.workflow.writes import Confirm

__all__ = ["zero_shot"]


async def zero_shot(
    task: str,
    caller: ToolCaller,
    planner: Planner,
    settings: MethodSettings,
    observer: Observer | None = None,
    judge: Judge | None = None,
    confirm: Confirm | None = None,
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
    writes = write_policy(settings, observer, confirm, commit=True)  # its one execution is the commit
    trace = await final_trace(
        task, workflow, plan.diagnostics, caller, planner, settings, observer, CallCache(), writes
    )
    judging = run_judge(judge, planner, settings)
    verdict = await judge_final(task, workflow, trace, caller.tools, judging, contract=settings.contract)
    return run_result("zero-shot", task, workflow, trace, planner, settings, started, writes, verdict)
