"""What a planner hands back and is handed: a plan attempt, and one earlier ReAct step."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from evoflux.models.lm import Usage
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.graph import Workflow

__all__ = ["PlanResult", "ReactTurn"]


class PlanResult(BaseModel):
    """A plan attempt: the workflow if it parsed, parse diagnostics otherwise, and what it cost."""

    workflow: Workflow | None = None
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    raw: str = ""
    usage: Usage = Field(default_factory=Usage)


class ReactTurn(BaseModel):
    """One earlier step of a ReAct run as the model sees it: the call it made and what came back."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    observation: str = Field(default="", description="The output (truncated), or why the call failed.")
    failed: bool = Field(default=False, description="The call was rejected before sending, or failed.")
