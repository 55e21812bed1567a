"""`ScriptedPlanner`: a test double for the search logic. It is not a planner anyone should deploy."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from evoflux.errors import EvofluxError
from evoflux.models.lm import Completion, Usage
from evoflux.planner.plans import PlanResult, ReactTurn
from evoflux.scoring.contract import TaskContract
from evoflux.scoring.coverage import Coverage
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.graph import Workflow
from evoflux.workflow.parse import extract_json, parse_workflow

__all__ = ["Script", "ScriptedPlanner"]

Plan = Workflow | dict[str, Any] | str
ReactReply = dict[str, Any] | str | Completion


class Script(BaseModel):
    """Canned replies in a JSON file, for the `scripted:PATH` planner spec (a test double that a separate
    process, e.g. a Ray worker, can rebuild from the path alone). Fields as in `ScriptedPlanner`;
    `coverage`, when given, is every `judge` verdict; `contract`, every `contract` reply."""

    model_config = ConfigDict(extra="forbid")

    plans: list[dict[str, Any] | str] = []
    repairs: list[dict[str, Any] | str] = []
    redesigns: list[dict[str, Any] | str] = []
    react_steps: list[dict[str, Any] | str] = []
    coverage: Coverage | None = None
    contract: TaskContract | None = None

    @classmethod
    def load(cls, path: str | Path) -> Script:
        """Read and check a script file; `EvofluxError` says what is wrong with it."""
        try:
            script = cls.model_validate_json(Path(path).read_bytes())
        except (OSError, ValidationError) as e:
            raise EvofluxError(
                f"cannot use {path} as a scripted planner ({e}): give a JSON object with some of "
                '"plans", "repairs", "redesigns", "react_steps" (lists of replies) and "coverage"'
            ) from e
        if not script.plans and not script.react_steps:
            raise EvofluxError(f"scripted planner {path} has no plans and no react_steps: add at least one")
        return script

    def planner(self) -> ScriptedPlanner:
        """A fresh `ScriptedPlanner` playing this script from its first reply."""
        verdict = self.coverage
        return ScriptedPlanner(
            self.plans,
            repairs=self.repairs,
            redesigns=self.redesigns,
            react_steps=self.react_steps,
            judge_fn=(lambda task, evidence, answer: verdict) if verdict is not None else None,
            contract=self.contract,
        )


class ScriptedPlanner:
    """Plays back scripted replies; implements the `Planner` protocol.

    - `plans`: replies to `plan`, in turn (the last one repeats); a Workflow, plan JSON, or raw text;
    - `repairs`, `redesigns`: replies to `repair` and `redesign` likewise (default: the next plan);
    - `rewrite`: a function from the node context text to a node dict (default: no reply);
    - `judge_fn`: (task, evidence, answer) -> Coverage (default: no verdict);
    - `answer_fn`: (task, evidence, draft) -> answer text (default: the draft);
    - `contract`: the reply to every `contract` (default: none);
    - `steps`: the reply to every `decompose` (default: none, so the stepwise seed falls back to a plan
      and no call is counted);
    - `react_steps`: replies to `react_step`, in turn (the last one repeats): a reply dict, raw text (parsed
      like a model's output), or a whole `Completion` (to script e.g. `finish_reason="length"`).

    `plans` may be empty when only `react_steps` are scripted; `plan` then raises.
    """

    def __init__(
        self,
        plans: Sequence[Plan],
        *,
        repairs: Sequence[Plan] = (),
        redesigns: Sequence[Plan] = (),
        rewrite: Callable[[str], dict[str, Any] | None] | None = None,
        judge_fn: Callable[[str, str, str], Coverage | None] | None = None,
        answer_fn: Callable[[str, str, str], str | None] | None = None,
        react_steps: Sequence[ReactReply] = (),
        steps: Sequence[str] = (),
        contract: TaskContract | None = None,
    ) -> None:
        if not plans and not react_steps:
            raise ValueError("a ScriptedPlanner needs at least one plan (or react step)")
        self.plans, self.repairs, self.redesigns = list(plans), list(repairs), list(redesigns)
        self.react_steps = list(react_steps)
        self.react_seen: list[tuple[list[ReactTurn], float]] = []
        """The history and temperature of every `react_step` call, in order."""
        self.rewrite, self.judge_fn, self.answer_fn = rewrite, judge_fn, answer_fn
        self.steps = list(steps)
        self.task_contract = contract
        self.usage = Usage()
        self.calls: list[str] = []
        """Every call's name, in order (`plan`, `repair`, `redesign`, `decompose`, `rewrite`, `react`,
        `answer`, `judge`)."""
        self._turn = {"plan": 0, "repair": 0, "redesign": 0, "react": 0}

    def _count(self, kind: str, reply: str) -> None:
        self.calls.append(kind)
        self.usage = self.usage + Usage(calls=1, prompt_tokens=100, completion_tokens=max(1, len(reply) // 4))

    def _next(self, kind: str, script: list[Plan]) -> PlanResult:
        script = script or self.plans
        if not script:
            raise ValueError(f"no {kind} scripted for this ScriptedPlanner")
        turn = self._turn.get(kind, 0)
        self._turn[kind] = turn + 1
        reply = script[min(turn, len(script) - 1)]
        text = (
            reply.model_dump_json()
            if isinstance(reply, Workflow)
            else (reply if isinstance(reply, str) else json.dumps(reply))
        )
        self._count(kind, text)
        workflow, diagnostics = parse_workflow(text)
        return PlanResult(workflow=workflow, diagnostics=diagnostics, raw=text)

    def plan(
        self, task: str, tools: Sequence[ToolSpec], *, seed: int = 0, temperature: float = 0.0
    ) -> PlanResult:
        return self._next("plan", self.plans)

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
        return self._next("repair", self.repairs)

    def redesign(self, task: str, tools: Sequence[ToolSpec], summary: str, *, seed: int = 0) -> PlanResult:
        return self._next("redesign", self.redesigns)

    def decompose(self, task: str, *, seed: int = 0, temperature: float = 0.0) -> list[str]:
        if self.steps:
            self._count("decompose", json.dumps(self.steps))
        return list(self.steps)

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
        reply = self.rewrite(context) if self.rewrite is not None else None
        self._count("rewrite", json.dumps(reply))
        return reply

    def react_step(
        self,
        task: str,
        tools: Sequence[ToolSpec],
        history: Sequence[ReactTurn],
        *,
        seed: int = 0,
        temperature: float = 0.0,
    ) -> tuple[dict[str, Any] | None, Completion]:
        self.react_seen.append((list(history), temperature))
        turn = self._turn["react"]
        self._turn["react"] = turn + 1
        reply = self.react_steps[min(turn, len(self.react_steps) - 1)] if self.react_steps else ""
        if isinstance(reply, Completion):
            completion = reply
        else:
            text = reply if isinstance(reply, str) else json.dumps(reply)
            completion = Completion(text=text, finish_reason="stop")
        self._count("react", completion.text)
        if completion.finish_reason == "length":
            return None, completion
        try:
            data = extract_json(completion.text)
        except ValueError:
            return None, completion
        return (data if isinstance(data, dict) else None), completion

    def write_answer(self, task: str, evidence: str, draft: str, changes: str = "") -> str | None:
        answer = self.answer_fn(task, evidence, draft) if self.answer_fn is not None else None
        self._count("answer", answer or "")
        return answer

    def contract(self, task: str) -> TaskContract | None:
        self._count("contract", self.task_contract.model_dump_json() if self.task_contract else "")
        return self.task_contract

    def judge(self, task: str, evidence: str, answer: str) -> Coverage | None:
        verdict = self.judge_fn(task, evidence, answer) if self.judge_fn is not None else None
        self._count("judge", verdict.model_dump_json() if verdict else "")
        return verdict
