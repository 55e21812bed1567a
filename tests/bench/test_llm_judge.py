"""The six-dimension LLM judge: scoring from a reply (a fixed-reply test double), and a real model."""

from __future__ import annotations

import json

import pytest

from evoflux.bench.llm_judge import DIMENSIONS, DimensionJudge
from evoflux.models.registry import MODELS, cache_dir
from helpers import FixedReply

LITE = cache_dir() / "models" / MODELS["lite"].filename
EVIDENCE = (
    'n1 = unit.convert_temperature({"value": 100, "from_unit": "fahrenheit"}) '
    'returned: {"converted_value": 37.78}'
)


def test_coverage_is_the_weighted_mean_of_the_six_ratings() -> None:
    ratings = dict.fromkeys(DIMENSIONS, 10) | {"task_fulfillment": 5, "grounding": 5}
    model = FixedReply(json.dumps({**ratings, "missing": ["the tripled value"]}))
    judge = DimensionJudge(model)
    verdict = judge.judge("Convert 100 F to C and triple it", EVIDENCE, "37.78 C")
    assert verdict is not None
    assert verdict.score == pytest.approx((2 * 5 + 2 * 5 + 4 * 10) / 80)
    assert verdict.missing == ["the tripled value"] and verdict.dimensions == {
        k: float(v) for k, v in ratings.items()
    }
    assert "37.78" in model.prompts[0] and "triple it" in model.prompts[0]
    assert judge.usage.calls == 1


def test_an_unreadable_reply_is_no_verdict() -> None:
    assert DimensionJudge(FixedReply("I think it is fine")).judge("t", EVIDENCE, "a") is None
    assert DimensionJudge(FixedReply('{"grounding": 3}')).judge("t", EVIDENCE, "a") is None


@pytest.mark.skipif(not LITE.is_file(), reason="the lite model is not installed: run scripts/setup.sh")
def test_a_real_model_rates_every_dimension_within_bounds() -> None:
    from evoflux.models.embedded import EmbeddedModel

    model = EmbeddedModel(LITE, n_ctx=4096)
    try:
        verdict = DimensionJudge(model).judge("Convert 100 F to Celsius", EVIDENCE, "100 F is 37.78 C.")
    finally:
        model.close()
    assert verdict is not None and verdict.dimensions is not None
    assert set(verdict.dimensions) == set(DIMENSIONS)
    assert all(0 <= r <= 10 for r in verdict.dimensions.values()) and 0 <= verdict.score <= 1
