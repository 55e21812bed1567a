"""Benchmark suites, scoring and the resumable runner (over the real toy server; `ScriptedPlanner` is the
test double standing in for the model)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from evoflux.bench.runner import BenchSettings, completed, run_bench, summarize
from evoflux.bench.score import score_result
from evoflux.bench.suite import load_tasks, pick_tasks
from evoflux.bench.tasks import BenchTask, SuiteError
from evoflux.planner.plans import PlanResult
from evoflux.planner.scripted import ScriptedPlanner
from evoflux.scoring.coverage import Coverage
from evoflux.servers.tools import ToolSpec

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def task(**checks: Any) -> BenchTask:
    return BenchTask.model_validate(
        {"id": "t1", "task": "Add 2 and 3.", "servers": ["toy"], "checks": checks}
    )


def result(
    feasible: bool = True, answer: str = "The sum is 5.", nodes: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    nodes = (
        nodes
        if nodes is not None
        else [{"id": "n1", "tool": "toy.add", "status": "ok", "output": {"sum": 5}}]
    )
    return {"feasible": feasible, "answer": answer, "workflow": {"nodes": nodes}}


def test_tasks_load_from_jsonl_ignoring_unknown_fields(tmp_path: Path) -> None:
    path = tmp_path / "suite.jsonl"
    rows = [
        {
            "id": "a",
            "task": "x",
            "servers": ["s"],
            "checks": {"numbers": [{"value": 1.5, "tol": 0.1}]},
            "extra": 1,
        },
        {"id": "b", "task": "y", "checks": {"contains": ["Oslo"], "tools": ["s.t|s.u"]}, "min_steps": 3},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    tasks = load_tasks([path])
    assert [t.id for t in tasks] == ["a", "b"]
    assert tasks[0].checks.numbers[0].value == 1.5 and tasks[1].min_steps == 3
    path.write_text(json.dumps(rows[0]) + "\n" + json.dumps(rows[0]) + "\n")
    with pytest.raises(SuiteError, match="appears twice"):
        load_tasks([path])
    path.write_text('{"id": "a"}\n')
    with pytest.raises(SuiteError, match=":1: not a task"):
        load_tasks([path])


def test_solved_needs_feasible_numbers_contains_and_tools() -> None:
    checks = {"numbers": [{"value": 5, "tol": 0.01}], "contains": ["SUM"], "tools": ["toy.add|toy.plus"]}
    assert score_result(task(**checks), result()).solved
    assert score_result(task(**checks), result()).solved_answer
    # a number found only in an executed output counts for the lenient rate, not for the headline
    lenient = score_result(task(numbers=[{"value": 5, "tol": 0}]), result(answer="done"))
    assert lenient.solved and not lenient.solved_answer
    assert lenient.failed_checks == ["number 5 ± 0 only in a tool's output"]
    missed = score_result(task(**checks), result(answer="The total is 6."))
    assert not missed.solved and "number 5 ± 0.01 not found" not in missed.failed_checks  # 5 is in the output
    assert "answer lacks 'SUM'" in missed.failed_checks
    failed_tool = [{"id": "n1", "tool": "toy.add", "status": "error"}]
    no_tool = score_result(task(tools=["toy.add"]), result(nodes=failed_tool))
    assert not no_tool.solved and no_tool.failed_checks == ["toy.add was not called successfully"]
    assert score_result(task(), result(feasible=False)).failed_checks == ["not feasible"]
    assert not score_result(task(numbers=[{"value": 7, "tol": 1.5}]), result(answer="4")).solved


GOOD = {
    "nodes": [{"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}],
    "answer": {"uses": ["n1"], "template": "The sum is {{n1.sum}}."},
}


@pytest.mark.anyio
async def test_the_runner_scores_records_resumes_and_skips(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}))
    tasks = [
        task(numbers=[{"value": 5, "tol": 0}], tools=["toy.add"]),
        BenchTask(id="t2", task="Use a server nobody configured.", servers=["nowhere"]),
    ]
    made: list[ScriptedPlanner] = []

    def make() -> ScriptedPlanner:
        planner = ScriptedPlanner([GOOD], judge_fn=lambda t, e, a: Coverage(score=1.0))
        made.append(planner)
        return planner

    settings = BenchSettings(methods=["zero-shot", "evoflux"], seeds=2, planner="scripted")
    out = tmp_path / "out"
    with anyio.fail_after(120):
        rows = await run_bench(tasks, out, make, settings, servers=str(config))
    assert len(rows) == 8 and len(made) == 4  # the unknown server's runs never build a planner
    solved = [r for r in rows if r["task_id"] == "t1"]
    assert all(r["solved"] and r["feasible"] and not r["skipped"] for r in solved)
    skipped = [r for r in rows if r["task_id"] == "t2"]
    assert all(r["skipped"] and "nowhere" in r["reason"] for r in skipped)
    assert completed(out / "results.jsonl") == {
        (t, m, s) for t in ("t1", "t2") for m in settings.methods for s in (0, 1)
    }
    with anyio.fail_after(60):
        again = await run_bench(tasks, out, make, settings, servers=str(config))
    assert len(again) == 8 and len(made) == 4  # resumed: nothing ran twice
    summary = summarize(again)
    assert summary["zero-shot"]["runs"] == 2 and summary["zero-shot"]["skipped"] == 2
    assert summary["evoflux"]["solved"] == {"mean": 1.0, "std": 0.0, "ci95": 0.0, "n": 2}
    assert summary["evoflux"]["execution_success_rate"] == 1.0


class MeetingPlanner(ScriptedPlanner):
    """Plans only once another run is planning at the same time (a barrier), so that a run that waits
    for the other to finish first fails instead of passing."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__([GOOD])
        self.barrier = barrier

    def plan(
        self, task: str, tools: Sequence[ToolSpec], *, seed: int = 0, temperature: float = 0.0
    ) -> PlanResult:
        self.barrier.wait()
        return super().plan(task, tools, seed=seed, temperature=temperature)


@pytest.mark.anyio
async def test_jobs_run_concurrently_and_each_line_is_whole(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}))
    sums = [task(numbers=[{"value": 5, "tol": 0}]).model_copy(update={"id": i}) for i in ("a", "b")]
    barrier = threading.Barrier(2, timeout=60)
    reported: list[dict[str, Any]] = []
    settings = BenchSettings(methods=["zero-shot"], seeds=1, planner="scripted")
    with anyio.fail_after(90):
        rows = await run_bench(
            sums,
            tmp_path / "out",
            lambda: MeetingPlanner(barrier),
            settings,
            servers=str(config),
            progress=reported.append,
            jobs=2,
        )
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["task_id"] for line in lines) == ["a", "b"]
    assert sorted(r["task_id"] for r in reported) == ["a", "b"] and len(rows) == 2
    assert all(r["solved"] and r["method"] == "zero-shot" and r["seed"] == 0 for r in rows)


def test_summary_reports_rates_over_seeds_with_a_confidence_interval() -> None:
    def row(seed: int, feasible: bool, solved: bool) -> dict[str, Any]:
        usage: dict[str, Any] = {"lm_calls": 2, "prompt_tokens": 100, "completion_tokens": 10}
        usage |= {"tool_calls": 1, "wall_s": 1.0, "by_kind": {"plan": {"calls": 1, "seconds": 2.0 + seed}}}
        return {
            "task_id": f"t{seed}",
            "method": "m",
            "seed": seed,
            "feasible": feasible,
            "solved": solved,
            "usage": usage,
            "workflow": {"nodes": []},
            "diagnostics": [],
        }

    rows = [row(0, True, True), row(0, True, False), row(1, False, False), row(1, True, False)]
    m = summarize(rows)["m"]
    assert m["feasibility"]["mean"] == 0.75 and m["solved"]["mean"] == 0.25
    assert m["feasibility"]["std"] == pytest.approx(0.3536, abs=1e-4)
    assert m["feasibility"]["ci95"] == pytest.approx(1.96 * 0.3536 / 2**0.5, abs=1e-3)
    assert m["tokens_per_feasible"] == round(440 / 3, 1)
    assert m["by_kind"] == {"plan": {"calls": 1.0, "seconds": 2.5}}  # model time per kind of call, per run


def test_negative_numbers_are_matched_with_their_sign() -> None:
    cold = task(numbers=[{"value": -40, "tol": 0.01}])
    assert score_result(cold, result(answer="It is -40 degrees.")).solved
    assert not score_result(cold, result(answer="It is 40 degrees.", nodes=[])).solved
    assert score_result(
        task(numbers=[{"value": 1, "tol": 0}]), result(answer="on 2025-01-07", nodes=[])
    ).solved


def test_the_report_has_a_row_per_method_and_two_plots(tmp_path: Path) -> None:
    from evoflux.bench.report import markdown_table, write_plots

    usage = {"lm_calls": 2, "prompt_tokens": 100, "completion_tokens": 10, "tool_calls": 1, "wall_s": 1.0}
    rows = [
        {"task_id": "a", "method": m, "seed": 0, "feasible": f, "solved": f, "usage": usage, "workflow": {}}
        for m, f in (("zero-shot", False), ("evoflux", True))
    ]
    rows[1] |= {"solved_answer": True, "status": "answered"}
    summary = summarize(rows)
    table = markdown_table(summary)
    assert table.count("\n") == 3 and "| evoflux | 1 | 100.0% | 100.0% | 100.0% | 100.0% |" in table
    plots = write_plots(summary, tmp_path)
    assert [p.name for p in plots] == ["rates.png", "tokens_vs_solved.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)


class TemperatureLog(ScriptedPlanner):
    """A scripted test double that records the temperature of every plan it is asked for."""

    def __init__(self, log: list[float]) -> None:
        super().__init__([GOOD])
        self.log = log

    def plan(
        self, task: str, tools: Sequence[ToolSpec], *, seed: int = 0, temperature: float = 0.0
    ) -> PlanResult:
        self.log.append(temperature)
        return super().plan(task, tools, seed=seed, temperature=temperature)


@pytest.mark.anyio
async def test_seed_zero_plans_greedily_and_other_seeds_sample(tmp_path: Path) -> None:
    from evoflux.models.decoding import SAMPLED_TEMPERATURE

    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}))
    log: list[float] = []
    settings = BenchSettings(methods=["zero-shot"], seeds=2, planner="scripted")
    with anyio.fail_after(60):
        rows = await run_bench(
            [task()], tmp_path / "out", lambda: TemperatureLog(log), settings, servers=str(config)
        )
    assert sorted(r["seed"] for r in rows) == [0, 1]
    assert sorted(log) == [0.0, SAMPLED_TEMPERATURE]


def test_the_shipped_suites_are_well_formed_and_disjoint() -> None:
    root = Path(__file__).resolve().parents[2]
    servers = json.loads((root / "src" / "evoflux" / "data" / "servers.json").read_text())["mcpServers"]
    dev = load_tasks([root / "benchmarks" / "dev.jsonl"])
    heldout = load_tasks([root / "benchmarks" / "heldout.jsonl"])
    paraphrase = load_tasks([root / "benchmarks" / "paraphrase.jsonl"])
    assert len(dev) >= 30 and len(heldout) == 20 and len(paraphrase) == 40
    assert not {t.id for t in dev} & {t.id for t in heldout}
    assert not {t.task for t in dev} & {t.task for t in heldout}
    originals = {t.id: t for t in heldout}
    for t in paraphrase:  # the same checks as the task it rewrites, in other words
        original = originals[t.id.split("-", 1)[1]]
        assert t.task not in {o.task for o in heldout} and t.checks.numbers == original.checks.numbers
        assert t.checks.contains == original.checks.contains and t.servers == original.servers
    for t in dev + heldout + paraphrase:
        assert t.servers and set(t.servers) <= set(servers), t.id
        assert t.checks.numbers or t.checks.contains, t.id
        for alternatives in t.checks.tools:
            assert {a.split(".", 1)[0] for a in alternatives.split("|")} <= set(t.servers), t.id


def test_a_seeded_sample_is_the_same_subset_in_suite_order_every_time() -> None:
    suite = load_tasks([Path(__file__).resolve().parents[2] / "benchmarks" / "dev.jsonl"])
    first = [t.id for t in pick_tasks(suite, sample=10, seed=22)]
    assert first == [t.id for t in pick_tasks(suite, sample=10, seed=22)] and len(first) == 10
    assert first == [t.id for t in suite if t.id in first]  # suite order
    assert first != [t.id for t in pick_tasks(suite, sample=10, seed=23)]
    assert [t.id for t in pick_tasks(suite, only="m01-write-read-shopping,s01-fahrenheit-to-celsius")] == [
        "s01-fahrenheit-to-celsius",
        "m01-write-read-shopping",
    ]
    with pytest.raises(SuiteError, match="no task with id nope"):
        pick_tasks(suite, only="nope")
