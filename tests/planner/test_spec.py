"""`load_model` and `PlannerFactory`: the spec forms and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoflux.errors import EvofluxError
from evoflux.models.embedded import EmbeddedModel, default_threads
from evoflux.models.openai_compat import OpenAIModel
from evoflux.models.registry import ModelError
from evoflux.planner.planner import LMPlanner
from evoflux.planner.scripted import ScriptedPlanner
from evoflux.planner.spec import PlannerFactory, load_model
from evoflux.protocols import LanguageModel


def test_an_openai_spec_splits_model_and_url() -> None:
    model = load_model("openai:qwen2.5:1.5b@http://localhost:11434/v1")
    assert isinstance(model, OpenAIModel) and isinstance(model, LanguageModel)
    assert (model.model, model.base_url) == ("qwen2.5:1.5b", "http://localhost:11434/v1")
    assert model.name == "openai:qwen2.5:1.5b@http://localhost:11434/v1"


def test_an_openai_spec_without_url_uses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    model = load_model("openai:my-model")
    assert isinstance(model, OpenAIModel) and model.base_url == "http://127.0.0.1:8000/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    with pytest.raises(ModelError, match="OPENAI_BASE_URL"):
        load_model("openai:my-model")


def test_a_gguf_spec_is_checked_but_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(16))
    model = load_model(f"gguf:{path}")
    assert isinstance(model, EmbeddedModel) and model.name == f"gguf:{path}" and "not loaded" in repr(model)
    with pytest.raises(ModelError, match="does not exist"):
        load_model(f"gguf:{tmp_path / 'missing.gguf'}")


def test_threads_come_from_the_caller_else_the_environment_else_the_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(16))
    monkeypatch.delenv("EVOFLUX_THREADS", raising=False)
    cores = default_threads()
    assert cores >= 1
    model = load_model(f"gguf:{path}", threads=1)
    assert isinstance(model, EmbeddedModel) and model.n_threads == 1 and "threads=1" in repr(model)
    monkeypatch.setenv("EVOFLUX_THREADS", "3")
    assert default_threads() == 3
    made = load_model(f"gguf:{path}")
    assert isinstance(made, EmbeddedModel) and made.n_threads == 3
    monkeypatch.setenv("EVOFLUX_THREADS", "zero")  # not a positive number: the cores
    assert default_threads() == cores


def test_an_unknown_spec_lists_the_accepted_forms() -> None:
    with pytest.raises(ModelError) as error:
        load_model("llama-3-8b")
    for form in ("default", "lite", "gguf:PATH", "openai:MODEL@BASE_URL"):
        assert form in str(error.value)


def test_a_scripted_spec_plays_its_json_script_afresh_for_every_planner(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    plan = {"nodes": [{"id": "n1", "tool": "toy.echo", "args": {"text": "hi"}}]}
    script.write_text(json.dumps({"plans": [plan, "not json"], "coverage": {"score": 0.5}}))
    make = PlannerFactory(f"scripted:{script}")
    first, second = make(), make()
    assert isinstance(first, ScriptedPlanner) and first is not second
    assert first.plan("t", []).workflow is not None and first.plan("t", []).workflow is None
    assert second.plan("t", []).workflow is not None  # its own script, from the start
    verdict = first.judge("t", "", "")
    assert verdict is not None and verdict.score == 0.5
    with pytest.raises(ModelError, match="test-double"):
        load_model(f"scripted:{script}")


def test_a_bad_script_is_rejected_with_what_to_write(tmp_path: Path) -> None:
    with pytest.raises(EvofluxError, match=r"cannot use .* as a scripted planner"):
        PlannerFactory(f"scripted:{tmp_path / 'missing.json'}")
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    with pytest.raises(EvofluxError, match="no plans and no react_steps"):
        PlannerFactory(f"scripted:{empty}")
    empty.write_text('{"plan": []}')
    with pytest.raises(EvofluxError, match="plans"):
        PlannerFactory(f"scripted:{empty}")


def test_a_model_spec_makes_planners_over_one_model() -> None:
    make = PlannerFactory("openai:m@http://127.0.0.1:9/v1")
    first, second = make(), make()
    assert isinstance(first, LMPlanner) and isinstance(second, LMPlanner)
    assert first.model is second.model is make.model
    make.close()
