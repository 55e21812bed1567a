"""Adaptive intensity: how hard the search explores, set by how fast the best fitness still grows."""

from __future__ import annotations

import math
import random

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Intensity", "IntensityConfig", "intensity_from_growth", "relative_improvement"]


class IntensityConfig(BaseModel):
    """Settings of the adaptive intensity (defaults: the paper's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rho: float = Field(default=0.9, ge=0.0, lt=1.0, description="Decay of the growth signal.")
    i_min: float = Field(default=0.1, ge=0.0, le=1.0, description="Intensity when progress is fast.")
    i_max: float = Field(default=0.7, ge=0.0, le=1.0, description="Intensity when progress stalls.")
    eps: float = Field(default=1e-8, gt=0.0, description="Guards the square root and the division.")
    fixed: float | None = Field(default=None, ge=0.0, le=1.0, description="A constant intensity (ablation).")
    stall_threshold: float = Field(default=1e-3, ge=0.0, description="G below this means stalled.")
    cooldown: int = Field(default=3, ge=1, description="Generations between two redesign triggers.")
    warmup: int = Field(default=2, ge=1, description="Generations observed before a stall can count.")

    @model_validator(mode="after")
    def _ordered(self) -> IntensityConfig:
        if self.i_min > self.i_max:
            raise ValueError(f"i_min ({self.i_min}) must not exceed i_max ({self.i_max})")
        return self


def relative_improvement(previous: float, current: float, eps: float = 1e-8) -> float:
    """`delta`: the gain of the best fitness relative to where it was; never negative."""
    return max(0.0, current - previous) / max(abs(previous), eps)


def intensity_from_growth(growth: float, config: IntensityConfig) -> float:
    """`I = I_min + (I_max - I_min) / (1 + sqrt(G + eps))`, or the fixed intensity."""
    if config.fixed is not None:
        return config.fixed
    return config.i_min + (config.i_max - config.i_min) / (1.0 + math.sqrt(growth + config.eps))


class Intensity:
    """The growth signal and intensity of one search, updated once per generation."""

    def __init__(self, config: IntensityConfig | None = None) -> None:
        self.config = config or IntensityConfig()
        self.growth = 0.0
        """G, the decayed mean of squared relative improvements."""
        self.generation = 0
        """Generations observed (calls to `update`)."""
        self.best: float | None = None
        """The best fitness value seen so far."""
        self._last_trigger: int | None = None

    @property
    def value(self) -> float:
        """The current intensity I: the probability of exploring in the next step."""
        return intensity_from_growth(self.growth, self.config)

    def update(self, best: float) -> float:
        """Record the best fitness value of a finished generation; returns the new intensity."""
        if self.best is not None:
            delta = relative_improvement(self.best, best, self.config.eps)
            rho = self.config.rho
            self.growth = rho * self.growth + (1.0 - rho) * delta * delta
        self.best = best if self.best is None else max(self.best, best)
        self.generation += 1
        return self.value

    def explore(self, rng: random.Random) -> bool:
        """Draw the mode of the next step: True to explore (probability I), False to exploit."""
        return rng.random() < self.value

    def stalled(self, threshold: float | None = None) -> bool:
        """Whether progress stalled enough to redesign: G below the threshold, at least `warmup`
        generations observed, and `cooldown` generations since the last trigger. A True answer is a
        trigger: it starts the cooldown."""
        limit = self.config.stall_threshold if threshold is None else threshold
        if self.generation < self.config.warmup or self.growth >= limit:
            return False
        last = self._last_trigger
        if last is not None and self.generation - last < self.config.cooldown:
            return False
        self._last_trigger = self.generation
        return True
