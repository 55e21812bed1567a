"""`load_model`: a `LanguageModel` from a one-line spec, as the CLI and the config name it."""

from __future__ import annotations

import os
import re

from evoflux.models import MODELS, ModelError, Progress, resolve_model_path
from evoflux.planners.lm import LanguageModel

__all__ = ["SPEC_FORMS", "load_model"]

SPEC_FORMS = (
    "default (Qwen2.5-Coder-1.5B-Instruct, embedded)",
    "lite (Qwen2.5-Coder-0.5B-Instruct, embedded)",
    "gguf:PATH (a local GGUF file, embedded)",
    "openai:MODEL@BASE_URL (an OpenAI-compatible server, e.g. openai:qwen2.5:1.5b@http://localhost:11434/v1;"
    " without @BASE_URL, $OPENAI_BASE_URL)",
)
_OPENAI = re.compile(r"^openai:(?P<model>.+?)(?:@(?P<url>https?://\S+))?$")


def load_model(spec: str, *, progress: Progress | None = None, n_ctx: int = 8192) -> LanguageModel:
    """The model a spec names. Embedded models are downloaded if needed, and load on first use."""
    spec = spec.strip()
    if spec in MODELS or spec.startswith("gguf:"):
        from evoflux.planners.embedded import EmbeddedModel

        return EmbeddedModel(resolve_model_path(spec, progress=progress), name=spec, n_ctx=n_ctx)
    match = _OPENAI.match(spec)
    if match:
        from evoflux.planners.openai_compat import OpenAIModel

        url = match["url"] or os.environ.get("OPENAI_BASE_URL")
        if not url:
            raise ModelError(f"model spec {spec!r} has no @BASE_URL and OPENAI_BASE_URL is not set")
        return OpenAIModel(match["model"], url)
    forms = "\n  ".join(SPEC_FORMS)
    raise ModelError(f"unknown model spec {spec!r}; the accepted forms are:\n  {forms}")
