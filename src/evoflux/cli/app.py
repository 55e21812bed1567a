"""The `evoflux` command. Nothing imports this module."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from evoflux.bench.llm_judge import DimensionJudge
from evoflux.bench.ray_executor import run_bench_ray
from evoflux.bench.report import markdown_table, write_plots
from evoflux.bench.runner import BenchSettings, pending, run_bench, summarize
from evoflux.bench.suite import load_tasks
from evoflux.cli.console import ConsoleObserver, print_result, print_summary, print_tools
from evoflux.errors import EvofluxError
from evoflux.methods import METHODS, MethodSettings, QuietObserver, run_method, visible_tools
from evoflux.methods.result import RunResult
from evoflux.models.registry import MODELS, ensure_model
from evoflux.planner.planner import LMPlanner
from evoflux.planner.spec import SPEC_FORMS, PlannerFactory, load_model
from evoflux.protocols import Observer
from evoflux.search.budget import Budget
from evoflux.search.intensity import IntensityConfig
from evoflux.search.loop import SearchSettings, Switches
from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import load_servers
from evoflux.servers.processes import warm_servers
from evoflux.store.recording import RecordingObserver, config_secrets, default_store_path
from evoflux.store.redaction import install_log_redaction, redact
from evoflux.store.runs import RunStore

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evolve executable MCP tool workflows.")
err = Console(stderr=True, soft_wrap=True)

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
            results = anyio.run(
                lambda: warm_servers(config, progress=lambda m: err.print(m, highlight=False))
            )
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
    planner: Annotated[str, typer.Option(help="default | lite | gguf:PATH | openai:MODEL@URL")] = "default",
    method: Annotated[str, typer.Option(help=f"One of: {', '.join(METHODS)}.")] = "evoflux",
    seed: Annotated[int, typer.Option(help="Seed for sampling and search.")] = 0,
    budget: Annotated[
        str, typer.Option(help="Search budget, e.g. generations=4,population=6,lm_calls=40,wall_s=900.")
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
    as_json: JsonOpt = False,
) -> None:
    """Plan, validate and execute a tool workflow for TASK, and answer from what the tools returned."""
    console = Console(stderr=as_json)
    try:
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
        settings = MethodSettings(seed=seed, top_k_tools=top_k, search=search)
        settings.execution.call_timeout_s = call_timeout
        settings.execution.deadline_s = deadline
        config = load_servers(servers)
        secrets = config_secrets(config)
        install_log_redaction(secrets)
        model = load_model(planner)
        judge_model = load_model(judge) if judge else None
        recorder = None if no_store else RunStore(store or default_store_path(), secrets=secrets)
    except (EvofluxError, ValidationError) as e:
        _fail(e)
    observer: Observer = QuietObserver() if as_json else ConsoleObserver(console)

    async def main() -> RunResult:
        async with open_catalog(config, call_timeout=call_timeout) as catalog:
            if not as_json:
                console.print(
                    f"[dim]{len(catalog.tools)} tools from {len(catalog.servers)} servers · planner {planner}"
                    f" · method {method}[/]"
                )
            lm = LMPlanner(model)
            judge_planner = DimensionJudge(judge_model) if judge_model else None
            watcher: Observer = observer
            run_id = None
            if recorder is not None:
                prompt = lm.plan_messages(task, visible_tools(task, catalog, top_k))
                run_id = recorder.start_run(
                    task=task,
                    method=method,
                    planner=planner,
                    seed=seed,
                    settings=settings.model_dump(mode="json"),
                    prompt=prompt,
                )
                watcher = RecordingObserver(observer, recorder, run_id)
            result = await run_method(method, task, catalog, lm, settings, watcher, judge_planner)
            result = result.model_copy(update={"planner": planner})
            if recorder is not None and run_id is not None:
                recorder.finish_run(run_id, result)
            return result

    try:
        with console.status("working…") if not as_json else nullcontext():
            result = anyio.run(main)
    except EvofluxError as e:
        _fail(e)
    finally:
        for closable in (model, judge_model, recorder):
            close = getattr(closable, "close", None)
            if callable(close):
                close()
    # what the servers returned may quote their own environment: the printed result is redacted too
    shown = json.loads(redact(json.dumps(result.to_json(), ensure_ascii=False), secrets))
    if as_json:
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print_result(console, RunResult.model_validate(shown))
    raise typer.Exit(0 if result.feasible else 1)


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="The JSONL file to write.")],
    kind: Annotated[str, typer.Option("--format", help="sft (SFTTrainer) or dpo (DPOTrainer).")] = "sft",
    store: Annotated[Path | None, typer.Option(help="SQLite run store (default: in EVOFLUX_HOME).")] = None,
) -> None:
    """Export search-mined training data from the run store in the formats TRL reads."""
    path = store or default_store_path()
    if kind not in ("sft", "dpo"):
        _fail(EvofluxError(f"unknown format {kind!r}: use sft or dpo"))
    if not path.is_file():
        _fail(EvofluxError(f"run store {path} not found: run `evoflux run ... --method evoflux` first"))
    with RunStore(path) as recorder:
        count = recorder.export_sft(out) if kind == "sft" else recorder.export_dpo(out)
    err.print(f"wrote {count} {kind} examples to {out}", highlight=False)


@app.command()
def bench(
    tasks: Annotated[
        list[str],
        typer.Option(
            "--tasks", help="Task files: JSONL, or MCP-Bench runner-format .json (repeat, or comma-separate)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Directory for results.jsonl and summary.json.")],
    servers: ServersOpt = None,
    methods: Annotated[str, typer.Option(help="Comma-separated methods.")] = "zero-shot,evoflux",
    planner: Annotated[str, typer.Option(help="default | lite | gguf:PATH | openai:MODEL@URL")] = "default",
    seeds: Annotated[int, typer.Option(help="Seeds per task and method.")] = 1,
    budget: Annotated[str, typer.Option(help="Search budget for evoflux and self-repair.")] = "",
    limit: Annotated[int, typer.Option(help="Run only the first N tasks (0: all).")] = 0,
    jobs: Annotated[
        int,
        typer.Option(
            help="Runs at once (local: in this process; ray: in flight). With the embedded model on a CPU "
            "the model calls are serialized, so jobs mostly overlaps tool and server time."
        ),
    ] = 1,
    executor: Annotated[
        str, typer.Option(help="local (this process) or ray (a Ray task per run; needs 'evoflux[ray]').")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address", help="Ray cluster to connect to (default: $RAY_ADDRESS, else a local instance)."
        ),
    ] = None,
    ray_cpus: Annotated[
        float, typer.Option("--ray-cpus", help="CPUs Ray reserves for each run (ray executor).")
    ] = 1.0,
) -> None:
    """Run methods on task suites with checkable outcomes; resumable (finished lines are kept)."""
    make: PlannerFactory | None = None
    try:
        files = [f for item in tasks for f in item.split(",") if f]
        suite = load_tasks(files)[: limit or None]
        chosen = [m.strip() for m in methods.split(",") if m.strip()]
        unknown = [m for m in chosen if m not in METHODS]
        if unknown:
            raise EvofluxError(f"unknown method(s) {', '.join(unknown)}; choose among {', '.join(METHODS)}")
        if executor not in ("local", "ray"):
            raise EvofluxError(f"unknown executor {executor!r}: use local or ray")
        if jobs < 1:
            raise EvofluxError(f"--jobs must be at least 1, not {jobs}")
        settings = BenchSettings(
            methods=chosen,
            seeds=seeds,
            planner=planner,
            method=MethodSettings(search=SearchSettings(budget=Budget.parse(budget))),
        )
        config = load_servers(servers)
        install_log_redaction(config_secrets(config))
        if executor == "local":  # Ray workers build their own from the spec
            make = PlannerFactory(planner)
    except (EvofluxError, ValidationError) as e:
        _fail(e)
    todo = len(pending(suite, settings, out / "results.jsonl"))
    console = Console()
    with Progress(console=console) as bar:
        job = bar.add_task("benchmark", total=todo)

        def advance(row: dict[str, Any]) -> None:
            mark = (
                "skipped"
                if row.get("skipped")
                else "solved"
                if row["solved"]
                else ("feasible" if row["feasible"] else "failed")
            )
            bar.advance(job)
            done = int(bar.tasks[0].completed)
            wall = (row.get("usage") or {}).get("wall_s")
            took = f" in {wall:.0f} s" if isinstance(wall, int | float) else ""
            line = f"[{done}/{todo}] {row['task_id']} {row['method']} seed {row['seed']}: {mark}{took}"
            bar.console.print(line, highlight=False)

        async def main() -> list[dict[str, Any]]:
            if make is None:
                source = str(config.source.resolve()) if config.source else None
                return await run_bench_ray(
                    suite,
                    out,
                    settings,
                    servers=source,
                    progress=advance,
                    jobs=jobs,
                    address=ray_address,
                    cpus_per_run=ray_cpus,
                )
            return await run_bench(suite, out, make, settings, servers=config, progress=advance, jobs=jobs)

        try:
            rows = anyio.run(main)
        except EvofluxError as e:
            _fail(e)
        finally:
            if make is not None:
                make.close()
    summary = summarize(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown_table(summary) + "\n")
    print_summary(console, summary)
    plots = write_plots(summary, out)
    note = ", ".join(str(p) for p in plots) if plots else "no plots (pip install 'evoflux[bench]' for them)"
    err.print(
        f"wrote {out / 'results.jsonl'}, {out / 'summary.json'}, {out / 'summary.md'}; {note}",
        highlight=False,
    )


@app.command()
def models() -> None:
    """List the registered models and the accepted planner specs."""
    for name, info in MODELS.items():
        print(f"{name}: {info.title} ({info.size // 2**20} MiB)")
    print("planner specs:\n  " + "\n  ".join(SPEC_FORMS))


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
