"""Structured diagnostics: one text for the user and for the repair prompts."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from pydantic import BaseModel, field_serializer, field_validator

__all__ = ["NOT_COVERED", "Diagnostic", "Stage", "earliest_stage", "render"]

NOT_COVERED = "the answer does not cover: "
"""How the message of a missing part of the task begins (a coverage verdict's, or a chain check's)."""


class Stage(IntEnum):
    """How far a workflow got. Ordered: a later stage means the workflow got further."""

    PARSE = 0
    RESOLVE = 1
    SCHEMA = 2
    DEPENDENCY = 3
    EXECUTE = 4
    ANSWER = 5

    @property
    def label(self) -> str:
        return self.name.lower()


class Diagnostic(BaseModel):
    """What went wrong, where, and what would fix it."""

    stage: Stage
    node: str | None = None
    message: str
    hint: str = ""
    path: str | None = None

    @field_serializer("stage")
    def _stage_name(self, stage: Stage) -> str:
        return stage.label

    @field_validator("stage", mode="before")
    @classmethod
    def _parse_stage(cls, value: Any) -> Any:
        if isinstance(value, str):
            return Stage[value.upper()]
        return value

    def __str__(self) -> str:
        where = f"[{self.stage.label}]" + (f" {self.node}" if self.node else "")
        if self.path:
            where += f" at {self.path}"
        text = f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


def earliest_stage(diagnostics: list[Diagnostic]) -> Stage | None:
    """The stage a workflow failed at, or None when there is no diagnostic."""
    return min((d.stage for d in diagnostics), default=None)


def render(diagnostics: list[Diagnostic], limit: int = 12) -> str:
    """Diagnostics as a bullet list, bounded, for prompts and terminals."""
    lines = [f"- {d}" for d in diagnostics[:limit]]
    if len(diagnostics) > limit:
        lines.append(f"- ... and {len(diagnostics) - limit} more")
    return "\n".join(lines)
