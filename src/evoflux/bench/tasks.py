"""A benchmark task and its checks: the request, the servers it needs, and what its answer must hold."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from evoflux.errors import EvofluxError

__all__ = ["BenchTask", "Checks", "NumberCheck", "SuiteError"]


class SuiteError(EvofluxError):
    """A task file that cannot be read."""


class NumberCheck(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: float
    tol: float = Field(default=0.01, ge=0.0)


class Checks(BaseModel):
    model_config = ConfigDict(extra="ignore")

    numbers: list[NumberCheck] = Field(default_factory=list)
    contains: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)


class BenchTask(BaseModel):
    """One task with a machine-checkable outcome."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    task: str = Field(min_length=1)
    servers: list[str] = Field(default_factory=list)
    checks: Checks = Field(default_factory=Checks)
    min_steps: int = 1
    notes: str = ""
    bfcl: str = Field(
        default="", description="The BFCL multi-turn category this is an entry of ('' if none)."
    )
