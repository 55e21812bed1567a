"""Benchmark reports: a markdown table and two plots from a summary (`runner.summarize`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["markdown_table", "write_plots"]


def _pct(stat: dict[str, float]) -> str:
    return f"{stat['mean']:.1%} ± {stat['ci95']:.1%}" if stat["ci95"] else f"{stat['mean']:.1%}"


def markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    """One row per method: rates (mean over seeds, ± the 95% CI half-width when there are several seeds),
    MCP-Bench's rule-based rates, and mean cost per run."""
    head = (
        "| method | runs | feasible | solved | valid tool names | schema compliance | execution success "
        "| model calls | prompt tokens | completion tokens | tool calls | wall s | tokens / feasible |"
    )
    lines = [head, "|" + "---|" * 13]
    for method, m in summary.items():
        rates = [
            m.get(k) for k in ("valid_tool_name_rate", "schema_compliance_rate", "execution_success_rate")
        ]
        shown = [f"{r:.1%}" if r is not None else "–" for r in rates]
        per_feasible = m.get("tokens_per_feasible")
        runs = f"{m['runs']} (+{m['skipped']} skipped)" if m["skipped"] else str(m["runs"])
        lines.append(
            f"| {method} | {runs} | {_pct(m['feasibility'])} | {_pct(m['solved'])} | {' | '.join(shown)} "
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
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(methods), 3.6))
    for offset, key, label in ((-0.2, "feasibility", "feasible"), (0.2, "solved", "solved")):
        means = [summary[m][key]["mean"] for m in methods]
        errors = [summary[m][key]["ci95"] for m in methods]
        ax.bar([i + offset for i in x], means, width=0.4, yerr=errors, capsize=3, label=label)
    ax.set_xticks(list(x), methods)
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
        ax.scatter([tokens], [summary[m]["solved"]["mean"]], label=m)
        ax.annotate(m, (tokens, summary[m]["solved"]["mean"]), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("tokens per run (prompt + completion)")
    ax.set_ylabel("solved rate")
    ax.set_ylim(0, 1)
    fig.tight_layout()
    cost = out / "tokens_vs_solved.png"
    fig.savefig(cost, dpi=120)
    plt.close(fig)
    return [rates, cost]
