"""Scoring one run against its task's checks. Pure."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

from evoflux.bench.tasks import BenchTask

__all__ = ["Score", "score_result"]


class Score(BaseModel):
    """How a run did on its task's checks, and why it was not solved. `solved_answer` is the headline:
    every expected number and text is in the final answer; `solved` (lenient, the older rule) also
    accepts a number found only in a tool's output."""

    solved: bool
    solved_answer: bool = False
    feasible: bool
    numbers_found: int = 0
    numbers_in_answer: int = 0
    contains_found: int = 0
    tools_called: int = 0
    failed_checks: list[str] = Field(default_factory=list)


_SIGNED = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")


def _numbers(value: Any) -> list[float]:
    """Every number written in a value, signed (`-40` is minus forty; `2025-01` is 2025 and 1)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return [float(n) for n in _SIGNED.findall(text)]


def score_result(task: BenchTask, result: dict[str, Any]) -> Score:
    """Check a `RunResult.to_json()` against the task."""
    nodes = result.get("workflow", {}).get("nodes", []) or []
    answer = str(result.get("answer") or "")
    outputs = [n.get("output") for n in nodes if n.get("status") == "ok"]
    said = _numbers(answer)
    have = said + [x for out in outputs for x in _numbers(out)]
    called = {n.get("tool") for n in nodes if n.get("status") == "ok"}
    failed: list[str] = []
    numbers = in_answer = 0
    only_in_outputs: list[str] = []
    for check in task.checks.numbers:
        if any(abs(h - check.value) <= check.tol for h in said):
            numbers, in_answer = numbers + 1, in_answer + 1
        elif any(abs(h - check.value) <= check.tol for h in have):
            numbers += 1
            only_in_outputs.append(f"number {check.value:g} ± {check.tol:g} only in a tool's output")
        else:
            failed.append(f"number {check.value:g} ± {check.tol:g} not found")
    contains = 0
    for text in task.checks.contains:
        if text.lower() in answer.lower():
            contains += 1
        else:
            failed.append(f"answer lacks {text!r}")
    tools = 0
    for wanted in task.checks.tools:
        if any(option.strip() in called for option in wanted.split("|")):
            tools += 1
        else:
            failed.append(f"{wanted} was not called successfully")
    feasible = bool(result.get("feasible"))
    if not feasible:
        failed.insert(0, "not feasible")
    return Score(
        solved=feasible and not failed,
        solved_answer=feasible and not failed and not only_in_outputs,
        feasible=feasible,
        numbers_found=numbers,
        numbers_in_answer=in_answer,
        contains_found=contains,
        tools_called=tools,
        failed_checks=failed + only_in_outputs,
    )
