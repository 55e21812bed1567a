"""What the rest of Evoflux knows about a tool and a tool call, independent of the transport.

`catalog.py` fills these from live MCP servers; tests may build them by hand.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evoflux.servers.effects import Effect, EffectSource, effect_of

__all__ = ["ToolResult", "ToolSpec", "output_value", "tool_failure"]


class ToolSpec(BaseModel):
    """One tool of the live catalog, named `server.tool`."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Qualified name, `server.tool`.")
    server: str = Field(description="Name of the server in the servers config.")
    tool: str = Field(description="The tool's own name on its server.")
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None
    unusable: str | None = Field(default=None, description="Why this tool may not be called, if it may not.")
    read_only: bool | None = Field(
        default=None, description="The server's readOnlyHint, None when not given."
    )
    destructive: bool | None = Field(
        default=None, description="The server's destructiveHint, None when not given."
    )
    effect: Effect = Field(
        default="destructive",
        description="What a call may do: read, write or destructive write (see `servers.effects`); "
        "from the hints unless the config (or the caller) sets it.",
    )
    effect_source: EffectSource = "spec default"

    @model_validator(mode="before")
    @classmethod
    def _effect_from_hints(cls, data: Any) -> Any:
        if isinstance(data, dict) and "effect" not in data:
            effect, source = effect_of(data.get("read_only"), data.get("destructive"))
            return {**data, "effect": effect, "effect_source": source}
        return data

    @property
    def changes_state(self) -> bool:
        """Whether a call may change state: anything but a read (unannotated tools may write, as MCP says)."""
        return self.effect != "read"


ErrorKind = Literal["tool", "protocol", "timeout", "transport", "output_schema", "policy"]


class ToolResult(BaseModel):
    """The outcome of one `tools/call`, already bounded in size by the caller."""

    is_error: bool = False
    error_kind: ErrorKind | None = None
    text: str = Field(default="", description="Text content joined with newlines (truncated, with a marker).")
    structured: Any = Field(default=None, description="`structuredContent`, when the server sent it.")
    bytes: int = 0
    truncated: bool = False
    elapsed_s: float = 0.0


def output_value(result: ToolResult) -> Any:
    """The value references resolve against: structured content, else JSON in the text, else the text."""
    if result.structured is not None:
        return result.structured
    text = result.text.strip()
    if text[:1] in ("{", "[", '"') or text[:1].isdigit() or text[:1] == "-":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


_ERROR_PREFIXES = ("error", "exception", "traceback", "failed", "invalid", "unknown tool")


def _reports_failure(item: dict[str, Any]) -> bool:
    return item.get("success") is False or item.get("ok") is False or item.get("status") == "error"


def tool_failure(result: ToolResult) -> str | None:
    """Why a result is a failure: `isError`, an error payload returned as a normal result, or a batch
    whose every item reports a failure (`{"results": [{"success": false, "error": ...}, ...]}`)."""
    if result.is_error:
        return (result.text or result.error_kind or "the tool reported an error").strip()[:500]
    value = output_value(result)
    if isinstance(value, dict):
        if _reports_failure(value):
            return json.dumps(value, default=str)[:500]
        error = value.get("error")
        if error and len([k for k in value if value[k] not in (None, "", [], {})]) <= 2:
            return str(error)[:500]
        for items in value.values():
            if (
                isinstance(items, list)
                and items
                and all(isinstance(i, dict) and (_reports_failure(i) or i.get("error")) for i in items)
            ):
                return "every item failed: " + json.dumps(items[0], default=str)[:450]
    text = result.text.strip().lower()
    if result.structured is None and text.startswith(_ERROR_PREFIXES):
        return result.text.strip()[:500]
    return None
