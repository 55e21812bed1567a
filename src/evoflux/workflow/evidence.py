"""Evidence: what executed nodes returned, as the text the answer and the verdict are written from, and
the numbers in a text checked against it (a number counts at the precision it is written)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Trace

__all__ = [
    "CALL_PREFIX",
    "answer_sources",
    "computed_numbers",
    "evidence_text",
    "number_found",
    "number_tokens",
    "outputs_text",
    "render_value",
    "tidy_numbers",
    "ungrounded_numbers",
]


def answer_sources(workflow: Workflow) -> list[str]:
    """The nodes the answer draws on: those the answer step names, else the graph's sinks."""
    ids = [n.id for n in workflow.nodes]
    named = [u for u in workflow.answer.uses if u in ids]
    if named:
        return named
    referenced = {dep for deps in workflow.dependencies().values() for dep in deps}
    return [i for i in ids if i not in referenced] or ids


def render_value(value: Any, max_chars: int = 1500) -> str:
    """A tool output as compact JSON (a text output as a quoted JSON string, so that whatever it says stays
    one delimited value in a prompt, never new prompt lines), truncated with a marker."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= max_chars else text[:max_chars] + " …[truncated]"


def evidence_text(
    workflow: Workflow, trace: Trace, max_chars: int = 4000, *, every_node: bool = False
) -> str:
    """What the executed sources (or, with `every_node`, all executed nodes) returned, one block per
    node, bounded; staged writes and the nodes waiting for them are listed as such."""
    blocks = []
    budget = max_chars
    order = [n.id for n in workflow.nodes] if every_node else answer_sources(workflow)
    order += [node for node in trace.pending if node not in order]
    for node_id in order:
        run = trace.runs.get(node_id)
        if run is None or run.status not in ("ok", "staged", "waiting"):
            continue
        args = json.dumps(run.arguments or {}, ensure_ascii=False, default=str)
        if run.status == "staged":
            block = f"{node_id} = {run.tool}({args[:300]}) is staged: sent once, when this workflow is chosen"
        elif run.status == "waiting":
            block = f"{node_id} = {run.tool}(...) waits for a staged write"
        else:
            block = (
                f"{node_id} = {run.tool}({args[:300]}) returned: {render_value(run.output, max(200, budget))}"
            )
        blocks.append(block)
        budget -= len(block)
        if budget <= 200:
            break
    return "\n".join(blocks)


def outputs_text(workflow: Workflow, trace: Trace, max_chars: int = 4000) -> str:
    """What the answer's sources returned, tool by tool, without their arguments or node ids: the plain
    fallback answer, which states no number that is not in an output (a cut never splits a number)."""
    blocks = []
    room = max_chars
    for node_id in answer_sources(workflow):
        run = trace.runs.get(node_id)
        if run is None or run.status != "ok" or room <= 0:
            continue
        text = json.dumps(run.output, ensure_ascii=False, default=str)
        if len(text) > room:
            text = text[:room].rstrip("0123456789.,-") + " …[truncated]"
        blocks.append(f"{run.tool} returned: {text}")
        room -= len(text)
    return "\n".join(blocks)


def number_tokens(text: str) -> list[str]:
    """Every unsigned decimal in a text, as written (`2025-01-01T14:30` gives 2025, 01, 01, 14, 30)."""
    return re.findall(r"\d+(?:\.\d+)?", re.sub(r"(?<=\d),(?=\d{3}\b)", "", text))


CALL_PREFIX = re.compile(r"(?m)^[A-Za-z_][\w\-]* = \S+?\((?P<args>.*?)\) returned: ")


def computed_numbers(evidence: str) -> set[float]:
    """The numbers the calls of an evidence text returned that are not among their own arguments."""
    out: set[float] = set()
    for line in evidence.splitlines():
        call = CALL_PREFIX.match(line)
        given = {float(n) for n in number_tokens(call.group("args"))} if call else set()
        returned = line[call.end() :] if call else line
        out |= {float(n) for n in number_tokens(returned)} - given
    return out


def ungrounded_numbers(answer: str, outputs: dict[str, Any], task: str = "") -> list[str]:
    """The numbers an answer states that no executed output holds (at the answer's precision) and the
    task does not give: values the writer computed or made up instead of taking them from a tool."""
    text = json.dumps(outputs, ensure_ascii=False, default=str)[:200_000]
    have = {float(n) for n in number_tokens(text)} | {float(n) for n in number_tokens(task)}
    return [n for n in dict.fromkeys(number_tokens(answer)) if not number_found(n, have)]


_LONG_DECIMAL = re.compile(r"(?<![\w.:\-])(-?\d+)\.(\d{7,})(?![\w.])")
"""A decimal with seven or more fraction digits, not inside a time, version, identifier or exponent."""
SIGNIFICANT = 6


def tidy_numbers(text: str) -> str:
    """Computed decimals as a person writes them: a number with seven or more fraction digits
    (`37.77777777777778`, `0.30000000000000004`) keeps `SIGNIFICANT` digits, at least two decimals,
    without trailing zeros. Shorter decimals are left as the tools or the writer wrote them."""

    def shorten(match: re.Match[str]) -> str:
        value = float(match.group(0))
        magnitude = math.floor(math.log10(abs(value))) + 1 if value else 1
        places = max(2, SIGNIFICANT - magnitude)
        shown = f"{value:.{places}f}".rstrip("0").rstrip(".")
        return shown if shown not in ("-0", "") else "0"

    return _LONG_DECIMAL.sub(shorten, text)


def number_found(written: str, have: set[float]) -> bool:
    digits = len(written.split(".")[1]) if "." in written else 0
    wanted = float(written)
    return wanted in have or any(round(h, digits) == wanted for h in have)
