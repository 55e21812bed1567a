"""MCP server processes: finding their commands, their environment, their stderr, cleaning up after them,
and the one-time warm-up (`evoflux setup`) that caches pinned `uvx`/`npx` packages for offline runs."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import NamedTuple, TextIO

import anyio
import mcp_types as types
from mcp.client._transport import TransportStreams  # the SDK names this type only in a private module
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from evoflux.errors import ServerStartError
from evoflux.servers.config import HttpServer, ServerConfig, ServersConfig, StdioServer
from evoflux.servers.httpguard import PrivateAddress, check_address, http_client
from evoflux.servers.stdio import (
    CATALOG_ID_ENV,
    DEFAULT_MAX_MESSAGE_BYTES,
    marked_processes,
    reap_marked,
    stdio_transport,
)

__all__ = [
    "CATALOG_ID_ENV",
    "CLIENT_INFO",
    "CommandNotFound",
    "StderrLog",
    "WarmResult",
    "marked_processes",
    "open_transport",
    "probe_server",
    "reap_marked",
    "resolve_command",
    "server_env",
    "start_error",
    "warm_servers",
]

CLIENT_INFO = types.Implementation(name="evoflux", version="0.1.0")
_OFFLINE_ARGS = {"--offline"}
_OFFLINE_ENV = {"UV_OFFLINE", "npm_config_offline", "NPM_CONFIG_OFFLINE"}
_NOT_CACHED = ("ENOTCACHED", "network was disabled", "not found in the cache", "--offline")


class CommandNotFound(OSError):
    """A server's `command` is neither on PATH nor next to the running Python."""


def resolve_command(command: str, cwd: str | None = None) -> str:
    """The executable for `command`: a path as given, else PATH, else the directory of `sys.executable`.

    The last lets `uvx` from a pip-installed `uv` work without activating the virtual environment.
    """
    if os.sep in command:
        path = Path(command) if Path(command).is_absolute() else Path(cwd or ".") / command
        if os.access(path, os.X_OK) and path.is_file():
            return str(path)
        raise CommandNotFound(f"{path} is not an executable file")
    found = shutil.which(command) or shutil.which(command, path=str(Path(sys.executable).parent))
    if found is None:
        raise CommandNotFound(
            f"command {command!r} was found neither on PATH nor in {Path(sys.executable).parent}"
        )
    return found


def server_env(extra: Mapping[str, str], catalog_id: str) -> dict[str, str]:
    """The whole parent environment, the server's own `env` on top, and the marker of its catalog."""
    return {**os.environ, **extra, CATALOG_ID_ENV: catalog_id}


class StderrLog:
    """A server's stderr, kept in an unnamed temporary file that we read without moving its offset."""

    def __init__(self) -> None:
        fd, path = tempfile.mkstemp(prefix="evoflux-stderr-")
        os.unlink(path)
        self.file = os.fdopen(fd, "w+", encoding="utf-8", errors="replace")

    def head(self, max_bytes: int = 4000) -> str:
        """The first `max_bytes` written so far."""
        return self._read(0, max_bytes)

    def tail(self, max_bytes: int = 4000) -> str:
        """The last `max_bytes` written so far."""
        size = os.fstat(self.file.fileno()).st_size
        return self._read(max(0, size - max_bytes), max_bytes)

    def _read(self, offset: int, count: int) -> str:
        if self.file.closed:
            return ""
        return os.pread(self.file.fileno(), count, offset).decode("utf-8", errors="replace")

    def close(self) -> None:
        """Release the file."""
        self.file.close()


async def open_transport(
    stack: AsyncExitStack,
    config: ServerConfig,
    *,
    catalog_id: str,
    stderr: TextIO | None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> TransportStreams:
    """Start (stdio) or reach (HTTP) one server; `stack` owns it, and closing the stack stops it.

    A stdio server gets its own process session (see `servers.stdio`): on exit its stdin is closed, then
    its process group is terminated and killed after a grace period, and so are its processes that left
    the group. An HTTP server's address is checked first (`servers.httpguard`), before anything is sent.
    Each message (an SSE event or a JSON body over HTTP) is bounded by `max_message_bytes`.
    """
    if isinstance(config, HttpServer):
        await check_address(config)
        http = await stack.enter_async_context(http_client(config, max_message_bytes))
        return await stack.enter_async_context(
            streamable_http_client(config.url, http_client=http, max_sse_event_size=max_message_bytes)
        )
    if config.cwd is not None and not Path(config.cwd).is_dir():
        raise CommandNotFound(f"its working directory {config.cwd} does not exist")
    transport = stdio_transport(
        resolve_command(config.command, config.cwd),
        config.args,
        env=server_env(config.env, catalog_id),  # the SDK's default keeps only HOME, PATH and a few more
        cwd=config.cwd,
        errlog=stderr if stderr is not None else sys.stderr,
        max_message_bytes=max_message_bytes,
    )
    return await stack.enter_async_context(transport)


def start_hint(config: ServerConfig, error: BaseException | None, stderr: str) -> str:
    """The most likely fix for a server that failed to start."""
    if isinstance(error, PrivateAddress):
        return 'set "allowPrivateNetwork": true on this server if it is meant to be reached'
    if isinstance(config, HttpServer):
        return f"check that a server is listening at {config.url} and that the headers are right"
    if isinstance(error, CommandNotFound):
        return (
            "install it (npx comes with Node.js, uvx with `pip install uv`), put it on PATH, "
            'or give an absolute path as "command"'
        )
    if any(s in stderr for s in _NOT_CACHED) or any(a in _OFFLINE_ARGS for a in config.args):
        return (
            "if its package is not cached for offline use yet, run `evoflux setup` once with network access"
        )
    if isinstance(error, TimeoutError):
        return "run the command by hand to see where it hangs, or raise connect_timeout"
    return "run the command by hand to see its own error"


def start_error(
    name: str, config: ServerConfig, error: BaseException | None, stderr: str, timeout: float
) -> ServerStartError:
    """A message naming the server, its command, what went wrong, its stderr and the likely fix."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    if isinstance(error, CommandNotFound | PrivateAddress):
        reason = str(error)
    elif isinstance(error, TimeoutError):
        reason = f"it did not finish initialize and tools/list within {timeout:g} s"
    elif isinstance(error, MCPError) and error.code == types.CONNECTION_CLOSED:
        reason = "the process exited (or closed its stdout) before it finished initializing"
    elif isinstance(error, MCPError):
        reason = f"it answered JSON-RPC error {error.code}: {error.message}"
    elif error is None:
        reason = "its startup was cancelled"
    else:
        reason = f"{type(error).__name__}: {error}"
    where = "url" if isinstance(config, HttpServer) else "command"
    lines = [f"MCP server {name!r} failed to start: {reason}", f"  {where}: {config.launch_line()}"]
    if stderr.strip():
        lines += ["  stderr:", *(f"    {line}" for line in stderr.strip().splitlines()[:15])]
    lines.append(f"  fix: {start_hint(config, error, stderr)}")
    return ServerStartError(name, "\n".join(lines))


async def probe_server(name: str, config: ServerConfig, *, timeout: float) -> int:
    """Start one server, initialize, list its first page of tools and stop it; the number of tools.

    Raises `ServerStartError` (with the server's stderr) when it does not get that far within `timeout`.
    """
    catalog_id = f"probe-{uuid.uuid4().hex}"
    log = None if isinstance(config, HttpServer) else StderrLog()
    error: BaseException | None = None
    try:
        with anyio.fail_after(timeout):
            async with AsyncExitStack() as stack:
                read, write = await open_transport(
                    stack, config, catalog_id=catalog_id, stderr=log.file if log else None
                )
                session = await stack.enter_async_context(ClientSession(read, write, client_info=CLIENT_INFO))
                await session.initialize()
                return len((await session.list_tools()).tools)
    except Exception as e:
        error = e
    finally:
        await reap_marked(catalog_id)
        head = log.head() if log else ""
        if log:
            log.close()
    raise start_error(name, config, error, head, timeout)


class WarmResult(NamedTuple):
    """How the warm-up of one server went."""

    name: str
    ok: bool
    message: str


def online_variant(config: StdioServer) -> StdioServer | None:
    """The same launch without `--offline` (and offline env switches), or None when it has none."""
    args = [a for a in config.args if a not in _OFFLINE_ARGS]
    env = {k: v for k, v in config.env.items() if k not in _OFFLINE_ENV}
    if args == config.args and env == config.env:
        return None
    return config.model_copy(update={"args": args, "env": env})


async def warm_servers(
    config: ServersConfig,
    *,
    progress: Callable[[str], None] | None = None,
    install_timeout: float = 300.0,
    start_timeout: float = 60.0,
) -> list[WarmResult]:
    """Install what each server needs so that it later starts offline; one `WarmResult` per server.

    Servers are handled one after another; each install is bounded by `install_timeout` seconds and each
    start check by `start_timeout`. Nothing raises for a failing server: its result says why.
    """
    say = progress or (lambda _message: None)
    results = []
    for name, server in config.servers.items():
        result = await _warm_one(name, server, say, install_timeout, start_timeout)
        say(f"{name}: {'ok' if result.ok else 'FAILED'}: {result.message}")
        results.append(result)
    return results


async def _warm_one(
    name: str, server: ServerConfig, say: Callable[[str], None], install_timeout: float, start_timeout: float
) -> WarmResult:
    say(f"{name}: checking that it starts ({server.launch_line()})")
    try:
        return WarmResult(
            name, True, f"ready, {await probe_server(name, server, timeout=start_timeout)} tools"
        )
    except ServerStartError as e:
        first = e
    online = online_variant(server) if isinstance(server, StdioServer) else None
    if online is None:
        return WarmResult(name, False, str(first))
    say(f"{name}: installing with network access ({online.launch_line()})")
    try:
        await probe_server(name, online, timeout=install_timeout)
    except ServerStartError as e:
        return WarmResult(
            name, False, f"the install failed (the package registry must be reachable once):\n{e}"
        )
    say(f"{name}: installed; checking that it starts offline")
    try:
        count = await probe_server(name, server, timeout=start_timeout)
    except ServerStartError as e:
        return WarmResult(name, False, f"installed, but it does not start offline:\n{e}")
    return WarmResult(name, True, f"installed, {count} tools, starts offline")
