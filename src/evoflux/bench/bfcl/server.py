"""One BFCL backend class served as an MCP server over stdio, for the BFCL multi-turn suite.

    python -m evoflux.bench.bfcl.server CLASS --scenario FILE.json --log CALLS.jsonl [--long-context]

Its tools are the class's functions as BFCL documents them, annotated read-only or not as
`effects.json` found them (unclassed ones carry no annotation: the MCP default, may write). Every call
it receives is appended to the log, in order, before its result goes back: the calls that really
reached the backend, which BFCL's checker then replays. A result with an "error" key is a tool error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import anyio
import mcp.server.stdio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.shared.exceptions import MCPError

from evoflux.bench.bfcl.data import function_docs, input_schema
from evoflux.bench.bfcl.effects import backend, load_effects

__all__ = ["build", "tools_of"]

_READ = types.ToolAnnotations(read_only_hint=True)
_WRITE = types.ToolAnnotations(read_only_hint=False, destructive_hint=False)


def tools_of(class_name: str) -> list[types.Tool]:
    """The MCP tools of a backend class."""
    effects = load_effects()
    tools = []
    for doc in function_docs(class_name):
        effect = effects.get(doc["name"])
        annotations = _READ if effect == "read" else _WRITE if effect == "write" else None
        tools.append(
            types.Tool(
                name=doc["name"],
                description=doc["description"],
                input_schema=input_schema(doc["parameters"]),
                annotations=annotations,
            )
        )
    return tools


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def build(class_name: str, scenario: dict[str, Any], log: Path, long_context: bool = False) -> Server[Any]:
    """The server of one backend instance loaded with `scenario`, logging each call to `log`."""
    instance = backend(class_name, scenario, long_context)
    tools = tools_of(class_name)
    names = {tool.name for tool in tools}

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        if params.name not in names:
            raise MCPError(code=types.INVALID_PARAMS, message=f"unknown tool {params.name}")
        arguments = dict(params.arguments or {})
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"tool": params.name, "arguments": arguments}, ensure_ascii=False) + "\n")
        try:
            result = getattr(instance, params.name)(**arguments)
        except Exception as e:  # a bad argument: the function's own complaint goes back
            return types.CallToolResult(
                content=[types.TextContent(text=f"{type(e).__name__}: {e}")], is_error=True
            )
        failed = isinstance(result, dict) and "error" in result
        structured = result if isinstance(result, dict) else None
        return types.CallToolResult(
            content=[types.TextContent(text=_text(result))], structured_content=structured, is_error=failed
        )

    return Server(class_name, version="1.0", on_list_tools=list_tools, on_call_tool=call_tool)


async def _serve(server: Server[Any]) -> None:
    options = server.create_initialization_options(NotificationOptions())
    async with mcp.server.stdio.stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("class_name")
    parser.add_argument("--scenario", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--long-context", action="store_true")
    opts = parser.parse_args()
    scenario = json.loads(opts.scenario.read_text(encoding="utf-8"))
    anyio.run(_serve, build(opts.class_name, scenario, opts.log, opts.long_context))


if __name__ == "__main__":
    main()
