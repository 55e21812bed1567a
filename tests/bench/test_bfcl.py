"""The BFCL multi-turn suite's parts against real MCP servers (one per BFCL backend class) and BFCL's own
checker from `bfcl-eval`: BFCL's ground-truth calls, played by a scripted test-double planner turn by
turn, reach each backend once and pass the checker; a turn that leaves a write out fails it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from evoflux.bench.bfcl.conversation import check_entry, run_conversation, turn_task
from evoflux.bench.bfcl.data import (
    Entry,
    call_text,
    function_docs,
    input_schema,
    load_entries,
    parse_call,
    server_name,
)
from evoflux.bench.bfcl.effects import load_effects
from evoflux.bench.bfcl.server import tools_of
from evoflux.bench.runner import BenchSettings, run_bench, summarize
from evoflux.bench.suite import load_tasks, pick_tasks
from evoflux.methods import MethodSettings
from evoflux.planner.scripted import ScriptedPlanner
from evoflux.protocols import Planner

pytest.importorskip("bfcl_eval", reason="bfcl-eval is not installed: run scripts/setup.sh")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def entry(entry_id: str, category: str = "multi_turn_base") -> Entry:
    return next(e for e in load_entries(category) if e.id == entry_id)


def docs_of(item: Entry) -> dict[str, dict[str, Any]]:
    return {doc["name"]: doc for name in item.involved_classes for doc in function_docs(name)}


def test_the_base_category_loads_with_its_ground_truth_and_function_docs() -> None:
    entries = load_entries("multi_turn_base")
    assert len(entries) == 200 and all(len(e.turns) == len(e.ground_truth) for e in entries)
    first = entries[0]
    assert (
        sorted(first.involved_classes) == ["GorillaFileSystem", "TwitterAPI"]
        and "final_report.pdf" in first.turns[0]
    )
    schema = input_schema(docs_of(first)["tail"]["parameters"])
    assert schema["type"] == "object" and schema["properties"]["lines"]["type"] == "integer"


def test_calls_go_between_bfcl_syntax_and_arguments() -> None:
    docs = docs_of(entry("multi_turn_base_0"))
    assert parse_call("sort('final_report.pdf')", docs) == ("sort", {"file_name": "final_report.pdf"})
    name, args = parse_call("mv(source='a.txt',destination='temp')", docs)
    assert call_text(name, args) == "mv(source='a.txt', destination='temp')"
    with pytest.raises(ValueError, match="not a call of a named function"):
        parse_call("os.system('ls')", docs)
    with pytest.raises(ValueError, match="no function"):
        parse_call("shutdown()", docs)


def test_tools_carry_the_effect_found_by_running_the_ground_truth() -> None:
    effects = load_effects()
    assert (effects["ls"], effects["cat"], effects["mkdir"], effects["cd"]) == (
        "read",
        "read",
        "write",
        "write",
    )
    tools = {tool.name: tool for tool in tools_of("GorillaFileSystem")}
    assert tools["ls"].annotations is not None and tools["ls"].annotations.read_only_hint is True
    assert tools["mkdir"].annotations is not None and tools["mkdir"].annotations.read_only_hint is False


def test_a_turn_s_task_carries_the_earlier_turns() -> None:
    assert turn_task([], "List the files.") == "List the files."
    task = turn_task([("Go to documents.", "Done.")], "List the files.")
    assert task.startswith("Earlier in this conversation:\nUser: Go to documents.\nAssistant: Done.")
    assert task.endswith("\n\nNow: List the files.")


def ground_truth_planners(
    item: Entry, drop: tuple[int, int] | None = None, instead: dict[int, list[str]] | None = None
) -> Callable[[], Planner]:
    """A fresh scripted planner per turn whose one plan is that turn's ground-truth calls, or the calls
    `instead` gives for it (test double)."""
    docs = docs_of(item)
    owner = {doc["name"]: name for name in item.involved_classes for doc in function_docs(name)}
    plans = []
    for turn, truth in enumerate(item.ground_truth):
        calls = (instead or {}).get(turn, truth)
        nodes = []
        for index, call in enumerate(calls):
            if drop == (turn, index):
                continue
            name, args = parse_call(call, docs)
            tool = f"{server_name(owner[name])}.{name}"
            nodes.append({"id": f"n{len(nodes) + 1}", "tool": tool, "args": args})
        plans.append({"nodes": nodes, "answer": {"uses": [nodes[-1]["id"]]}})
    turns: Iterator[dict[str, Any]] = iter(plans)
    return lambda: ScriptedPlanner([next(turns)])


def _yes(tool: str, arguments: dict[str, Any]) -> bool:
    return True


@pytest.mark.anyio
async def test_the_ground_truth_played_through_the_servers_passes_bfcl_s_checker(tmp_path: Path) -> None:
    item = entry("multi_turn_base_0")
    settings = MethodSettings()
    with anyio.fail_after(120):
        turns = await run_conversation(
            item,
            "multi_turn_base",
            "zero-shot",
            settings,
            ground_truth_planners(item),
            tmp_path,
            confirm=_yes,
        )
    calls = [turn["calls"] for turn in turns]
    assert [len(c) for c in calls] == [len(c) for c in item.ground_truth]  # every call reached a backend once
    assert calls[0] == [
        "cd(folder='document')",
        "mkdir(dir_name='temp')",
        "mv(source='final_report.pdf', destination='temp')",
    ]
    assert all(turn["result"]["feasible"] for turn in turns)
    assert check_entry(item, "multi_turn_base", calls) == {"valid": True}
    assert check_entry(item, "multi_turn_base", [calls[0][:2], *calls[1:]])["valid"] is False  # no mv


@pytest.mark.anyio
async def test_a_turn_that_leaves_a_write_out_fails_the_checker(tmp_path: Path) -> None:
    item = entry("multi_turn_base_0")
    with anyio.fail_after(120):
        turns = await run_conversation(
            item,
            "multi_turn_base",
            "zero-shot",
            MethodSettings(),
            ground_truth_planners(item, drop=(0, 1)),  # no mkdir: the mv that follows has nowhere to go
            tmp_path,
            confirm=_yes,
        )
    verdict = check_entry(item, "multi_turn_base", [turn["calls"] for turn in turns])
    assert verdict["valid"] is False and verdict["error_type"].startswith("multi_turn:")


@pytest.mark.anyio
async def test_the_bench_runs_an_entry_as_one_row_scored_by_the_checker(tmp_path: Path) -> None:
    tasks = pick_tasks(load_tasks(["bfcl:multi_turn_base"]), only="multi_turn_base_0")
    assert [t.bfcl for t in tasks] == ["multi_turn_base"]
    item = entry("multi_turn_base_0")
    settings = BenchSettings(methods=["zero-shot"], planner="scripted")
    with anyio.fail_after(120):
        [row] = await run_bench(tasks, tmp_path, ground_truth_planners(item), settings)
    assert row["solved"] and row["bfcl"]["valid"] and row["bfcl"]["error_type"] == ""
    assert [len(turn["calls"]) for turn in row["turns"]] == [3, 2, 1, 4]
    assert row["usage"]["tool_calls"] == 10
    assert [w["tool"] for w in row["writes"]].count("gorilla_file_system.cd") == 4  # each sent once
    assert len(row["writes"]) == 7  # cd, mkdir, mv; cd; none; cd, mv, cd
    assert summarize([row])["zero-shot"]["solved"]["mean"] == 1.0


def test_the_bench_command_runs_a_bfcl_category(tmp_path: Path) -> None:
    script = tmp_path / "script.json"  # test double: every turn lists the directory
    script.write_text(json.dumps({"plans": [{"nodes": [{"id": "n1", "tool": "gorilla_file_system.ls"}]}]}))
    planner = ["--planner", f"scripted:{script}"]
    common = ["-m", "evoflux", "bench", "--out", str(tmp_path / "out"), "--methods", "zero-shot"]
    done = subprocess.run(
        [sys.executable, *common, "--tasks", "bfcl:multi_turn_nonesuch"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "unknown BFCL category" in done.stderr
    done = subprocess.run(
        [
            sys.executable,
            *common,
            "--tasks",
            "bfcl:multi_turn_base",
            "--only",
            "multi_turn_base_1",
            *planner,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    [row] = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert row["task_id"] == "multi_turn_base_1" and row["solved"] is False
    assert row["bfcl"]["error_type"].startswith("multi_turn:") and row["turns"][0]["calls"] == ["ls()"]


@pytest.mark.anyio
async def test_a_held_back_function_cannot_be_called_before_its_turn(tmp_path: Path) -> None:
    item = entry("multi_turn_miss_func_0", "multi_turn_miss_func")
    assert item.missed_function == {"3": ["sort"]} and item.ground_truth[2] == [] and item.turns[3] == ""
    eager = ground_truth_planners(
        item, instead={2: ["sort('final_report.pdf')"]}
    )  # ignores that sort is missing
    with anyio.fail_after(120):
        turns = await run_conversation(
            item, "multi_turn_miss_func", "zero-shot", MethodSettings(), eager, tmp_path, confirm=_yes
        )
    calls = [turn["calls"] for turn in turns]
    assert calls[2] == [] and calls[3] == ["sort(file_name='final_report.pdf')"]  # refused, then there
    assert turns[3]["task"].endswith(
        "Now: I have updated some more functions you can choose from. What about now?"
    )
    assert check_entry(item, "multi_turn_miss_func", calls) == {"valid": True}
