"""Self-repair: plan, then re-plan from the diagnostics until the workflow runs or the budget is spent."""

from __future__ import annotations

import json
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
from evoflux.planner.plans import PlanResult
from evoflux.protocols import Judge, Observer, Planner, ToolCaller
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.execute import CallCache
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Trace
from evoflux.workflow.validate import canonicalise_tools
from evoflux.workflow.writes import Confirm

__all__ = ["self_repair"]


async def self_repair(
    task: str,
    caller: ToolCaller,
    planner: Planner,
    settings: MethodSettings,
    observer: Observer | None = None,
    judge: Judge | None = None,
    confirm: Confirm | None = None,
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
    staged = write_policy(settings, observer, confirm, commit=False)
    commit = write_policy(settings, observer, confirm, commit=True, ledger=staged.ledger)
    attempt = tool_calls = 0
    while True:
        workflow = canonicalise_tools(plan.workflow, caller.tools) if plan.workflow else None
        observer.planned(workflow, plan.diagnostics)
        trace = await final_trace(
            task, workflow, plan.diagnostics, caller, planner, settings, observer, cache, staged
        )
        if trace.pending and not trace.diagnostics and commit.send:
            tool_calls += trace.tool_calls  # it runs through with its writes held back: commit it
            trace = await final_trace(
                task, workflow, plan.diagnostics, caller, planner, settings, observer, cache, commit
            )
        attempt, tool_calls = attempt + 1, tool_calls + trace.tool_calls
        if trace.pending and not trace.diagnostics:  # a dry run: it would send its writes now
            break
        spent = planner.usage.calls - calls0
        if trace.feasible or spent + 2 > budget.lm_calls or time.monotonic() - started > budget.wall_s:
            break
        plan = await anyio.to_thread.run_sync(
            _retry, planner, task, tools, workflow, trace, settings.seed + attempt
        )
    judging = run_judge(judge, planner, settings)
    verdict = await judge_final(task, workflow, trace, caller.tools, judging, contract=settings.contract)
    result = run_result("self-repair", task, workflow, trace, planner, settings, started, commit, verdict)
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
