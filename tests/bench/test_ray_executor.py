"""The Ray executor on a local Ray instance: workers build a `scripted:PATH` planner (the test double) from
its spec and start the real toy server themselves; the driver writes the lines and resumes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import ray

from evoflux.bench.ray_executor import import_ray, run_bench_ray
from evoflux.bench.runner import BenchSettings, completed
from evoflux.bench.tasks import BenchTask
from evoflux.errors import EvofluxError

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")
GOOD = {
    "nodes": [{"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}],
    "answer": {"uses": ["n1"], "template": "The sum is {{n1.sum}}."},
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_ray_workers_run_score_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}))
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"plans": [GOOD], "coverage": {"score": 1.0}}))
    tasks = [
        BenchTask.model_validate(
            {"id": "sum", "task": "Add 2 and 3.", "servers": ["toy"], "checks": {"numbers": [{"value": 5}]}}
        ),
        BenchTask(id="lost", task="Use a server nobody configured.", servers=["nowhere"]),
    ]
    settings = BenchSettings(methods=["zero-shot", "evoflux"], seeds=1, planner=f"scripted:{script}")
    out = tmp_path / "out"
    results = out / "results.jsonl"
    reported: list[dict[str, Any]] = []
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # "local": a new instance even when another cluster runs on this machine (or a stale address file
    # says one does)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with anyio.fail_after(60):
            rows = await run_bench_ray(
                tasks, out, settings, servers=str(config), progress=reported.append, jobs=2
            )
        lines = [json.loads(line) for line in results.read_text().splitlines()]
        assert len(lines) == len(rows) == len(reported) == 4
        ran = {(r["task_id"], r["method"], r["seed"]): r for r in lines}
        for method in settings.methods:
            assert ran["sum", method, 0]["solved"] and ran["sum", method, 0]["feasible"]
            assert ran["sum", method, 0]["planner"] == settings.planner
            lost = ran["lost", method, 0]
            assert lost["skipped"] and not lost["solved"] and "nowhere" in lost["reason"]

        # an interrupted run: one line lost, the last one cut in half
        kept = results.read_text().splitlines()[:2]
        results.write_text(kept[0] + "\n" + kept[1][:20])
        reported.clear()
        with anyio.fail_after(60):
            rows = await run_bench_ray(tasks, out, settings, servers=str(config), progress=reported.append)
        assert len(reported) == 3 and len(rows) == 4  # the cut line and the lost one ran again
        assert completed(results) == set(ran)
        reported.clear()
        with anyio.fail_after(30):
            await run_bench_ray(tasks, out, settings, servers=str(config), progress=reported.append)
        assert reported == []  # nothing left to run

        broken = settings.model_copy(update={"planner": f"scripted:{tmp_path / 'missing.json'}"})
        with anyio.fail_after(30), pytest.raises(EvofluxError, match=r"task sum.*cannot use .*missing.json"):
            await run_bench_ray(tasks, tmp_path / "broken", broken, servers=str(config), jobs=2)
        assert completed(tmp_path / "broken" / "results.jsonl") == set()
    finally:
        ray.shutdown()


def test_without_ray_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EvofluxError, match=r"evoflux\[ray\]"):
        import_ray()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bench_runs_on_a_cluster_started_apart_and_named_by_address(tmp_path: Path) -> None:
    """What a cluster user does: `ray start --head` elsewhere (token authentication on, as Ray advises),
    then `evoflux bench --executor ray --ray-address HOST:PORT` from a shell that holds the token.
    With the wrong token, a clear error. (Ray reads its auth settings when imported, hence processes.)"""
    import os
    import secrets
    import shutil
    import signal
    import subprocess
    import tempfile

    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}))
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"plans": [GOOD], "coverage": {"score": 1.0}}))
    tasks = tmp_path / "tasks.jsonl"
    task = {"id": "sum", "task": "Add 2 and 3.", "servers": ["toy"], "checks": {"numbers": [{"value": 5}]}}
    tasks.write_text(json.dumps(task) + "\n")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    env.pop("RAY_ADDRESS", None)
    port = _free_port()
    ray_cli = str(Path(sys.executable).parent / "ray")
    # its own temp dir, so that its address file does not outlive it in /tmp/ray (where a later
    # `ray.init()` would find it and try to join a cluster that is gone)
    temp = Path(tempfile.mkdtemp(prefix="evoray-", dir="/tmp"))
    start = [ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"]
    start.append(f"--temp-dir={temp}")
    # --block: the head lives in this process group, so the test stops exactly the cluster it started
    head = subprocess.Popen(
        [*start, "--block"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def bench(out: Path, token: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "evoflux", "bench", "--tasks", str(tasks), "--servers", str(config)]
        command += ["--methods", "zero-shot", "--seeds", "2", "--planner", f"scripted:{script}"]
        command += [
            "--executor",
            "ray",
            "--ray-address",
            f"127.0.0.1:{port}",
            "--jobs",
            "2",
            "--out",
            str(out),
        ]
        run_env = {**env, "RAY_AUTH_TOKEN": token}
        return subprocess.run(command, capture_output=True, text=True, timeout=180, env=run_env)

    try:
        _wait_for_port(port, seconds=120)
        done = bench(tmp_path / "out", env["RAY_AUTH_TOKEN"])
        assert done.returncode == 0, done.stderr[-2000:]
        rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
        assert sorted(r["seed"] for r in rows) == [0, 1] and all(r["solved"] for r in rows)

        refused = bench(tmp_path / "again", secrets.token_hex(32))  # not the cluster's token
        assert refused.returncode != 0 and "wants an authentication token" in refused.stderr + refused.stdout
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for_port(port: int, seconds: float) -> None:
    import socket
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"the Ray head did not listen on port {port} within {seconds} s")
