"""A fault-injecting MCP server for the hardening tests, on the installed SDK's low-level `Server`.

Run: `python tests/servers/faulty.py [--ignore-sigterm] [--linger] [--crash-if-exists PATH]
[--chaos SEED [--fault-rate P] [--fault-log PATH]]`.

- `--ignore-sigterm`: SIGTERM is ignored (and so it is in every child, which inherits that).
- `--linger`: keep running after stdin closes (so only signals stop it).
- `--crash-if-exists PATH`: exit at once when PATH exists; create it otherwise (a restart then fails).
- `--chaos SEED`: random faults (see `Chaos`): each call (but `pid` and `peak`) draws from a RNG seeded
  with SEED and the number of earlier starts recorded in `--fault-log`; with probability `--fault-rate`
  (default 0.25) it gets one of `FAULT_KINDS`, uniformly. `--fault-log PATH` appends `start` when the
  server starts and `KIND TOOL` for each fault, before acting on it (so a crash is logged too). Texts of
  the `crash`, `is_error` and `error_payload` faults quote the server's `FAULTY_SECRET` environment
  variable, as a careless server would quote its credentials.

Its tools die, spawn children, write what is not JSON-RPC to stdout, return huge results, record how many
calls run at once, and change their own definitions (see `TOOLS`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp.server.stdio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.shared.exceptions import MCPError

MIB = 1024 * 1024


def _tool(name: str, about: str, /, **props: str) -> types.Tool:
    schema = {"type": "object", "properties": {k: {"type": v} for k, v in props.items()}}
    return types.Tool(name=name, description=about, input_schema=schema)


TOOLS = [
    _tool("pid", "This server's process id."),
    _tool("echo", "Echo the text back.", text="string"),
    _tool("die", "Exit the server process at once, in the middle of the call."),
    _tool("spawn", "Start two `sleep 300`: one in this process group, one in a new session."),
    _tool("garbage", "Write something that is not JSON-RPC to stdout (see Faulty.garbage).", kind="string"),
    _tool("huge", "Return `mb` MiB of text in 100-byte lines (or one line).", mb="number", lines="boolean"),
    _tool("flood", "Start a reply, write `mb` MiB, end the line, never answer.", mb="number"),
    _tool("sleepy", "Sleep `seconds`, return `tag`; counts calls at once.", seconds="number", tag="string"),
    _tool(
        "peak", "The most `sleepy` calls that ran at once so far (then zero, with `reset`).", reset="boolean"
    ),
    _tool("target", "A tool whose definition `mutate` changes."),
    _tool("chatty", "Send progress and log notifications every 50 ms, and never answer."),
    _tool(
        "mutate",
        "Change `target` (its `description`, or a new input `property`) or `add` a tool; announce it.",
        description="string",
        property="string",
        add="string",
    ),
]


FAULT_KINDS = ("crash", "hang", "garbage", "huge", "is_error", "error_payload", "slow", "orphan")
GARBAGE_KINDS = ("bad_json", "bad_utf8", "deep", "silent", "noise")


class Chaos:
    """Random faults for `--chaos`: what each draws, and how the server acts on it.

    `crash`: write the secret to stderr and exit mid-call. `hang`: never answer. `garbage`: one of
    `Faulty.garbage`'s kinds (`noise` then answers normally; the others never answer). `huge`: 1-4 MiB
    of text. `is_error`: an `isError` result quoting the secret. `error_payload`: a normal result whose
    text is `{"error": ...}` quoting the secret. `slow`: sleep 0.2-1.0 s, then answer normally. `orphan`:
    start a `sleep 300` in a new session (it leaves the process group), then answer normally.
    """

    def __init__(self, seed: int, rate: float, log: Path | None) -> None:
        starts = 0
        if log is not None and log.exists():
            starts = sum(1 for line in log.read_text().splitlines() if line == "start")
        self.rng = random.Random(f"{seed}:{starts}")
        self.rate = rate
        self.log = log
        self.secret = os.environ.get("FAULTY_SECRET", "")
        self._note("start")

    def _note(self, line: str) -> None:
        if self.log is not None:
            with self.log.open("a") as f:
                f.write(line + "\n")

    def draw(self, tool: str) -> str | None:
        if tool in ("pid", "peak") or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(FAULT_KINDS)
        self._note(f"{kind} {tool}")
        return kind

    async def act(self, kind: str, faulty: Faulty, request_id: Any) -> types.CallToolResult | None:
        """The fault's result, or None to answer normally (after `slow` or `orphan`)."""
        secret = f" (credentials: {self.secret})" if self.secret else ""
        if kind == "crash":
            print(f"faulty: fatal error{secret}; exiting", file=sys.stderr, flush=True)
            os._exit(1)
        if kind == "hang":
            await anyio.sleep(3600)
        if kind == "garbage":
            return await faulty.garbage(self.rng.choice(GARBAGE_KINDS), request_id)
        if kind == "huge":
            return _text(("h" * 99 + "\n") * (self.rng.randint(1, 4) * MIB // 100))
        if kind == "is_error":
            text = f"backend refused the request{secret}"
            return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)
        if kind == "error_payload":
            return _text(json.dumps({"error": f"upstream lookup failed{secret}"}))
        if kind == "slow":
            await anyio.sleep(self.rng.uniform(0.2, 1.0))
        if kind == "orphan":
            subprocess.Popen(["sleep", "300"], start_new_session=True, stdout=subprocess.DEVNULL)
        return None


class Wire:
    """stdout, shared by the SDK's writer and the tools that write raw text: one whole write at a time (lone
    surrogates become the bytes they stand for, so a tool can write invalid UTF-8)."""

    def __init__(self) -> None:
        fd = os.dup(1)
        os.dup2(2, 1)  # stray prints go to stderr
        self.raw = io.TextIOWrapper(os.fdopen(fd, "wb"), encoding="utf-8", errors="surrogateescape")
        self.lock = anyio.Lock()

    async def write(self, text: str) -> None:
        async with self.lock:
            await anyio.to_thread.run_sync(self._write, text)

    def _write(self, text: str) -> None:
        self.raw.write(text)
        self.raw.flush()

    async def flush(self) -> None:
        pass  # every write is flushed


class Faulty:
    def __init__(self, wire: Wire, chaos: Chaos | None = None) -> None:
        self.wire = wire
        self.chaos = chaos
        self.tools = list(TOOLS)
        self.running = 0
        self.peak = 0

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.tools)

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        args = params.arguments or {}
        name = params.name
        fault = self.chaos.draw(name) if self.chaos is not None else None
        if fault is not None and self.chaos is not None:
            injected = await self.chaos.act(fault, self, ctx.request_id)
            if injected is not None:
                return injected
        if name == "pid":
            return _text(str(os.getpid()))
        if name == "chatty":
            for step in range(100_000):
                await ctx.session.send_progress_notification("chatty", step, message="still working")
                await ctx.session.send_log_message("info", f"step {step}", related_request_id=ctx.request_id)
                await anyio.sleep(0.05)
        if name == "echo":
            return _text(str(args.get("text", "")))
        if name == "die":
            os._exit(1)
        if name == "spawn":
            pids = [
                subprocess.Popen(["sleep", "300"], start_new_session=detach, stdout=subprocess.DEVNULL).pid
                for detach in (False, True)
            ]
            return _text(" ".join(map(str, pids)))
        if name == "garbage":
            return await self.garbage(str(args.get("kind")), ctx.request_id)
        if name == "huge":
            size = int(float(args.get("mb", 1)) * MIB)
            if args.get("lines", True):
                return _text(("y" * 99 + "\n") * (size // 100))
            return _text("z" * size)
        if name == "flood":
            start = f'{{"jsonrpc":"2.0","id":{ctx.request_id},"result":{{"content":[{{"type":"text","text":"'
            await self.wire.write(start + "f" * int(float(args.get("mb", 1)) * MIB) + "\n")
            await anyio.sleep(3600)
        if name == "sleepy":
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                await anyio.sleep(float(args.get("seconds", 0.1)))
            finally:
                self.running -= 1
            return _text(str(args.get("tag", "")))
        if name == "peak":
            peak = self.peak
            if args.get("reset"):
                self.peak = self.running
            return _text(str(peak))
        if name == "target":
            return _text("target")
        if name == "mutate":
            return await self.mutate(ctx, args)
        if any(tool.name == name for tool in self.tools):
            return _text(name)  # a tool that `mutate` added
        raise MCPError(code=types.INVALID_PARAMS, message=f"unknown tool {name}")

    async def garbage(self, kind: str, request_id: Any) -> types.CallToolResult:
        """`noise`: a line of text, then a normal reply. `silent`: a line of text, then nothing.
        `bad_json`, `bad_utf8`, `deep`: an unreadable reply carrying this request's id, then nothing.
        `deep_noise`: 100,000 levels of [[...]] with no id, then a normal reply."""
        head = f'{{"jsonrpc":"2.0","id":{request_id},"result":'
        lines = {
            "noise": "this is not JSON-RPC\n",
            "silent": "Server ready! (stray output)\n",
            "bad_json": head + '{"content":[{"type":"text","text":"cut short\n',
            "bad_utf8": head + '{"content":[{"type":"text","text":"\udcff\udcfe"}]}}\n',
            "deep": head
            + '{"content":[],"structuredContent":{"x":'
            + "[" * 100_000
            + "]" * 100_000
            + "}}}\n",
            "deep_noise": "[" * 100_000 + "]" * 100_000 + "\n",
        }
        await self.wire.write(lines[kind])
        if kind in ("noise", "deep_noise"):
            return _text(f"after {kind}")
        await anyio.sleep(3600)
        raise AssertionError("unreachable")

    async def mutate(self, ctx: ServerRequestContext[Any], args: dict[str, Any]) -> types.CallToolResult:
        if "add" in args:
            self.tools.append(_tool(str(args["add"]), "A tool added during the run."))
        for i, tool in enumerate(self.tools):
            if tool.name == "target" and "description" in args:
                self.tools[i] = tool.model_copy(update={"description": str(args["description"])})
            if tool.name == "target" and "property" in args:
                schema = {**tool.input_schema, "properties": {str(args["property"]): {"type": "string"}}}
                self.tools[i] = tool.model_copy(update={"input_schema": schema})
        await ctx.session.send_tool_list_changed()
        return _text("mutated")


def _text(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)])


async def serve(linger: bool, chaos: Chaos | None = None) -> None:
    wire = Wire()
    faulty = Faulty(wire, chaos)
    server = Server("faulty", version="1.0", on_list_tools=faulty.list_tools, on_call_tool=faulty.call_tool)
    options = server.create_initialization_options(NotificationOptions(tools_changed=True))
    async with mcp.server.stdio.stdio_server(stdout=wire) as (read_stream, write_stream):  # type: ignore[arg-type]
        await server.run(read_stream, write_stream, options)
    if linger:
        print("faulty: stdin closed; lingering (--linger)", file=sys.stderr, flush=True)
        while True:
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--linger", action="store_true")
    parser.add_argument("--crash-if-exists", default="")
    parser.add_argument("--chaos", type=int, default=None, metavar="SEED")
    parser.add_argument("--fault-rate", type=float, default=0.25)
    parser.add_argument("--fault-log", default="")
    opts = parser.parse_args()
    if opts.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if opts.crash_if_exists:
        flag = Path(opts.crash_if_exists)
        if flag.exists():
            print("faulty: refusing to start again (--crash-if-exists)", file=sys.stderr, flush=True)
            sys.exit(3)
        flag.touch()
    chaos = None
    if opts.chaos is not None:
        chaos = Chaos(opts.chaos, opts.fault_rate, Path(opts.fault_log) if opts.fault_log else None)
    anyio.run(serve, opts.linger, chaos)


if __name__ == "__main__":
    main()
