"""`OpenAIModel`: any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp's server, OpenAI)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Literal

import openai
from openai.types.chat import ChatCompletion
from openai.types.completion_usage import CompletionUsage

from evoflux.models.lm import Completion, Message, Usage, finish_reason
from evoflux.models.registry import ModelError

__all__ = ["FormatMode", "OpenAIModel"]

FormatMode = Literal["json_schema", "json_object", "none"]
_FALLBACK: dict[FormatMode, FormatMode] = {"json_schema": "json_object", "json_object": "none"}
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "schema", "format", "grammar")


class OpenAIModel:
    """A model behind an OpenAI-compatible `/chat/completions` endpoint.

    The API key is `api_key`, else `$OPENAI_API_KEY`, else a dummy (local servers ignore it). `timeout_s`
    bounds each HTTP request; `max_retries` retries connection errors, 429 and 5xx with backoff.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        strict: bool = False,
        name: str | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.name = name or f"openai:{model}@{base_url}"
        self.strict = strict
        self.timeout_s = timeout_s
        self.format_mode: FormatMode = "json_schema"
        self._lock = threading.Lock()
        self._client = openai.OpenAI(
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "evoflux-no-key",
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
        )

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> Completion:
        """Complete the chat; `schema` goes out as the strongest `response_format` the server accepts."""
        started = time.perf_counter()
        while True:
            mode = self.format_mode if schema is not None else "none"
            request = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
            try:
                response = self._create(messages, request | self._format_kwargs(mode, schema))
                break
            except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
                if mode == "none" or not _mentions_format(e):
                    raise ModelError(f"{self.name} rejected the request: {_detail(e)}") from e
                with self._lock:  # step down once, for every later call too
                    if self.format_mode == mode:
                        self.format_mode = _FALLBACK[mode]
        elapsed = time.perf_counter() - started
        if not response.choices:
            raise ModelError(f"{self.name} returned no choices")
        choice = response.choices[0]
        return Completion(
            text=choice.message.content or "",
            finish_reason=finish_reason(choice.finish_reason),
            usage=_usage(response.usage),
            elapsed_s=elapsed,
        )

    def _create(self, messages: list[Message], kwargs: dict[str, Any]) -> ChatCompletion:
        """One request; every failure but a rejected request becomes a `ModelError` that says what to do."""
        chat: list[Any] = [m.as_dict() for m in messages]
        try:
            response: ChatCompletion = self._client.chat.completions.create(
                model=self.model, messages=chat, stream=False, **kwargs
            )
            return response
        except (openai.BadRequestError, openai.UnprocessableEntityError):
            raise
        except openai.APITimeoutError as e:
            raise ModelError(
                f"{self.name} did not answer in {self.timeout_s:.0f}s: raise the timeout or check the server"
            ) from e
        except openai.APIConnectionError as e:
            raise ModelError(
                f"cannot reach {self.base_url} ({e}): start the server or fix the URL in the model spec"
            ) from e
        except openai.AuthenticationError as e:
            raise ModelError(f"{self.base_url} refused the API key: set OPENAI_API_KEY") from e
        except openai.NotFoundError as e:
            raise ModelError(
                f"{self.base_url} has no model {self.model!r} ({_detail(e)}): see {self.base_url}/models"
            ) from e
        except openai.APIStatusError as e:
            raise ModelError(f"{self.name} failed with HTTP {e.status_code}: {_detail(e)}") from e

    def _format_kwargs(self, mode: FormatMode, schema: dict[str, Any] | None) -> dict[str, Any]:
        if schema is None or mode == "none":
            return {}
        if mode == "json_object":
            return {"response_format": {"type": "json_object"}}
        json_schema = {"name": "answer", "schema": schema, "strict": self.strict}
        return {"response_format": {"type": "json_schema", "json_schema": json_schema}}

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def __repr__(self) -> str:
        return f"OpenAIModel({self.model!r}, {self.base_url!r}, format={self.format_mode})"


def _usage(usage: CompletionUsage | None) -> Usage:
    if usage is None:
        return Usage(calls=1)
    details = usage.prompt_tokens_details
    cached = details.cached_tokens if details is not None else None
    return Usage(
        calls=1,
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        cached_tokens=cached or 0,
    )


def _detail(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and "message" in inner:
            return str(inner["message"])
    return str(error.message)


def _mentions_format(error: openai.APIStatusError) -> bool:
    text = _detail(error).lower()
    return any(word in text for word in _FORMAT_WORDS)
