"""Live tool catalogs: one long-lived MCP session per configured server, tools named `server.tool`."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from types import MappingProxyType
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from evoflux.errors import ServerStartError
from evoflux.servers.config import HttpServer, ServersConfig
from evoflux.servers.connection import Link, connect, refresh_on_change
from evoflux.servers.processes import StderrLog, start_error
from evoflux.servers.stdio import DEFAULT_MAX_MESSAGE_BYTES, reap_marked
from evoflux.servers.toollist import (
    MAX_LIST_PAGES,
    QUARANTINED,
    TRUNCATION_MARKER,
    Pins,
    apply_rules,
    list_tools,
    to_result,
)
from evoflux.servers.tools import ErrorKind, ToolResult, ToolSpec

__all__ = [
    "DEFAULT_MAX_CONCURRENT_PER_SERVER",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_MAX_RESTARTS",
    "DEFAULT_MAX_RESULT_BYTES",
    "DEFAULT_MAX_RUN_BYTES",
    "MAX_LIST_PAGES",
    "QUARANTINED",
    "TRUNCATION_MARKER",
    "Catalog",
    "open_catalog",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESULT_BYTES = 64 * 1024
DEFAULT_MAX_RUN_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_RESTARTS = 1
DEFAULT_MAX_CONCURRENT_PER_SERVER = 4


class Catalog:
    """The tools of every connected server, callable by qualified name. Build it with `open_catalog`."""

    def __init__(
        self,
        config: ServersConfig,
        *,
        call_timeout: float,
        max_result_bytes: int,
        max_run_bytes: int = DEFAULT_MAX_RUN_BYTES,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_concurrent_per_server: int = DEFAULT_MAX_CONCURRENT_PER_SERVER,
        max_restarts: int = DEFAULT_MAX_RESTARTS,
    ) -> None:
        self.catalog_id = uuid.uuid4().hex
        """Set as `EVOFLUX_CATALOG_ID` in every stdio server's environment, so its processes can be found."""
        self.failed: dict[str, str] = {}
        """Servers that failed to start, or that were lost for good during the run, and why."""
        self.restarts: dict[str, int] = {}
        """How many times each server was restarted after it died."""
        self._config = config
        self._call_timeout = call_timeout
        self._max_result_bytes = max_result_bytes
        self._max_run_bytes = max_run_bytes
        self._max_message_bytes = max_message_bytes
        self._max_restarts = max_restarts
        self._links: dict[str, Link] = {}
        self._start_errors: dict[str, ServerStartError] = {}
        self._tools: dict[str, ToolSpec] = {}
        self._revision = 0
        self._run_bytes = 0
        self._pins = Pins()
        self._down: dict[str, str] = {}  # servers restarting or lost, and the `unusable` of their tools
        self._up = {name: anyio.Event() for name in config.servers}  # unset while a server restarts
        self._limiters = {n: anyio.CapacityLimiter(max_concurrent_per_server) for n in config.servers}

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

    @property
    def result_bytes(self) -> int:
        """Bytes of tool results received so far in this run (counted against `max_run_bytes`)."""
        return self._run_bytes

    def stderr_tail(self, server: str, max_bytes: int = 4000) -> str:
        """The end of a stdio server's stderr so far ('' for HTTP servers and unknown names)."""
        link = self._links.get(server)
        return link.stderr.tail(max_bytes) if link and link.stderr else ""

    def accept(self, name: str) -> None:
        """Lift the quarantine of tool `name`: pin its current definition. KeyError for an unknown tool."""
        link = self._links.get(name.partition(".")[0])
        if link is None or name not in link.tools:
            raise KeyError(f"no tool {name!r} in the catalog")
        self._pins.accept(link.tools[name])
        self._publish()

    async def refresh(self, server: str | None = None) -> None:
        """Re-list the tools of one server (or of all) now, without waiting for list_changed."""
        for name in [server] if server is not None else self.servers:
            link = self._links.get(name)
            if link is not None and link.closed is None:
                with anyio.fail_after(self._call_timeout):
                    self._set_tools(link, await list_tools(link.session, name))

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float | None = None
    ) -> ToolResult:
        """Call `server.tool` with `arguments`; never raises for a failed call (see `error_kind`)."""
        started = time.monotonic()
        server, _, tool = name.partition(".")
        limit = self._call_timeout if timeout is None else timeout

        def failure(kind: ErrorKind, text: str) -> ToolResult:
            return ToolResult(is_error=True, error_kind=kind, text=text, elapsed_s=time.monotonic() - started)

        link = self._links.get(server)
        if link is not None and link.lost and server not in self.failed:
            with anyio.move_on_after(limit):
                await self._up[server].wait()  # it is restarting
            link = self._links.get(server)
        if link is not None and link.closed is not None:
            restarting = f"it is restarting and was not back within {limit:g} s"
            why = self.failed.get(server) or (restarting if link.lost else link.closed)
            return failure("transport", f"server {server!r} is unavailable: {why}")
        if link is None or not tool:
            if server in self.failed:
                return failure("transport", f"server {server!r} is unavailable: {self.failed[server]}")
            known = ", ".join(self._config.servers) or "none"
            return failure(
                "protocol", f"no tool {name!r}: tools are named 'server.tool'; the servers are {known}"
            )
        spec = link.tools.get(name)
        if spec is not None and self._pins.quarantined(spec):
            return failure("policy", f"{name} may not be called: {QUARANTINED}")
        if self._run_bytes >= self._max_run_bytes:
            return failure(
                "policy",
                f"this run has received {self._run_bytes} bytes of tool results, the most it may "
                f"(max_run_bytes={self._max_run_bytes}); no more tools are called",
            )
        request = types.CallToolRequest(params=types.CallToolRequestParams(name=tool, arguments=arguments))
        schema_problem = ""
        try:
            with anyio.move_on_after(max(0.0, started + limit - time.monotonic())) as scope:
                async with self._limiters[server]:
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
            if e.code == types.CONNECTION_CLOSED:
                return failure("transport", f"the connection to server {server!r} failed: {e.message}")
            detail = f" ({e.data})" if e.data not in (None, "") else ""
            return failure("protocol", f"JSON-RPC error {e.code}: {e.message}{detail}")
        except (ValidationError, RuntimeError, ValueError) as e:
            return failure("protocol", f"invalid reply from server {server!r}: {e}")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError) as e:
            return failure("transport", f"connection to server {server!r} failed: {type(e).__name__}: {e}")
        if scope.cancelled_caught:
            if link.noise_at >= started:
                return failure(
                    "protocol",
                    f"{name} got no reply within {limit:g} s, and server {server!r} wrote output that is "
                    f"not JSON-RPC meanwhile: {link.noise}",
                )
            return failure("timeout", f"{name} did not answer within {limit:g} s; the request was cancelled")
        try:
            out = to_result(result, self._max_result_bytes, time.monotonic() - started)
        except (ValueError, RecursionError) as e:
            return failure(
                "protocol", f"the reply from server {server!r} could not be used: {type(e).__name__}"
            )
        self._run_bytes += out.bytes
        if schema_problem:
            text = f"{out.text}\n[{schema_problem}]" if out.text else schema_problem
            return out.model_copy(update={"is_error": True, "error_kind": "output_schema", "text": text})
        return out

    def _set_tools(self, link: Link, tools: Mapping[str, ToolSpec]) -> None:
        tools = apply_rules(self._config.servers[link.name], tools)
        link.tools = dict(tools)
        self._pins.observe(tools)
        self._publish()

    def _publish(self) -> None:
        """Rebuild `tools` from every link, marking the tools of lost servers and quarantined tools."""
        merged: dict[str, ToolSpec] = {}
        for name in self._config.servers:
            link = self._links.get(name)
            for key, spec in link.tools.items() if link else ():
                why = self._down.get(name) or (QUARANTINED if self._pins.quarantined(spec) else spec.unusable)
                merged[key] = spec if why == spec.unusable else spec.model_copy(update={"unusable": why})
        self._tools = merged
        self._revision += 1

    def _lost(self, link: Link, reason: str) -> None:
        """The server closed the connection (it exited, most likely) while the catalog was open."""
        if link.closed is not None:
            return  # we closed it
        tail = link.stderr.tail(1500).strip() if link.stderr else ""
        link.closed = reason + (f"; its stderr ends with:\n{tail}" if tail else "")
        link.lost = True
        link.ended.set()
        name = link.name
        if self._links.get(name) is not link:
            return  # still starting: the start error will tell
        logger.warning("MCP server %r: %s", name, link.closed)
        if (
            isinstance(self._config.servers[name], HttpServer)
            or self.restarts.get(name, 0) >= self._max_restarts
        ):
            again = f" after {self.restarts[name]} restart(s)" if self.restarts.get(name) else ""
            self._give_up(name, link.closed + again, reason + again)
        else:
            self._up[name] = anyio.Event()
            self._down[name] = f"server {name!r} is restarting: {reason}"
            self._publish()

    def _give_up(self, name: str, reason: str, short: str) -> None:
        """The server is unavailable for the rest of the run."""
        self.failed[name] = reason
        self._down[name] = f"server {name!r} is unavailable: {short}"
        self._up[name].set()
        self._publish()

    async def _serve(self, name: str, ready: anyio.Event, stop: anyio.Event, connect_timeout: float) -> None:
        """Own one server for the whole run: connect, list, refresh on list_changed until `stop`, and
        restart it when its connection is lost (see the module docstring)."""
        while await self._connection(name, ready, stop, connect_timeout) and not stop.is_set():
            self.restarts[name] = self.restarts.get(name, 0) + 1
            count = self.restarts[name]
            logger.warning("MCP server %r: restarting it (%d of %d)", name, count, self._max_restarts)

    async def _connection(
        self, name: str, ready: anyio.Event, stop: anyio.Event, connect_timeout: float
    ) -> bool:
        """One connection from start to end; True when it was lost and the server is to be restarted."""
        config = self._config.servers[name]
        stderr = None if isinstance(config, HttpServer) else StderrLog()
        previous = self._links.get(name)
        ended = anyio.Event()
        link: Link | None = None
        error: BaseException | None = None

        async def end_on_stop() -> None:
            await stop.wait()
            ended.set()
            if link is None or self._links.get(name) is not link:
                scope.cancel()  # still starting: give up at once

        try:
            async with anyio.create_task_group() as watch:
                with anyio.CancelScope(deadline=anyio.current_time() + connect_timeout) as scope:
                    watch.start_soon(end_on_stop)
                    async with AsyncExitStack() as stack:
                        link = await connect(
                            stack,
                            name,
                            config,
                            catalog_id=self.catalog_id,
                            log=stderr,
                            ended=ended,
                            max_message_bytes=self._max_message_bytes,
                            on_lost=self._lost,
                        )
                        tools = await list_tools(link.session, name)
                        scope.deadline = math.inf
                        self._links[name] = link
                        self._down.pop(name, None)
                        self._set_tools(link, tools)
                        self._up[name].set()
                        ready.set()
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(refresh_on_change, link, self._call_timeout, self._set_tools)
                            await ended.wait()
                            tg.cancel_scope.cancel()
                        link.closed = link.closed or "the catalog is closed"
                watch.cancel_scope.cancel()
            started = link is not None and self._links.get(name) is link
            if scope.cancelled_caught and not started and not stop.is_set():
                error = TimeoutError(f"no answer within {connect_timeout:g} s")
        except Exception as e:
            error = e
            if link is not None and self._links.get(name) is link:
                logger.warning("MCP server %r: error while closing: %r", name, e)
        finally:
            if link is None or self._links.get(name) is not link:
                failure = start_error(name, config, error, stderr.head() if stderr else "", connect_timeout)
                if previous is None:
                    self._start_errors[name] = failure
                    self._up[name].set()
                else:
                    why = "the catalog closed" if stop.is_set() else "its restart failed"
                    first = str(failure).splitlines()[0]
                    self._give_up(name, f"{previous.closed}; {why}: {failure}", f"{why}: {first}")
            if stderr:
                stderr.close()
            ready.set()
        return link is not None and link.lost and name not in self.failed


@asynccontextmanager
async def open_catalog(
    config: ServersConfig,
    *,
    call_timeout: float = 30.0,
    connect_timeout: float = 60.0,
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    max_run_bytes: int = DEFAULT_MAX_RUN_BYTES,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_concurrent_per_server: int = DEFAULT_MAX_CONCURRENT_PER_SERVER,
    max_restarts: int = DEFAULT_MAX_RESTARTS,
    skip_failed: bool = False,
) -> AsyncIterator[Catalog]:
    """Connect to every server in `config` at once and yield the live `Catalog`; close them all on exit.

    A server that cannot start raises `ServerStartError` (after stopping the others: nothing is left
    running), unless `skip_failed`, which records it in `catalog.failed` and goes on without it.
    `call_timeout` is the default per-call limit; the size and concurrency bounds are described in the
    module docstring.
    """
    catalog = Catalog(
        config,
        call_timeout=call_timeout,
        max_result_bytes=max_result_bytes,
        max_run_bytes=max_run_bytes,
        max_message_bytes=max_message_bytes,
        max_concurrent_per_server=max_concurrent_per_server,
        max_restarts=max_restarts,
    )
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
