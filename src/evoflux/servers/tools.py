"""What the rest of Evoflux knows about a tool and a tool call, independent of the transport.

`catalog.py` fills these from live MCP servers; tests may build them by hand.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ToolResult", "ToolSpec", "output_value"]


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
        default=None,
        description="The server's readOnlyHint: False for a tool that changes state (later calls to "
        "the server are cached apart from those before it, and it runs in order with the server's "
        "other calls of its wave), None when the server does not say (treated as a read).",
    )

    @property
    def changes_state(self) -> bool:
        """Whether the server marks the tool as changing state (`readOnlyHint: false`)."""
        return self.read_only is False


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
