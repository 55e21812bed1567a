"""The benchmark runner: tasks x methods x seeds, one line of `results.jsonl` each, resumable."""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, Field

from evoflux.bench.bfcl.row import bfcl_row
from evoflux.bench.score import score_result
from evoflux.bench.tasks import BenchTask
from evoflux.errors import EvofluxError
from evoflux.methods import MethodSettings, run_method
from evoflux.protocols import Judge, Planner
from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import ServersConfig, load_servers

__all__ = [
    "BenchSettings",
    "Run",
    "append_row",
    "completed",
    "open_results",
    "pending",
    "read_rows",
    "run_bench",
    "run_one",
    "summarize",
]

Progress = Callable[[dict[str, Any]], None]
Run = tuple[BenchTask, str, int]
"""One (task, method, seed) to run."""


class BenchSettings(BaseModel):
    """What a benchmark run compares."""

    methods: list[str] = Field(default_factory=lambda: ["zero-shot", "evoflux"])
    seeds: int = Field(default=1, ge=1)
    planner: str = "default"
    method: MethodSettings = Field(default_factory=MethodSettings)
    connect_timeout_s: float = 120.0
    confirm_destructive: bool = Field(
        default=True,
        description="Send destructive calls unasked: each run gets a fresh workspace and fresh servers, "
        "so a benchmark is a sandbox; point it only at servers whose state may be thrown away.",
    )


def read_rows(results: Path) -> list[dict[str, Any]]:
    """Every whole row of `results` (none when it does not exist yet)."""
    rows: list[dict[str, Any]] = []
    if results.is_file():
        for line in results.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by an interrupt is run again
            if isinstance(row, dict):
                rows.append(row)
    return rows


def completed(results: Path) -> set[tuple[str, str, int]]:
    """(task id, method, seed) of every line already written."""
    done: set[tuple[str, str, int]] = set()
    for row in read_rows(results):
        try:
            done.add((row["task_id"], row["method"], int(row["seed"])))
        except (ValueError, KeyError, TypeError):
            continue
    return done


def pending(tasks: Sequence[BenchTask], settings: BenchSettings, results: Path) -> list[Run]:
    """The runs `results` does not hold yet, task by task, then method, then seed."""
    done = completed(results)
    return [
        (task, method, seed)
        for task in tasks
        for method in settings.methods
        for seed in range(settings.seeds)
        if (task.id, method, seed) not in done
    ]


def open_results(out: Path) -> Path:
    """`out/results.jsonl`, with `out` made and a last line cut by an interrupt ended, so that the next
    append starts a line of its own."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    if results.is_file() and results.stat().st_size:
        with results.open("rb+") as f:
            f.seek(-1, 2)
            if f.read(1) != b"\n":
                f.write(b"\n")
    return results


def _yes(tool: str, arguments: dict[str, Any]) -> bool:
    return True


def append_row(results: Path, row: dict[str, Any]) -> None:
    """Append one whole line. No await inside, so concurrent runs on one event loop never interleave."""
    with results.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


async def run_one(
    task: BenchTask,
    method: str,
    seed: int,
    servers: ServersConfig | str | None,
    make_planner: Callable[[], Planner],
    settings: BenchSettings,
    judge: Judge | None,
) -> dict[str, Any]:
    """One (task, method, seed) in a fresh workspace against fresh server processes: its scored row, or a
    skipped row with the reason when its servers cannot start or the run fails with an `EvofluxError`."""
    base: dict[str, Any] = {"task_id": task.id, "method": method, "seed": seed, "planner": settings.planner}
    if task.bfcl:  # a conversation against BFCL's backends, scored by BFCL's checker
        try:
            row = await bfcl_row(
                task,
                method,
                settings.method.model_copy(update={"seed": seed}),
                make_planner,
                judge=judge,
                confirm=_yes if settings.confirm_destructive else None,
                connect_timeout=settings.connect_timeout_s,
            )
        except EvofluxError as e:
            return {**base, "skipped": True, "reason": str(e), "solved": False, "feasible": False}
        return {**row, **base, "method": method, "skipped": False}
    with tempfile.TemporaryDirectory(prefix="evoflux-bench-") as workspace:
        try:
            source = servers.source if isinstance(servers, ServersConfig) else servers
            config = load_servers(source, workspace=workspace)
            if task.servers:
                config = config.select(task.servers)
        except EvofluxError as e:
            return {**base, "skipped": True, "reason": str(e), "solved": False, "feasible": False}
        try:
            async with open_catalog(
                config,
                call_timeout=settings.method.execution.call_timeout_s,
                connect_timeout=settings.connect_timeout_s,
            ) as catalog:
                method_settings = settings.method.model_copy(update={"seed": seed})
                confirm = _yes if settings.confirm_destructive else None
                result = await run_method(
                    method, task.task, catalog, make_planner(), method_settings, None, judge, confirm
                )
        except EvofluxError as e:
            return {**base, "skipped": True, "reason": str(e), "solved": False, "feasible": False}
    row = {**result.to_json(), **base, "skipped": False}
    score = score_result(task, row)
    row.update(
        solved=score.solved,
        solved_answer=score.solved_answer,
        checks=score.model_dump(exclude={"solved", "solved_answer", "feasible"}),
    )
    return row


async def run_bench(
    tasks: Sequence[BenchTask],
    out: Path,
    make_planner: Callable[[], Planner],
    settings: BenchSettings,
    *,
    servers: ServersConfig | str | None = None,
    judge: Judge | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> list[dict[str, Any]]:
    """Run what `out/results.jsonl` does not hold yet, `jobs` runs at a time; return every row of it
    afterwards. `progress` is called with each row once it is written."""
    if jobs < 1:
        raise EvofluxError(f"jobs must be at least 1, not {jobs}")
    results = open_results(out)
    limiter = anyio.CapacityLimiter(jobs)

    async def one(task: BenchTask, method: str, seed: int) -> None:
        async with limiter:  # first come, first served: with jobs=1 the runs go in order
            row = await run_one(task, method, seed, servers, make_planner, settings, judge)
        append_row(results, row)
        if progress is not None:
            progress(row)

    async with anyio.create_task_group() as group:
        for task, method, seed in pending(tasks, settings, results):
            group.start_soon(one, task, method, seed)
    return read_rows(results)


def _mean_ci(values: list[float]) -> dict[str, float]:
    """Mean, standard deviation, a normal-approximation 95% confidence half-width and `n`, the number of
    seeds (with one, there is no interval to give)."""
    if not values:
        return {"mean": 0.0, "std": 0.0, "ci95": 0.0, "n": 0}
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {
        "mean": round(mean, 4),
        "std": round(std, 4),
        "ci95": round(1.96 * std / math.sqrt(len(values)), 4),
        "n": len(values),
    }


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: feasibility, the solved rate answer-only (`solved_answer`, the headline) and lenient
    (`solved`), and the share the run itself called answered (mean over seeds of the per-seed rate, with
    std and CI),
    the MCP-Bench rule-based rates, and the cost per run and per feasible task."""
    summary: dict[str, dict[str, Any]] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        ran = [r for r in mine if not r.get("skipped")]
        seeds = sorted({r["seed"] for r in ran})
        per_seed = {s: [r for r in ran if r["seed"] == s] for s in seeds}
        feasible = [sum(r["feasible"] for r in rs) / len(rs) for rs in per_seed.values() if rs]
        solved = [sum(r["solved"] for r in rs) / len(rs) for rs in per_seed.values() if rs]
        by_answer = [
            sum(r.get("solved_answer", False) for r in rs) / len(rs) for rs in per_seed.values() if rs
        ]
        answered = [
            sum(r.get("status") == "answered" for r in rs) / len(rs) for rs in per_seed.values() if rs
        ]
        usage = [r.get("usage", {}) for r in ran]
        tokens = sum(u.get("prompt_tokens", 0) + u.get("completion_tokens", 0) for u in usage)
        n_feasible = sum(r["feasible"] for r in ran)
        summary[method] = {
            "runs": len(ran),
            "skipped": len(mine) - len(ran),
            "seeds": len(seeds),
            "feasibility": _mean_ci(feasible),
            "solved_answer": _mean_ci(by_answer) if any("solved_answer" in r for r in ran) else None,
            "solved": _mean_ci(solved),
            "answered": _mean_ci(answered) if any("status" in r for r in ran) else None,
            **_rule_rates(ran),
            "lm_calls": _avg(u.get("lm_calls", 0) for u in usage),
            "prompt_tokens": _avg(u.get("prompt_tokens", 0) for u in usage),
            "completion_tokens": _avg(u.get("completion_tokens", 0) for u in usage),
            "tool_calls": _avg(u.get("tool_calls", 0) for u in usage),
            "wall_s": _avg(u.get("wall_s", 0.0) for u in usage),
            "writes_sent": _avg(len(r.get("writes") or []) for r in ran),
            "by_kind": _by_kind(usage),
            "tokens_per_feasible": round(tokens / n_feasible, 1) if n_feasible else None,
        }
    return summary


def _per_seed(
    per_seed: dict[int, list[dict[str, Any]]], hit: Callable[[dict[str, Any]], bool]
) -> list[float]:
    """Per seed, the share of its rows for which `hit` holds."""
    return [sum(hit(r) for r in rs) / len(rs) for rs in per_seed.values() if rs]


def _by_kind(usage: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per kind of model call, its calls and seconds per run: where the model time goes."""
    kinds = sorted({kind for u in usage for kind in u.get("by_kind") or {}})
    return {
        kind: {
            field: _avg((u.get("by_kind") or {}).get(kind, {}).get(field, 0) for u in usage)
            for field in ("calls", "seconds")
        }
        for kind in kinds
    }


def _avg(values: Any) -> float:
    items = list(values)
    return round(statistics.fmean(items), 2) if items else 0.0


def _rule_rates(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """MCP-Bench's rule-based rates over the final workflows' nodes: valid tool names, input schema
    compliance (nodes not blamed by a schema diagnostic), and execution success (nodes that ran ok)."""
    nodes = resolve_bad = schema_bad = ran = ok = 0
    for row in rows:
        wf_nodes = row.get("workflow", {}).get("nodes", []) or []
        stages = [(d.get("stage"), d.get("node")) for d in row.get("diagnostics", [])]
        nodes += len(wf_nodes)
        resolve_bad += sum(1 for s, _ in stages if s == "resolve")
        schema_bad += len({n for s, n in stages if s == "schema" and n})
        ran += sum(1 for n in wf_nodes if n.get("status") in ("ok", "error"))
        ok += sum(1 for n in wf_nodes if n.get("status") == "ok")
    return {
        "valid_tool_name_rate": round(1 - resolve_bad / nodes, 4) if nodes else None,
        "schema_compliance_rate": round(1 - schema_bad / nodes, 4) if nodes else None,
        "execution_success_rate": round(ok / ran, 4) if ran else None,
    }
