"""The catalog's tool lists and results: listing a server's tools, pinning their definitions, and shaping a
`tools/call` result into a bounded `ToolResult`. See `evoflux.servers.catalog` for the behaviour as a whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping

import mcp_types as types
from mcp.client.session import ClientSession

from evoflux.servers.effects import ToolRules, allowed, configured_effect
from evoflux.servers.schemas import schema_problem
from evoflux.servers.tools import ToolResult, ToolSpec

__all__ = [
    "MAX_LIST_PAGES",
    "QUARANTINED",
    "TRUNCATION_MARKER",
    "Pins",
    "apply_rules",
    "list_tools",
    "to_result",
]

logger = logging.getLogger(__name__)

MAX_LIST_PAGES = 100
TRUNCATION_MARKER = "[evoflux: truncated"
QUARANTINED = "its definition changed during the run (quarantined until accepted)"


async def list_tools(session: ClientSession, server: str) -> dict[str, ToolSpec]:
    """Every page of `tools/list`, stopping at `MAX_LIST_PAGES` or at a repeated cursor."""
    caps = session.server_capabilities
    if caps is not None and caps.tools is None:
        return {}
    tools: dict[str, ToolSpec] = {}
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_LIST_PAGES):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        page = await session.list_tools(params=params)
        for tool in page.tools:
            problem = schema_problem(tool.input_schema)
            spec = ToolSpec(
                name=f"{server}.{tool.name}",
                server=server,
                tool=tool.name,
                description=tool.description or tool.title or "",
                input_schema=tool.input_schema,
                output_schema=tool.output_schema,
                unusable=f"its input schema is unusable: {problem}" if problem else None,
                read_only=tool.annotations.read_only_hint if tool.annotations else None,
                destructive=tool.annotations.destructive_hint if tool.annotations else None,
            )
            tools.setdefault(spec.name, spec)
        if page.next_cursor is None:  # an empty-string cursor is still a cursor
            return tools
        if page.next_cursor in seen:
            logger.warning(
                "MCP server %r repeated the tools/list cursor %r; stopped", server, page.next_cursor
            )
            return tools
        cursor = page.next_cursor
        seen.add(cursor)
    logger.warning("MCP server %r: stopped listing tools after %d pages", server, MAX_LIST_PAGES)
    return tools


def apply_rules(rules: ToolRules, tools: Mapping[str, ToolSpec]) -> dict[str, ToolSpec]:
    """The tools the server's config allows, each with the effect class the config gives it, if any."""
    kept: dict[str, ToolSpec] = {}
    for key, spec in tools.items():
        if allowed(rules, spec.tool):
            effect = configured_effect(rules, spec.tool)
            update = {} if effect is None else {"effect": effect, "effect_source": "config"}
            kept[key] = spec.model_copy(update=update) if update else spec
    return kept


def definition_hash(spec: ToolSpec) -> str:
    """A digest of what the model is shown and what a call must satisfy: description, both schemas and the
    effect hints."""
    definition = [spec.description, spec.input_schema, spec.output_schema, spec.read_only, spec.destructive]
    text = json.dumps(definition, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Pins:
    """The definition of each tool as first listed; a later, different definition is quarantined."""

    def __init__(self) -> None:
        self._pinned: dict[str, str] = {}

    def observe(self, tools: Mapping[str, ToolSpec]) -> None:
        """Pin the tools seen for the first time (a tool that left and came back keeps its old pin)."""
        for name, spec in tools.items():
            self._pinned.setdefault(name, definition_hash(spec))

    def quarantined(self, spec: ToolSpec) -> bool:
        """Whether `spec` differs from the definition pinned for its name."""
        pinned = self._pinned.get(spec.name)
        return pinned is not None and pinned != definition_hash(spec)

    def accept(self, spec: ToolSpec) -> None:
        """Pin `spec` as the tool's definition from now on."""
        self._pinned[spec.name] = definition_hash(spec)


def to_result(result: types.CallToolResult, cap: int, elapsed: float) -> ToolResult:
    """Join the text content, bound it to `cap` bytes with a marker, and keep the structured content."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.ImageContent | types.AudioContent):
            parts.append(f"[{block.type}: {block.mime_type}, {len(block.data) * 3 // 4} bytes]")
        elif isinstance(block, types.EmbeddedResource):
            res = block.resource
            parts.append(res.text if isinstance(res, types.TextResourceContents) else f"[blob: {res.uri}]")
        else:
            parts.append(f"[resource link: {block.uri}]")
    structured = result.structured_content
    text = "\n".join(parts)
    if not text and structured is not None:
        text = json.dumps(structured, ensure_ascii=False)
    raw = text.encode("utf-8")
    truncated = len(raw) > cap
    if truncated:
        head = raw[:cap].decode("utf-8", errors="ignore")
        text = f"{head}\n{TRUNCATION_MARKER}: showing {cap} of {len(raw)} bytes]"
    if structured is not None and len(json.dumps(structured, ensure_ascii=False).encode("utf-8")) > cap:
        structured, truncated = None, True  # too big to hold; the truncated text stands for it
    return ToolResult(
        is_error=result.is_error,
        error_kind="tool" if result.is_error else None,
        text=text,
        structured=structured,
        bytes=len(raw),
        truncated=truncated,
        elapsed_s=elapsed,
    )
