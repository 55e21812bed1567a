"""How a run's seed picks its decoding: seed 0 is greedy, any other seed samples.

Every method opens with one model decision (zero-shot's plan, self-repair's first plan, ReAct's first
step, the first of evoflux's seed plans). With `--seed 0` that decision is greedy, so the default run is
deterministic; with any other seed it is sampled at `SAMPLED_TEMPERATURE` with that seed, so repeating
a benchmark over seeds measures the spread of each method rather than repeating one greedy answer.
Later decisions keep each method's own schedule (self-repair and evoflux already sample their retries).
"""

from __future__ import annotations

__all__ = ["SAMPLED_TEMPERATURE", "opening_temperature"]

SAMPLED_TEMPERATURE = 0.7


def opening_temperature(seed: int) -> float:
    """The temperature of a run's opening decision: 0 (greedy) for seed 0, else `SAMPLED_TEMPERATURE`."""
    return 0.0 if seed == 0 else SAMPLED_TEMPERATURE
