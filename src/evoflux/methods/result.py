"""The result of one run of one method: what `evoflux run --json` prints and benchmarks store."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from evoflux.models.lm import Usage
from evoflux.scoring.contract import TaskContract
from evoflux.scoring.coverage import Part
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Trace
from evoflux.workflow.writes import SentWrite

__all__ = ["EXIT_CODES", "RunResult", "RunUsage", "Status", "workflow_json"]

Status = Literal["answered", "partial", "failed"]
"""answered: every part verified against executed outputs; partial: it ran, parts are missing or
unchecked; failed: not feasible (the diagnostics say why)."""
EXIT_CODES: dict[str, int] = {"answered": 0, "partial": 3, "failed": 1}
"""`evoflux run`'s exit code per status (2 stays a usage error)."""


class RunUsage(BaseModel):
    """What a run cost."""

    lm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    tool_calls: int = 0
    wall_s: float = 0.0
    by_kind: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Per kind of model call (plan, repair, redesign, decompose, step, react, answer, judge, "
        "contract): "
        "calls, tokens and seconds, when the planner counts them.",
    )

    @classmethod
    def of(cls, usage: Usage, tool_calls: int, wall_s: float, planner: object = None) -> RunUsage:
        """The run's cost; `planner`'s `by_kind` counts, when it keeps them (`LMPlanner` does)."""
        by_kind = getattr(planner, "by_kind", None)
        return cls(
            lm_calls=usage.calls,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            tool_calls=tool_calls,
            wall_s=round(wall_s, 3),
            by_kind={k: dict(v) for k, v in by_kind.items()} if isinstance(by_kind, dict) else {},
        )


class RunResult(BaseModel):
    """One method's outcome on one task."""

    method: str
    task: str
    feasible: bool
    status: Status = "failed"
    answer: str = ""
    checklist: list[Part] = Field(
        default_factory=list, description="Each part of the task with its verified value (None: missing)."
    )
    unchecked: str = Field(default="", description="Why the parts were not checked, when they were not.")
    evidence: str = Field(default="", description="What the executed calls returned, as the judge saw it.")
    contract: TaskContract | None = Field(default=None, description="What the task asks for, when stated.")
    workflow: dict[str, Any] = Field(default_factory=dict)
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    usage: RunUsage = Field(default_factory=RunUsage)
    seed: int = 0
    planner: str = ""
    search: dict[str, Any] | None = None
    writes: list[SentWrite] = Field(
        default_factory=list, description="Every state-changing call the run sent, in order."
    )
    write_mode: str = "live"
    staged: list[dict[str, Any]] = Field(
        default_factory=list, description="Writes the chosen workflow would send (left unsent: dry run)."
    )

    @property
    def missing(self) -> list[str]:
        return [part.text for part in self.checklist if part.value is None]

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        if data["search"] is None:
            del data["search"]
        return data


def workflow_json(workflow: Workflow | None, trace: Trace | None = None) -> dict[str, Any]:
    """A workflow as JSON, each node annotated with how its execution went."""
    if workflow is None:
        return {"nodes": [], "answer": {}, "hash": None}
    nodes = []
    for node in workflow.nodes:
        entry: dict[str, Any] = {"id": node.id, "tool": node.tool, "args": node.args}
        run = trace.runs.get(node.id) if trace else None
        entry["status"] = run.status if run else "not run"
        if run and run.output is not None:
            entry["output"] = run.output
        nodes.append(entry)
    return {"nodes": nodes, "answer": workflow.answer.model_dump(), "hash": workflow.digest()}
