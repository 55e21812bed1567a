"""Meta-guided redesign's input: what failed across a population, compactly."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from evoflux.search.population import Evaluated

__all__ = ["failure_summary"]


def failure_summary(task: str, evaluated: Sequence[Evaluated], best: Evaluated | None, limit: int = 6) -> str:
    """What failed across the population, compactly: stages, tools, error messages, the best design."""
    stages: Counter[str] = Counter()
    tools: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    for item in evaluated:
        for d in item.feedback:
            stages[d.stage.label] += 1
            messages[d.message[:140]] += 1
            node = item.candidate.workflow.node(d.node) if d.node else None
            if node is not None:
                tools[node.tool] += 1
        if item.coverage is not None:
            missing.update(m[:100] for m in item.coverage.missing)
    lines = [f"{len(evaluated)} workflows tried."]
    if stages:
        lines.append("Failures by stage: " + ", ".join(f"{k} x{v}" for k, v in stages.most_common()))
    if tools:
        lines.append("Tools that failed: " + ", ".join(f"{k} x{v}" for k, v in tools.most_common(limit)))
    lines += [f"- {m} (x{n})" for m, n in messages.most_common(limit)]
    if missing:
        lines.append("Parts of the task left unanswered: " + "; ".join(m for m, _ in missing.most_common(3)))
    if best is not None:
        steps = " -> ".join(n.tool for n in best.candidate.workflow.nodes) or "(no steps)"
        lines.append(f"Best so far ({best.candidate.fitness.stage_label}): {steps}")
    return "\n".join(lines)
