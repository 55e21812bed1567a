"""`evoflux contract`: what the planner model reads a task as asking for (the task contract), without
calling any tool: the parts the answer must contain, the values the task gives, the changes it asks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from evoflux.cli.options import JsonOpt, ThreadsOpt, fail, use_threads
from evoflux.errors import EvofluxError
from evoflux.planner.spec import PlannerFactory
from evoflux.scoring.contract import TaskContract, parse_contract

__all__ = ["contract", "read_contract"]


def read_contract(path: Path) -> TaskContract:
    """A caller's contract from a JSON file; `EvofluxError` says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EvofluxError(f"cannot read the contract {path} ({e})") from e
    given = parse_contract(data, source="caller") if isinstance(data, dict) else None
    if given is None:
        raise EvofluxError(
            f"{path} is not a task contract: give a JSON object with 'parts', 'values' and 'changes' "
            "as `evoflux contract --json` prints it"
        )
    return given


def contract(
    task: Annotated[str, typer.Argument(help="The request to read.")],
    planner: Annotated[str, typer.Option(help="default | lite | gguf:PATH | openai:MODEL@URL")] = "default",
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the task contract the planner states for TASK (one model call, no tools). Exit 1 when the
    model's reply is not a contract."""
    try:
        if not task.strip():
            raise EvofluxError("the task is empty: say what the workflow should accomplish")
        use_threads(threads)
        planners = PlannerFactory(planner, threads=threads)
    except EvofluxError as e:
        fail(e)
    try:
        stated = planners().contract(task)
    except EvofluxError as e:
        fail(e)
    finally:
        planners.close()
    if stated is None:
        Console(stderr=True).print("[red]the model's reply was not a contract[/]")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(stated.model_dump(), ensure_ascii=False, indent=2))
    else:
        Console().print(escape(stated.render()), highlight=False)
