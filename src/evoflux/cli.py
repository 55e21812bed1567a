"""The `evoflux` command. Nothing imports this module."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.markup import escape

from evoflux.catalog import open_catalog
from evoflux.config import load_servers
from evoflux.console import ConsoleObserver, print_result, print_tools
from evoflux.errors import EvofluxError
from evoflux.methods import METHODS, MethodSettings, Observer
from evoflux.models import MODELS, ensure_model
from evoflux.planners.planner import LMPlanner
from evoflux.planners.spec import SPEC_FORMS, load_model
from evoflux.result import RunResult
from evoflux.servers import warm_servers

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evolve executable MCP tool workflows.")
err = Console(stderr=True)

ServersOpt = Annotated[
    Path | None, typer.Option("--servers", help="MCP servers config (mcpServers JSON); default: the example.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the live view.")]


def _fail(error: BaseException) -> None:
    err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    raise typer.Exit(2)


@app.command()
def setup(
    models: Annotated[str, typer.Option(help="Comma-separated models to install.")] = "default,lite",
    servers: ServersOpt = None,
    skip_servers: Annotated[bool, typer.Option("--skip-servers", help="Do not warm the servers.")] = False,
) -> None:
    """Install the models and warm the example servers so that later runs work offline."""
    try:
        for name in [m.strip() for m in models.split(",") if m.strip()]:
            last = [-1]

            def show(stage: str, done: int, total: int, name: str = name, last: list[int] = last) -> None:
                pct = int(100 * done / total) if total else 100
                if pct // 10 != last[0] // 10 or stage == "done":
                    err.print(f"model {name}: {stage} {pct}%", highlight=False)
                    last[0] = pct

            err.print(f"model {name}: {ensure_model(name, progress=show)}", highlight=False)
        if not skip_servers:
            config = load_servers(servers)
            results = anyio.run(lambda: warm_servers(config, progress=lambda m: err.print(m, highlight=False)))
            bad = [r for r in results if not r.ok]
            if bad:
                _fail(EvofluxError("servers that did not warm up: " + ", ".join(r.name for r in bad)))
    except EvofluxError as e:
        _fail(e)
    err.print("[green]setup complete[/]")


@app.command()
def tools(servers: ServersOpt = None, as_json: JsonOpt = False) -> None:
    """List the live tool catalog of the configured servers."""

    async def main() -> tuple[list[dict[str, Any]], dict[str, str]]:
        async with open_catalog(load_servers(servers), skip_failed=True) as catalog:
            listed = [spec.model_dump() for spec in catalog.tools.values()]
            return listed, dict(catalog.failed)

    try:
        listed, failed = anyio.run(main)
    except EvofluxError as e:
        _fail(e)
    if as_json:
        print(json.dumps({"tools": listed, "failed": failed}, indent=2, ensure_ascii=False))
    else:
        print_tools(Console(), listed, failed)


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="What the workflow should accomplish.")],
    servers: ServersOpt = None,
    planner: Annotated[str, typer.Option(help="default | lite | gguf:PATH | openai:MODEL@BASE_URL")] = "default",
    method: Annotated[str, typer.Option(help=f"One of: {', '.join(METHODS)}.")] = "zero-shot",
    seed: Annotated[int, typer.Option(help="Seed for sampling and search.")] = 0,
    top_k: Annotated[int, typer.Option("--top-k", help="Tools shown to the planner (retrieval).")] = 12,
    call_timeout: Annotated[float, typer.Option(help="Seconds per tool call.")] = 30.0,
    deadline: Annotated[float, typer.Option(help="Seconds for the whole run's execution.")] = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Plan, validate and execute a tool workflow for TASK, and answer from what the tools returned."""
    if method not in METHODS:
        _fail(EvofluxError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}"))
    console = Console(stderr=as_json)
    settings = MethodSettings(seed=seed, top_k_tools=top_k)
    settings.execution.call_timeout_s = call_timeout
    settings.execution.deadline_s = deadline
    try:
        config = load_servers(servers)
        model = load_model(planner)
    except EvofluxError as e:
        _fail(e)
    observer: Observer = ConsoleObserver(console)

    async def main() -> RunResult:
        async with open_catalog(config, call_timeout=call_timeout) as catalog:
            if not as_json:
                console.print(f"[dim]{len(catalog.tools)} tools from {len(catalog.servers)} servers · "
                              f"planner {planner}[/]")
            result = await METHODS[method](task, catalog, LMPlanner(model), settings, observer)
            return result.model_copy(update={"planner": planner})

    try:
        with console.status("planning…") if not as_json else _nullcontext():
            result = anyio.run(main)
    except EvofluxError as e:
        _fail(e)
    finally:
        close = getattr(model, "close", None)
        if callable(close):
            close()
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print_result(console, result)
    raise typer.Exit(0 if result.feasible else 1)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@app.command()
def models() -> None:
    """List the registered models and the accepted planner specs."""
    for name, info in MODELS.items():
        print(f"{name}: {info.title} ({info.size // 2**20} MiB)")
    print("planner specs:\n  " + "\n  ".join(SPEC_FORMS))


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
