"""What the commands share: common options and how a failure ends a command."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.status import Status

from evoflux.errors import EvofluxError
from evoflux.models.embedded import THREADS_ENV
from evoflux.store.redaction import redact
from evoflux.workflow.writes import Confirm, refuse_all

__all__ = ["JsonOpt", "ServersOpt", "ThreadsOpt", "confirmer", "fail", "use_threads"]

ServersOpt = Annotated[
    Path | None, typer.Option("--servers", help="MCP servers config (mcpServers JSON); default: the example.")
]
err = Console(stderr=True, soft_wrap=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the live view.")]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="CPU threads for an embedded model (default: $EVOFLUX_THREADS, else every core this process "
        "may use). Fewer leaves cores to other work on the machine.",
        show_default=False,
    ),
]


def use_threads(threads: int | None) -> int | None:
    """Check `--threads` and pass it on to processes started later (Ray workers) through the environment."""
    if threads is None:
        return None
    if threads < 1:
        raise EvofluxError(f"--threads must be at least 1, not {threads}")
    os.environ[THREADS_ENV] = str(threads)
    return threads


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
