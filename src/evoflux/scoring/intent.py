"""Intent checks: does a workflow use the numbers the task gives, and only those?"""

from __future__ import annotations

import re
from typing import Any

from evoflux.scoring.arithmetic import chain_gap
from evoflux.scoring.direction import misdirected
from evoflux.scoring.tasktext import numbers_in, readings, strings_in, task_numbers, task_texts
from evoflux.workflow.diagnostics import NOT_COVERED, Diagnostic, Stage
from evoflux.workflow.graph import Workflow

__all__ = [
    "intent_feedback",
    "invented_numbers",
    "invented_quantities",
    "misdirected_share",
    "unused_quantities",
    "unused_task_numbers",
    "unused_task_texts",
]

_TRIVIAL = {0.0, 1.0}


def intent_feedback(workflow: Workflow, task: str) -> list[Diagnostic]:
    """The intent checks of `effective_coverage` as feedback for the next edit: each task number no step
    uses (a part of the task nothing does yet), each quoted text or file name no step uses, each step
    that uses a number the task does not give, and each step whose source and target go the other way
    round from the task, nowhere, or elsewhere."""
    out = [
        Diagnostic(
            stage=Stage.ANSWER,
            message=f"the task's number {_fmt(q)} is not used by any step",
            hint=f"add a step (or fix one) that uses {_fmt(q)} as the task says",
        )
        for q in unused_task_numbers(workflow, task)
    ]
    out += [
        Diagnostic(
            stage=Stage.ANSWER,
            message=f"the task's text {text!r} is not used by any step",
            hint=f"add a step (or fix one) that uses {text!r} as the task says",
        )
        for text in unused_task_texts(workflow, task)
    ]
    for node in workflow.nodes:
        invented = invented_numbers(node.args, task)
        if invented:
            out.append(
                Diagnostic(
                    stage=Stage.ANSWER,
                    node=node.id,
                    message=f"{node.id} uses {_fmt(invented[0])}, a number the task does not give",
                    hint="take the value from the task or from an earlier step's output",
                )
            )
    clause = chain_gap(workflow, task)
    if clause is not None:  # after the verdict's parts: the step insertion writes it (`step_purpose`)
        out.append(
            Diagnostic(
                stage=Stage.ANSWER,
                message=f"{NOT_COVERED}{clause}",
                hint="add a step that takes the earlier steps' outputs as input and does this",
            )
        )
    for found in misdirected(workflow, task):
        target = workflow.node(found.node)
        if target is not None:
            out.append(
                Diagnostic(
                    stage=Stage.ANSWER,
                    node=found.node,
                    message=found.message(target.args),
                    hint=found.hint(),
                )
            )
    return out


def misdirected_share(workflow: Workflow, task: str) -> float:
    """The share of nodes whose source/target arguments go the other way round from the task, from a
    value to itself, or between values the task never mentions."""
    if not workflow.nodes:
        return 0.0
    return len({m.node for m in misdirected(workflow, task)}) / len(workflow.nodes)


def unused_task_numbers(workflow: Workflow, task: str) -> list[float]:
    """The task's numbers (each once, in order) that no argument uses, as written or as a fraction. A
    step from a value to itself (`endpoints`: kilopascal to kilopascal) does nothing with its number,
    so a number only such a step takes counts as unused."""
    idle = {m.node for m in misdirected(workflow, task) if m.kind == "stationary"}
    used = {round(n, 9) for node in workflow.nodes if node.id not in idle for n in numbers_in(node.args)}
    return [
        float(q)
        for q in dict.fromkeys(task_numbers(task))
        if not any(round(r, 9) in used for r in readings(q))
    ]


def invented_numbers(args: Any, task: str) -> list[float]:
    """The numeric literals of an argument value (outside references; 0 and 1 aside) that the task does
    not give, as written or a percentage as a fraction."""
    given = {round(r, 9) for q in task_numbers(task) for r in readings(q)}
    literals = [n for n in numbers_in(_without_refs(args)) if abs(n) not in _TRIVIAL]
    return [n for n in literals if round(n, 9) not in given and round(abs(n), 9) not in given]


def _fmt(number: float) -> str:
    return f"{number:g}"


def invented_quantities(workflow: Workflow, task: str) -> float:
    """The share of nodes with a numeric literal in their arguments that the task does not give (as
    written, or a percentage as a fraction), 0 and 1 aside. Numbers inside references do not count."""
    if not workflow.nodes:
        return 0.0
    return sum(bool(invented_numbers(node.args, task)) for node in workflow.nodes) / len(workflow.nodes)


def _without_refs(value: Any) -> Any:
    """An argument value with references (whole, `$n1.x`, or `{{n1.x}}` inside text) taken out."""
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return None
        return {k: _without_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_refs(v) for v in value]
    if isinstance(value, str):
        return None if value.startswith("$") else re.sub(r"\{\{[^{}]*\}\}", " ", value)
    return value


def unused_quantities(workflow: Workflow, task: str) -> float:
    """The share of the task's quantities (numbers, and texts to use as given: quoted text and file
    names) that no argument uses (a number as written or as a fraction; a text inside any string
    argument, case aside). A workflow that dropped the step saving the note the task quotes computes
    the total all the same, and a lenient judge may not notice."""
    quantities, texts = task_numbers(task), task_texts(task)
    if not quantities and not texts:
        return 0.0
    unused = set(unused_task_numbers(workflow, task))
    return (sum(float(q) in unused for q in quantities) + len(unused_task_texts(workflow, task))) / (
        len(quantities) + len(texts)
    )


def unused_task_texts(workflow: Workflow, task: str) -> list[str]:
    """The task's quoted texts and file names that no string argument contains (case aside)."""
    given = [" ".join(s.lower().split()) for node in workflow.nodes for s in strings_in(node.args)]
    return [t for t in task_texts(task) if not any(" ".join(t.lower().split()) in g for g in given)]
