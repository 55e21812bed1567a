"""What a person sees in the terminal: the plan as a graph, each call's outcome, the answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.tree import Tree

from evoflux.bench.report import pct
from evoflux.methods.result import RunResult
from evoflux.scoring.fitness import Fitness
from evoflux.search.population import Evaluated
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Event
from evoflux.workflow.writes import SentWrite

__all__ = ["ConsoleObserver", "print_checklist", "print_result", "print_tools", "workflow_tree"]

_MARK = {
    "ok": "[green]✓[/]",
    "cached": "[green]✓ (cached)[/]",
    "failed": "[red]✗[/]",
    "skipped": "[yellow]–[/]",
    "staged": "[yellow]⏸ staged[/]",
    "waiting": "[dim]⏸ waiting[/]",
}


def _args(args: dict[str, Any], limit: int = 90) -> str:
    text = json.dumps(args, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def workflow_tree(workflow: Workflow, title: str = "plan") -> Tree:
    """The workflow as a tree of topological waves, each node with its tool, arguments and inputs."""
    tree = Tree(f"[bold]{title}[/] [dim]{workflow.digest()}[/]")
    deps = workflow.dependencies()
    try:
        waves = workflow.waves()
    except ValueError:
        waves = [[n.id for n in workflow.nodes]]
    for i, wave in enumerate(waves, start=1):
        branch = tree.add(f"[dim]wave {i}[/]")
        for node_id in wave:
            node = workflow.node(node_id)
            if node is None:
                continue
            inputs = f" [dim]← {', '.join(sorted(deps[node_id]))}[/]" if deps[node_id] else ""
            branch.add(
                f"[cyan]{escape(node.id)}[/] {escape(node.tool)} {escape(_args(node.args))}{inputs}",
                highlight=False,
            )
    uses = ", ".join(workflow.answer.uses) or "(sinks)"
    template = f": {escape(workflow.answer.template)}" if workflow.answer.template else ""
    tree.add(f"[magenta]answer[/] from {escape(uses)}{template}")
    return tree


class ConsoleObserver:
    """Prints plans, node events and search generations as they happen; `on_stage` hears what the run
    is doing now (the live line)."""

    def __init__(self, console: Console, on_stage: Callable[[str], None] | None = None) -> None:
        self.console = console
        self.on_stage = on_stage or (lambda stage: None)

    def planned(self, workflow: Workflow | None, diagnostics: list[Diagnostic]) -> None:
        if workflow is not None:
            self.console.print(workflow_tree(workflow))
        for diagnostic in diagnostics:
            self.console.print(f"  [red]{escape(str(diagnostic))}[/]", highlight=False)

    def event(self, event: Event) -> None:
        if event.kind == "started":
            self.on_stage(f"calling {event.tool} ({event.node})")
            return
        detail = f" [dim]{escape(event.detail[:160])}[/]" if event.detail else ""
        mark = _MARK.get(event.kind, escape(event.kind))
        self.console.print(f"  {mark} {escape(event.node)} {escape(event.tool)}{detail}", highlight=False)

    def write(self, entry: SentWrite) -> None:
        if entry.status == "sending":
            self.on_stage(f"committing: sending {entry.tool} ({entry.node}), a {entry.effect} call")
            return
        color = "green" if entry.status == "sent" else "red"
        self.console.print(
            f"  [{color}]{entry.status}[/] {escape(entry.effect)} call "
            f"{escape(entry.node)} {escape(entry.tool)}",
            highlight=False,
        )

    def candidate(self, mode: str, item: Evaluated, parent: str) -> None:
        c = item.candidate
        edits = f" ({', '.join(c.edits)})" if c.edits else ""
        steps = " → ".join(n.tool for n in c.workflow.nodes) or "(no steps)"
        self.console.print(
            f"  [dim]{escape(_ORIGIN.get(mode, mode))}{escape(edits)}:[/] {escape(steps)} "
            f"[dim]{escape(in_words(c.fitness))}[/]",
            highlight=False,
        )

    def generation(self, summary: dict[str, Any]) -> None:
        self.on_stage(f"searching: generation {summary.get('generation')} done")
        note = f" · [yellow]{summary['note']}[/]" if summary.get("note") else ""
        best = summary.get("best_fitness")
        told = in_words(best) if isinstance(best, Fitness) else "none yet"
        self.console.print(
            f"[bold]generation {summary.get('generation')}[/]: best so far {escape(told)} · "
            f"{summary.get('population')} kept, "
            f"{summary.get('feasible', 0)} of them run through · explores "
            f"{summary.get('intensity', 0):.0%} of the time{note}",
            highlight=False,
        )


_STATUS = {
    "answered": "[green]answered[/]: every part checked against what the tools returned",
    "partial": "[yellow]partial[/]: it ran, but not every part is answered",
    "failed": "[red]failed[/]: no workflow ran through",
}


_ORIGIN = {
    "seed": "first plan",
    "stepwise": "built step by step",
    "explore": "rule-based edits",
    "exploit": "model-guided edit",
    "redesign": "redesign",
}


def in_words(fitness: Fitness) -> str:
    """A candidate's fitness as a newcomer reads it."""
    if fitness.stage_label == "answered":
        text = f"ran through; the judge found {fitness.coverage:.0%} of the task answered"
    else:
        text = f"broke at the {fitness.stage_label} stage; {fitness.executed:.0%} of its steps ran"
    return text + f"; {fitness.grounding:.0%} of the answer is in the outputs" if fitness.grounding else text


def print_result(console: Console, result: RunResult, *, show_evidence: bool = False) -> None:
    """The outcome: the status, diagnostics, the answer, the checklist of parts, the writes and the cost."""
    console.print(f"\n{escape(result.method)}: {_STATUS[result.status]}")
    if result.contract is not None:
        who = "given" if result.contract.source == "caller" else "as the planner read it"
        console.print(f"[dim]the task, {who}:\n{escape(result.contract.render())}[/]", highlight=False)
    for diagnostic in result.diagnostics[:12]:
        console.print(f"  [red]{escape(str(diagnostic))}[/]", highlight=False)
    if result.answer:
        color = {"answered": "green", "partial": "yellow"}.get(result.status, "red")
        console.print(Panel(escape(result.answer), title="answer", border_style=color))
    print_checklist(console, result)
    if show_evidence and result.evidence:
        console.print(Panel(escape(result.evidence), title="evidence", border_style="dim"))
    _print_writes(console, result)
    u = result.usage
    console.print(
        f"[dim]{u.lm_calls} model calls · {u.prompt_tokens} prompt + {u.completion_tokens} completion tokens "
        f"({u.cached_tokens} cached) · {u.tool_calls} tool calls · {u.wall_s:.1f}s[/]"
    )
    if result.search:
        s = result.search
        console.print(
            f"[dim]search: {s.get('generations')} generations · {s.get('candidates')} candidates · "
            f"stopped because {s.get('stopped_because')}[/]"
        )


def print_checklist(console: Console, result: RunResult) -> None:
    """Each part of the task with the value that answers it, or "missing"."""
    if result.checklist:
        console.print("[bold]parts of the task:[/]")
    for part in result.checklist:
        value = f"[green]✓[/] {escape(part.value)}" if part.value is not None else "[red]✗ missing[/]"
        console.print(f"  {escape(part.text)}: {value}", highlight=False)
    if result.unchecked:
        console.print(f"[yellow]{escape(result.unchecked)}[/]", highlight=False)


_EFFECT_STYLE = {"read": "[green]", "write": "[yellow]", "destructive": "[red]"}


def _print_writes(console: Console, result: RunResult) -> None:
    """Every state-changing call the run sent (or, in a dry run, would send)."""
    if result.writes:
        console.print(f"[bold]{len(result.writes)} state-changing call(s) sent:[/]")
    for w in result.writes:
        args = escape(json.dumps(w.arguments, ensure_ascii=False)[:160])
        console.print(
            f"  {_EFFECT_STYLE[w.effect]}{w.effect}[/] {escape(w.tool)} {args} → {w.status}", highlight=False
        )
    if result.staged:
        console.print(f"[bold]dry run: {len(result.staged)} state-changing call(s) not sent:[/]")
    for item in result.staged:
        args = escape(json.dumps(item.get("arguments"), ensure_ascii=False)[:160])
        console.print(f"  {escape(str(item.get('tool')))} {args}", highlight=False)


def print_tools(console: Console, tools: list[dict[str, Any]], failed: dict[str, str]) -> None:
    """The live catalog as a table."""
    table = Table(title=f"{len(tools)} tools")
    table.add_column(
        "tool", style="cyan", no_wrap=True, min_width=max((len(t["name"]) for t in tools), default=4)
    )
    table.add_column("effect", no_wrap=True)
    table.add_column("parameters")
    table.add_column("description")
    for tool in tools:
        schema = tool["input_schema"]
        required = set(schema.get("required", []))
        params = ", ".join(p + ("*" if p in required else "") for p in schema.get("properties", {}))
        effect = f"{_EFFECT_STYLE[tool['effect']]}{tool['effect']}[/] [dim]({tool['effect_source']})[/]"
        table.add_row(
            escape(tool["name"]), effect, escape(params), escape(" ".join(tool["description"].split())[:100])
        )
    console.print(table)
    for server, reason in failed.items():
        console.print(f"[red]{escape(server)} did not start:[/] {escape(reason)}", highlight=False)


def print_summary(console: Console, summary: dict[str, dict[str, Any]]) -> None:
    """A benchmark summary: one row per method."""
    table = Table(title="benchmark")
    columns = ("method", "runs", "solved (answer)", "solved (lenient)", "feasible", "lm calls", "tokens")
    for column in (*columns, "tool calls", "wall s"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method, m in summary.items():
        table.add_row(
            method,
            f"{m['runs']}" + (f" (+{m['skipped']} skipped)" if m["skipped"] else ""),
            pct(m.get("solved_answer")),
            pct(m["solved"]),
            pct(m["feasibility"]),
            f"{m['lm_calls']:.1f}",
            f"{m['prompt_tokens'] + m['completion_tokens']:.0f}",
            f"{m['tool_calls']:.1f}",
            f"{m['wall_s']:.1f}",
        )
    console.print(table)
