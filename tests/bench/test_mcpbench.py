"""MCP-Bench's runner-format task files (arXiv 2508.20453) read as benchmark tasks, and run by the runner
(over the real toy server; `ScriptedPlanner` stands in for the model)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from evoflux.bench.mcpbench import ALWAYS_SHOWN, load_mcpbench, parse_mcpbench, server_name
from evoflux.bench.runner import BenchSettings, run_bench
from evoflux.bench.suite import load_tasks
from evoflux.bench.tasks import SuiteError
from evoflux.planner.scripted import ScriptedPlanner

DATA = Path("/work/shared/mcpbench")
FILES = {
    "single": DATA / "mcpbench_tasks_single_runner_format.json",
    "two": DATA / "mcpbench_tasks_multi_2server_runner_format.json",
    "three": DATA / "mcpbench_tasks_multi_3server_runner_format.json",
}
TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")

shared = pytest.mark.skipif(not all(p.is_file() for p in FILES.values()), reason="no MCP-Bench data here")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def raw_tasks(path: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(group, task) for group in data["server_tasks"] for task in group["tasks"]]


@shared
def test_each_file_loads_all_its_tasks_with_their_original_ids() -> None:
    counts = {name: len(load_tasks([path])) for name, path in FILES.items()}
    assert counts == {"single": 56, "two": 30, "three": 18}
    every = load_tasks(FILES.values())  # ids are unique across the three files
    assert len(every) == 104
    assert [t.id for t in every] == [task["task_id"] for p in FILES.values() for _, task in raw_tasks(p)]


@shared
def test_the_agent_gets_the_fuzzy_description_and_the_notes_keep_the_precise_one() -> None:
    for path in FILES.values():
        for loaded, (_, raw) in zip(load_mcpbench(path), raw_tasks(path), strict=True):
            assert loaded.task == raw["fuzzy_description"].strip()
            assert loaded.notes == raw["task_description"].strip()
            assert loaded.task != loaded.notes
            assert loaded.checks.numbers == [] and loaded.checks.contains == [] and loaded.checks.tools == []


@shared
def test_servers_are_the_tasks_own_plus_its_distraction_servers_as_config_names() -> None:
    for path in FILES.values():
        for loaded, (group, raw) in zip(load_mcpbench(path), raw_tasks(path), strict=True):
            expected = [server_name(n) for n in group["servers"] + raw["distraction_servers"]]
            assert loaded.servers == expected and len(expected) == len(group["servers"]) + 10
    by_id = {t.id: t for t in load_tasks([FILES["three"]])}
    maps = by_id["google_maps_weather_data_national_parks_000"]
    assert maps.servers[:3] == ["google_maps", "weather_data", "national_parks"]
    assert "bibliomantic" in maps.servers and "unit_converter" in maps.servers  # distraction servers
    single = {t.id: t for t in load_mcpbench(FILES["single"])}
    assert single["time_mcp_000"].servers[0] == "time"  # the example config's name for Time MCP
    assert single["unit_converter_000"].servers[0] == "unit_converter"
    alone = {t.id: t for t in load_mcpbench(FILES["single"], distractions=False, extra_servers=ALWAYS_SHOWN)}
    assert alone["unit_converter_000"].servers == ["unit_converter", "time"]


def test_server_names_become_config_names() -> None:
    assert server_name("Unit Converter") == "unit_converter"
    assert server_name("OSINT Intelligence") == "osint_intelligence"
    assert server_name("Time MCP") == "time"
    assert server_name("Time MCP", aliases={}) == "time_mcp"


def runner_file(path: Path, *tasks: dict[str, Any], servers: list[str]) -> Path:
    group = {"server_name": "+".join(servers), "servers": servers, "tasks": list(tasks)}
    path.write_text(json.dumps({"server_tasks": [group]}), encoding="utf-8")
    return path


def mcpbench_task(task_id: str, distractions: list[str]) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "task_description": "Add 2 and 3 with the toy server's add tool and report the sum.",
        "fuzzy_description": "Hey, what do 2 and 3 make together?",
        "dependency_analysis": "one call",
        "distraction_servers": distractions,
    }


def test_load_tasks_dispatches_on_the_file_and_reports_bad_files(tmp_path: Path) -> None:
    ours = tmp_path / "ours.jsonl"
    ours.write_text(json.dumps({"id": "mine", "task": "x"}) + "\n")
    theirs = runner_file(tmp_path / "theirs.json", mcpbench_task("toy_000", ["Toy"]), servers=["Toy"])
    tasks = load_tasks([ours, theirs])
    assert [(t.id, t.servers) for t in tasks] == [("mine", []), ("toy_000", ["toy"])]
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"id": "a", "task": "x"}]))
    with pytest.raises(SuiteError, match="runner format"):
        load_tasks([other])
    with pytest.raises(SuiteError, match="appears twice"):
        load_tasks([theirs, theirs])
    broken = {"task_id": "b", "task_description": "x", "distraction_servers": []}
    with pytest.raises(SuiteError, match="no 'fuzzy_description'"):
        parse_mcpbench({"server_tasks": [{"servers": ["Toy"], "tasks": [broken]}]})


@pytest.mark.anyio
async def test_the_runner_skips_tasks_whose_servers_are_not_configured(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}))
    suite = runner_file(
        tmp_path / "suite.json",
        mcpbench_task("toy_000", []),
        mcpbench_task("toy_001", ["Weather Data"]),  # a distraction server nobody configured
        servers=["Toy"],
    )
    made: list[ScriptedPlanner] = []

    def make() -> ScriptedPlanner:
        steps = [{"tool": "toy.add", "args": {"a": 2, "b": 3}}, {"final_answer": "They make 5."}]
        planner = ScriptedPlanner([], react_steps=steps)
        made.append(planner)
        return planner

    settings = BenchSettings(methods=["react"], seeds=1, planner="scripted")
    with anyio.fail_after(120):
        rows = await run_bench(load_tasks([suite]), tmp_path / "out", make, settings, servers=str(config))
    by_id = {r["task_id"]: r for r in rows}
    assert len(rows) == 2 and len(made) == 1  # the skipped task never built a planner
    ran, skipped = by_id["toy_000"], by_id["toy_001"]
    assert not ran["skipped"] and ran["feasible"] and ran["solved"]  # no checks: solved is feasible
    assert ran["answer"] == "They make 5." and ran["usage"]["tool_calls"] == 1
    assert skipped["skipped"] and "weather_data" in skipped["reason"] and not skipped["solved"]


@shared
@pytest.mark.anyio
async def test_a_real_mcpbench_task_with_unconfigured_servers_is_skipped(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}))
    task = next(t for t in load_mcpbench(FILES["single"]) if t.id == "unit_converter_000")
    settings = BenchSettings(methods=["react", "zero-shot"], planner="scripted")

    def make() -> ScriptedPlanner:
        raise AssertionError("no planner is built for a skipped task")

    with anyio.fail_after(30):
        rows = await run_bench([task], tmp_path / "out", make, settings, servers=str(config))
    assert [(r["method"], r["skipped"]) for r in rows] == [("react", True), ("zero-shot", True)]
    assert all("'unit_converter'" in r["reason"] and "choose among toy" in r["reason"] for r in rows)
