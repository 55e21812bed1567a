"""Adaptive intensity: the formula, its bounds, the fixed mode, the stall trigger and its cooldown."""

from __future__ import annotations

import math
import random
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from evoflux.search.intensity import Intensity, IntensityConfig, intensity_from_growth, relative_improvement


def test_growth_and_intensity_follow_the_formula() -> None:
    intensity = Intensity()
    assert intensity.value == pytest.approx(0.1 + 0.6 / (1 + math.sqrt(1e-8)))
    intensity.update(0.2)
    assert intensity.growth == 0.0  # the first generation has nothing to compare with
    intensity.update(0.3)  # delta = 0.5
    assert intensity.growth == pytest.approx(0.1 * 0.25)
    intensity.update(0.3)  # delta = 0
    assert intensity.growth == pytest.approx(0.9 * 0.025)
    expected = 0.1 + 0.6 / (1 + math.sqrt(0.0225 + 1e-8))
    assert intensity.value == pytest.approx(expected)


def test_progress_lowers_intensity_and_a_stall_raises_it() -> None:
    intensity = Intensity()
    levels = [intensity.update(best) for best in (0.1, 0.3, 0.6, 0.9)]
    assert levels[1] < levels[0] and levels[3] < 0.7
    stalled = [intensity.update(0.9) for _ in range(30)]
    assert all(b > a for a, b in pairwise(stalled))
    assert stalled[-1] > levels[-1]


def test_a_falling_best_is_no_growth() -> None:
    assert relative_improvement(0.5, 0.4) == 0.0
    assert relative_improvement(0.0, 0.5) == pytest.approx(0.5 / 1e-8)
    intensity = Intensity()
    intensity.update(0.5)
    intensity.update(0.4)
    assert intensity.growth == 0.0 and intensity.best == 0.5


@given(st.floats(0.0, 1e6))
def test_intensity_stays_within_its_bounds(growth: float) -> None:
    config = IntensityConfig()
    assert config.i_min < intensity_from_growth(growth, config) <= config.i_max


def test_fixed_intensity_ignores_growth() -> None:
    intensity = Intensity(IntensityConfig(fixed=0.25))
    for best in (0.1, 0.5, 0.9):
        assert intensity.update(best) == 0.25
    assert intensity.growth > 0


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError):
        IntensityConfig(i_min=0.8, i_max=0.2)
    with pytest.raises(ValidationError):
        IntensityConfig(fixed=1.5)


def test_explore_draws_from_the_given_rng() -> None:
    intensity = Intensity(IntensityConfig(fixed=0.3))
    draws = [intensity.explore(random.Random(5)) for _ in range(3)]
    assert len(set(draws)) == 1
    rng = random.Random(1)
    share = sum(intensity.explore(rng) for _ in range(4000)) / 4000
    assert share == pytest.approx(0.3, abs=0.03)


def test_stall_triggers_after_warmup_and_then_cools_down() -> None:
    intensity = Intensity(IntensityConfig(stall_threshold=1e-3, cooldown=3, warmup=2))
    intensity.update(0.5)
    assert not intensity.stalled()  # never on the first generation
    triggers = []
    for _ in range(8):
        intensity.update(0.5)
        triggers.append(intensity.stalled())
    assert triggers == [True, False, False, True, False, False, True, False]


def test_progress_prevents_a_stall_until_the_signal_decays() -> None:
    intensity = Intensity(IntensityConfig(stall_threshold=1e-3))
    intensity.update(0.2)
    intensity.update(0.4)  # delta = 1: G = 0.1
    assert not intensity.stalled()
    generations = 0
    while not intensity.stalled():
        intensity.update(0.4)
        generations += 1
    assert 0.1 * 0.9**generations < 1e-3 <= 0.1 * 0.9 ** (generations - 1)
    assert intensity.stalled(threshold=1.0) is False  # cooling down


def test_a_threshold_can_be_given_per_call() -> None:
    intensity = Intensity()
    intensity.update(0.2)
    intensity.update(0.4)
    assert not intensity.stalled() and intensity.stalled(threshold=1.0)
