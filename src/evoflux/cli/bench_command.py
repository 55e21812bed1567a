"""`evoflux bench`: methods on task suites with checkable outcomes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, cast

import anyio
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from evoflux.bench.ray_executor import run_bench_ray
from evoflux.bench.report import markdown_table, write_plots
from evoflux.bench.runner import BenchSettings, pending, run_bench, summarize
from evoflux.bench.suite import load_tasks, pick_tasks
from evoflux.cli.console import print_summary
from evoflux.cli.options import ServersOpt, ThreadsOpt, err, fail, use_threads
from evoflux.errors import EvofluxError
from evoflux.methods import METHODS, MethodSettings
from evoflux.planner.spec import PlannerFactory
from evoflux.search.budget import Budget
from evoflux.search.loop import SearchSettings
from evoflux.servers.config import load_servers
from evoflux.store.recording import config_secrets
from evoflux.store.redaction import install_log_redaction
from evoflux.workflow.writes import WriteMode

__all__ = ["bench"]


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
    writes: Annotated[
        str,
        typer.Option(
            help="staged (candidates never write; the chosen workflow is sent once) or live (every "
            "candidate sends its writes: the behaviour before staging). Runs use fresh workspaces, "
            "so destructive calls are confirmed."
        ),
    ] = "staged",
    limit: Annotated[int, typer.Option(help="Run only the first N tasks (0: all).")] = 0,
    sample: Annotated[
        int, typer.Option(help="Run a seeded sample of N tasks, in suite order (0: all); see --sample-seed.")
    ] = 0,
    sample_seed: Annotated[int, typer.Option(help="The seed that picks the --sample.")] = 0,
    only: Annotated[str, typer.Option(help="Comma-separated task ids to run (default: all).")] = "",
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
    threads: ThreadsOpt = None,
) -> None:
    """Run methods on task suites with checkable outcomes; resumable (finished lines are kept)."""
    make: PlannerFactory | None = None
    try:
        files = [f for item in tasks for f in item.split(",") if f]
        suite = pick_tasks(load_tasks(files), only=only, sample=sample, seed=sample_seed)[: limit or None]
        chosen = [m.strip() for m in methods.split(",") if m.strip()]
        unknown = [m for m in chosen if m not in METHODS]
        if unknown:
            raise EvofluxError(f"unknown method(s) {', '.join(unknown)}; choose among {', '.join(METHODS)}")
        if executor not in ("local", "ray"):
            raise EvofluxError(f"unknown executor {executor!r}: use local or ray")
        if jobs < 1:
            raise EvofluxError(f"--jobs must be at least 1, not {jobs}")
        if writes not in ("staged", "live"):
            raise EvofluxError(f"unknown --writes {writes!r}: use staged or live")
        settings = BenchSettings(
            methods=chosen,
            seeds=seeds,
            planner=planner,
            method=MethodSettings(
                search=SearchSettings(budget=Budget.parse(budget)), writes=cast(WriteMode, writes)
            ),
        )
        config = load_servers(servers)
        install_log_redaction(config_secrets(config))
        use_threads(threads)  # Ray workers read it from the environment
        if executor == "local":  # Ray workers build their own from the spec
            make = PlannerFactory(planner, threads=threads)
    except (EvofluxError, ValidationError) as e:
        fail(e)
    todo = len(pending(suite, settings, out / "results.jsonl"))
    console = Console()
    with Progress(console=console) as bar:
        job = bar.add_task("benchmark", total=todo)

        def advance(row: dict[str, Any]) -> None:
            if row.get("skipped"):
                mark = "skipped"
            elif row.get("solved_answer"):
                mark = "solved"
            elif row["solved"]:
                mark = "solved lenient only (a number only in a tool's output)"
            else:
                mark = f"not solved (the run said {row.get('status', 'failed')})"
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
            fail(e)
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
