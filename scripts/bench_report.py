"""Report on a benchmark's results.jsonl: summary tables (all tasks, and the tasks not seen while
developing), a per-task table, summary.json and the plots. Runs no model and no server.

    .venv/bin/python scripts/bench_report.py runs/dev-final/results.jsonl --out docs/bench \
        --seen s01,s02,s03,s04,c01,c02,c03,c04,c05,c06,c07,c08

`--rescore benchmarks/dev.jsonl` scores the recorded rows again with today's rules (the answer-only
headline, `solved_answer`, came after many rows were written); nothing is re-run.

Only tasks that every listed method ran are counted, so a partly finished run compares like with like.
`--methods` and `--seeds` report on a part of a larger run (say seed 0 of two methods while the
four-method comparison is still going); the per-task table shows every seed of each method.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evoflux.bench.report import markdown_table, write_plots
from evoflux.bench.runner import read_rows, summarize
from evoflux.bench.score import score_result
from evoflux.bench.suite import load_tasks


def _rescore(rows: list[dict[str, Any]], task_files: str) -> list[dict[str, Any]]:
    """The rows scored again against the tasks of `task_files` (comma-separated); skipped rows as they are."""
    tasks = {t.id: t for t in load_tasks(task_files.split(","))}
    out = []
    for row in rows:
        if not row.get("skipped") and row["task_id"] in tasks:
            score = score_result(tasks[row["task_id"]], row)
            checks = score.model_dump(exclude={"solved", "solved_answer", "feasible"})
            row = {**row, "solved": score.solved, "solved_answer": score.solved_answer, "checks": checks}
        out.append(row)
    return out


def _complete(rows: list[dict[str, Any]], methods: list[str]) -> list[dict[str, Any]]:
    done = {m: {r["task_id"] for r in rows if r["method"] == m} for m in methods}
    both = set.intersection(*done.values()) if done else set()
    return [r for r in rows if r["task_id"] in both and r["method"] in methods]


def _why(row: dict[str, Any]) -> str:
    failed = (row.get("checks") or {}).get("failed_checks") or []
    return "; ".join(failed)[:160]


def _mark(row: dict[str, Any]) -> str:
    if row.get("skipped"):
        return "skip"
    if row.get("solved_answer", row["solved"]):  # rows scored before the answer-only rule: as recorded
        return "S"
    return "s" if row["solved"] else "f" if row["feasible"] else "x"


def _per_task(rows: list[dict[str, Any]], methods: list[str], seen: set[str]) -> str:
    """A line per task: each method's outcome on every seed, in seed order (S solved by the answer, s
    solved only counting numbers in tool outputs, f feasible only, x neither), then the last method's
    cost and why its first unsolved seed failed."""
    last = methods[-1]
    head = f"| task | {' | '.join(methods)} | {last} model calls | {last} wall s | {last}: why not solved |"
    lines = [head, "|" + "---|" * (len(methods) + 4)]
    by_task: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in sorted(rows, key=lambda r: int(r["seed"])):
        by_task.setdefault(r["task_id"], {}).setdefault(r["method"], []).append(r)
    for task, runs in by_task.items():
        cells = [" ".join(_mark(r) for r in runs[m]) for m in methods]
        finals = runs[last]
        calls = [str((r.get("usage") or {}).get("lm_calls", "")) for r in finals]
        walls = [f"{(r.get('usage') or {}).get('wall_s', 0):.0f}" for r in finals]
        unsolved = [r for r in finals if not r.get("solved_answer", r["solved"])]
        name = f"{task} (seen)" if task in seen else task
        why = f"seed {unsolved[0]['seed']}: {_why(unsolved[0])}" if unsolved else ""
        lines.append(f"| {name} | {' | '.join(cells)} | {' '.join(calls)} | {' '.join(walls)} | {why} |")
    return "\n".join(lines)


def _throughput(rows: list[dict[str, Any]], methods: list[str], sittings: str) -> str:
    """Per sitting (`NAME=task,task;NAME=...`, tasks by id or id prefix): each method's mean tokens per
    wall second of a run, and its solved runs. A wall-clock budget buys fewer model calls on a slower
    sitting, so results from different sittings are read next to this."""
    head = f"| sitting | tasks | {' | '.join(f'{m} tokens/s' for m in methods)} | solved runs |"
    lines = [head, "|" + "---|" * (len(methods) + 3)]
    for part in filter(None, sittings.split(";")):
        name, _, ids = part.partition("=")
        wanted = {i.strip() for i in ids.split(",") if i.strip()}
        mine = [r for r in rows if r["task_id"] in wanted or r["task_id"].split("-")[0] in wanted]
        rates, solved = [], []
        for m in methods:
            runs = [r for r in mine if r["method"] == m and (r.get("usage") or {}).get("wall_s")]
            per_run = [
                (r["usage"].get("prompt_tokens", 0) + r["usage"].get("completion_tokens", 0))
                / r["usage"]["wall_s"]
                for r in runs
            ]
            rates.append(f"{sum(per_run) / len(per_run):.0f}" if per_run else "–")
            solved.append(f"{m} {sum(r['solved'] for r in mine if r['method'] == m)}")
        tasks = len({r["task_id"] for r in mine})
        lines.append(f"| {name.strip()} | {tasks} | {' | '.join(rates)} | {', '.join(solved)} |")
    return "\n".join(lines)


def _sent(row: dict[str, Any]) -> bool:
    return any(n.get("status") in ("ok", "error") for n in (row.get("workflow") or {}).get("nodes") or [])


def _details(rows: list[dict[str, Any]], methods: list[str], wall_budget: float) -> str:
    """Per method: feasible / solved runs on each seed, runs that sent no tool call, tokens per solved
    run, the share of prompt tokens served from the cache, runs past the wall-clock budget, the runs
    the search stopped as judged solved and how many of those pass the checks, and calls rejected by
    validation against calls sent (ReAct keeps rejected calls out of its workflow)."""
    seeds = sorted({int(r["seed"]) for r in rows})
    head = (
        f"| method | {' | '.join(f'seed {s} feasible / solved' for s in seeds)} | no tool call, per seed "
        f"| tokens per solved run | prompt tokens cached | over wall_s={wall_budget:g} (max s) "
        "| stopped as judged solved (pass checks) | rejected / sent calls |"
    )
    lines = [head, "|" + "---|" * (len(seeds) + 7)]
    for m in methods:
        mine = [r for r in rows if r["method"] == m and not r.get("skipped")]
        cells = []
        for s in seeds:
            rs = [r for r in mine if int(r["seed"]) == s]
            cells.append(f"{sum(r['feasible'] for r in rs)} / {sum(r['solved'] for r in rs)} of {len(rs)}")
        no_call = [str(sum(not _sent(r) for r in mine if int(r["seed"]) == s)) for s in seeds]
        usage = [r.get("usage") or {} for r in mine]
        prompt = sum(u.get("prompt_tokens", 0) for u in usage)
        tokens = prompt + sum(u.get("completion_tokens", 0) for u in usage)
        solved = sum(r["solved"] for r in mine)
        cached = sum(u.get("cached_tokens", 0) for u in usage)
        walls = [u.get("wall_s", 0.0) for u in usage]
        judged = [r for r in mine if (r.get("search") or {}).get("stopped_because") == "solved"]
        rejected = sum((r.get("search") or {}).get("rejected", 0) for r in mine)
        sent = sum(len((r.get("workflow") or {}).get("nodes") or []) for r in mine)
        lines.append(
            f"| {m} | {' | '.join(cells)} | {' / '.join(no_call)} "
            f"| {f'{tokens / solved:,.0f}' if solved else '–'} "
            f"| {f'{cached / prompt:.0%}' if prompt else '–'} "
            f"| {sum(w > wall_budget for w in walls)} ({max(walls, default=0):.0f}) "
            f"| {len(judged)} ({sum(r['solved'] for r in judged)}) "
            f"| {f'{rejected} / {sent}' if m == 'react' else '–'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seen", default="", help="Comma-separated task ids seen while developing.")
    parser.add_argument("--methods", default="", help="Comma-separated methods (default: all in the file).")
    parser.add_argument("--seeds", default="", help="Comma-separated seeds (default: all in the file).")
    parser.add_argument("--wall-budget", type=float, default=180.0, help="the runs' wall_s budget")
    parser.add_argument(
        "--sittings", default="", help="NAME=task,task;NAME=...: throughput per sitting, to sittings.md"
    )
    parser.add_argument("--rescore", default="", help="Task files to score the rows against again.")
    args = parser.parse_args()
    rows = read_rows(args.results)
    if args.rescore:
        rows = _rescore(rows, args.rescore)
    if args.methods:
        rows = [r for r in rows if r["method"] in args.methods.split(",")]
    if args.seeds:
        rows = [r for r in rows if str(r["seed"]) in args.seeds.split(",")]
    present = list(dict.fromkeys(r["method"] for r in rows))
    # in the order --methods gives (the last one gets the cost columns of the per-task table)
    methods = [m for m in args.methods.split(",") if m in present] if args.methods else present
    rows = _complete(rows, methods)
    seen = {s for s in args.seen.split(",") if s}
    seen = {r["task_id"] for r in rows if r["task_id"] in seen or r["task_id"].split("-")[0] in seen}
    in_order = sorted(rows, key=lambda r: methods.index(r["method"]))  # tables and plots in that order
    unseen = [r for r in in_order if r["task_id"] not in seen]
    summary = summarize(in_order)
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
    details = _details(rows, methods, args.wall_budget)
    (args.out / "details.md").write_text(details + "\n", encoding="utf-8")
    text += ["Per seed, cost, budgets and the judge (details.md):", "", details, ""]
    if args.sittings:
        sittings = _throughput(rows, methods, args.sittings)
        (args.out / "sittings.md").write_text(sittings + "\n", encoding="utf-8")
        text += ["Throughput per sitting (mean tokens per wall second of a run):", "", sittings, ""]
    plots = write_plots(summary, args.out)
    print("\n".join(text))
    print("wrote", ", ".join(str(p) for p in [args.out / "summary.json", *plots]))


if __name__ == "__main__":
    main()
