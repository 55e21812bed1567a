"""`load_model`: the model spec forms and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from evoflux.models import ModelError
from evoflux.planners import LanguageModel, load_model
from evoflux.planners.embedded import EmbeddedModel
from evoflux.planners.openai_compat import OpenAIModel


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


def test_an_unknown_spec_lists_the_accepted_forms() -> None:
    with pytest.raises(ModelError) as error:
        load_model("llama-3-8b")
    for form in ("default", "lite", "gguf:PATH", "openai:MODEL@BASE_URL"):
        assert form in str(error.value)
