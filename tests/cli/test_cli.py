"""The `evoflux` command as a user runs it: a subprocess, real servers, the real lite model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evoflux.models.registry import MODELS, cache_dir
from evoflux.servers.config import load_servers

EVOFLUX = [sys.executable, "-m", "evoflux"]
TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")
LITE = cache_dir() / "models" / MODELS["lite"].filename
needs_lite = pytest.mark.skipif(not LITE.is_file(), reason="the lite model is not installed: run setup")


def evoflux(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EVOFLUX, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def write_config(path: Path, servers: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def registry_servers(tmp_path: Path, *names: str) -> Path:
    """A config with some of the example (registry) servers, as `evoflux setup` cached them."""
    example = json.loads(load_servers().source.read_text())["mcpServers"]  # type: ignore[union-attr]
    return write_config(tmp_path / "servers.json", {n: example[n] for n in names})


def test_a_missing_config_is_one_clear_error(tmp_path: Path) -> None:
    done = evoflux("tools", "--servers", str(tmp_path / "nope.json"))
    assert done.returncode == 2
    assert "not found" in done.stderr and "nope.json" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_config_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"mcpServers": {"a": {"command": "x",}}}')
    done = evoflux("tools", "--servers", str(bad))
    assert done.returncode == 2 and "line 1" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_planner_spec_lists_the_accepted_forms(tmp_path: Path) -> None:
    config = write_config(tmp_path / "s.json", {"toy": {"command": sys.executable, "args": [TOY]}})
    done = evoflux("run", "add 1 and 2", "--servers", str(config), "--planner", "gpt-17")
    assert done.returncode == 2 and "gguf:PATH" in done.stderr and "openai:" in done.stderr


def test_a_missing_model_file_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path / "s.json", {"toy": {"command": sys.executable, "args": [TOY]}})
    done = evoflux("run", "x", "--servers", str(config), "--planner", f"gguf:{tmp_path / 'm.gguf'}")
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_a_bad_budget_says_how_to_write_one(tmp_path: Path) -> None:
    config = write_config(tmp_path / "s.json", {"toy": {"command": sys.executable, "args": [TOY]}})
    done = evoflux("run", "x", "--servers", str(config), "--method", "evoflux", "--budget", "gens=3")
    assert done.returncode == 2 and "key=value" in done.stderr


def test_a_server_that_fails_to_start_is_named_with_its_stderr(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "s.json", {"broken": {"command": sys.executable, "args": [TOY, "--crash-on-start"]}}
    )
    done = evoflux("tools", "--servers", str(config), "--json")
    assert done.returncode == 1  # no server started: nothing a run could use
    assert "refusing to start" in json.loads(done.stdout)["failed"]["broken"]
    both = write_config(
        tmp_path / "both.json",
        {
            "toy": {"command": sys.executable, "args": [TOY]},
            "broken": {"command": sys.executable, "args": [TOY, "--crash-on-start"]},
        },
    )
    done = evoflux("tools", "--servers", str(both), "--json")
    assert done.returncode == 0  # `tools` lists what started and reports the rest
    listed = json.loads(done.stdout)
    assert "broken" in listed["failed"] and {"toy.fetch", "toy.store"} <= {t["name"] for t in listed["tools"]}
    assert {t["name"]: t["effect"] for t in listed["tools"]}["toy.store"] == "destructive"
    done = evoflux("run", "x", "--servers", str(config), "--planner", f"gguf:{LITE}", "--no-store")
    assert done.returncode == 2
    assert "'broken' failed to start" in done.stderr and "refusing to start" in done.stderr


def test_tools_lists_a_registry_server_by_qualified_name(tmp_path: Path) -> None:
    done = evoflux("tools", "--servers", str(registry_servers(tmp_path, "time", "calculator")), "--json")
    assert done.returncode == 0, done.stderr
    names = {t["name"] for t in json.loads(done.stdout)["tools"]}
    assert {"time.get_current_time", "time.convert_time", "calculator.calculate"} <= names


@needs_lite
def test_run_plans_with_the_lite_model_and_prints_one_json_object(tmp_path: Path) -> None:
    config = registry_servers(tmp_path, "time", "calculator")
    store = tmp_path / "runs.sqlite"
    done = evoflux(
        "run",
        "Use the calculator to compute 12 * 7.",
        "--servers",
        str(config),
        "--planner",
        "lite",
        "--method",
        "zero-shot",
        "--threads",
        "1",
        "--json",
        "--store",
        str(store),
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: the plan was not feasible, which a 0.5B model may do
    result = json.loads(done.stdout)
    assert {"method", "feasible", "answer", "workflow", "diagnostics", "usage"} <= set(result)
    assert result["method"] == "zero-shot" and result["planner"] == "lite"
    assert {"lm_calls", "prompt_tokens", "completion_tokens", "tool_calls", "wall_s"} <= set(result["usage"])
    assert result["usage"]["lm_calls"] >= 1 and result["usage"]["prompt_tokens"] > 0
    assert result["feasible"] == (done.returncode == 0)
    for node in result["workflow"]["nodes"]:
        assert node["tool"].count(".") >= 1 and "status" in node
    if result["feasible"]:
        assert result["answer"] and result["usage"]["tool_calls"] >= 1
    else:
        assert result["diagnostics"] and all(
            d["stage"] in ("parse", "resolve", "schema", "dependency", "execute", "answer")
            for d in result["diagnostics"]
        )
    assert store.is_file()


def test_bench_runs_jobs_at_once_with_a_scripted_planner(tmp_path: Path) -> None:
    config = write_config(tmp_path / "s.json", {"toy": {"command": sys.executable, "args": [TOY]}})
    suite = tmp_path / "suite.jsonl"
    suite.write_text(
        "".join(
            json.dumps(
                {"id": i, "task": "Add 2 and 3.", "servers": ["toy"], "checks": {"numbers": [{"value": 5}]}}
            )
            + "\n"
            for i in ("a", "b")
        )
    )
    script = tmp_path / "script.json"
    plan = {"nodes": [{"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}]}
    script.write_text(json.dumps({"plans": [plan]}))
    common = ["bench", "--tasks", str(suite), "--out", str(tmp_path / "out"), "--servers", str(config)]
    done = evoflux(*common, "--executor", "spark")
    assert done.returncode == 2 and "use local or ray" in done.stderr
    done = evoflux(*common, "--planner", f"scripted:{script}", "--methods", "zero-shot", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert sorted(r["task_id"] for r in rows) == ["a", "b"] and all(r["solved"] for r in rows)
    counted = sorted(line.split("]")[0] for line in done.stdout.splitlines() if line.startswith("["))
    assert counted == ["[1/2", "[2/2"] and "seed 0: solved in " in done.stdout  # progress in a log


def test_version_empty_tasks_and_budget_defaults() -> None:
    done = evoflux("--version")
    assert done.returncode == 0 and done.stdout.startswith("evoflux ")
    done = evoflux("run", "   ", "--no-store")
    assert done.returncode == 2 and "the task is empty" in done.stderr
    done = evoflux("run", "Add 2 and 3.", "--threads", "0", "--no-store")
    assert done.returncode == 2 and "--threads must be at least 1" in done.stderr
    done = evoflux("run", "--help", env={"COLUMNS": "200"})
    assert "lm_calls=40" in done.stdout and "wall_s=900" in done.stdout and "--threads" in done.stdout
