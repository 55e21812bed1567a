"""What executing a workflow produced: one record per node, the answer, and the diagnostics."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from evoflux.servers.tools import ToolResult
from evoflux.workflow.diagnostics import Diagnostic, Stage, earliest_stage

__all__ = ["Event", "NodeRun", "Trace"]

Status = Literal["ok", "error", "skipped", "staged", "waiting", "refused"]
"""`staged`: a call that may change state, held back during a search; `waiting`: a node that needs a
staged write first; `refused`: a destructive call nobody confirmed."""


class NodeRun(BaseModel):
    """The execution of one node."""

    node: str
    tool: str
    status: Status
    arguments: dict[str, Any] | None = Field(default=None, description="Arguments as sent, refs resolved.")
    result: ToolResult | None = None
    output: Any = Field(default=None, description="The value later references resolve against.")
    cached: bool = False


class Trace(BaseModel):
    """A validated-and-executed workflow: node runs, the answer, and every diagnostic."""

    runs: dict[str, NodeRun] = Field(default_factory=dict)
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    answer: str | None = None
    answer_evidence: list[str] = Field(default_factory=list, description="Node ids the answer drew on.")
    answer_is_evidence: bool = Field(
        default=False, description="No written answer kept to the outputs: the answer is the raw evidence."
    )
    tool_calls: int = Field(default=0, description="Calls actually sent (cache hits excluded).")
    wall_s: float = 0.0

    @property
    def outputs(self) -> dict[str, Any]:
        return {node: run.output for node, run in self.runs.items() if run.status == "ok"}

    @property
    def pending(self) -> list[str]:
        """Nodes held back: staged writes and the nodes that wait for them."""
        return [node for node, run in self.runs.items() if run.status in ("staged", "waiting")]

    @property
    def executed(self) -> int:
        return sum(run.status == "ok" for run in self.runs.values())

    @property
    def stage(self) -> Stage:
        """The earliest failing stage, or ANSWER when nothing failed."""
        failed = earliest_stage(self.diagnostics)
        return Stage.ANSWER if failed is None else failed

    @property
    def feasible(self) -> bool:
        """Parsed, resolved, valid, every node executed, and an answer written from executed outputs."""
        return (
            not self.diagnostics
            and self.answer is not None
            and all(run.status == "ok" for run in self.runs.values())
        )


class Event(BaseModel):
    """A progress event: a node started, finished, failed, was skipped or served from the cache."""

    kind: str
    node: str
    tool: str
    detail: str = ""
