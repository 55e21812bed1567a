"""The backend-neutral language-model layer: messages in, one completion out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Completion", "FinishReason", "Message", "Role", "Usage", "finish_reason"]

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "other"]


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        """The OpenAI-style `{"role", "content"}` dict."""
        return {"role": self.role, "content": self.content}


class Usage(BaseModel):
    """Token accounting of one or more calls; `a + b` adds them up."""

    model_config = ConfigDict(frozen=True)

    calls: int = 0
    prompt_tokens: int = Field(default=0, description="All prompt tokens, the cached ones included.")
    completion_tokens: int = 0
    cached_tokens: int = Field(default=0, description="Prompt tokens served from the prefix (KV) cache.")

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class Completion(BaseModel):
    """One answer of a model."""

    model_config = ConfigDict(frozen=True)

    text: str
    finish_reason: FinishReason = Field(
        description="`stop`: the model ended; `length`: cut at max_tokens or the context; `other`: any else."
    )
    usage: Usage = Field(default_factory=Usage)
    elapsed_s: float = 0.0


def finish_reason(raw: Any) -> FinishReason:
    """Normalise a backend's finish reason (`stop`, `eos`, `length`, `max_tokens`, ...)."""
    if raw in ("length", "max_tokens", "limit"):
        return "length"
    if raw in ("stop", "eos", "end_turn", "stop_sequence", None):
        return "stop"
    return "other"
