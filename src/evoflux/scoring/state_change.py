"""State-change intent: the task asks to write, save, store, record or create something and no step
changes anything (the verdict is halved), or a write carries a part of it (the part is credited).
With a task contract, its `changes` say what the task asks to change; without one, the verbs below (an
English word list fitted to our suites, which misfires on questions about past changes: 25 of 104
MCP-Bench task texts match it, nearly all of them read-only) stand in until the contract is the default."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from evoflux.scoring.contract import TaskContract
from evoflux.scoring.coverage import Coverage, Part, salient_terms
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Trace

__all__ = [
    "CHANGE_CREDIT_SHARE",
    "CHANGE_CREDIT_WEIGHT",
    "UNMET_CHANGE_FACTOR",
    "change_clauses",
    "credit_changes",
    "judged_with_changes",
    "makes_change",
    "unmet_change",
]

UNMET_CHANGE_FACTOR = 0.5
"""What the judged coverage of a workflow that left the task's change undone is multiplied by."""

_STEMS = r"writ|sav|stor|record|remember|creat|edit|delet|remov|renam|mov|append|updat|insert|overwrit"
_CHANGE = re.compile(rf"\b(?:{_STEMS})(?:e|es|ed|ing|s)?\b", re.IGNORECASE)
_TOOL_VERB = re.compile(rf"(?:^|_)(?:(?:{_STEMS})(?:e|es|s)?|set|put|make|new)(?:_|$)")
_END = re.compile(r"[.;?!](?:\s|$)")
_MAX_CLAUSE = 120
CHANGE_CREDIT_SHARE = 0.5
"""The share of a change part's words and numbers a write's arguments must hold to be credited with it."""
CHANGE_CREDIT_WEIGHT = 0.5
"""What a credited change part counts for, against 1 for a part whose value an output verified."""


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


def unmet_change(
    workflow: Workflow, task: str, specs: Mapping[str, ToolSpec], contract: TaskContract | None = None
) -> str | None:
    """The first change the task asks for, when the tools (`server.tool` to spec) could make one and no
    step of the workflow does; else None. The changes are the contract's when there is one (a question
    that mentions something created or removed asks for none), else the task's clauses with a change verb."""
    clauses = [c.what for c in contract.changes] if contract is not None else change_clauses(task)
    if not clauses or not any(makes_change(s) and not s.unusable for s in specs.values()):
        return None
    if any(makes_change(specs[n.tool]) for n in workflow.nodes if n.tool in specs):
        return None
    return clauses[0]


def credit_changes(coverage: Coverage, trace: Trace, specs: Mapping[str, ToolSpec]) -> Coverage:
    """The verdict with the missing parts that ask for a change credited (at `CHANGE_CREDIT_WEIGHT` of a
    verified part) when a call that changes state, sent or staged, carries at least `CHANGE_CREDIT_SHARE`
    of the part's words and numbers in its arguments. A write's values come from the task, so a judge
    that counts echoes as unverified never credits them, and a staged write has no output to quote; yet
    carrying the task's words is not proof, so credit alone never makes a run solved or answered."""
    written = " ".join(
        json.dumps(run.arguments, ensure_ascii=False, default=str)
        for run in trace.runs.values()
        if run.arguments and (run.status == "staged" or (run.status == "ok" and _changes(run.tool, specs)))
    )
    if not written or not coverage.missing:
        return coverage
    have = salient_terms(written)
    done = [part for part in coverage.missing if _carried(part, have)]
    if not done:
        return coverage
    parts = len(coverage.checklist) or _judged_parts(coverage)
    missing = [part for part in coverage.missing if part not in done]
    score = min(1.0, coverage.score + CHANGE_CREDIT_WEIGHT * len(done) / parts) if parts else coverage.score
    checklist = [
        Part(text=p.text, value="written") if p.value is None and p.text in done else p
        for p in coverage.checklist
    ]
    return coverage.model_copy(
        update={"score": max(coverage.score, score), "missing": missing, "checklist": checklist}
    )


def _changes(tool: str, specs: Mapping[str, ToolSpec]) -> bool:
    return tool in specs and makes_change(specs[tool])


def _carried(part: str, have: set[str]) -> bool:
    if not _CHANGE.search(part):
        return False
    wanted = salient_terms(_CHANGE.sub(" ", part))
    return bool(wanted) and len(wanted & have) >= CHANGE_CREDIT_SHARE * len(wanted)


def _judged_parts(coverage: Coverage) -> int:
    """How many parts a verdict judged, from its score and missing parts when it does not say."""
    missing = len(coverage.missing)
    return (
        missing if coverage.score >= 1.0 or coverage.score <= 0.0 else round(missing / (1 - coverage.score))
    )


def judged_with_changes(
    coverage: Coverage | None,
    workflow: Workflow,
    task: str,
    tools: Mapping[str, ToolSpec],
    trace: Trace | None = None,
    contract: TaskContract | None = None,
) -> Coverage | None:
    """A coverage verdict with the unmet change (if any) added as the first missing part and the score
    multiplied by `UNMET_CHANGE_FACTOR`; with `trace`, change parts its writes carry are credited
    (`credit_changes`)."""
    if coverage is not None and trace is not None:
        coverage = credit_changes(coverage, trace, tools)
    undone = unmet_change(workflow, task, tools, contract) if coverage is not None else None
    if coverage is None or undone is None:
        return coverage
    return coverage.model_copy(
        update={"score": coverage.score * UNMET_CHANGE_FACTOR, "missing": [undone, *coverage.missing]}
    )
