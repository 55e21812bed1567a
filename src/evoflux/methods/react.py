"""ReAct: step-by-step tool calling with observations, the strongest baseline the search is compared with."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import anyio

from evoflux.errors import EvofluxError
from evoflux.methods.base import MethodSettings, QuietObserver, run_judge, visible_tools, write_policy
from evoflux.methods.result import RunResult, RunUsage, workflow_json
from evoflux.methods.verdict import judge_final
from evoflux.models.decoding import opening_temperature
from evoflux.models.lm import Usage
from evoflux.planner.plans import ReactTurn
from evoflux.protocols import ReactPlanner, ToolCaller
from evoflux.search.budget import Spend
from evoflux.servers.tools import ToolSpec, output_value, tool_failure
from evoflux.workflow.diagnostics import Diagnostic, Stage, render
from evoflux.workflow.evaluate import changed_calls
from evoflux.workflow.evidence import (
    evidence_text,
    outputs_text,
    render_value,
    tidy_numbers,
    ungrounded_numbers,
)
from evoflux.workflow.execute import send_once
from evoflux.workflow.graph import Answer, Node, Workflow
from evoflux.workflow.trace import Event, NodeRun, Trace
from evoflux.workflow.validate import check_arguments
from evoflux.workflow.writes import REFUSED, Confirm, WritePolicy

if TYPE_CHECKING:
    from evoflux.protocols import Judge, Observer, Planner

__all__ = ["MAX_STEPS_CAP", "OBSERVATION_CHARS", "PARSE_RETRIES", "max_steps", "react"]

OBSERVATION_CHARS = 1500
PARSE_RETRIES = 2
MAX_STEPS_CAP = 12
_RETRY_TEMPERATURES = (0.0, 0.5, 0.9)

Stop = Literal["final_answer", "max_steps", "parse_failures", "budget"]


def max_steps(settings: MethodSettings) -> int:
    """Steps a ReAct run may take: one call fewer than the model-call budget (one is kept for the
    answer), at least 1, at most `MAX_STEPS_CAP` (12 at the default budget of 40 calls)."""
    return max(1, min(MAX_STEPS_CAP, settings.search.budget.lm_calls - 1))


def _decode(reply: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | str | None:
    """A call (tool, args), a final answer, or None when the reply is neither."""
    if reply is None:
        return None
    tool, args = reply.get("tool"), reply.get("args", {})
    if isinstance(tool, str) and tool:
        return (tool, args) if isinstance(args, dict) else None
    final = reply.get("final_answer")
    return final.strip() if isinstance(final, str) and final.strip() else None


class _Run:
    """The state of one ReAct run: the history the model sees, and the calls sent as workflow nodes."""

    def __init__(
        self,
        caller: ToolCaller,
        tools: Sequence[ToolSpec],
        settings: MethodSettings,
        writes: WritePolicy,
    ) -> None:
        self.caller, self.settings, self.writes = caller, settings, writes
        self.tools = {spec.name: spec for spec in tools}
        self.history: list[ReactTurn] = []
        self.nodes: list[Node] = []
        self.trace = Trace()
        self.rejected = 0

    def reject(self, tool: str, args: dict[str, Any], why: str) -> None:
        self.rejected += 1
        self.history.append(ReactTurn(tool=tool, args=args, observation=why, failed=True))

    async def call(self, tool: str, args: dict[str, Any], observer: Observer) -> None:
        """Check the call, send it if it passes, and record what came back as the step's observation."""
        node_id = f"n{len(self.nodes) + 1}"
        spec = self.tools.get(tool)
        if spec is None:
            self.reject(tool, args, f"tool {tool!r} is not available; use one of: {', '.join(self.tools)}")
            return
        problems = check_arguments(node_id, args, spec, self.settings.execution.limits)
        if problems:
            self.reject(tool, args, "the call was not sent:\n" + render(problems))
            return
        observer.event(Event(kind="started", node=node_id, tool=tool))
        timeout = self.settings.execution.call_timeout_s
        if spec.changes_state:
            result, how = await send_once(self.caller, spec, args, self.writes, node=node_id, timeout=timeout)
            if result is None:
                why = "not sent: this is a dry run" if how == "staged" else REFUSED.format(tool=tool)
                self.reject(tool, args, why)
                return
            self.trace.tool_calls += how == "sent"
        else:
            result = await self.caller.call_tool(tool, args, timeout=timeout)
            self.trace.tool_calls += 1
        reason = tool_failure(result)
        output = None if reason else output_value(result)
        self.nodes.append(Node(id=node_id, tool=tool, args=args))
        self.trace.runs[node_id] = NodeRun(
            node=node_id,
            tool=tool,
            status="error" if reason else "ok",
            arguments=args,
            result=result,
            output=output,
        )
        if reason is not None:
            kind = result.error_kind or "tool"
            self.trace.diagnostics.append(
                Diagnostic(
                    stage=Stage.EXECUTE,
                    node=node_id,
                    message=f"{tool} failed ({kind}): {reason}",
                    hint="read the error and change the arguments, or use another tool",
                )
            )
            observer.event(Event(kind="failed", node=node_id, tool=tool, detail=reason))
            self.history.append(ReactTurn(tool=tool, args=args, observation=reason, failed=True))
        else:
            observer.event(Event(kind="ok", node=node_id, tool=tool))
            observation = render_value(output, OBSERVATION_CHARS)
            self.history.append(ReactTurn(tool=tool, args=args, observation=observation))

    def workflow(self) -> Workflow:
        ok = [node_id for node_id, run in self.trace.runs.items() if run.status == "ok"]
        return Workflow(nodes=self.nodes, answer=Answer(uses=ok))

    def repaired(self) -> set[str]:
        """Failed calls followed by a successful call of the same tool."""
        runs = list(self.trace.runs.values())
        return {
            run.node
            for i, run in enumerate(runs)
            if run.status == "error" and any(r.tool == run.tool and r.status == "ok" for r in runs[i + 1 :])
        }


async def _ask(
    planner: ReactPlanner,
    task: str,
    tools: Sequence[ToolSpec],
    history: Sequence[ReactTurn],
    seed: int,
    opening: float = 0.0,
    attempts: int = PARSE_RETRIES + 1,
) -> tuple[tuple[str, dict[str, Any]] | str | None, int]:
    """The next decision, asking again at a higher temperature while the reply does not parse, at most
    `attempts` times; also how many replies did not parse. `opening` is the least temperature of the
    first ask."""
    failures = 0
    for attempt in range(max(1, attempts)):
        temperature = _RETRY_TEMPERATURES[min(attempt, len(_RETRY_TEMPERATURES) - 1)]
        temperature = max(temperature, opening) if attempt == 0 else temperature
        step = partial(planner.react_step, seed=seed + attempt, temperature=temperature)
        reply, completion = await anyio.to_thread.run_sync(step, task, tools, history)
        decision = None if completion.finish_reason == "length" else _decode(reply)
        if decision is not None:
            return decision, failures
        failures += 1
    return None, failures


def _no_answer(why: str) -> Diagnostic:
    return Diagnostic(
        stage=Stage.ANSWER,
        node="answer",
        message=why,
        hint="call the tools the task needs, then give the final answer from their outputs",
    )


async def react(
    task: str,
    caller: ToolCaller,
    planner: Planner,
    settings: MethodSettings,
    observer: Observer | None = None,
    judge: Judge | None = None,
    confirm: Confirm | None = None,
) -> RunResult:
    """Run ReAct on one task (see the module docstring). Raises `EvofluxError` for a planner without
    `react_step`."""
    if not isinstance(planner, ReactPlanner):
        raise EvofluxError(
            f"the react method needs a planner with a react_step method (LMPlanner, ScriptedPlanner); "
            f"{type(planner).__name__} has none"
        )
    observer = observer or QuietObserver()
    started, usage0 = time.monotonic(), planner.usage
    tools = visible_tools(task, caller, settings.top_k_tools)
    writes = write_policy(settings, observer, confirm, commit=True)  # each call is the model's chosen act
    run = _Run(caller, tools, settings, writes)
    limit, budget = max_steps(settings), settings.search.budget
    spend = Spend(budget, usage0)
    final: str | None = None
    stopped: Stop = "max_steps"
    parse_failures = 0
    for step in range(limit):
        spend.tool_calls = run.trace.tool_calls
        kept = planner.usage + Usage(calls=1)  # one model call is kept for the answer
        if step > 0 and spend.exhausted(kept):
            stopped = "budget"
            break
        opening = opening_temperature(settings.seed) if step == 0 else 0.0
        attempts = min(PARSE_RETRIES + 1, budget.lm_calls - (kept.calls - usage0.calls))
        decision, failed = await _ask(
            planner, task, tools, run.history, settings.seed + 10 * step, opening, attempts
        )
        parse_failures += failed
        if decision is None:
            stopped = "parse_failures" if failed > PARSE_RETRIES else "budget"
            break
        if isinstance(decision, str):
            final, stopped = decision, "final_answer"
            break
        await run.call(*decision, observer)

    trace, workflow = run.trace, run.workflow()
    trace.answer = final
    if final is None:
        why = {
            "parse_failures": f"no final answer: the reply did not parse {PARSE_RETRIES + 1} times in a row",
            "budget": f"no final answer: the budget ran out after {len(run.history)} steps",
        }.get(stopped, f"no final answer within {limit} steps")
        trace.diagnostics.append(_no_answer(why))
    elif not run.nodes:
        trace.diagnostics.append(_no_answer("the final answer was given without any tool call"))
    elif evidence := evidence_text(workflow, trace, every_node=True):
        changed = changed_calls(trace, run.tools)
        written = await anyio.to_thread.run_sync(
            planner.write_answer, task, evidence, final, ", ".join(changed)
        )
        # the filter every method's answer goes through: a number no tool returned and the task does not
        # give disqualifies a text, and the plain outputs stand instead
        grounded = [t for t in (written, final) if t and not ungrounded_numbers(t, trace.outputs, task)]
        trace.answer = tidy_numbers(
            (grounded[0] if grounded else outputs_text(workflow, trace) or evidence).strip()
        )
        trace.answer_evidence, trace.answer_is_evidence = list(workflow.answer.uses), not grounded
    else:
        trace.diagnostics.append(_no_answer("no tool call succeeded, so the answer has no evidence"))
    repaired = run.repaired()
    trace.diagnostics = [
        d for d in trace.diagnostics if not (d.stage is Stage.EXECUTE and d.node in repaired)
    ]
    feasible = (
        trace.answer is not None
        and not trace.diagnostics
        and all(r.status == "ok" or r.node in repaired for r in trace.runs.values())
    )
    observer.planned(workflow if run.nodes else None, trace.diagnostics)
    judging = run_judge(judge, planner, settings)
    shown = workflow if run.nodes else None
    verdict = await judge_final(
        task, shown, trace, caller.tools, judging, feasible=feasible, contract=settings.contract
    )

    usage = planner.usage
    spent = Usage(
        calls=usage.calls - usage0.calls,
        prompt_tokens=usage.prompt_tokens - usage0.prompt_tokens,
        completion_tokens=usage.completion_tokens - usage0.completion_tokens,
        cached_tokens=usage.cached_tokens - usage0.cached_tokens,
    )
    result = RunResult(
        method="react",
        task=task,
        feasible=feasible,
        answer=trace.answer or "",
        workflow=workflow_json(workflow if run.nodes else None, trace),
        diagnostics=trace.diagnostics,
        usage=RunUsage.of(spent, trace.tool_calls, time.monotonic() - started, planner),
        seed=settings.seed,
        writes=list(writes.ledger.entries),
        write_mode=settings.writes,
        search={
            "steps": len(run.history),
            "stopped_because": stopped,
            "max_steps": limit,
            "rejected": run.rejected,
            "repaired": len(repaired),
            "parse_failures": parse_failures,
        },
    )
    return verdict.apply(result)
