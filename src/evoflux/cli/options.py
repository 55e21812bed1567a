"""What the commands share: common options and how a failure ends a command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.status import Status

from evoflux.store.redaction import redact
from evoflux.workflow.writes import Confirm, refuse_all

__all__ = ["JsonOpt", "ServersOpt", "confirmer", "fail"]

ServersOpt = Annotated[
    Path | None, typer.Option("--servers", help="MCP servers config (mcpServers JSON); default: the example.")
]
err = Console(stderr=True, soft_wrap=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the live view.")]


def fail(error: BaseException) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    raise typer.Exit(2)


def confirmer(console: Console, status: Status | None, yes: bool, secrets: list[str]) -> Confirm:
    """How a destructive call is confirmed: by --yes, by asking on the terminal, else not at all."""
    if yes:
        return lambda tool, arguments: True
    if not sys.stdin.isatty():
        return refuse_all

    def ask(tool: str, arguments: dict[str, Any]) -> bool:
        if status is not None:
            status.stop()
        shown = redact(json.dumps(arguments, ensure_ascii=False)[:400], secrets)
        console.print(f"[bold red]{escape(tool)}[/] may delete or overwrite data: {escape(shown)}")
        answer = typer.confirm("Send it?", default=False)
        if status is not None:
            status.start()
        return answer

    return ask
