"""Live tool catalogs: one long-lived MCP session per configured server, tools named `server.tool`.

```python
async with open_catalog(load_servers()) as catalog:
    print(sorted(catalog.tools))
    result = await catalog.call_tool("time.get_current_time", {"timezone": "UTC"}, timeout=10)
```

`call_tool` never raises for a failed call: the `ToolResult.error_kind` says what failed. Each stdio server
runs in its own process session; on exit the SDK closes its stdin, then terminates and kills its process
group, and any process still carrying this catalog's `EVOFLUX_CATALOG_ID` is killed as a last resort.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import anyio
import anyio.lowlevel
import mcp_types as types
from mcp.client.session import ClientSession, IncomingMessage, MessageHandlerFnT
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from evoflux.config import HttpServer, ServerConfig, ServersConfig
from evoflux.errors import ServerStartError
from evoflux.schemas import schema_problem
from evoflux.servers import CLIENT_INFO, StderrLog, open_transport, reap_marked, start_error
from evoflux.tools import ErrorKind, ToolResult, ToolSpec

__all__ = ["DEFAULT_MAX_RESULT_BYTES", "MAX_LIST_PAGES", "TRUNCATION_MARKER", "Catalog", "open_catalog"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESULT_BYTES = 64 * 1024
MAX_LIST_PAGES = 100
TRUNCATION_MARKER = "[evoflux: truncated"


@dataclass(eq=False)
class _Link:
    """One live connection."""

    name: str
    session: ClientSession
    stderr: StderrLog | None
    tools: dict[str, ToolSpec] = field(default_factory=dict)
    closed: str | None = None
    tools_changed: anyio.Event = field(default_factory=anyio.Event)


class Catalog:
    """The tools of every connected server, callable by qualified name. Build it with `open_catalog`."""

    def __init__(self, config: ServersConfig, *, call_timeout: float, max_result_bytes: int) -> None:
        self.catalog_id = uuid.uuid4().hex
        """Set as `EVOFLUX_CATALOG_ID` in every stdio server's environment, so its processes can be found."""
        self.failed: dict[str, str] = {}
        """Servers that failed to start, or whose connection ended during the run, and why."""
        self._config = config
        self._call_timeout = call_timeout
        self._max_result_bytes = max_result_bytes
        self._links: dict[str, _Link] = {}
        self._start_errors: dict[str, ServerStartError] = {}
        self._tools: dict[str, ToolSpec] = {}
        self._revision = 0

    @property
    def tools(self) -> Mapping[str, ToolSpec]:
        """Every listed tool, keyed `server.tool`; replaced (not mutated) when a server's list changes."""
        return MappingProxyType(self._tools)

    @property
    def revision(self) -> int:
        """Grows by one whenever `tools` changes."""
        return self._revision

    @property
    def servers(self) -> list[str]:
        """Names of the servers connected now, in config order."""
        return [n for n in self._config.servers if n in self._links and self._links[n].closed is None]

    def stderr_tail(self, server: str, max_bytes: int = 4000) -> str:
        """The end of a stdio server's stderr so far ('' for HTTP servers and unknown names)."""
        link = self._links.get(server)
        return link.stderr.tail(max_bytes) if link and link.stderr else ""

    async def refresh(self, server: str | None = None) -> None:
        """Re-list the tools of one server (or of all) now, without waiting for list_changed."""
        for name in [server] if server is not None else self.servers:
            link = self._links.get(name)
            if link is not None and link.closed is None:
                with anyio.fail_after(self._call_timeout):
                    self._set_tools(link, await _list_tools(link))

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float | None = None
    ) -> ToolResult:
        """Call `server.tool` with `arguments`; never raises for a failed call (see `error_kind`)."""
        started = time.monotonic()
        server, _, tool = name.partition(".")
        link = self._links.get(server)

        def failure(kind: ErrorKind, text: str) -> ToolResult:
            return ToolResult(is_error=True, error_kind=kind, text=text, elapsed_s=time.monotonic() - started)

        if link is not None and link.closed is not None:
            return failure("transport", f"server {server!r} is unavailable: {link.closed}")
        if link is None or not tool:
            if server in self.failed:
                return failure("transport", f"server {server!r} is unavailable: {self.failed[server]}")
            known = ", ".join(self._config.servers) or "none"
            return failure(
                "protocol", f"no tool {name!r}: tools are named 'server.tool'; the servers are {known}"
            )
        limit = self._call_timeout if timeout is None else timeout
        request = types.CallToolRequest(params=types.CallToolRequestParams(name=tool, arguments=arguments))
        schema_problem = ""
        try:
            with anyio.move_on_after(limit) as scope:
                # Not session.call_tool: it raises on an output-schema mismatch and the result is lost.
                result = await link.session.send_request(request, types.CallToolResult)
                if not result.is_error:
                    try:
                        await link.session.validate_tool_result(tool, result)
                    except RuntimeError as e:
                        schema_problem = str(e).split("\n", 1)[0]
        except MCPError as e:
            if link.closed is not None:
                return failure("transport", f"server {server!r} went away during the call: {link.closed}")
            detail = f" ({e.data})" if e.data not in (None, "") else ""
            return failure("protocol", f"JSON-RPC error {e.code}: {e.message}{detail}")
        except (ValidationError, RuntimeError, ValueError) as e:
            return failure("protocol", f"invalid reply from server {server!r}: {e}")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError) as e:
            return failure("transport", f"connection to server {server!r} failed: {type(e).__name__}: {e}")
        if scope.cancelled_caught:
            return failure("timeout", f"{name} did not answer within {limit:g} s; the request was cancelled")
        out = _to_result(result, self._max_result_bytes, time.monotonic() - started)
        if schema_problem:
            text = f"{out.text}\n[{schema_problem}]" if out.text else schema_problem
            return out.model_copy(update={"is_error": True, "error_kind": "output_schema", "text": text})
        return out

    def _set_tools(self, link: _Link, tools: Mapping[str, ToolSpec]) -> None:
        link.tools = dict(tools)
        merged: dict[str, ToolSpec] = {}
        for name in self._config.servers:
            if name in self._links:
                merged.update(self._links[name].tools)
        self._tools = merged
        self._revision += 1

    def _lost(self, link: _Link, reason: str) -> None:
        """The server closed the connection (it exited, most likely) while the catalog was open."""
        if link.closed is not None:
            return  # we closed it
        tail = link.stderr.tail(1500).strip() if link.stderr else ""
        link.closed = reason + (f"; its stderr ends with:\n{tail}" if tail else "")
        if link.name not in self._links:
            return  # still starting: the start error will tell
        logger.warning("MCP server %r: %s", link.name, link.closed)
        self.failed[link.name] = link.closed
        why = f"server {link.name!r} is unavailable: {reason}"
        self._set_tools(link, {k: v.model_copy(update={"unusable": why}) for k, v in link.tools.items()})

    async def _serve(self, name: str, ready: anyio.Event, stop: anyio.Event, connect_timeout: float) -> None:
        """Own one server for the whole run: connect and list, then refresh on list_changed until `stop`."""
        config = self._config.servers[name]
        stderr = None if isinstance(config, HttpServer) else StderrLog()
        error: BaseException | None = None
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + connect_timeout) as scope:
                async with AsyncExitStack() as stack:
                    link = await self._connect(stack, name, config, stderr)
                    tools = await _list_tools(link)
                    scope.deadline = math.inf
                    self._links[name] = link
                    self._set_tools(link, tools)
                    ready.set()
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._refresh_on_change, link)
                        await stop.wait()
                        tg.cancel_scope.cancel()
                    link.closed = link.closed or "the catalog is closed"
            if scope.cancelled_caught and name not in self._links:
                error = TimeoutError(f"no answer within {connect_timeout:g} s")
        except Exception as e:
            error = e
            if name in self._links:
                logger.warning("MCP server %r: error while closing: %r", name, e)
        finally:
            if name not in self._links:
                head = stderr.head() if stderr else ""
                self._start_errors[name] = start_error(name, config, error, head, connect_timeout)
            if stderr:
                stderr.close()
            ready.set()

    async def _connect(
        self, stack: AsyncExitStack, name: str, config: ServerConfig, log: StderrLog | None
    ) -> _Link:
        read, write = await open_transport(
            stack, config, catalog_id=self.catalog_id, stderr=log.file if log else None
        )
        # Messages pass through our own stream so that we learn when the server hangs up.
        send, ours = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        tasks = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(tasks.cancel_scope.cancel)
        session = ClientSession(ours, write, message_handler=self._on_message(name), client_info=CLIENT_INFO)
        link = _Link(name=name, session=session, stderr=log)

        async def pump() -> None:
            async with send:
                try:
                    async for item in read:
                        await send.send(item)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return  # we are closing
                self._lost(link, "the server closed the connection (its process exited?)")

        tasks.start_soon(pump)
        await stack.enter_async_context(session)
        # The legacy initialize handshake: the registry servers speak the 2025 protocol, and a 2026 server
        # still accepts it; it also gives us plain notifications/tools/list_changed.
        await session.initialize()
        return link

    def _on_message(self, name: str) -> MessageHandlerFnT:
        async def on_message(message: IncomingMessage) -> None:
            if isinstance(message, types.ToolListChangedNotification) and name in self._links:
                self._links[name].tools_changed.set()
            await anyio.lowlevel.checkpoint()

        return on_message

    async def _refresh_on_change(self, link: _Link) -> None:
        while True:
            await link.tools_changed.wait()
            link.tools_changed = anyio.Event()  # notifications arriving during the refresh coalesce into one
            try:
                with anyio.fail_after(self._call_timeout):
                    tools = await _list_tools(link)
            except Exception as e:
                logger.warning("MCP server %r: re-listing tools after list_changed failed: %r", link.name, e)
                continue
            if link.closed is None:
                self._set_tools(link, tools)


async def _list_tools(link: _Link) -> dict[str, ToolSpec]:
    """Every page of `tools/list`, stopping at `MAX_LIST_PAGES` or at a repeated cursor."""
    caps = link.session.server_capabilities
    if caps is not None and caps.tools is None:
        return {}
    tools: dict[str, ToolSpec] = {}
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_LIST_PAGES):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        page = await link.session.list_tools(params=params)
        for tool in page.tools:
            problem = schema_problem(tool.input_schema)
            spec = ToolSpec(
                name=f"{link.name}.{tool.name}",
                server=link.name,
                tool=tool.name,
                description=tool.description or tool.title or "",
                input_schema=tool.input_schema,
                output_schema=tool.output_schema,
                unusable=f"its input schema is unusable: {problem}" if problem else None,
            )
            tools.setdefault(spec.name, spec)
        if page.next_cursor is None:  # an empty-string cursor is still a cursor
            return tools
        if page.next_cursor in seen:
            logger.warning(
                "MCP server %r repeated the tools/list cursor %r; stopped", link.name, page.next_cursor
            )
            return tools
        cursor = page.next_cursor
        seen.add(cursor)
    logger.warning("MCP server %r: stopped listing tools after %d pages", link.name, MAX_LIST_PAGES)
    return tools


def _to_result(result: types.CallToolResult, cap: int, elapsed: float) -> ToolResult:
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


@asynccontextmanager
async def open_catalog(
    config: ServersConfig,
    *,
    call_timeout: float = 30.0,
    connect_timeout: float = 60.0,
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    skip_failed: bool = False,
) -> AsyncIterator[Catalog]:
    """Connect to every server in `config` at once and yield the live `Catalog`; close them all on exit.

    A server that cannot start raises `ServerStartError` (after stopping the others: nothing is left
    running), unless `skip_failed`, which records it in `catalog.failed` and goes on without it.
    `call_timeout` is the default per-call limit; `max_result_bytes` bounds each result's text.
    """
    catalog = Catalog(config, call_timeout=call_timeout, max_result_bytes=max_result_bytes)
    stop = anyio.Event()
    body_error: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            ready = {name: anyio.Event() for name in config.servers}
            for name, event in ready.items():
                tg.start_soon(catalog._serve, name, event, stop, connect_timeout)
            for event in ready.values():
                await event.wait()
            errors = dict(catalog._start_errors)
            if errors and not skip_failed:
                stop.set()
            else:
                catalog.failed.update({n: str(e) for n, e in errors.items()})
                try:
                    yield catalog
                except Exception as e:  # re-raised below as itself, not inside an ExceptionGroup
                    body_error = e
                finally:
                    stop.set()
    finally:
        await reap_marked(catalog.catalog_id)
    if body_error is not None:
        raise body_error
    if errors and not skip_failed:
        if len(errors) == 1:
            raise next(iter(errors.values()))
        raise ServerStartError(next(iter(errors)), "\n".join(str(e) for e in errors.values()))
