"""Search budgets: how much a search may spend, and which limit stopped it."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evoflux.errors import EvofluxError
from evoflux.models.lm import Usage

__all__ = ["Budget", "BudgetError", "Spend"]


class BudgetError(EvofluxError):
    """A `--budget` string that does not parse."""


class Budget(BaseModel):
    """The limits of one search. Every field is a hard cap."""

    model_config = ConfigDict(extra="forbid")

    generations: int = Field(default=8, ge=0, le=1000, description="Generations after the seed plans.")
    population: int = Field(default=6, ge=1, le=200, description="Candidates kept between generations.")
    seeds: int = Field(default=2, ge=1, le=50, description="Plans sampled from the planner to start.")
    offspring: int = Field(default=3, ge=1, le=100, description="Children made per generation.")
    lm_calls: int = Field(default=40, ge=1, le=100_000, description="Model calls (plans, edits, judging).")
    tokens: int = Field(default=120_000, ge=1, description="Prompt plus completion tokens.")
    tool_calls: int = Field(default=300, ge=0, description="Tool calls actually sent (cache hits are free).")
    wall_s: float = Field(default=900.0, gt=0, description="Wall-clock seconds for the whole search.")

    @classmethod
    def parse(cls, text: str, base: Budget | None = None) -> Budget:
        """`generations=4,lm_calls=30` on top of `base` (the defaults when None)."""
        values = (base or cls()).model_dump()
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in cls.model_fields:
                raise BudgetError(
                    f"cannot read budget item {part!r}: write key=value with keys among "
                    f"{', '.join(cls.model_fields)} (e.g. generations=4,lm_calls=30)"
                )
            values[key] = value.strip()
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            problems = "; ".join(f"{err['loc'][0]}: {err['msg']}" for err in e.errors())
            raise BudgetError(f"invalid budget {text!r}: {problems}") from e


class Spend:
    """What a search has spent so far, measured against its budget."""

    def __init__(self, budget: Budget, usage: Usage) -> None:
        self.budget = budget
        self.started = time.monotonic()
        self.tool_calls = 0
        self._usage0 = usage

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def exhausted(self, usage: Usage) -> str | None:
        """The name of the first limit reached, or None while there is budget left."""
        b = self.budget
        calls = usage.calls - self._usage0.calls
        tokens = usage.total_tokens - self._usage0.total_tokens
        if calls >= b.lm_calls:
            return "lm_calls"
        if tokens >= b.tokens:
            return "tokens"
        if self.tool_calls >= b.tool_calls:
            return "tool_calls"
        if self.elapsed() >= b.wall_s:
            return "wall_clock"
        return None
