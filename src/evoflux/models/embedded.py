"""`EmbeddedModel`: a GGUF model run in-process by llama.cpp through xllamacpp."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from evoflux.models.lm import Completion, Message, Usage, finish_reason
from evoflux.models.registry import ModelError, resolve_model_path

__all__ = ["THREADS_ENV", "EmbeddedModel", "default_threads"]


THREADS_ENV = "EVOFLUX_THREADS"


def default_threads() -> int:
    """`$EVOFLUX_THREADS` when it is a positive number, else the number of cores this process may run on."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class EmbeddedModel:
    """A local GGUF model. Loads on `load()` or on the first `complete()`; thread-safe; `close()` frees it.

    `compact_json` makes constrained output use no optional whitespace (`{"a":1}`), which roughly halves
    the tokens generated for a pretty-printed answer.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        name: str | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        compact_json: bool = True,
    ) -> None:
        self.path = resolve_model_path(f"gguf:{path}")
        self.name = name or self.path.name
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.compact_json = compact_json
        self.load_s: float | None = None
        self._server: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the weights now (a no-op when loaded). Raises `ModelError` if llama.cpp cannot."""
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> Any:
        if self._server is not None:
            return self._server
        started = time.perf_counter()
        try:
            import xllamacpp
        except ImportError as e:  # pragma: no cover - a dependency of evoflux
            raise ModelError(f"cannot import xllamacpp ({e}): reinstall evoflux with its dependencies") from e
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.n_ctx = self.n_ctx
        params.n_parallel = 1  # one slot: every call can reuse the previous call's prefix
        params.cache_prompt = True
        params.cpuparams.n_threads = self.n_threads
        params.cpuparams_batch.n_threads = self.n_threads
        params.verbosity = 0
        params.api_keys = [secrets.token_hex(16)]  # lock the HTTP listener xllamacpp always opens
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError as e:
            raise ModelError(
                f"llama.cpp could not load {self.path} with n_ctx={self.n_ctx} ({e}): the file may be "
                "truncated or of an unsupported architecture; re-download it or pick another GGUF"
            ) from e
        self.load_s = time.perf_counter() - started
        return self._server

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> Completion:
        """Complete the chat with the model's template; `schema` constrains the answer to JSON."""
        request: dict[str, Any] = {
            "messages": [m.as_dict() for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": seed,
            "cache_prompt": True,
        }
        if schema is not None:
            request["grammar"] = self._grammar(schema)
        with self._lock:
            server = self._ensure_loaded()
            started = time.perf_counter()
            try:
                response = server.handle_chat_completions(request)
            except ValueError as e:  # xllamacpp raises for requests it cannot parse
                raise ModelError(f"{self.name} rejected the request: {e}") from e
            elapsed = time.perf_counter() - started
        return _completion(response, elapsed, self.name)

    def _grammar(self, schema: dict[str, Any]) -> str:
        import xllamacpp

        if self.compact_json:
            schema = {**schema, "x-guidance": {"whitespace_flexible": False, **schema.get("x-guidance", {})}}
        try:
            return str(xllamacpp.json_schema_to_grammar(schema))
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"cannot turn the JSON Schema into a grammar ({e}): simplify the schema") from e

    def close(self) -> None:
        """Free the model and stop xllamacpp's listener; a later call loads it again."""
        with self._lock:
            self._server = None

    def __enter__(self) -> EmbeddedModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "loaded" if self._server is not None else "not loaded"
        return f"EmbeddedModel({self.name!r}, n_ctx={self.n_ctx}, threads={self.n_threads}, {state})"


def _completion(response: Any, elapsed: float, name: str) -> Completion:
    """A `Completion` from llama.cpp's OpenAI-style response, or `ModelError` for an error response."""
    if not isinstance(response, dict) or "error" in response:
        error = response.get("error", response) if isinstance(response, dict) else response
        message = error.get("message", error) if isinstance(error, dict) else error
        hint = ""
        if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
            hint = ": shorten the prompt (fewer tools in the catalog) or raise n_ctx"
        raise ModelError(f"{name} failed: {message}{hint}")
    choice = response["choices"][0]
    usage = response.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return Completion(
        text=choice["message"].get("content") or "",
        finish_reason=finish_reason(choice.get("finish_reason")),
        usage=Usage(
            calls=1,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            cached_tokens=int(details.get("cached_tokens", 0)),
        ),
        elapsed_s=elapsed,
    )
