"""Validate, execute and answer one workflow: the evaluation every method and the search share."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import anyio

from evoflux.protocols import AnswerWriter, ToolCaller
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.answer import compose_answer
from evoflux.workflow.execute import CallCache, ExecutionSettings, execute
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Event, Trace
from evoflux.workflow.validate import validate
from evoflux.workflow.writes import WritePolicy

__all__ = ["changed_calls", "evaluate"]


def changed_calls(trace: Trace, tools: Mapping[str, ToolSpec]) -> list[str]:
    """The calls of a trace that went through to a tool that may change state (its effect class)."""
    return [
        run.tool
        for run in trace.runs.values()
        if run.status == "ok" and run.tool in tools and tools[run.tool].changes_state
    ]


async def evaluate(
    task: str,
    workflow: Workflow,
    caller: ToolCaller,
    *,
    writer: AnswerWriter | None = None,
    settings: ExecutionSettings | None = None,
    cache: CallCache | None = None,
    on_event: Callable[[Event], None] | None = None,
    writes: WritePolicy | None = None,
) -> Trace:
    """Static checks first; only a statically valid workflow is executed, and only a fully executed one
    gets an answer (written in a worker thread, since model calls block)."""
    settings = settings or ExecutionSettings()
    problems = validate(workflow, caller.tools, settings.limits)
    if problems:
        return Trace(diagnostics=problems)
    trace = await execute(workflow, caller, settings=settings, cache=cache, on_event=on_event, writes=writes)
    if not trace.diagnostics:
        changed = changed_calls(trace, caller.tools)
        await anyio.to_thread.run_sync(compose_answer, task, workflow, trace, writer, changed)
    return trace
