"""Evoflux: the evolutionary search over workflows, answered from the best candidate's evidence."""

from __future__ import annotations

import time
from typing import Any

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
from evoflux.protocols import Judge, Observer, Planner, ToolCaller
from evoflux.search.loop import SearchSettings, evolve
from evoflux.search.population import Evaluated
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.evidence import evidence_text
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Trace
from evoflux.workflow.writes import Confirm, WritePolicy

__all__ = ["evoflux"]


async def evoflux(
    task: str,
    caller: ToolCaller,
    planner: Planner,
    settings: MethodSettings,
    observer: Observer | None = None,
    judge: Judge | None = None,
    confirm: Confirm | None = None,
) -> RunResult:
    """Evolutionary search over workflows (see `search.evolve`), answered from the best one's evidence."""
    observer = observer or QuietObserver()
    started, calls0 = time.monotonic(), planner.usage.calls
    tools = visible_tools(task, caller, settings.top_k_tools)
    search: SearchSettings | None = settings.search.model_copy(
        update={"seed": settings.seed, "execution": settings.execution, "contract": settings.contract}
    )

    staged = write_policy(settings, observer, confirm, commit=False)
    commit = write_policy(settings, observer, confirm, commit=True, ledger=staged.ledger)
    tool_calls, commits = 0, 0
    start: list[Workflow] = []
    kept: tuple[Workflow | None, Trace, Evaluated | None] | None = None  # the last commit that ran through
    while search is not None:
        outcome = await evolve(
            task,
            caller,
            planner,
            tools,
            search,
            judge=judge,
            on_generation=observer.generation,
            on_candidate=observer.candidate,
            writes=staged,
            commit_early=settings.writes == "staged",
            start=start,
        )
        best = outcome.best
        workflow = best.candidate.workflow if best else None
        diagnostics = [] if best else [Diagnostic(stage=Stage.PARSE, message="no plan parsed", hint="")]
        if workflow is not None:
            observer.planned(workflow, [])
        trace = await final_trace(
            task, workflow, diagnostics, caller, planner, settings, observer, outcome.cache, commit
        )
        tool_calls, commits = tool_calls + outcome.tool_calls + trace.tool_calls, commits + 1
        early = outcome.stopped_because == "commit"
        search = _after_commit(search, trace, commit, planner.usage.calls - calls0, started, commits, early)
        start = [workflow] if workflow is not None and early and trace.feasible else []
        kept = (workflow, trace, best) if trace.feasible else kept
    if not trace.feasible and kept is not None:  # a later commit broke: the run answers from the one that ran
        workflow, trace, best = kept
    known = best.coverage if best is not None else None
    seen = evidence_text(best.candidate.workflow, best.trace, every_node=True) if best is not None else ""
    verdict = await judge_final(
        task,
        workflow,
        trace,
        caller.tools,
        run_judge(judge, planner, settings),
        known=known,
        known_evidence=seen,
        contract=settings.contract,
    )
    result = run_result("evoflux", task, workflow, trace, planner, settings, started, commit, verdict)
    usage = result.usage.model_copy(update={"tool_calls": tool_calls})
    report = {**outcome.summary(), **_verdict(best), "commits": commits}
    return result.model_copy(update={"search": report, "usage": usage})


MAX_COMMITS = 3
"""How often a run commits a workflow. The search goes on from the state a commit really left (its
sent writes are answered from the ledger, never sent again) when a step of the commit failed, or when
the search stopped early to commit its best candidate's writes so that the reads after them can run."""


def _after_commit(
    search: SearchSettings,
    trace: Trace,
    commit: WritePolicy,
    calls: int,
    started: float,
    commits: int,
    early: bool,
) -> SearchSettings | None:
    """The settings of one more search when the commit failed, or came early, and budget is left; None
    to stop."""
    budget = search.budget
    left_calls, left_s = budget.lm_calls - calls, budget.wall_s - (time.monotonic() - started)
    failed = commit.send and commit.replay and not trace.feasible and len(commit.ledger) > 0
    if not (failed or early) or commits >= MAX_COMMITS or left_calls < 2 or left_s <= 0:
        return None
    rest = budget.model_copy(update={"lm_calls": left_calls, "wall_s": left_s})
    return search.model_copy(update={"budget": rest, "seed": search.seed + 1})


def _verdict(best: Evaluated | None) -> dict[str, Any]:
    """The coverage verdict on the chosen workflow, when it was judged."""
    if best is None or best.coverage is None:
        return {"coverage": None, "missing": []}
    return {"coverage": round(best.coverage.score, 3), "missing": best.coverage.missing}
