"""The live line under `evoflux run`'s output: what the run is doing now, for how long, at what cost."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from rich.markup import escape
from rich.status import Status

from evoflux.errors import EvofluxError
from evoflux.models.lm import Completion, Usage
from evoflux.planner.plans import PlanResult, ReactTurn
from evoflux.protocols import Planner, ReactPlanner
from evoflux.scoring.contract import TaskContract
from evoflux.scoring.coverage import Coverage
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.graph import Workflow

__all__ = ["LiveView", "Narrated"]

TICK_S = 0.5


class LiveView:
    """Keeps a rich `Status` line current: the stage, elapsed seconds, model calls and tokens so far."""

    def __init__(self, status: Status) -> None:
        self.status = status
        self.stage = "starting the servers"
        self.usage = Usage()
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="evoflux-live", daemon=True)

    def set(self, stage: str, usage: Usage | None = None) -> None:
        self.stage = stage
        if usage is not None:
            self.usage = usage
        self.status.update(self.text())

    def text(self) -> str:
        u = self.usage
        return (
            f"{escape(self.stage)} [dim]· {time.monotonic() - self._started:.0f} s · {u.calls} model calls · "
            f"{u.prompt_tokens + u.completion_tokens:,} tokens[/]"
        )

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            self.status.update(self.text())

    def __enter__(self) -> LiveView:
        self.status.start()
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * TICK_S)
        self.status.stop()


class Narrated:
    """A planner that tells the live view which kind of model call is under way, then makes it."""

    def __init__(self, inner: Planner, view: LiveView) -> None:
        self.inner, self.view = inner, view

    @property
    def usage(self) -> Usage:
        return self.inner.usage

    @usage.setter
    def usage(self, value: Usage) -> None:
        self.inner.usage = value

    @property
    def by_kind(self) -> object:
        return getattr(self.inner, "by_kind", None)

    def _say(self, stage: str) -> None:
        self.view.set(stage, self.inner.usage)

    def plan(
        self, task: str, tools: Sequence[ToolSpec], *, seed: int = 0, temperature: float = 0.0
    ) -> PlanResult:
        self._say("writing a plan")
        return self.inner.plan(task, tools, seed=seed, temperature=temperature)

    def repair(
        self,
        task: str,
        tools: Sequence[ToolSpec],
        workflow: Workflow,
        diagnostics: list[Diagnostic],
        outputs: str = "",
        *,
        seed: int = 0,
    ) -> PlanResult:
        self._say("repairing the plan from its errors")
        return self.inner.repair(task, tools, workflow, diagnostics, outputs, seed=seed)

    def redesign(self, task: str, tools: Sequence[ToolSpec], summary: str, *, seed: int = 0) -> PlanResult:
        self._say("redesigning: the search stalled")
        return self.inner.redesign(task, tools, summary, seed=seed)

    def decompose(self, task: str, *, seed: int = 0, temperature: float = 0.0) -> list[str]:
        self._say("splitting the task into steps")
        return self.inner.decompose(task, seed=seed, temperature=temperature)

    def rewrite_node(
        self,
        task: str,
        tools: Sequence[ToolSpec],
        context: str,
        *,
        seed: int = 0,
        purpose: str = "",
        temperature: float = 0.5,
    ) -> dict[str, Any] | None:
        self._say(f"writing a step: {purpose[:60]}" if purpose else "editing a step that failed")
        return self.inner.rewrite_node(
            task, tools, context, seed=seed, purpose=purpose, temperature=temperature
        )

    def write_answer(self, task: str, evidence: str, draft: str, changes: str = "") -> str | None:
        self._say("writing the answer from what the tools returned")
        return self.inner.write_answer(task, evidence, draft, changes)

    def contract(self, task: str) -> TaskContract | None:
        self._say("stating what the task asks for")
        return self.inner.contract(task)

    def judge(self, task: str, evidence: str, answer: str) -> Coverage | None:
        self._say("checking which parts of the task are answered")
        return self.inner.judge(task, evidence, answer)

    def react_step(
        self,
        task: str,
        tools: Sequence[ToolSpec],
        history: Sequence[ReactTurn],
        *,
        seed: int = 0,
        temperature: float = 0.0,
    ) -> tuple[dict[str, Any] | None, Completion]:
        if not isinstance(self.inner, ReactPlanner):
            raise EvofluxError(f"{type(self.inner).__name__} cannot take ReAct steps")
        self._say(f"ReAct step {len(history) + 1}")
        return self.inner.react_step(task, tools, history, seed=seed, temperature=temperature)
