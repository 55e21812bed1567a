"""The commands that read the run store: `runs`, `show` and `export`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evoflux.cli.console import print_result, workflow_tree
from evoflux.cli.options import JsonOpt, err, fail
from evoflux.errors import EvofluxError
from evoflux.methods.result import RunResult
from evoflux.store.recording import default_store_path
from evoflux.store.runs import RunStore
from evoflux.workflow.graph import Workflow

__all__ = ["export", "runs", "show"]

StoreOpt = Annotated[Path | None, typer.Option(help="SQLite run store (default: in EVOFLUX_HOME).")]
_STYLE = {"answered": "green", "partial": "yellow", "failed": "red"}


def _open(store: Path | None) -> RunStore:
    path = store or default_store_path()
    if not path.is_file():
        fail(EvofluxError(f"run store {path} not found: `evoflux run` records each run there"))
    return RunStore(path)


def runs(
    store: StoreOpt = None,
    last: Annotated[int, typer.Option(help="How many of the latest runs to list (0: all).")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List the recorded runs, newest last: task, status, time and cost."""
    with _open(store) as recorder:
        rows = recorder.runs()
    rows = rows[-last:] if last > 0 else rows
    keys = ("id", "started_at", "method", "planner", "status", "task", "lm_calls", "tool_calls", "wall_s")
    if as_json:
        print(json.dumps([{k: row[k] for k in keys} for row in rows], ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} runs")
    for column in ("id", "started", "method", "status", "task", "model calls", "tool calls", "wall s"):
        table.add_column(column, overflow="fold")
    for row in rows:
        status = row["status"] or ("unfinished" if row["finished_at"] is None else "not recorded")
        table.add_row(
            str(row["id"]),
            str(row["started_at"])[:19].replace("T", " "),
            escape(row["method"]),
            f"[{_STYLE.get(status, 'dim')}]{status}[/]",
            escape(row["task"]),
            _count(row["lm_calls"]),
            _count(row["tool_calls"]),
            "" if row["wall_s"] is None else f"{row['wall_s']:.1f}",
        )
    Console().print(table)


def show(
    run_id: Annotated[int, typer.Argument(help="The run's id (see `evoflux runs`).")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One recorded run: the workflow, the answer, the checklist of parts, the writes and the evidence."""
    with _open(store) as recorder:
        found = [row for row in recorder.runs() if row["id"] == run_id]
        writes = recorder.writes(run_id)
    if not found:
        fail(EvofluxError(f"no run {run_id} in the store: `evoflux runs` lists them"))
    row = found[0]
    if as_json:
        print(json.dumps({"run": row, "writes": writes}, ensure_ascii=False, default=str))
        return
    console = Console()
    console.print(f"[bold]run {run_id}[/] · {escape(row['task'])}", highlight=False)
    if row["result"] is None:
        console.print("[yellow]unfinished: the run stopped before it recorded a result[/]")
        for w in writes:
            console.print(f"  {escape(w['tool'])} {escape(json.dumps(w['arguments']))} → {w['status']}")
        raise typer.Exit(1)
    result = RunResult.model_validate(row["result"])
    nodes = result.workflow.get("nodes") or []
    if nodes:
        plan = {"nodes": [{k: n[k] for k in ("id", "tool", "args")} for n in nodes]}
        console.print(
            workflow_tree(Workflow.model_validate(plan | {"answer": result.workflow.get("answer", {})}))
        )
    if row["status"] is None:
        console.print("[dim]recorded before runs had a status: feasibility only[/]")
    print_result(console, result, show_evidence=True)


def export(
    out: Annotated[Path, typer.Option(help="The JSONL file to write.")],
    kind: Annotated[str, typer.Option("--format", help="sft (SFTTrainer) or dpo (DPOTrainer).")] = "sft",
    status: Annotated[
        str, typer.Option(help="Runs to take: answered, or a comma-separated list of statuses, or any.")
    ] = "answered",
    store: StoreOpt = None,
) -> None:
    """Export search-mined training data from the run store in the formats TRL reads."""
    if kind not in ("sft", "dpo"):
        fail(EvofluxError(f"unknown format {kind!r}: use sft or dpo"))
    wanted = None if status == "any" else [s.strip() for s in status.split(",") if s.strip()]
    unknown = set(wanted or ()) - set(_STYLE)
    if unknown:
        fail(
            EvofluxError(f"unknown status {', '.join(sorted(unknown))}: use answered, partial, failed or any")
        )
    with _open(store) as recorder:
        if kind == "sft":
            count = recorder.export_sft(out, statuses=wanted)
        else:
            count = recorder.export_dpo(out, statuses=wanted)
    err.print(f"wrote {count} {kind} examples to {out} (runs: {status})", highlight=False)


def _count(value: Any) -> str:
    return "" if value is None else str(value)
