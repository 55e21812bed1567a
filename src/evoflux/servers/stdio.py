"""Stdio servers' processes: our stdio transport, and finding and killing what a server left behind."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TextIO

import anyio
import anyio.lowlevel
import mcp_types as types
from mcp.client._transport import TransportStreams  # the SDK names this type only in a private module
from mcp.client.stdio import (  # the pinned SDK's own spawn and shutdown, reused
    _create_platform_compatible_process,
    _drain_stdout,
    _stop_server_process,
)
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

__all__ = [
    "CATALOG_ID_ENV",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "SERVER_ID_ENV",
    "LineReader",
    "marked_processes",
    "reap_marked",
    "reply_id",
    "stdio_transport",
]

logger = logging.getLogger(__name__)

CATALOG_ID_ENV = "EVOFLUX_CATALOG_ID"
SERVER_ID_ENV = "EVOFLUX_SERVER_ID"
DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_SCAN = 4096  # how much of a bad line's head (and tail) is searched for its "id"
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[{}\[\]:,]|true|false|null|\S')
_TAIL_ID = re.compile(
    rb'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.){0,256}")\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$'
)


@asynccontextmanager
async def stdio_transport(
    command: str,
    args: list[str],
    *,
    env: dict[str, str],
    cwd: str | None,
    errlog: TextIO,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> AsyncIterator[TransportStreams]:
    """Start `command` in its own process session and speak newline-delimited JSON-RPC over its stdio."""
    marker = uuid.uuid4().hex
    # A new process session on POSIX, a job object on Windows (the SDK's own spawn).
    process = await _create_platform_compatible_process(
        command, args, {**env, SERVER_ID_ENV: marker}, errlog, cwd
    )
    # No await before the task group: a cancellation in the gap would leak the live process.
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    writer_done = anyio.Event()

    async def stdout_reader() -> None:
        assert process.stdout is not None
        lines = LineReader(max_message_bytes)
        try:
            async with read_writer:
                try:
                    while True:
                        for item in lines.feed(await process.stdout.receive()):
                            await read_writer.send(item)
                except anyio.EndOfStream:
                    pass
                finally:
                    await _drain_stdout(process)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError):
            pass  # our own shutdown, or the session is gone

    async def stdin_writer() -> None:
        assert process.stdin is not None
        try:
            async with write_reader:
                async for message in write_reader:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send((data + "\n").encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_writer.aclose()  # the session must see the end, not wait forever
        finally:
            writer_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stdout_reader)
        tg.start_soon(stdin_writer)
        try:
            yield read_stream, write_stream
        finally:
            with anyio.CancelScope(shield=True):  # every wait below is bounded
                read_stream.close()
                write_stream.close()
                with anyio.move_on_after(0.5):
                    await writer_done.wait()
                await _stop_server_process(process)
                if sys.platform != "win32":  # members left behind by a leader that exited
                    with suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, signal.SIGKILL)
                await reap_marked(marker, key=SERVER_ID_ENV)
                for stream in (read_stream, write_stream, read_writer, write_reader):
                    await stream.aclose()
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()


class LineReader:
    """Splits a byte stream into JSON-RPC messages, at most `limit` bytes each (see the module docstring)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._line = bytearray()
        self._skipping = False  # inside a line that was already too long

    def feed(self, chunk: bytes) -> list[SessionMessage | Exception]:
        """The messages (and unreadable lines, as exceptions) completed or condemned by `chunk`."""
        out: list[SessionMessage | Exception] = []
        view = memoryview(chunk)
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if not self._skipping:
                self._line += view[start:end]
                if len(self._line) > self.limit:
                    out.append(self._too_long())
                elif self._line.strip():
                    out.append(parse_message(self._line))
            self._skipping = False
            self._line = bytearray()
            start = end + 1
        if not self._skipping:
            self._line += view[start:]
            if len(self._line) > self.limit:
                out.append(self._too_long())
                self._skipping, self._line = True, bytearray()
        return out

    def _too_long(self) -> SessionMessage | Exception:
        problem = (
            f"the server sent a message longer than {self.limit} bytes (max_message_bytes); it was dropped"
        )
        rid = reply_id(self._line[:_SCAN])
        return _error_reply(rid, problem) if rid is not None else ValueError(problem)


def parse_message(line: bytes | bytearray) -> SessionMessage | Exception:
    """One line as a message; an error reply for its id when it is unreadable, else an exception."""
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValidationError as e:
        problem = _problem(line, e)
    rid = reply_id(line)
    if rid is not None:
        return _error_reply(rid, f"the server's reply could not be read: {problem}")
    head = bytes(line[:120]).decode("utf-8", errors="replace")
    return ValueError(f"the server wrote a line that is not JSON-RPC ({problem}): {head!r}")


def _problem(line: bytes | bytearray, error: ValidationError) -> str:
    try:
        bytes(line).decode("utf-8")
    except UnicodeDecodeError as e:
        return f"it is not valid UTF-8 (byte 0x{line[e.start]:02x} at offset {e.start})"
    invalid = [err["msg"] for err in error.errors() if err["type"] == "json_invalid"]
    return invalid[0] if invalid else "valid JSON, but not a JSON-RPC message"


def _error_reply(rid: int | str, message: str) -> SessionMessage:
    error = types.ErrorData(code=types.PARSE_ERROR, message=message)
    return SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=rid, error=error))


def reply_id(line: bytes | bytearray) -> int | str | None:
    """The top-level "id" of what may be a JSON-RPC reply (no top-level "method"), read from the head of
    `line`, or from its tail where the id comes last; None when there is none or it cannot be read."""
    tokens = [m.group() for m in _TOKEN.finditer(bytes(line[:_SCAN]))]
    if not tokens or tokens[0] != b"{":
        return None
    depth, keys, rid = 0, set(), None
    for i, token in enumerate(tokens):
        if token in (b"{", b"["):
            depth += 1
        elif token in (b"}", b"]"):
            depth -= 1
        elif (
            depth == 1
            and token[:1] == b'"'
            and tokens[i - 1] in (b"{", b",")
            and tokens[i + 1 : i + 2] == [b":"]
        ):
            keys.add(token)
            if token == b'"id"' and i + 2 < len(tokens):
                rid = _id_value(tokens[i + 2])
    if b'"method"' in keys:
        return None
    if (
        rid is None
        and b'"id"' not in keys
        and len(line) > _SCAN
        and (m := _TAIL_ID.search(bytes(line[-_SCAN:])))
    ):
        rid = _id_value(m.group(1))
    return rid


def _id_value(token: bytes) -> int | str | None:
    if re.fullmatch(rb"-?\d{1,18}", token):
        return int(token)
    if token[:1] == b'"' and len(token) <= 258:
        with suppress(ValueError):
            value = json.loads(token)
            return value if isinstance(value, str) else None
    return None


def marked_processes(value: str, *, key: str = CATALOG_ID_ENV) -> list[int]:
    """Live processes whose environment carries `key=value` (Linux /proc; elsewhere [])."""
    marker = f"{key}={value}".encode()
    return [pid for pid, environ in _proc_environs() if marker in environ.split(b"\0")]


def _proc_environs() -> Iterator[tuple[int, bytes]]:
    proc = Path("/proc")
    if not proc.is_dir():
        return
    me = os.getpid()
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) != me:
            try:
                yield int(entry.name), (entry / "environ").read_bytes()
            except OSError:
                continue


async def reap_marked(value: str, *, key: str = CATALOG_ID_ENV, wait: float = 2.0) -> list[int]:
    """SIGKILL every process still marked with `key=value` (e.g. one that left its process group), and
    wait up to `wait` seconds for them to die. Returns the pids it killed."""
    killed = []
    for pid in marked_processes(value, key=key):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except OSError:
            continue
    with anyio.CancelScope(shield=True), anyio.move_on_after(wait):
        while killed and marked_processes(value, key=key):
            await anyio.sleep(0.01)
    return killed
