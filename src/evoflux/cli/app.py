"""The `evoflux` command. Nothing imports this module."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, cast

import anyio
import typer
from pydantic import ValidationError
from rich.console import Console

from evoflux import __version__
from evoflux.bench.llm_judge import DimensionJudge
from evoflux.cli.bench_command import bench
from evoflux.cli.console import ConsoleObserver, print_result, print_tools
from evoflux.cli.contract_command import contract as contract_command
from evoflux.cli.contract_command import read_contract
from evoflux.cli.exec_command import exec_workflow
from evoflux.cli.interrupt import STOPPED_EXIT, Interrupt
from evoflux.cli.live import LiveView, Narrated
from evoflux.cli.options import JsonOpt, ServersOpt, ThreadsOpt, confirmer, err, fail, use_threads
from evoflux.cli.store_commands import export, runs, show
from evoflux.errors import EvofluxError
from evoflux.methods import METHODS, MethodSettings, QuietObserver, run_method, visible_tools
from evoflux.methods.result import EXIT_CODES, RunResult
from evoflux.models.registry import MODELS, ensure_model
from evoflux.planner.planner import LMPlanner
from evoflux.planner.spec import SPEC_FORMS, PlannerFactory, load_model
from evoflux.protocols import Observer, Planner
from evoflux.search.budget import Budget
from evoflux.search.intensity import IntensityConfig
from evoflux.search.loop import SearchSettings, Switches
from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import load_servers
from evoflux.servers.processes import warm_servers
from evoflux.store.recording import RecordingObserver, config_secrets, default_store_path
from evoflux.store.redaction import install_log_redaction, redact
from evoflux.store.runs import RunStore
from evoflux.workflow.writes import WriteMode

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evolve executable MCP tool workflows.")
_BUDGET_DEFAULTS = ", ".join(f"{k}={v:g}" for k, v in Budget().model_dump().items())


def _version(show: bool) -> None:
    if show:
        print(f"evoflux {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Evolve executable MCP tool workflows."""


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
            results = anyio.run(
                lambda: warm_servers(config, progress=lambda m: err.print(m, highlight=False))
            )
            bad = [r for r in results if not r.ok]
            if bad:
                fail(EvofluxError("servers that did not warm up: " + ", ".join(r.name for r in bad)))
    except EvofluxError as e:
        fail(e)
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
        fail(e)
    if as_json:
        print(json.dumps({"tools": listed, "failed": failed}, indent=2, ensure_ascii=False))
    else:
        print_tools(Console(), listed, failed)
    if failed and not listed:
        raise typer.Exit(1)  # no server started: nothing a run could use


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="What the workflow should accomplish.")],
    servers: ServersOpt = None,
    planner: Annotated[str, typer.Option(help="default | lite | gguf:PATH | openai:MODEL@URL")] = "default",
    method: Annotated[str, typer.Option(help=f"One of: {', '.join(METHODS)}.")] = "evoflux",
    seed: Annotated[int, typer.Option(help="Seed for sampling and search.")] = 0,
    budget: Annotated[
        str,
        typer.Option(
            help=f"Search budget: any of the keys, each replacing its default ({_BUDGET_DEFAULTS})."
        ),
    ] = "",
    no_redesign: Annotated[
        bool, typer.Option("--no-redesign", help="Ablation: no meta-guided redesign.")
    ] = False,
    no_diversity: Annotated[
        bool, typer.Option("--no-diversity", help="Ablation: prune to the fittest.")
    ] = False,
    no_feedback: Annotated[
        bool, typer.Option("--no-feedback", help="Ablation: no execution during the search.")
    ] = False,
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Ablation: no model-guided edits.")
    ] = False,
    no_stepwise: Annotated[
        bool,
        typer.Option("--no-stepwise", help="Ablation: no seed built step by step from a decomposition."),
    ] = False,
    fixed_intensity: Annotated[
        float | None, typer.Option("--fixed-intensity", help="Ablation: a constant exploration probability.")
    ] = None,
    no_judge: Annotated[bool, typer.Option("--no-judge", help="Do not judge task coverage.")] = False,
    judge: Annotated[
        str | None,
        typer.Option(
            help="A six-dimension LLM judge for coverage, e.g. openai:MODEL@URL (default: the planner)."
        ),
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Tools shown to the planner (retrieval).")] = 12,
    call_timeout: Annotated[float, typer.Option(help="Seconds per tool call.")] = 30.0,
    deadline: Annotated[float, typer.Option(help="Seconds for one workflow's execution.")] = 300.0,
    store: Annotated[Path | None, typer.Option(help="SQLite run store (default: in EVOFLUX_HOME).")] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not record the run.")] = False,
    writes: Annotated[
        str,
        typer.Option(
            help="staged: candidates never write, the chosen workflow is sent once; live: every "
            "candidate sends its writes (sandboxes, test servers); dry-run: send none."
        ),
    ] = "staged",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Search and show the writes the workflow would send; send none.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Send destructive calls without asking.")] = False,
    show_evidence: Annotated[
        bool, typer.Option("--show-evidence", help="Also print what the tools returned, as judged.")
    ] = False,
    contract: Annotated[
        str | None,
        typer.Option(
            help="What the task asks for: 'infer' (the planner states it first: one more model call) or a "
            "JSON file (see `evoflux contract --json`). The state-change check then reads it.",
            show_default=False,
        ),
    ] = None,
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan, validate and execute a tool workflow for TASK, and answer from what the tools returned.

    Exit status: 0 answered (every part checked against the tools' outputs), 3 partial (it ran, parts
    missing or unchecked: listed), 1 failed (nothing ran through), 2 usage error.

    Calls that may change state are held back while the search runs; the chosen workflow sends each
    one once. A destructive call is sent only when you confirm it (or pass --yes); without a terminal
    to ask on, it is not sent and the run says so."""
    console = Console(stderr=as_json)
    try:
        if not task.strip():
            raise EvofluxError("the task is empty: say what the workflow should accomplish")
        if method not in METHODS:
            raise EvofluxError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
        search = SearchSettings(
            budget=Budget.parse(budget),
            switches=Switches(
                redesign=not no_redesign,
                diversity=not no_diversity,
                feedback=not no_feedback,
                model_edits=not rules_only,
                judge=not no_judge,
                stepwise=not no_stepwise,
            ),
            intensity=IntensityConfig(fixed=fixed_intensity),
        )
        mode = "dry-run" if dry_run else writes
        if mode not in ("staged", "live", "dry-run"):
            raise EvofluxError(f"unknown --writes {writes!r}; choose staged, live or dry-run")
        settings = MethodSettings(seed=seed, top_k_tools=top_k, search=search, writes=cast(WriteMode, mode))
        settings.execution.call_timeout_s = call_timeout
        settings.execution.deadline_s = deadline
        if contract == "infer":
            settings.infer_contract = True
        elif contract is not None:
            settings.contract = read_contract(Path(contract))
        config = load_servers(servers)
        secrets = config_secrets(config)
        install_log_redaction(secrets)
        use_threads(threads)
        planners = PlannerFactory(planner, threads=threads)
        judge_model = load_model(judge, threads=threads) if judge else None
        recorder = None if no_store else RunStore(store or default_store_path(), secrets=secrets)
    except (EvofluxError, ValidationError) as e:
        fail(e)
    view = None if as_json else LiveView(console.status("starting the servers"))
    observer: Observer = QuietObserver() if view is None else ConsoleObserver(console, view.set)

    async def main() -> RunResult:
        async with open_catalog(config, call_timeout=call_timeout) as catalog:
            interrupt.catalogs.append(catalog.catalog_id)
            if not as_json:
                console.print(
                    f"[dim]{len(catalog.tools)} tools from {len(catalog.servers)} servers · planner {planner}"
                    f" · method {method} · writes {settings.writes}[/]"
                )
                guessed = sorted(
                    {s.server for s in catalog.tools.values() if s.effect_source == "spec default"}
                )
                if guessed:
                    console.print(
                        f"[dim]servers {', '.join(guessed)} do not annotate some tools: those count as "
                        "destructive writes (MCP's defaults); say which only read with readOnlyTools in "
                        "the servers config[/]"
                    )
            lm: Planner = planners()
            judge_planner = DimensionJudge(judge_model) if judge_model else None
            watcher: Observer = observer
            run_id = None
            if recorder is not None:
                shown = visible_tools(task, catalog, top_k)
                prompt = lm.plan_messages(task, shown) if isinstance(lm, LMPlanner) else []
                run_id = recorder.start_run(
                    task=task,
                    method=method,
                    planner=planner,
                    seed=seed,
                    settings=settings.model_dump(mode="json"),
                    prompt=prompt,
                )
                watcher = RecordingObserver(observer, recorder, run_id)
            narrated = lm if view is None else Narrated(lm, view)
            result = await run_method(
                method, task, catalog, narrated, settings, watcher, judge_planner, confirm
            )
            result = result.model_copy(update={"planner": planner})
            if recorder is not None and run_id is not None:
                recorder.finish_run(run_id, result)
            return result

    confirm = confirmer(console, view.status if view else None, yes, secrets)
    interrupt = Interrupt(console)
    try:
        with interrupt, view if view is not None else nullcontext():
            result = anyio.run(main)
    except EvofluxError as e:
        fail(e)
    except KeyboardInterrupt:
        console.print("[yellow]stopped by Ctrl-C[/]")
        raise typer.Exit(STOPPED_EXIT) from None
    finally:
        for closable in (planners, judge_model, recorder):
            close = getattr(closable, "close", None)
            if callable(close):
                close()
    # what the servers returned may quote their own environment: the printed result is redacted too
    shown = json.loads(redact(json.dumps(result.to_json(), ensure_ascii=False), secrets))
    if as_json:
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print_result(console, RunResult.model_validate(shown), show_evidence=show_evidence)
    raise typer.Exit(EXIT_CODES[result.status])


app.command()(bench)
app.command()(runs)
app.command()(show)
app.command()(export)
app.command("exec")(exec_workflow)
app.command("contract")(contract_command)


@app.command()
def models() -> None:
    """List the registered models and the accepted planner specs."""
    for name, info in MODELS.items():
        print(f"{name}: {info.title} ({info.size // 2**20} MiB)")
    print("planner specs:\n  " + "\n  ".join(SPEC_FORMS))


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
