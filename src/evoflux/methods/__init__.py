"""Methods behind one interface: a task, a live catalog and a planner in, a `RunResult` out."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from evoflux.errors import EvofluxError
from evoflux.methods.base import MethodSettings, QuietObserver, task_contract, visible_tools
from evoflux.methods.evoflux import evoflux
from evoflux.methods.react import react
from evoflux.methods.result import RunResult, RunUsage
from evoflux.methods.self_repair import self_repair
from evoflux.methods.zero_shot import zero_shot
from evoflux.protocols import Judge, Observer, Planner, ToolCaller
from evoflux.workflow.writes import Confirm

__all__ = [
    "METHODS",
    "MethodFn",
    "MethodSettings",
    "QuietObserver",
    "RunResult",
    "RunUsage",
    "evoflux",
    "react",
    "run_method",
    "self_repair",
    "visible_tools",
    "zero_shot",
]


MethodFn = Callable[
    [str, ToolCaller, Planner, MethodSettings, Observer | None, Judge | None, Confirm | None],
    Awaitable[RunResult],
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
    confirm: Confirm | None = None,
) -> RunResult:
    """Run the method called `name` (a key of `METHODS`). `confirm` is asked before a destructive call
    is sent (without it, none is sent); `settings.writes` says when writes are sent at all."""
    if name not in METHODS:
        raise EvofluxError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    started = time.monotonic()
    contract = await task_contract(task, planner, settings)
    stating_s = time.monotonic() - started
    if contract is not None:
        settings = settings.model_copy(update={"contract": contract})
    result = await METHODS[name](task, caller, planner, settings, observer, judge, confirm)
    if contract is None:
        return result
    usage = result.usage.model_copy(update={"wall_s": round(result.usage.wall_s + stating_s, 3)})
    return result.model_copy(update={"contract": contract, "usage": usage})
