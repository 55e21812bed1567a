"""A real MCP server for the catalog tests, written on the installed SDK's low-level `Server`.

Run: `python tests/servers/toy.py [--pages N] [--repeat-cursor] [--crash-on-start] [--hang] [--start-delay S]
[--pidfile PATH] [--http PORT]`. With `--pages N` the tool list comes in N pages and the first cursor is the
empty string.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import anyio
import mcp.server.stdio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.shared.exceptions import MCPError

NUMBER_PAIR = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
}
SUM = {"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}


def _tool(name: str, description: str, props: dict[str, Any] | None = None, **extra: Any) -> types.Tool:
    schema = {"type": "object", "properties": props or {}}
    return types.Tool(
        name=name, description=description, input_schema=extra.pop("input_schema", schema), **extra
    )


TOOLS = [
    _tool("add", "Add two numbers.", input_schema=NUMBER_PAIR, output_schema=SUM),
    _tool("echo", "Echo the text back.", {"text": {"type": "string"}}),
    _tool("fail", "Always fails with isError.", {"message": {"type": "string"}}),
    _tool("slow", "Sleep, then answer.", {"seconds": {"type": "number"}}),
    _tool("huge", "Return `kb` KiB of text.", {"kb": {"type": "integer"}}),
    _tool("grow", "Add the tool `extra` and announce tools/list_changed.", {}),
    _tool("pid", "This server's process id.", {}),
    _tool("spawn", "Start `sleep 300`; `detach` puts it in a new session.", {"detach": {"type": "boolean"}}),
    _tool("bad_output", "Structured content that violates the output schema.", {}, output_schema=SUM),
    _tool("exit", "Exit the server process at once.", {}),
    _tool("getenv", "The value of an environment variable ('' when unset).", {"name": {"type": "string"}}),
    _tool(
        "store",
        "Keep `value` under `key` (changes the server's state).",
        {"key": {"type": "string"}, "value": {"type": "string"}},
        annotations=types.ToolAnnotations(read_only_hint=False),
    ),
    _tool(
        "fetch",
        "The value kept under `key` ('' when none).",
        {"key": {"type": "string"}},
        annotations=types.ToolAnnotations(read_only_hint=True),
    ),
]
EXTRA = _tool("extra", "Appears after `grow`.", {})


class Toy:
    def __init__(self, pages: int, repeat_cursor: bool) -> None:
        self.tools = list(TOOLS)
        self.pages = pages
        self.repeat_cursor = repeat_cursor
        self.kept: dict[str, str] = {}

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        if self.repeat_cursor:
            return types.ListToolsResult(tools=self.tools[:1], next_cursor="again")
        cursors = ["", *(f"p{i}" for i in range(2, self.pages + 1))]  # the first cursor is ""
        cursor = params.cursor if params else None
        page = 0 if cursor is None else cursors.index(cursor) + 1
        size = -(-len(self.tools) // self.pages)
        nxt = cursors[page] if page + 1 < self.pages else None
        return types.ListToolsResult(tools=self.tools[page * size : (page + 1) * size], next_cursor=nxt)

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        args = params.arguments or {}
        name = params.name
        if name == "add":
            if not all(isinstance(args.get(k), int | float) for k in ("a", "b")):
                raise MCPError(code=types.INVALID_PARAMS, message="add needs numbers a and b")
            total = args["a"] + args["b"]
            return _text(str(total), structured={"sum": total})
        if name == "echo":
            return _text(str(args.get("text", "")))
        if name == "fail":
            return _text(str(args.get("message", "failed")), is_error=True)
        if name == "slow":
            await anyio.sleep(float(args.get("seconds", 1)))
            return _text("slept")
        if name == "huge":
            return _text("x" * 1024 * int(args.get("kb", 1)))
        if name == "grow":
            if EXTRA not in self.tools:
                self.tools.append(EXTRA)
            await ctx.session.send_tool_list_changed()
            return _text("grown")
        if name == "pid":
            return _text(str(os.getpid()))
        if name == "spawn":
            child = subprocess.Popen(["sleep", "300"], start_new_session=bool(args.get("detach")))
            return _text(str(child.pid))
        if name == "bad_output":
            return _text("oops", structured={"total": "not a sum"})
        if name == "extra":
            return _text("extra")
        if name == "exit":
            os._exit(1)
        if name == "store":
            await anyio.sleep(0.2)  # a slow write: a read started beside it would see the old value
            self.kept[str(args.get("key"))] = str(args.get("value"))
            return _text("stored")
        if name == "fetch":
            return _text(self.kept.get(str(args.get("key")), ""))
        if name == "getenv":
            return _text(os.environ.get(str(args.get("name")), ""))
        raise MCPError(code=types.INVALID_PARAMS, message=f"unknown tool {name}")


def _text(text: str, *, structured: Any = None, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=structured, is_error=is_error
    )


def build(pages: int = 1, repeat_cursor: bool = False) -> Server[Any]:
    toy = Toy(pages, repeat_cursor)
    return Server("toy", version="1.0", on_list_tools=toy.list_tools, on_call_tool=toy.call_tool)


async def serve_stdio(server: Server[Any]) -> None:
    options = server.create_initialization_options(NotificationOptions(tools_changed=True))
    async with mcp.server.stdio.stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, options)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=1)
    parser.add_argument("--repeat-cursor", action="store_true")
    parser.add_argument("--crash-on-start", action="store_true")
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--start-delay", type=float, default=0.0)
    parser.add_argument("--pidfile", default="")
    parser.add_argument("--http", type=int, default=0, help="serve Streamable HTTP on this port")
    opts = parser.parse_args()
    if opts.pidfile:
        with open(opts.pidfile, "w") as f:
            f.write(str(os.getpid()))
    time.sleep(opts.start_delay)
    if opts.crash_on_start:
        print("toy: refusing to start (--crash-on-start)", file=sys.stderr, flush=True)
        sys.exit(3)
    if opts.hang:
        print("toy: hanging (--hang)", file=sys.stderr, flush=True)
        asyncio.run(asyncio.sleep(3600))
    server = build(opts.pages, opts.repeat_cursor)
    if opts.http:
        import uvicorn

        uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=opts.http, log_level="warning")
    else:
        anyio.run(serve_stdio, server)


if __name__ == "__main__":
    main()
