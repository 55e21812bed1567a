"""The benchmark report script (`scripts/bench_report.py`): per-task outcomes for every seed, method order
and throughput per sitting, run as a command on a small results file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_report.py"


def row(task: str, method: str, seed: int, feasible: bool, solved: bool, wall_s: float) -> dict[str, Any]:
    return {
        "task_id": task,
        "method": method,
        "seed": seed,
        "feasible": feasible,
        "solved": solved,
        "skipped": False,
        "usage": {"lm_calls": 2, "prompt_tokens": 90, "completion_tokens": 10, "wall_s": wall_s},
        "checks": {"failed_checks": [] if solved else ["number 5 ± 0.1 not found"]},
        "workflow": {"nodes": []},
        "diagnostics": [],
    }


def test_report_shows_every_seed_in_the_given_method_order_and_each_sittings_throughput(
    tmp_path: Path,
) -> None:
    rows = [
        row("a01-x", "evoflux", 0, True, True, 10.0),
        row("a01-x", "evoflux", 1, True, False, 20.0),
        row("a01-x", "zero-shot", 0, False, False, 4.0),
        row("a01-x", "zero-shot", 1, True, True, 5.0),
        row("b01-y", "evoflux", 0, True, True, 50.0),
        row("b01-y", "evoflux", 1, True, True, 50.0),
        row("b01-y", "zero-shot", 0, False, False, 1.0),
        row("b01-y", "zero-shot", 1, False, False, 1.0),
        row("c01-z", "evoflux", 0, True, True, 1.0),  # zero-shot never ran it: left out
    ]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "report"
    args = ["--out", str(out), "--methods", "zero-shot,evoflux", "--seen", "b01"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(results), *args, "--sittings", "first=a01;second=b01-y"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    per_task = (out / "per_task.md").read_text(encoding="utf-8").splitlines()
    assert per_task[0].startswith("| task | zero-shot | evoflux | evoflux model calls |")
    assert per_task[2] == "| a01-x | x S | S f | 2 2 | 10 20 | seed 1: number 5 ± 0.1 not found |"
    assert per_task[3] == "| b01-y (seen) | x x | S S | 2 2 | 50 50 |  |"
    assert len(per_task) == 4
    sittings = (out / "sittings.md").read_text(encoding="utf-8").splitlines()
    # 100 tokens a run: zero-shot 25 and 20 tokens/s on a01 (mean 22.5, printed 22), evoflux 10 and 5
    assert sittings[2] == "| first | 1 | 22 | 8 | zero-shot 1, evoflux 1 |"
    assert sittings[3] == "| second | 1 | 100 | 2 | zero-shot 0, evoflux 2 |"
    details = (out / "details.md").read_text(encoding="utf-8").splitlines()
    # no workflow nodes ran, so every run "sent no tool call"; 100 tokens a run over solved runs
    assert details[2] == "| zero-shot | 0 / 0 of 2 | 1 / 1 of 2 | 2 / 2 | 400 | 0% | 0 (5) | 0 (0) | – |"
    assert details[3] == "| evoflux | 2 / 2 of 2 | 2 / 1 of 2 | 2 / 2 | 133 | 0% | 0 (50) | 0 (0) | – |"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert list(summary) == ["zero-shot", "evoflux"]
    assert summary["evoflux"]["solved"]["mean"] == 0.75
    assert len((out / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 8
