"""The status a run ends with (answered, partial, failed), its exit code and checklist, Ctrl-C, and the
commands that read the run store (`runs`, `show`, `export`) or rerun a workflow (`exec`), run as a user
runs them: subprocesses over the toy server, with a scripted planner (`scripted:PATH`, the test double
for the model)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from evoflux.servers.stdio import marked_processes

EVOFLUX = [sys.executable, "-m", "evoflux"]
TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")
TASK = "Add 2 and 3, then multiply the result by 4."
ADD = {"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}


def evoflux(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EVOFLUX, *args], capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL
    )


def setup(tmp_path: Path, coverage: dict[str, Any], *nodes: dict[str, Any]) -> list[str]:
    """`run` arguments for the toy server and a script of one plan whose every verdict is `coverage`."""
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}))
    plan = {"nodes": list(nodes), "answer": {"uses": [nodes[-1]["id"]]}}
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"plans": [plan], "coverage": coverage}))
    store = str(tmp_path / "runs.sqlite")
    budget = "generations=1,seeds=1,lm_calls=6"
    return ["--servers", str(config), "--planner", f"scripted:{script}", "--store", store, "--budget", budget]


def test_a_run_that_skips_a_part_ends_partial_with_the_part_named_and_exit_code_3(tmp_path: Path) -> None:
    args = setup(tmp_path, {"score": 0.5, "missing": ["multiply the result by 4"]}, ADD)
    done = evoflux("run", TASK, *args)
    assert done.returncode == 3, done.stderr
    assert "partial" in done.stdout and "multiply the result by 4: ✗ missing" in done.stdout
    assert "feasible" not in done.stdout  # the old word for "it ran", never the headline again

    as_json = evoflux("run", TASK, *args, "--json")
    assert as_json.returncode == 3, as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["status"] == "partial" and result["feasible"] is True
    assert result["checklist"] == [{"text": "multiply the result by 4", "value": None}]
    assert '"sum": 5' in result["evidence"] or "5" in result["evidence"]

    listed = evoflux("runs", "--store", args[args.index("--store") + 1], "--json")
    assert [(r["id"], r["status"], r["task"]) for r in json.loads(listed.stdout)] == [
        (1, "partial", TASK),
        (2, "partial", TASK),
    ]
    shown = evoflux("show", "2", "--store", args[args.index("--store") + 1])
    assert shown.returncode == 0, shown.stderr
    assert "toy.add" in shown.stdout and "multiply the result by 4: ✗ missing" in shown.stdout
    assert "evidence" in shown.stdout
    exported = tmp_path / "sft.jsonl"
    done = evoflux("export", "--out", str(exported), "--store", args[args.index("--store") + 1])
    assert done.returncode == 0 and exported.read_text() == ""  # no run answered: nothing to learn from


def test_a_run_whose_every_part_is_verified_ends_answered_with_exit_code_0(tmp_path: Path) -> None:
    done = evoflux("run", "Add 2 and 3.", *setup(tmp_path, {"score": 1.0}, ADD), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "answered"


def test_a_run_with_nothing_that_runs_through_fails_with_exit_code_1(tmp_path: Path) -> None:
    broken = {"id": "n1", "tool": "toy.fail", "args": {"message": "no"}}
    done = evoflux("run", TASK, *setup(tmp_path, {"score": 1.0}, broken), "--method", "zero-shot", "--json")
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "failed" and result["diagnostics"]


def test_show_names_a_missing_run_and_runs_needs_a_store(tmp_path: Path) -> None:
    args = setup(tmp_path, {"score": 1.0}, ADD)
    store = args[args.index("--store") + 1]
    assert evoflux("runs", "--store", store).returncode == 2  # no store yet
    assert evoflux("run", "Add 2 and 3.", *args).returncode == 0
    missing = evoflux("show", "9", "--store", store)
    assert missing.returncode == 2 and "no run 9" in missing.stderr


def test_exec_runs_a_saved_workflow_or_a_recorded_run_without_a_model(tmp_path: Path) -> None:
    args = setup(tmp_path, {"score": 1.0}, ADD)
    servers = args[: args.index("--planner")]
    store = args[args.index("--store") + 1]
    saved = evoflux("run", "Add 2 and 3.", *args, "--json")
    assert saved.returncode == 0, saved.stderr
    result_file = tmp_path / "result.json"
    result_file.write_text(saved.stdout)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"nodes": [ADD], "answer": {"uses": ["n1"]}}))
    for source in (["--run", "1", "--store", store], [str(result_file)], [str(plan_file)]):
        done = evoflux("exec", *source, *servers, "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["method"] == "exec" and result["feasible"] and result["status"] == "partial"
        assert "no model" in result["unchecked"] and result["usage"]["lm_calls"] == 0
        assert result["workflow"]["nodes"][0]["output"] == {"sum": 5}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"nodes": [{"id": "n1", "tool": "toy.fail", "args": {"message": "x"}}]}))
    failed = evoflux("exec", str(broken), *servers, "--json")
    assert failed.returncode == 1 and json.loads(failed.stdout)["status"] == "failed"
    neither = evoflux("exec", *servers)
    assert neither.returncode == 2 and "a workflow file or --run ID" in neither.stderr


def test_ctrl_c_stops_a_run_within_2_seconds_says_so_and_leaves_no_server(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    config = tmp_path / "servers.json"
    toy = {"command": sys.executable, "args": [TOY], "env": {"EVOFLUX_TEST_MARK": mark}}
    config.write_text(json.dumps({"mcpServers": {"toy": toy}}))
    slow = {"id": "n1", "tool": "toy.slow", "args": {"seconds": 60}}
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"plans": [{"nodes": [slow], "answer": {"uses": ["n1"]}}]}))
    store = tmp_path / "runs.sqlite"
    command = [*EVOFLUX, "run", "Wait.", "--servers", str(config), "--planner", f"scripted:{script}"]
    process = subprocess.Popen(
        [*command, "--store", str(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not marked_processes(mark, key="EVOFLUX_TEST_MARK"):  # the server is up
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.0)  # the slow call is under way
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, err = process.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    assert took < 2.0 and process.returncode == 130, (took, process.returncode, err)
    assert "stopping (Ctrl-C)" in out + err
    time.sleep(0.2)
    assert marked_processes(mark, key="EVOFLUX_TEST_MARK") == []
