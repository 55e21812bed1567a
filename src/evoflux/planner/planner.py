"""The planner: prompts + a compact language model -> workflows, repairs, redesigns, answers, verdicts.

What it says to the model and the schemas it decodes under are in `prompting`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from evoflux.models.lm import Completion, Message, Usage
from evoflux.models.registry import ModelError
from evoflux.planner.plans import PlanResult, ReactTurn
from evoflux.planner.prompting import (
    fill,
    plan_schema,
    prompt,
    react_messages,
    react_schema,
    render_catalog,
    step_schema,
)
from evoflux.protocols import LanguageModel
from evoflux.scoring.contract import CONTRACT_SCHEMA, TaskContract, parse_contract
from evoflux.scoring.coverage import Coverage, verified_coverage
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.diagnostics import Diagnostic, render
from evoflux.workflow.graph import Workflow
from evoflux.workflow.parse import extract_json, parse_workflow

__all__ = ["LMPlanner"]


MAX_STEPS = 6
"""The most steps a decomposition may have."""

STEP_TOKENS = 200
"""The most tokens one written node may take: a node is 40 to 80 tokens; a reply still going at 200 is
a small model repeating itself (`$n0 * $n1 * $n2 * ...`), and every token of it costs time."""

STEP_SYSTEM = Message(
    role="system", content=fill("plan", catalog="(the tools for the step are in the request)")
)
"""The system prompt of a one-step call: the planning rules without a catalog. The step's context lists
the few tools it may use, so a catalog here would only repeat them (hundreds of prompt tokens) or, whole,
lead a small model to another tool; and one fixed prefix is served from the cache on every step call."""

_STEPS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "items": {"type": "string", "minLength": 3, "maxLength": 160},
            "minItems": 1,
            "maxItems": MAX_STEPS,
        }
    },
    "required": ["steps"],
    "additionalProperties": False,
}

_KIND_FIELDS = ("calls", "prompt_tokens", "completion_tokens", "cached_tokens", "seconds")

_JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "parts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "part": {"type": "string", "maxLength": 120},
                    "value": {"type": "string", "maxLength": 80},
                },
                "required": ["part", "value"],
                "additionalProperties": False,
            },
            "minItems": 1,
            "maxItems": 6,
        },
    },
    "required": ["parts"],
    "additionalProperties": False,
}


class LMPlanner:
    """The planner backed by a real language model (embedded llama.cpp or an OpenAI-compatible endpoint)."""

    def __init__(
        self, model: LanguageModel, *, max_plan_tokens: int = 900, max_answer_tokens: int = 200
    ) -> None:
        self.model = model
        self.max_plan_tokens = max_plan_tokens
        self.max_answer_tokens = max_answer_tokens
        self.usage = Usage()
        self.by_kind: dict[str, dict[str, float]] = {}
        """Per kind of call (plan, repair, redesign, decompose, step, react, answer, judge, contract): calls,
        tokens and the seconds the model took: where a run's model time goes."""

    def _complete(self, kind: str, messages: list[Message], **kwargs: Any) -> Completion:
        completion = self.model.complete(messages, **kwargs)
        self.usage = self.usage + completion.usage
        spent = self.by_kind.setdefault(kind, dict.fromkeys(_KIND_FIELDS, 0.0))
        spent["calls"] += 1
        spent["prompt_tokens"] += completion.usage.prompt_tokens
        spent["completion_tokens"] += completion.usage.completion_tokens
        spent["cached_tokens"] += completion.usage.cached_tokens
        spent["seconds"] = round(spent["seconds"] + completion.elapsed_s, 3)
        return completion

    def _system(self, tools: Sequence[ToolSpec], *, example: bool = True) -> Message:
        """The rules and the catalog; the worked example comes last, so that prompts with and without it
        share their prefix (and its cache), and it is left out of one-step rewrites, where a small model
        tends to copy it instead of doing the task."""
        text = fill("plan", catalog=render_catalog(tools))
        return Message(
            role="system", content=f"{text.rstrip()}\n\n{prompt('plan_example')}" if example else text
        )

    def _plan_call(
        self, kind: str, tools: Sequence[ToolSpec], user: str, seed: int, temperature: float
    ) -> PlanResult:
        completion = self._complete(
            kind,
            [self._system(tools), Message(role="user", content=user)],
            schema=plan_schema([t.name for t in tools]),
            max_tokens=self.max_plan_tokens,
            temperature=temperature,
            seed=seed,
        )
        workflow, diagnostics = parse_workflow(
            completion.text, truncated=completion.finish_reason == "length"
        )
        return PlanResult(
            workflow=workflow, diagnostics=diagnostics, raw=completion.text, usage=completion.usage
        )

    def plan_messages(self, task: str, tools: Sequence[ToolSpec]) -> list[dict[str, str]]:
        """The chat messages of a plan request (what a fine-tuned planner is trained on)."""
        return [self._system(tools).as_dict(), Message(role="user", content=f"Task: {task}").as_dict()]

    def plan(
        self, task: str, tools: Sequence[ToolSpec], *, seed: int = 0, temperature: float = 0.0
    ) -> PlanResult:
        return self._plan_call("plan", tools, f"Task: {task}", seed, temperature)

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
        user = fill(
            "repair",
            task=task,
            workflow=_workflow_json(workflow),
            diagnostics=render(diagnostics),
            outputs=f"Outputs of the steps that ran:\n{outputs}\n" if outputs else "",
        )
        return self._plan_call("repair", tools, user, seed, 0.3 if seed else 0.0)

    def redesign(self, task: str, tools: Sequence[ToolSpec], summary: str, *, seed: int = 0) -> PlanResult:
        return self._plan_call("redesign", tools, fill("redesign", task=task, summary=summary), seed, 0.8)

    def decompose(self, task: str, *, seed: int = 0, temperature: float = 0.0) -> list[str]:
        completion = self._complete(
            "decompose",
            [Message(role="system", content=prompt("decompose")), Message(role="user", content=task)],
            schema=_STEPS_SCHEMA,
            max_tokens=60 * MAX_STEPS,
            temperature=temperature,
            seed=seed,
        )
        if completion.finish_reason == "length":
            return []
        try:
            data = extract_json(completion.text)
            steps = data["steps"] if isinstance(data, dict) else []
        except (ValueError, KeyError):
            return []
        return [" ".join(str(s).split()) for s in steps if isinstance(s, str) and s.strip()][:MAX_STEPS]

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
        messages = [STEP_SYSTEM, Message(role="user", content=fill("rewrite", context=context))]
        request: dict[str, Any] = {"max_tokens": STEP_TOKENS, "temperature": temperature, "seed": seed}
        try:
            completion = self._complete("step", messages, schema=step_schema(tools, purpose), **request)
        except ModelError:  # a tool schema the decoder cannot take: decode the step untyped
            untyped = step_schema(tools, purpose, typed=False)
            completion = self._complete("step", messages, schema=untyped, **request)
        if completion.finish_reason == "length":
            return None
        try:
            data = extract_json(completion.text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def react_step(
        self,
        task: str,
        tools: Sequence[ToolSpec],
        history: Sequence[ReactTurn],
        *,
        seed: int = 0,
        temperature: float = 0.0,
    ) -> tuple[dict[str, Any] | None, Completion]:
        """The next ReAct step (see `methods.react`): the reply as a JSON object, None when it does not
        parse or was cut at max_tokens, and the completion it came from."""
        completion = self._complete(
            "react",
            react_messages(task, tools, history),
            schema=react_schema([t.name for t in tools]),
            max_tokens=self.max_plan_tokens,
            temperature=temperature,
            seed=seed,
        )
        if completion.finish_reason == "length":
            return None, completion
        try:
            data = extract_json(completion.text)
        except ValueError:
            return None, completion
        return (data if isinstance(data, dict) else None), completion

    def write_answer(self, task: str, evidence: str, draft: str, changes: str = "") -> str | None:
        prompt = fill(
            "answer", task=task, evidence=evidence, draft=draft or "(none)", changes=changes or "none"
        )
        completion = self._complete(
            "answer", [Message(role="user", content=prompt)], max_tokens=self.max_answer_tokens
        )
        return completion.text.strip() or None

    def contract(self, task: str) -> TaskContract | None:
        """What the task asks for, stated once (`scoring.contract`); None when the reply is not one."""
        completion = self._complete(
            "contract",
            [Message(role="user", content=fill("contract", task=task))],
            schema=CONTRACT_SCHEMA,
            max_tokens=400,
        )
        if completion.finish_reason == "length":
            return None
        try:
            return parse_contract(extract_json(completion.text))
        except ValueError:
            return None

    def judge(self, task: str, evidence: str, answer: str) -> Coverage | None:
        """The model splits the task into parts and quotes, per part, the output value that answers it;
        the score counts only quotes that really occur in the evidence (`fitness.verified_coverage`)."""
        completion = self._complete(
            "judge",
            [Message(role="user", content=fill("judge", task=task, evidence=evidence, answer=answer))],
            schema=_JUDGE_SCHEMA,
            max_tokens=300,
        )
        try:
            data = extract_json(completion.text)
            parts = [(str(p["part"]), str(p["value"])) for p in data["parts"] if isinstance(p, dict)]
        except (ValueError, KeyError, TypeError):
            return None
        return verified_coverage(parts, evidence, task) if parts else None


def _workflow_json(workflow: Workflow) -> str:
    return json.dumps(
        {
            "nodes": [n.model_dump(exclude={"why"}) for n in workflow.nodes],
            "answer": workflow.answer.model_dump(),
        },
        ensure_ascii=False,
    )
