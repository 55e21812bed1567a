"""One connection to one MCP server, as the catalog holds it: the transport, a pump that notices when the
server hangs up (or writes lines that are not JSON-RPC), the session, and re-listing on list_changed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel
import mcp_types as types
from mcp.client.session import ClientSession, IncomingMessage
from mcp.shared.message import SessionMessage

from evoflux.servers.config import ServerConfig
from evoflux.servers.processes import CLIENT_INFO, StderrLog, open_transport
from evoflux.servers.toollist import list_tools
from evoflux.servers.tools import ToolSpec

__all__ = ["Link", "connect", "refresh_on_change"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Link:
    """One live connection."""

    name: str
    session: ClientSession
    stderr: StderrLog | None
    ended: anyio.Event
    """Set when the connection is lost or the catalog closes."""
    tools: dict[str, ToolSpec] = field(default_factory=dict)
    closed: str | None = None
    """Why the connection ended, once it has."""
    lost: bool = False
    """The server ended it (not the catalog)."""
    tools_changed: anyio.Event = field(default_factory=anyio.Event)
    noise: str = ""
    """The last line the server wrote that is not JSON-RPC and names no request, and when (monotonic)."""
    noise_at: float = -math.inf


async def connect(
    stack: AsyncExitStack,
    name: str,
    config: ServerConfig,
    *,
    catalog_id: str,
    log: StderrLog | None,
    ended: anyio.Event,
    max_message_bytes: int,
    on_lost: Callable[[Link, str], None],
) -> Link:
    """Start or reach the server, initialize a session; `stack` owns it all. `on_lost` is called when the
    server closes the connection."""
    read, write = await open_transport(
        stack,
        config,
        catalog_id=catalog_id,
        stderr=log.file if log else None,
        max_message_bytes=max_message_bytes,
    )
    # Messages pass through our own stream so that we learn when the server hangs up.
    send, ours = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    tasks = await stack.enter_async_context(anyio.create_task_group())
    stack.callback(tasks.cancel_scope.cancel)

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            link.tools_changed.set()
        await anyio.lowlevel.checkpoint()

    session = ClientSession(ours, write, message_handler=on_message, client_info=CLIENT_INFO)
    link = Link(name=name, session=session, stderr=log, ended=ended)

    async def pump() -> None:
        async with send:
            try:
                async for item in read:
                    if isinstance(item, Exception):  # a line that is not JSON-RPC, and names no request
                        link.noise, link.noise_at = str(item)[:300], time.monotonic()
                        logger.warning("MCP server %r: %s", name, link.noise)
                    await send.send(item)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return  # we are closing
            on_lost(link, "the server closed the connection (its process exited?)")

    tasks.start_soon(pump)
    await stack.enter_async_context(session)
    # The legacy initialize handshake: the registry servers speak the 2025 protocol, and a 2026 server
    # still accepts it; it also gives us plain notifications/tools/list_changed.
    await session.initialize()
    return link


async def refresh_on_change(
    link: Link, timeout: float, on_tools: Callable[[Link, Mapping[str, ToolSpec]], None]
) -> None:
    """Forever: re-list the tools after each `tools/list_changed` and hand them to `on_tools`."""
    while True:
        await link.tools_changed.wait()
        link.tools_changed = anyio.Event()  # notifications arriving during the refresh coalesce into one
        try:
            with anyio.fail_after(timeout):
                tools = await list_tools(link.session, link.name)
        except Exception as e:
            logger.warning("MCP server %r: re-listing tools after list_changed failed: %r", link.name, e)
            continue
        if link.closed is None:
            on_tools(link, tools)
