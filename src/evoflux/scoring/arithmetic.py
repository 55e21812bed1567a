"""Chain intent: the task asks for a computation on earlier results, and no step takes any."""

from __future__ import annotations

import re

from evoflux.workflow.graph import Workflow

__all__ = ["chain_gap", "computation_clauses"]

_THEN = re.compile(r"(?:,\s*|\b)(?:and\s+)?then\b[\s,]*", re.IGNORECASE)
_ARITHMETIC = re.compile(
    r"\b(?:comput\w*|calculat\w*|work(?:s|ed)? out|multipl\w*|divid\w*|add(?:s|ed)? (?:up|together|them|\d)|"
    r"sum|total\w*|averag\w*|round\w*|subtract\w*|difference|product|per|times|twice|double|half|"
    r"squared?|percent\w*|ratio|how many|how much)\b|%",
    re.IGNORECASE,
)
_END = re.compile(r"[.;?!]\s|[.;?!]$")


def computation_clauses(task: str) -> list[str]:
    """The clauses after a `then` that ask for arithmetic, each up to the end of its sentence."""
    clauses = []
    for match in _THEN.finditer(task):
        rest = task[match.end() :]
        end = _END.search(rest)
        clause = (rest[: end.start()] if end else rest).strip(" ,")
        if clause and _ARITHMETIC.search(clause):
            clauses.append(clause)
    return clauses


def chain_gap(workflow: Workflow, task: str) -> str | None:
    """The last clause of the task that asks for arithmetic on earlier results, when no step of the
    workflow takes another step's output; else None."""
    if not workflow.nodes or any(deps for deps in workflow.dependencies().values()):
        return None
    clauses = computation_clauses(task)
    return clauses[-1] if clauses else None
