"""A BFCL multi-turn entry as a benchmark task and as one row of `results.jsonl`: solved means BFCL's
checker found the backends' state and the calls' responses right after every turn."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evoflux.bench.bfcl.conversation import check_entry, run_conversation
from evoflux.bench.bfcl.data import Entry, load_entries, server_name
from evoflux.bench.tasks import BenchTask
from evoflux.errors import EvofluxError
from evoflux.methods import MethodSettings
from evoflux.protocols import Judge, Planner
from evoflux.workflow.writes import Confirm

__all__ = ["BFCL_PREFIX", "bfcl_row", "bfcl_tasks"]

BFCL_PREFIX = "bfcl:"
"""`--tasks bfcl:multi_turn_base` names a BFCL category instead of a task file."""
_USAGE = ("lm_calls", "prompt_tokens", "completion_tokens", "cached_tokens", "tool_calls", "wall_s")


def bfcl_tasks(name: str) -> list[BenchTask]:
    """The entries of `bfcl:CATEGORY` as benchmark tasks (the first turn as the task, for listings)."""
    category = name.removeprefix(BFCL_PREFIX)
    return [
        BenchTask(
            id=entry.id,
            task=entry.turns[0],
            servers=[server_name(c) for c in entry.involved_classes],
            bfcl=category,
        )
        for entry in load_entries(category)
    ]


def _entry(task: BenchTask) -> Entry:
    for entry in load_entries(task.bfcl):
        if entry.id == task.id:
            return entry
    raise EvofluxError(f"no BFCL entry {task.id!r} in {task.bfcl}")


async def bfcl_row(
    task: BenchTask,
    method: str,
    settings: MethodSettings,
    make_planner: Callable[[], Planner],
    *,
    judge: Judge | None,
    confirm: Confirm | None,
    connect_timeout: float,
) -> dict[str, Any]:
    """The entry run turn by turn and checked: valid or not (BFCL's error type and message), each turn's
    task, status, answer and calls, and the usage, writes, nodes and diagnostics of all turns together."""
    entry = _entry(task)
    with tempfile.TemporaryDirectory(prefix="evoflux-bfcl-") as workspace:
        turns = await run_conversation(
            entry,
            task.bfcl,
            method,
            settings,
            make_planner,
            Path(workspace),
            judge=judge,
            confirm=confirm,
            connect_timeout=connect_timeout,
        )
    verdict = check_entry(entry, task.bfcl, [turn["calls"] for turn in turns])
    results = [turn["result"] for turn in turns]
    statuses = [r.get("status") for r in results]
    status = "failed" if "failed" in statuses else "answered" if set(statuses) == {"answered"} else "partial"
    valid = bool(verdict.get("valid"))
    return {
        "task": entry.turns[0],
        "bfcl": {
            "category": task.bfcl,
            "valid": valid,
            "error_type": verdict.get("error_type", ""),
            "error_message": str(verdict.get("error_message", ""))[:500],
        },
        "solved": valid,
        "solved_answer": valid,
        "feasible": all(r.get("feasible") for r in results),
        "status": status,
        "turns": [
            {
                "task": turn["task"],
                "status": r.get("status"),
                "answer": r.get("answer"),
                "calls": turn["calls"],
                "usage": r.get("usage", {}),
            }
            for turn, r in zip(turns, results, strict=True)
        ],
        "usage": {key: sum(r.get("usage", {}).get(key, 0) for r in results) for key in _USAGE},
        "writes": [w for r in results for w in r.get("writes") or []],
        "workflow": {"nodes": [n for r in results for n in (r.get("workflow") or {}).get("nodes", [])]},
        "diagnostics": [d for r in results for d in r.get("diagnostics") or []],
    }
