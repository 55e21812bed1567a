"""Chain intent: the task asks for a computation on earlier results, and no step takes any.

"Convert the backup size to gigabytes, then work out how many DVDs are needed" asks for a step that
takes the conversion's output. Small planners often stop at the independent first steps -- every call
runs, and a lenient judge may accept the converted numbers. The check is read from the task's words
only: a clause after `then` that asks for arithmetic (`compute`, `work out`, `multiply`, `divide`,
`add up`, `total`, `average`, `round`, `per`, a percentage, ...) when no step of the workflow references
another step's output. That clause is the part of the task nothing answers yet: it goes back to the
search as a missing part (so the model-guided step insertion writes a step for it), and the fitness
discounts the coverage of such a flat workflow (`fitness.effective_coverage`).

A sequential task without arithmetic ("write the file, then read it back") is not a chain in this
sense: reading back needs the path, not the write's output.
"""

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
