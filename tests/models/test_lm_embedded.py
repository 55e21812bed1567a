"""The language-model layer and the embedded llama.cpp backend, on the real `lite` model.

The model tests need the assembled lite GGUF in the cache; they are skipped, saying how to get it, when it
is absent (`python -c "from evoflux.models.registry import ensure_model; ensure_model('lite')"`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from evoflux.models.embedded import EmbeddedModel
from evoflux.models.lm import Completion, Message, Usage, finish_reason
from evoflux.models.registry import MODELS, ModelError, cache_dir
from evoflux.planner.prompting import step_schema
from evoflux.protocols import LanguageModel
from helpers import AREA, CALC, LENGTH

PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "tool": {"type": "string", "enum": ["weather.forecast", "maps.geocode", "math.add"]},
        "arguments": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city", "days"],
            "additionalProperties": False,
        },
    },
    "required": ["tool", "arguments"],
    "additionalProperties": False,
}
SYSTEM = Message(
    role="system",
    content="You choose one tool and its arguments. Tools: weather.forecast(city, days), "
    "maps.geocode(city), math.add(a, b). Answer with JSON only.",
)


def _lite_path() -> Path:
    path = cache_dir() / "models" / MODELS["lite"].filename
    if not path.is_file():
        pytest.skip("the lite model is not in the cache: run ensure_model('lite') once")
    return path


@pytest.fixture(scope="module")
def lite() -> Iterator[EmbeddedModel]:
    model = EmbeddedModel(_lite_path(), name="lite", n_ctx=4096)
    model.load()
    yield model
    model.close()


def test_usage_adds_up() -> None:
    a = Usage(calls=1, prompt_tokens=10, completion_tokens=5, cached_tokens=2)
    b = Usage(calls=2, prompt_tokens=7, completion_tokens=1, cached_tokens=7)
    assert a + b == Usage(calls=3, prompt_tokens=17, completion_tokens=6, cached_tokens=9)
    assert (a + b).total_tokens == 23
    assert sum([a, b], Usage()) == a + b


def test_finish_reasons_are_normalised() -> None:
    assert [finish_reason(r) for r in ("stop", "eos", None, "length", "max_tokens", "tool_calls")] == [
        "stop",
        "stop",
        "stop",
        "length",
        "length",
        "other",
    ]


def test_embedded_model_fails_fast_on_a_bad_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        EmbeddedModel(tmp_path / "missing.gguf")
    (tmp_path / "x.gguf").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a GGUF"):
        EmbeddedModel(tmp_path / "x.gguf")


def test_embedded_model_reports_a_gguf_llama_cpp_cannot_load(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(1000))
    model = EmbeddedModel(broken)  # lazy: nothing loaded yet
    with pytest.raises(ModelError, match="could not load"):
        model.load()


def test_lite_is_a_language_model(lite: EmbeddedModel) -> None:
    assert isinstance(lite, LanguageModel)
    assert lite.load_s is not None and lite.load_s < 30


def test_constrained_output_parses_and_matches_the_schema(lite: EmbeddedModel) -> None:
    task = Message(role="user", content="What will the weather be in Paris over the next 3 days?")
    completion = lite.complete([SYSTEM, task], schema=PLAN_SCHEMA, max_tokens=80)
    assert completion.finish_reason == "stop"
    plan = json.loads(completion.text)
    Draft202012Validator(PLAN_SCHEMA).validate(plan)
    assert completion.text.startswith('{"') and "\n" not in completion.text  # compact JSON
    assert completion.usage.calls == 1
    assert completion.usage.prompt_tokens > 20
    assert 0 < completion.usage.completion_tokens <= 80
    assert completion.elapsed_s > 0


def test_small_max_tokens_reports_length_instead_of_raising(lite: EmbeddedModel) -> None:
    task = Message(role="user", content="Forecast for Rome, 2 days.")
    completion = lite.complete([SYSTEM, task], schema=PLAN_SCHEMA, max_tokens=4)
    assert completion.finish_reason == "length"
    assert completion.usage.completion_tokens == 4
    with pytest.raises(json.JSONDecodeError):
        json.loads(completion.text)


def test_a_repeated_prefix_is_served_from_the_cache(lite: EmbeddedModel) -> None:
    first = lite.complete([SYSTEM, Message(role="user", content="Geocode Oslo.")], max_tokens=2)
    second = lite.complete([SYSTEM, Message(role="user", content="Geocode Lima.")], max_tokens=2)
    assert first.usage.prompt_tokens == second.usage.prompt_tokens
    assert second.usage.cached_tokens >= second.usage.prompt_tokens - 8


def test_sampling_is_seeded(lite: EmbeddedModel) -> None:
    chat = [Message(role="user", content="Name a random fruit.")]
    runs = [lite.complete(chat, max_tokens=6, temperature=1.0, seed=s).text for s in (7, 7)]
    assert runs[0] == runs[1]


def test_a_prompt_over_the_context_raises_a_model_error(lite: EmbeddedModel) -> None:
    with pytest.raises(ModelError, match="context"):
        lite.complete([Message(role="user", content="word " * 5000)], max_tokens=2)


def test_calls_from_threads_are_serialised(lite: EmbeddedModel) -> None:
    results: list[Completion] = []

    def call(city: str) -> None:
        results.append(lite.complete([Message(role="user", content=f"Say {city}.")], max_tokens=3))

    threads = [threading.Thread(target=call, args=(c,)) for c in ("Oslo", "Lima", "Kyiv")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 3 and all(r.usage.completion_tokens > 0 for r in results)


@pytest.mark.slow
def test_the_prefix_cache_makes_a_long_shared_prefix_cheap(lite: EmbeddedModel) -> None:
    catalog = "\n".join(
        f"- tool_{i}: returns the value number {i} of the inventory, by name" for i in range(120)
    )
    system = Message(role="system", content=f"Pick one tool.\n{catalog}")
    cold = lite.complete([system, Message(role="user", content="Value 3?")], max_tokens=1)
    warm = lite.complete([system, Message(role="user", content="Value 9?")], max_tokens=1)
    assert cold.usage.prompt_tokens > 1500
    assert warm.usage.cached_tokens > 1500
    assert warm.elapsed_s * 5 < cold.elapsed_s


def test_a_real_model_decodes_a_step_that_fits_its_tools_schema(lite: EmbeddedModel) -> None:
    purpose = "Convert 12 feet to meters"
    schema = step_schema([LENGTH, AREA, CALC], purpose)
    ask = Message(role="user", content=f'Write the step "{purpose}" as {{"id", "why", "tool", "args"}}.')
    completion = lite.complete([ask], schema=schema, max_tokens=120)
    node = json.loads(completion.text)
    Draft202012Validator(schema).validate(node)
    spec = {t.name: t for t in (LENGTH, AREA, CALC)}[node["tool"]]
    Draft202012Validator(spec.input_schema).validate(node["args"])  # what the server will check
