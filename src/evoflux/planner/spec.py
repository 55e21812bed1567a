"""`load_model`: a `LanguageModel` from a one-line spec, as the CLI and the config name it;
`PlannerFactory`: fresh planners from a spec, for runs that each need their own (the benchmark)."""

from __future__ import annotations

import os
import re

from evoflux.models.registry import MODELS, ModelError, Progress, resolve_model_path
from evoflux.planner.planner import LMPlanner
from evoflux.planner.scripted import Script
from evoflux.protocols import LanguageModel, Planner

__all__ = ["SPEC_FORMS", "PlannerFactory", "load_model"]

SPEC_FORMS = (
    "default (Qwen2.5-Coder-1.5B-Instruct, embedded)",
    "lite (Qwen2.5-Coder-0.5B-Instruct, embedded)",
    "gguf:PATH (a local GGUF file, embedded)",
    "openai:MODEL@BASE_URL (an OpenAI-compatible server, e.g. openai:qwen2.5:1.5b@http://localhost:11434/v1;"
    " without @BASE_URL, $OPENAI_BASE_URL)",
    "scripted:PATH (a test double for tests and demos, not a model: canned replies from a JSON file)",
)
SCRIPTED = "scripted:"
_OPENAI = re.compile(r"^openai:(?P<model>.+?)(?:@(?P<url>https?://\S+))?$")


def load_model(
    spec: str, *, progress: Progress | None = None, n_ctx: int = 8192, threads: int | None = None
) -> LanguageModel:
    """The model a spec names. Embedded models are downloaded if needed, and load on first use with
    `threads` CPU threads (None: `default_threads()`)."""
    spec = spec.strip()
    if spec in MODELS or spec.startswith("gguf:"):
        from evoflux.models.embedded import EmbeddedModel

        path = resolve_model_path(spec, progress=progress)
        return EmbeddedModel(path, name=spec, n_ctx=n_ctx, n_threads=threads)
    if spec.startswith(SCRIPTED):
        raise ModelError(f"{spec!r} names a scripted test-double planner, not a language model")
    match = _OPENAI.match(spec)
    if match:
        from evoflux.models.openai_compat import OpenAIModel

        url = match["url"] or os.environ.get("OPENAI_BASE_URL")
        if not url:
            raise ModelError(f"model spec {spec!r} has no @BASE_URL and OPENAI_BASE_URL is not set")
        return OpenAIModel(match["model"], url)
    forms = "\n  ".join(SPEC_FORMS)
    raise ModelError(f"unknown model spec {spec!r}; the accepted forms are:\n  {forms}")


class PlannerFactory:
    """Fresh planners from a spec, one per call, all over one model that loads once; `close()` frees it.

    A fresh planner per run counts usage per run. `scripted:PATH` is the test double: every call plays the
    JSON script at PATH (`Script`) from its start, so a process that has only the spec string (a Ray
    worker) can rebuild the same planner. A bad spec or script raises here, before any run.
    """

    def __init__(self, spec: str, *, threads: int | None = None) -> None:
        self.spec = spec.strip()
        self.model: LanguageModel | None = None
        self._script: Script | None = None
        if self.spec.startswith(SCRIPTED):
            self._script = Script.load(os.path.expanduser(self.spec.removeprefix(SCRIPTED)))
        else:
            self.model = load_model(self.spec, threads=threads)

    def __call__(self) -> Planner:
        if self._script is not None:
            return self._script.planner()
        assert self.model is not None
        return LMPlanner(self.model)

    def close(self) -> None:
        close = getattr(self.model, "close", None)
        if callable(close):
            close()
