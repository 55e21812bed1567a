"""Report on a benchmark's results.jsonl: summary tables (all tasks, and the tasks not seen while
developing), a per-task table, summary.json and the plots. Runs no model and no server.

    .venv/bin/python scripts/bench_report.py runs/dev-final/results.jsonl --out docs/bench \
        --seen s01,s02,s03,s04,c01,c02,c03,c04,c05,c06,c07,c08

Only tasks that every listed method ran are counted, so a partly finished run compares like with like.
`--methods` and `--seeds` report on a part of a larger run (say seed 0 of two methods while the
four-method comparison is still going); the per-task table shows the first seed of each method.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evoflux.bench.report import markdown_table, write_plots
from evoflux.bench.runner import read_rows, summarize


def _complete(rows: list[dict[str, Any]], methods: list[str]) -> list[dict[str, Any]]:
    done = {m: {r["task_id"] for r in rows if r["method"] == m} for m in methods}
    both = set.intersection(*done.values()) if done else set()
    return [r for r in rows if r["task_id"] in both and r["method"] in methods]


def _why(row: dict[str, Any]) -> str:
    failed = (row.get("checks") or {}).get("failed_checks") or []
    return "; ".join(failed)[:160]


def _per_task(rows: list[dict[str, Any]], methods: list[str], seen: set[str]) -> str:
    last = methods[-1]
    head = f"| task | {' | '.join(methods)} | {last} model calls | {last} wall s | {last}: why not solved |"
    lines = [head, "|" + "---|" * (len(methods) + 4)]
    by_task: dict[str, dict[str, dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: -int(r["seed"])):  # the first seed wins
        by_task.setdefault(r["task_id"], {})[r["method"]] = r
    for task, runs in by_task.items():
        cells = []
        for m in methods:
            r = runs[m]
            cells.append(
                "skipped"
                if r.get("skipped")
                else "solved"
                if r["solved"]
                else "feasible"
                if r["feasible"]
                else "failed"
            )
        final = runs[last]
        usage = final.get("usage") or {}
        name = f"{task} (seen)" if task in seen else task
        why = "" if final["solved"] else _why(final)
        lines.append(
            f"| {name} | {' | '.join(cells)} | {usage.get('lm_calls', '')} | "
            f"{usage.get('wall_s', 0):.0f} | {why} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seen", default="", help="Comma-separated task ids seen while developing.")
    parser.add_argument("--methods", default="", help="Comma-separated methods (default: all in the file).")
    parser.add_argument("--seeds", default="", help="Comma-separated seeds (default: all in the file).")
    args = parser.parse_args()
    rows = read_rows(args.results)
    if args.methods:
        rows = [r for r in rows if r["method"] in args.methods.split(",")]
    if args.seeds:
        rows = [r for r in rows if str(r["seed"]) in args.seeds.split(",")]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    rows = _complete(rows, methods)
    seen = {s for s in args.seen.split(",") if s}
    seen = {r["task_id"] for r in rows if r["task_id"] in seen or r["task_id"].split("-")[0] in seen}
    unseen = [r for r in rows if r["task_id"] not in seen]
    summary = summarize(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    tasks = len({r["task_id"] for r in rows})
    text = [
        f"All {tasks} tasks that every method ran:",
        "",
        markdown_table(summary),
        "",
        f"The {len({r['task_id'] for r in unseen})} of them not seen while developing:",
        "",
        markdown_table(summarize(unseen)) if unseen else "(none)",
        "",
    ]
    (args.out / "summary.md").write_text("\n".join(text), encoding="utf-8")
    (args.out / "per_task.md").write_text(_per_task(rows, methods, seen) + "\n", encoding="utf-8")
    with (args.out / "results.jsonl").open("w", encoding="utf-8") as kept:  # the rows reported on
        kept.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    plots = write_plots(summary, args.out)
    print("\n".join(text))
    print("wrote", ", ".join(str(p) for p in [args.out / "summary.json", *plots]))


if __name__ == "__main__":
    main()
