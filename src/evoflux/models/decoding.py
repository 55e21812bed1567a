"""How a run's seed picks its decoding: seed 0 is greedy, any other seed samples."""

from __future__ import annotations

__all__ = ["SAMPLED_TEMPERATURE", "opening_temperature"]

SAMPLED_TEMPERATURE = 0.7


def opening_temperature(seed: int) -> float:
    """The temperature of a run's opening decision: 0 (greedy) for seed 0, else `SAMPLED_TEMPERATURE`."""
    return 0.0 if seed == 0 else SAMPLED_TEMPERATURE
