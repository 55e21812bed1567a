"""Property: whatever the answer writer says, the final answer states no number that is neither in an
executed output nor in the task, over the outputs of recorded benchmark runs (dev suite, `c17f79b`)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from evoflux.workflow.answer import compose_answer
from evoflux.workflow.evidence import tidy_numbers, ungrounded_numbers
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import NodeRun, Trace

ROWS = Path(__file__).parents[2] / "docs" / "bench-4m-c17f79b" / "results.jsonl"


def recorded() -> list[tuple[str, Workflow, Trace]]:
    """Every feasible recorded run as (task, workflow, trace with its outputs and no answer yet)."""
    cases = []
    for line in ROWS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        nodes = (row.get("workflow") or {}).get("nodes") or []
        if not row.get("feasible") or not nodes:
            continue
        plan = {"nodes": [{k: n[k] for k in ("id", "tool", "args")} for n in nodes]}
        workflow = Workflow.model_validate(plan | {"answer": row["workflow"].get("answer") or {}})
        runs = {
            n["id"]: NodeRun(
                node=n["id"], tool=n["tool"], status="ok", arguments=n["args"], output=n.get("output")
            )
            for n in nodes
        }
        cases.append((row["task"], workflow, Trace(runs=runs)))
    return cases


CASES = recorded()


class Saying:
    """An answer writer (test double for the model) that says whatever it is given."""

    def __init__(self, text: str) -> None:
        self.text = text

    def write_answer(self, task: str, evidence: str, draft: str, changes: str = "") -> str | None:
        return self.text


numbers = st.one_of(
    st.integers(0, 10**6).map(str), st.floats(0, 1e4, allow_nan=False).map(lambda f: f"{f:.2f}")
)
words = st.sampled_from(["The answer is", "so", "and", "total", "°C", "km", "roughly", "="])
replies = st.lists(st.one_of(numbers, words), min_size=1, max_size=12).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(CASES), reply=replies, use_output=st.booleans())
def test_an_answer_never_states_a_number_absent_from_the_outputs_and_the_task(
    case: tuple[str, Workflow, Trace], reply: str, use_output: bool
) -> None:
    task, workflow, recorded_trace = case
    trace = recorded_trace.model_copy(deep=True)
    if use_output:  # a writer that quotes an output number as well as the ones it makes up
        reply += " " + json.dumps(next(iter(trace.outputs.values()), ""), default=str)[:40]
    compose_answer(task, workflow, trace, Saying(reply))
    assert trace.answer is not None
    assert ungrounded_numbers(trace.answer, trace.outputs, task) == []


def test_the_recorded_runs_are_there_to_draw_from() -> None:
    assert len(CASES) > 100
    assert all(isinstance(t.outputs, dict) for _, _, t in CASES[:5])


def test_computed_decimals_are_shown_rounded_and_stay_grounded() -> None:
    workflow = Workflow.model_validate(
        {"nodes": [{"id": "n1", "tool": "u.convert", "args": {"value": 100}}], "answer": {"uses": ["n1"]}}
    )
    output = {"celsius": 37.77777777777778, "tripled": 113.33333333333334, "at": "14:30:00.1234567"}
    trace = Trace(runs={"n1": NodeRun(node="n1", tool="u.convert", status="ok", output=output)})
    said = "100 °F is 37.77777777777778 °C, tripled 113.33333333333334, at 14:30:00.1234567."
    compose_answer("Convert 100 °F to °C and triple it.", workflow, trace, Saying(said))
    assert trace.answer == "100 °F is 37.7778 °C, tripled 113.333, at 14:30:00.1234567."


@settings(max_examples=300, deadline=None)
@given(value=st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False))
def test_a_tidied_number_is_close_to_the_output_and_counts_as_grounded(value: float) -> None:
    shown = tidy_numbers(f"about {value!r} units")
    assert ungrounded_numbers(shown, {"v": value}) == []
    number = float(shown.split()[1])
    assert abs(number - value) <= max(1e-5 * abs(value), 0.005)
