"""Before/after on the write tasks: recorded rows of an earlier commit (every candidate sent its writes)
against staged rows, per seed, scored again with today's rules. Runs no model and no server.

    .venv/bin/python scripts/writes_compare.py \
        --before docs/bench-4m-c17f79b/results.jsonl,docs/bench-heldout-02b794b/results.jsonl \
        --after runs/writes4/staged/results.jsonl --tasks benchmarks/dev.jsonl,benchmarks/heldout.jsonl
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path
from typing import Any

from evoflux.bench.runner import read_rows
from evoflux.bench.score import score_result
from evoflux.bench.suite import load_tasks

WRITE_TASKS = "m01,m02,m03,m04,m05,m06,m07,m08,m11,m13,h11,h12,h13,h14,h15,h17,h18,h20"


def _rows(paths: str, tasks: dict[str, Any], wanted: set[str]) -> list[dict[str, Any]]:
    out = []
    for path in paths.split(","):
        for row in read_rows(Path(path)):
            if row.get("method") != "evoflux" or row.get("skipped") or row["task_id"] not in tasks:
                continue
            if row["task_id"].split("-")[0] not in wanted:
                continue
            score = score_result(tasks[row["task_id"]], row)
            out.append({**row, "solved": score.solved, "solved_answer": score.solved_answer})
    return out


def _rate(rows: list[dict[str, Any]], key: str, seeds: list[int]) -> str:
    per_seed = [
        sum(r[key] for r in rows if r["seed"] == s) / max(1, sum(r["seed"] == s for r in rows)) for s in seeds
    ]
    mean = statistics.fmean(per_seed)
    if len(per_seed) < 2:
        return f"{mean:.1%}"
    half = 1.96 * statistics.stdev(per_seed) / math.sqrt(len(per_seed))
    return f"{mean:.1%} ± {half:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--only", default=WRITE_TASKS, help="task id prefixes")
    args = parser.parse_args()
    tasks = {t.id: t for t in load_tasks(args.tasks.split(","))}
    wanted = set(args.only.split(","))
    after = _rows(args.after, tasks, wanted)
    seeds = sorted({r["seed"] for r in after})
    done = {(r["task_id"], r["seed"]) for r in after}
    before = [r for r in _rows(args.before, tasks, wanted) if (r["task_id"], r["seed"]) in done]
    print(f"{len(done)} (task, seed) pairs, seeds {seeds}: only pairs measured in both are compared\n")
    head = "| rows | runs | solved, answer-only | solved, lenient | writes sent per run (max) | model calls"
    print(head + " | wall s |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in (("before (recorded, live)", before), ("after (staged)", after)):
        writes = [len(r.get("writes") or []) for r in rows]
        recorded = [r for r in rows if "writes" in r]
        sent = f"{statistics.fmean(writes):.2f} ({max(writes)})" if recorded else "not recorded"
        calls = statistics.fmean((r.get("usage") or {}).get("lm_calls", 0) for r in rows)
        wall = statistics.fmean((r.get("usage") or {}).get("wall_s", 0) for r in rows)
        rates = f"{_rate(rows, 'solved_answer', seeds)} | {_rate(rows, 'solved', seeds)}"
        print(f"| {name} | {len(rows)} | {rates} | {sent} | {calls:.1f} | {wall:.0f} |")
    print("\n| task | before: solved per seed | after: solved per seed | after: writes sent per seed |")
    print("|---|---|---|---|")
    for task in sorted({r["task_id"] for r in after}):
        mark = lambda r: "S" if r["solved_answer"] else "s" if r["solved"] else "·"  # noqa: E731
        b = " ".join(mark(r) for r in sorted(before, key=lambda r: r["seed"]) if r["task_id"] == task)
        mine = sorted((r for r in after if r["task_id"] == task), key=lambda r: r["seed"])
        a = " ".join(mark(r) for r in mine)
        w = " ".join(str(len(r.get("writes") or [])) for r in mine)
        print(f"| {task} | {b} | {a} | {w} |")


if __name__ == "__main__":
    main()
