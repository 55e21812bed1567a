"""State-change intent: the task asks to write, save, store, record or create something, and no step
changes anything."""

from __future__ import annotations

import re
from collections.abc import Mapping

from evoflux.scoring.fitness import Coverage
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.graph import Workflow

__all__ = ["UNMET_CHANGE_FACTOR", "change_clauses", "judged_with_changes", "makes_change", "unmet_change"]

UNMET_CHANGE_FACTOR = 0.5
"""What the judged coverage of a workflow that left the task's change undone is multiplied by."""

_STEMS = r"writ|sav|stor|record|remember|creat|edit|delet|remov|renam|mov|append|updat|insert|overwrit"
_CHANGE = re.compile(rf"\b(?:{_STEMS})(?:e|es|ed|ing|s)?\b", re.IGNORECASE)
_TOOL_VERB = re.compile(rf"(?:^|_)(?:(?:{_STEMS})(?:e|es|s)?|set|put|make|new)(?:_|$)")
_END = re.compile(r"[.;?!](?:\s|$)")
_MAX_CLAUSE = 120


def change_clauses(task: str) -> list[str]:
    """Each part of the task that asks for a change: from its verb to the end of the sentence (at most
    120 characters), in order, each once."""
    out: list[str] = []
    for match in _CHANGE.finditer(task):
        rest = task[match.start() :]
        end = _END.search(rest)
        clause = (rest[: end.start()] if end else rest).strip(" ,")[:_MAX_CLAUSE]
        if clause and not any(clause in seen for seen in out):
            out.append(clause)
    return out


def makes_change(spec: ToolSpec) -> bool:
    """Whether calling the tool changes state: as the config or its server says, else by its name's verb."""
    if spec.effect_source == "config":
        return spec.effect != "read"
    if spec.read_only is not None:
        return not spec.read_only
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[-.\s]+", "_", spec.tool).lower()
    return _TOOL_VERB.search(words) is not None


def unmet_change(workflow: Workflow, task: str, specs: Mapping[str, ToolSpec]) -> str | None:
    """The first clause of a task that asks for a change, when the tools (`server.tool` to spec) could
    make one and no step of the workflow does; else None."""
    clauses = change_clauses(task)
    if not clauses or not any(makes_change(s) and not s.unusable for s in specs.values()):
        return None
    if any(makes_change(specs[n.tool]) for n in workflow.nodes if n.tool in specs):
        return None
    return clauses[0]


def judged_with_changes(
    coverage: Coverage | None, workflow: Workflow, task: str, tools: Mapping[str, ToolSpec]
) -> Coverage | None:
    """A coverage verdict with the unmet change (if any) added as the first missing part and the score
    multiplied by `UNMET_CHANGE_FACTOR`."""
    undone = unmet_change(workflow, task, tools) if coverage is not None else None
    if coverage is None or undone is None:
        return coverage
    return coverage.model_copy(
        update={"score": coverage.score * UNMET_CHANGE_FACTOR, "missing": [undone, *coverage.missing]}
    )
