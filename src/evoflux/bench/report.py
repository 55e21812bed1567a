"""Benchmark reports: a markdown table and two plots from a summary (`runner.summarize`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["markdown_table", "pct", "write_plots"]


def pct(stat: dict[str, float] | None) -> str:
    """A rate over seeds: the mean, ± the 95% CI half-width when there were several seeds."""
    if stat is None:
        return "–"
    several = stat.get("n", 2 if stat["ci95"] else 1) > 1
    return f"{stat['mean']:.1%} ± {stat['ci95']:.1%}" if several else f"{stat['mean']:.1%}"


def markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    """One row per method: rates (mean over seeds, ± the 95% CI half-width when there are several seeds):
    solved answer-only (the headline), solved lenient (a number in any output counts), the share the runs
    called answered themselves, feasible; MCP-Bench's rule-based rates, and mean cost per run."""
    head = (
        "| method | runs | solved (answer) | solved (lenient) | called answered | feasible "
        "| valid tool names | schema compliance | execution success | model calls | prompt tokens "
        "| completion tokens "
        "| tool calls | wall s | tokens / feasible |"
    )
    lines = [head, "|" + "---|" * 15]
    for method, m in summary.items():
        rates = [
            m.get(k) for k in ("valid_tool_name_rate", "schema_compliance_rate", "execution_success_rate")
        ]
        shown = [f"{r:.1%}" if r is not None else "–" for r in rates]
        per_feasible = m.get("tokens_per_feasible")
        runs = f"{m['runs']} (+{m['skipped']} skipped)" if m["skipped"] else str(m["runs"])
        lines.append(
            f"| {method} | {runs} | {pct(m.get('solved_answer'))} | {pct(m['solved'])} "
            f"| {pct(m.get('answered'))} | {pct(m['feasibility'])} | {' | '.join(shown)} "
            f"| {m['lm_calls']:.1f} | {m['prompt_tokens']:.0f} | {m['completion_tokens']:.0f} "
            f"| {m['tool_calls']:.1f} | {m['wall_s']:.1f} | {'–' if per_feasible is None else per_feasible} |"
        )
    return "\n".join(lines)


def write_plots(summary: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """`out/rates.png` (feasibility and solved rate per method, with 95% CI error bars) and
    `out/tokens_vs_solved.png`; [] when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    methods = list(summary)
    x = range(len(methods))
    fig, ax = plt.subplots(figsize=(1.6 + 1.6 * len(methods), 3.8))
    bars = (("feasibility", "feasible"), ("solved", "solved (lenient)"), ("solved_answer", "solved (answer)"))
    for offset, (key, label) in zip((-0.27, 0.0, 0.27), bars, strict=True):
        stats = [summary[m].get(key) or {"mean": 0.0, "ci95": 0.0} for m in methods]
        means = [stat["mean"] for stat in stats]
        errors = [stat["ci95"] for stat in stats]
        ax.bar([i + offset for i in x], means, width=0.27, yerr=errors, capsize=3, label=label)
    seeds = max((summary[m].get("seeds", 1) for m in methods), default=1)
    ax.set_xticks(list(x), [f"{m}\n{summary[m]['runs']} runs" for m in methods])
    ax.set_title(f"Rates per method ({seeds} seed{'s' if seeds != 1 else ''}; bars: 95% CI over seeds)")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of tasks")
    ax.legend()
    fig.tight_layout()
    rates = out / "rates.png"
    fig.savefig(rates, dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    for m in methods:
        tokens = summary[m]["prompt_tokens"] + summary[m]["completion_tokens"]
        solved = (summary[m].get("solved_answer") or summary[m]["solved"])["mean"]
        ax.scatter([tokens], [solved], label=m)
        ax.annotate(
            f"{m} ({summary[m]['runs']} runs)", (tokens, solved), textcoords="offset points", xytext=(4, 4)
        )
    ax.set_title("Cost against solved (answer-only)")
    ax.set_xlabel("tokens per run (prompt + completion)")
    ax.set_ylabel("solved rate (answer-only)")
    ax.set_ylim(0, 1)
    fig.tight_layout()
    cost = out / "tokens_vs_solved.png"
    fig.savefig(cost, dpi=120)
    plt.close(fig)
    return [rates, cost]
