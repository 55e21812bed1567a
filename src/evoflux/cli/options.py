"""What the commands share: common options and how a failure ends a command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["JsonOpt", "ServersOpt", "fail"]

ServersOpt = Annotated[
    Path | None, typer.Option("--servers", help="MCP servers config (mcpServers JSON); default: the example.")
]
err = Console(stderr=True, soft_wrap=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the live view.")]


def fail(error: BaseException) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    raise typer.Exit(2)
