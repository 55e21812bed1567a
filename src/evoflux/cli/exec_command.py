"""`evoflux exec`: run a saved workflow (a plan file, a `run --json` result, or a recorded run) without
a model."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from pydantic import ValidationError
from rich.console import Console

from evoflux.cli.console import ConsoleObserver, print_result, workflow_tree
from evoflux.cli.options import JsonOpt, ServersOpt, confirmer, fail
from evoflux.errors import EvofluxError
from evoflux.methods.result import RunResult, RunUsage, workflow_json
from evoflux.models.lm import Usage
from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import load_servers
from evoflux.store.recording import config_secrets, default_store_path
from evoflux.store.redaction import install_log_redaction, redact
from evoflux.store.runs import RunStore
from evoflux.workflow.evaluate import evaluate
from evoflux.workflow.evidence import evidence_text
from evoflux.workflow.graph import Workflow
from evoflux.workflow.writes import Ledger, WritePolicy

__all__ = ["exec_workflow", "load_saved"]

NOT_CHECKED = "not checked: exec runs no model, so no judge split the task into parts"


def load_saved(data: Any) -> tuple[Workflow, str]:
    """The workflow and task of a saved plan (`{"nodes", "answer"}`) or run result (`{"workflow", "task"}`,
    as `evoflux run --json` prints it); `EvofluxError` for anything else."""
    if isinstance(data, dict) and isinstance(data.get("workflow"), dict):
        plan, task = data["workflow"], str(data.get("task") or "")
    else:
        plan, task = data, ""
    if not isinstance(plan, dict) or not isinstance(plan.get("nodes"), list) or not plan["nodes"]:
        raise EvofluxError('no workflow here: give a plan {"nodes": [...], "answer": {...}} or a run result')
    nodes = [{k: n[k] for k in ("id", "tool", "args", "why") if k in n} for n in plan["nodes"]]
    try:
        return Workflow.model_validate({"nodes": nodes, "answer": plan.get("answer") or {}}), task
    except ValidationError as e:
        raise EvofluxError(f"the workflow is malformed: {e}") from e


def exec_workflow(
    workflow_file: Annotated[
        Path | None, typer.Argument(help="A plan JSON file, or a result saved from `evoflux run --json`.")
    ] = None,
    run_id: Annotated[
        int | None, typer.Option("--run", help="Run the chosen workflow of a recorded run.")
    ] = None,
    store: Annotated[Path | None, typer.Option(help="SQLite run store (with --run).")] = None,
    servers: ServersOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Send no call that may change state.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Send destructive calls without asking.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a saved workflow over the servers, without a model: validated, each call sent once, the
    answer from its template or the outputs. Exit 0 when every step ran, 1 when one did not, 2 on a
    usage error. No model judges the task's parts, so the status is at best `partial`."""
    console = Console(stderr=as_json)
    try:
        if (workflow_file is None) == (run_id is None):
            raise EvofluxError("give a workflow file or --run ID (one of them)")
        if workflow_file is not None:
            try:
                data = json.loads(workflow_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise EvofluxError(f"cannot read {workflow_file}: {e}") from e
        else:
            with RunStore(store or default_store_path()) as recorder:
                rows = [r for r in recorder.runs() if r["id"] == run_id]
            if not rows or rows[0]["result"] is None:
                raise EvofluxError(f"no finished run {run_id} in the store: `evoflux runs` lists them")
            data = rows[0]["result"]
        workflow, task = load_saved(data)
        config = load_servers(servers)
        secrets = config_secrets(config)
        install_log_redaction(secrets)
    except EvofluxError as e:
        fail(e)
    if not as_json:
        console.print(workflow_tree(workflow, title="workflow"))
    observer = ConsoleObserver(console)
    confirm = confirmer(console, None, yes, secrets)
    ledger = Ledger(on_change=observer.write)
    policy = WritePolicy(send=not dry_run, replay=True, ledger=ledger, confirm=confirm)

    async def main() -> RunResult:
        started = time.monotonic()
        async with open_catalog(config) as catalog:
            trace = await evaluate(
                task, workflow, catalog, on_event=None if as_json else observer.event, writes=policy
            )
        result = RunResult(
            method="exec",
            task=task,
            feasible=trace.feasible,
            status="partial" if trace.feasible or (dry_run and trace.pending) else "failed",
            answer=trace.answer or "",
            workflow=workflow_json(workflow, trace),
            diagnostics=trace.diagnostics,
            usage=RunUsage.of(Usage(), trace.tool_calls, time.monotonic() - started),
            writes=list(policy.ledger.entries),
            write_mode="dry-run" if dry_run else "live",
            unchecked=NOT_CHECKED,
            evidence=evidence_text(workflow, trace, every_node=True),
        )
        return result

    try:
        result = anyio.run(main)
    except EvofluxError as e:
        fail(e)
    shown = json.loads(redact(json.dumps(result.to_json(), ensure_ascii=False), secrets))
    if as_json:
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print_result(console, RunResult.model_validate(shown))
    raise typer.Exit(0 if result.feasible else 1)
