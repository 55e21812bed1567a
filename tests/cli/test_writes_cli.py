"""`evoflux run` and the writes it sends, as a user runs it: a subprocess, the toy server logging every
write it receives, and a scripted planner (`scripted:PATH`, the test double for the model)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from evoflux.store.runs import RunStore

EVOFLUX = [sys.executable, "-m", "evoflux"]
TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")


def setup(tmp_path: Path, *nodes: dict[str, Any]) -> tuple[Path, Path, Path]:
    """A servers config with the toy server logging its writes, and a script of one plan."""
    log = tmp_path / "writes.jsonl"
    config = tmp_path / "servers.json"
    toy = {"command": sys.executable, "args": [TOY, "--writes-log", str(log)]}
    config.write_text(json.dumps({"mcpServers": {"toy": toy}}))
    plan = {"nodes": list(nodes), "answer": {"uses": [nodes[-1]["id"]]}}
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"plans": [plan], "coverage": {"score": 1.0}}))
    return config, script, log


def run(
    config: Path, script: Path, *args: str, store: Path | None = None
) -> subprocess.CompletedProcess[str]:
    where = ["--store", str(store)] if store else ["--no-store"]
    return subprocess.run(
        [
            *EVOFLUX,
            "run",
            "Keep a note.",
            "--servers",
            str(config),
            "--planner",
            f"scripted:{script}",
            *where,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def received(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


APPEND = {"id": "n1", "tool": "toy.append", "args": {"key": "notes", "value": "milk"}}
STORE = {"id": "n1", "tool": "toy.store", "args": {"key": "notes", "value": "milk"}}


def test_a_run_sends_its_write_once_and_lists_it(tmp_path: Path) -> None:
    config, script, log = setup(tmp_path, APPEND)
    done = run(config, script, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [(w["tool"], w["status"]) for w in result["writes"]] == [("toy.append", "sent")]
    assert received(log) == [{"tool": "append", "arguments": {"key": "notes", "value": "milk"}}]


def test_a_dry_run_sends_nothing_and_shows_what_it_would_send(tmp_path: Path) -> None:
    config, script, log = setup(tmp_path, APPEND)
    done = run(config, script, "--dry-run")
    assert done.returncode == 3, done.stderr  # partial: the steps after the writes did not run
    assert "dry run: 1 state-changing call(s) not sent" in done.stdout and "toy.append" in done.stdout
    assert received(log) == []


def test_a_destructive_call_without_a_terminal_or_yes_is_not_sent(tmp_path: Path) -> None:
    config, script, log = setup(tmp_path, STORE)
    done = run(config, script, "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert any("was not sent" in d["message"] for d in result["diagnostics"])
    assert result["writes"] == [] and received(log) == []
    done = run(config, script, "--json", "--yes")
    assert done.returncode == 0, done.stderr
    assert [w["tool"] for w in json.loads(done.stdout)["writes"]] == ["toy.store"]
    assert len(received(log)) == 1


def test_kill_9_during_a_commit_leaves_a_record_of_the_write_being_sent(tmp_path: Path) -> None:
    slow = {"id": "n1", "tool": "toy.append", "args": {"key": "notes", "value": "milk", "delay": 60}}
    config, script, log = setup(tmp_path, slow)
    store = tmp_path / "runs.sqlite"
    where = ["--store", str(store)]
    command = [*EVOFLUX, "run", "Keep a note.", "--servers", str(config), "--planner", f"scripted:{script}"]
    process = subprocess.Popen(
        [*command, *where, "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not received(log):  # the server has the write: the run waits for its answer
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    with RunStore(store) as runs:
        (record,) = runs.runs()
        writes = runs.writes(record["id"])
    assert record["finished_at"] is None
    assert [(w["tool"], w["arguments"], w["status"]) for w in writes] == [
        ("toy.append", {"key": "notes", "value": "milk", "delay": 60}, "sending")
    ]
    assert sqlite3.connect(store).execute("PRAGMA integrity_check").fetchone() == ("ok",)
