"""Fitness: the documented order, its components, and a scalar value that agrees with the order."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evoflux.scoring.coverage import Coverage
from evoflux.scoring.fitness import ANSWERED, Fitness, compute_fitness, grounding
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import Answer, Node, Workflow
from evoflux.workflow.trace import NodeRun, Trace

TASK = "Convert 451 fahrenheit to celsius and tell me the time in Asia/Tokyo"
WORKFLOW = Workflow(
    nodes=[
        Node(id="n1", tool="units.convert_temperature", args={"value": 451, "from_unit": "fahrenheit"}),
        Node(id="n2", tool="time.get_current_time", args={"timezone": "Asia/Tokyo"}),
    ],
    answer=Answer(uses=["n1", "n2"]),
)
OUTPUTS: dict[str, Any] = {
    "n1": {"value": 232.7777, "unit": "celsius"},
    "n2": {"timezone": "Asia/Tokyo", "datetime": "2025-01-01T14:30:00+09:00"},
}
ANSWER = "451 F is 232.78 degrees celsius; in Tokyo it is 14:30 on a Wednesday."


def _trace(
    ok: tuple[str, ...] = ("n1", "n2"),
    answer: str | None = ANSWER,
    diagnostics: list[Diagnostic] | None = None,
) -> Trace:
    runs = {
        node: NodeRun(
            node=node,
            tool="t",
            status="ok" if node in ok else "error",
            output=OUTPUTS[node] if node in ok else None,
        )
        for node in ("n1", "n2")
    }
    return Trace(runs=runs, answer=answer, diagnostics=diagnostics or [])


def _fail(stage: Stage, node: str | None = "n1") -> list[Diagnostic]:
    return [Diagnostic(stage=stage, node=node, message="failed")]


def test_stages_order_how_far_a_workflow_got() -> None:
    ladder = [compute_fitness(WORKFLOW, _trace(diagnostics=_fail(stage)), task=TASK) for stage in Stage]
    ladder.append(compute_fitness(WORKFLOW, _trace(), task=TASK))
    assert [f.reached for f in ladder] == list(range(ANSWERED + 1))
    assert ladder == sorted(ladder) and all(a < b for a, b in pairwise(ladder))
    assert ladder[-1].stage_label == "answered" and ladder[3].stage_label == "dependency"


def test_an_answer_needs_every_node_executed() -> None:
    partial = compute_fitness(WORKFLOW, _trace(ok=("n1",)), task=TASK)
    assert partial.reached == Stage.ANSWER and partial.executed == 0.5
    assert compute_fitness(WORKFLOW, _trace(answer=None), task=TASK).reached == Stage.ANSWER


def test_more_nodes_executed_ranks_higher_at_the_same_stage() -> None:
    execute = _fail(Stage.EXECUTE, "n2")
    one = compute_fitness(WORKFLOW, _trace(ok=("n1",), answer=None, diagnostics=execute), task=TASK)
    none = compute_fitness(WORKFLOW, _trace(ok=(), answer=None, diagnostics=execute), task=TASK)
    assert one.executed == 0.5 and none.executed == 0.0 and none < one


def test_coverage_outranks_grounding_and_penalties() -> None:
    covered = compute_fitness(
        WORKFLOW, _trace(answer="nothing useful"), Coverage(score=1.0), task="a b 1 2 3"
    )
    uncovered = compute_fitness(WORKFLOW, _trace(), Coverage(score=0.0), task=TASK)
    assert uncovered.grounding > covered.grounding and uncovered.penalty < covered.penalty
    assert uncovered < covered
    assert compute_fitness(WORKFLOW, _trace(), None, task=TASK).coverage == 0.0


def test_grounding_counts_answer_numbers_and_words_found_in_outputs() -> None:
    # Checked: 451, 232.78, 14, 30, "degrees", "wednesday" ("celsius" and "tokyo" are in the task).
    # Found: 232.78 (rounded from 232.7777), 14 and 30 (in the datetime).
    assert grounding(ANSWER, OUTPUTS, TASK) == 3 / 6
    assert grounding("It is 14:30.", OUTPUTS, TASK) == 1.0
    assert grounding(None, OUTPUTS, TASK) == 0.0
    assert grounding("Done", OUTPUTS, TASK) == 0.0
    assert grounding("The time in Tokyo", OUTPUTS, TASK) == 0.0


def test_penalties_for_lost_intent() -> None:
    lossy = Workflow(
        nodes=[
            Node(id="n1", tool="units.convert_temperature", args={"value": 1}),
            Node(id="n2", tool="time.get_current_time", args={"timezone": "UTC"}),
        ],
        answer=Answer(uses=["n1"]),
    )
    fitness = compute_fitness(lossy, _trace(), task="Convert 451 F, then 2 more", seed_size=4)
    assert fitness.unused_quantities == 1.0 and fitness.unused_outputs == 0.5 and fitness.dropped_steps == 0.5
    assert fitness.penalty == pytest.approx(0.4 + 0.15 + 0.1 + 0.01)
    full = compute_fitness(WORKFLOW, _trace(), task="Convert 451 F", seed_size=2)
    assert full.penalty == pytest.approx(0.01) and fitness < full


def test_an_answer_that_names_no_sources_uses_the_final_outputs() -> None:
    chain = WORKFLOW.model_copy(update={"answer": Answer()})
    assert compute_fitness(chain, _trace(), task=TASK).unused_outputs == 0.0


def test_smaller_workflows_win_ties() -> None:
    small, large = Fitness(reached=ANSWERED, size=2), Fitness(reached=ANSWERED, size=3)
    assert large < small and small.key()[:4] == large.key()[:4]


def test_coverage_feedback_renders_as_answer_diagnostics() -> None:
    (diagnostic,) = Coverage(score=0.5, missing=["the temperature in kelvin"]).feedback()
    assert diagnostic.stage == Stage.ANSWER and diagnostic.node is None
    assert "the temperature in kelvin" in str(diagnostic) and diagnostic.hint


def test_worst_and_best_values() -> None:
    assert Fitness.worst().value < 1 / (ANSWERED + 1)
    best = Fitness(reached=ANSWERED, executed=1.0, coverage=1.0, grounding=1.0)
    assert best.value == 1.0 and Fitness.worst() < best


_fitness = st.builds(
    Fitness,
    reached=st.integers(0, ANSWERED),
    executed=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    coverage=st.sampled_from([0.0, 0.3, 1.0]),
    grounding=st.sampled_from([0.0, 0.5, 1.0]),
    unused_quantities=st.sampled_from([0.0, 1.0]),
    unused_outputs=st.sampled_from([0.0, 0.5]),
    dropped_steps=st.sampled_from([0.0, 0.5]),
    size=st.integers(0, 30),
)


@given(_fitness, _fitness)
def test_value_is_strictly_monotone_with_the_order(a: Fitness, b: Fitness) -> None:
    assert 0.0 <= a.value <= 1.0
    assert (a < b) == (a.value < b.value)
    assert (a.key() == b.key()) == (a.value == b.value)


def test_verified_coverage_counts_only_values_the_tools_returned() -> None:
    from evoflux.scoring.coverage import verified_coverage

    evidence = (
        'n1 = unit.convert_temperature({"value": 100}) returned: {"result": 37.7778, "unit": "celsius"}'
    )
    both = verified_coverage([("100 F in C", "37.78"), ("the unit", "Celsius")], evidence)
    assert both.score == 1.0 and both.missing == []
    invented = verified_coverage([("100 F in C", "37.78"), ("times 3", "113.33")], evidence)
    assert invented.score == 0.5 and invented.missing == ["times 3"]
    assert verified_coverage([("anything", "")], evidence).score == 0.0


def test_effective_coverage_discounts_unused_task_quantities() -> None:
    from evoflux.scoring.coverage import Coverage
    from evoflux.scoring.fitness import effective_coverage

    task = "Convert 100 F to Celsius and multiply by 3"
    uses_both = Workflow.model_validate(
        {
            "nodes": [
                {"id": "n1", "tool": "u.c", "args": {"v": 100}},
                {"id": "n2", "tool": "m.e", "args": {"x": 3}},
            ]
        }
    )
    uses_one = Workflow.model_validate({"nodes": [{"id": "n1", "tool": "u.c", "args": {"v": 3}}]})
    full = Coverage(score=1.0)
    assert effective_coverage(full, uses_both, task) == 1.0
    assert effective_coverage(full, uses_one, task) == 0.75
    assert effective_coverage(None, uses_both, task) == 0.0


def test_verified_coverage_ignores_values_found_only_in_arguments_or_the_task() -> None:
    from evoflux.scoring.coverage import verified_coverage

    evidence = (
        'n1 = unit.convert_batch({"value": 3.5, "from_unit": "megabytes"}) returned: '
        '{"batch_results": [{"success": false, "error": "Missing field"}]}'
    )
    task = "How many kilobytes are in 3.5 megabytes?"
    verdict = verified_coverage(
        [("KB in 3.5 MB", "megabytes"), ("3.5 MB again", "3.5"), ("kilobytes err", "missing field")],
        evidence,
        task,
    )
    assert verdict.missing == ["KB in 3.5 MB", "3.5 MB again"] and verdict.score == pytest.approx(1 / 3)


def test_one_quoted_value_answers_only_one_part() -> None:
    from evoflux.scoring.coverage import verified_coverage

    evidence = 'n1 = u.convert({"value": 25}) returned: {"converted_value": 77.0}'
    verdict = verified_coverage(
        [("25 C in F", "77.0"), ("that times 2", "77.0")], evidence, "25 C in F, times 2"
    )
    assert verdict.score == 0.5 and verdict.missing == ["that times 2"]


def test_a_percentage_passed_as_a_fraction_counts_as_used() -> None:
    from evoflux.scoring.coverage import Coverage
    from evoflux.scoring.fitness import effective_coverage

    workflow = Workflow.model_validate(
        {"nodes": [{"id": "n1", "tool": "m.e", "args": {"x": "0.185 * 2640"}}]}
    )
    assert effective_coverage(Coverage(score=1.0), workflow, "Work out 18.5 percent of 2640.") == 1.0


def test_steps_that_invent_quantities_discount_coverage() -> None:
    from evoflux.scoring.coverage import Coverage
    from evoflux.scoring.fitness import effective_coverage
    from evoflux.scoring.intent import invented_quantities

    task = "Convert 25 degrees Celsius to Fahrenheit, then multiply the result by 2."
    right = Workflow.model_validate(
        {
            "nodes": [
                {"id": "n1", "tool": "u.c", "args": {"value": 25, "to": "fahrenheit"}},
                {"id": "n2", "tool": "m.e", "args": {"expression": "{{n1.converted_value}} * 2"}},
            ]
        }
    )
    wrong = Workflow.model_validate(
        {
            "nodes": [
                {"id": "n1", "tool": "u.c", "args": {"value": 25, "to": "fahrenheit"}},
                {"id": "n2", "tool": "u.c", "args": {"value": 50, "to": "celsius"}},  # 50: invented
            ]
        }
    )
    assert invented_quantities(right, task) == 0.0 and invented_quantities(wrong, task) == 0.5
    full = Coverage(score=1.0)
    assert effective_coverage(full, right, task) == 1.0
    # 2 unused, n2 invents, and nothing takes n1's output though the task multiplies it (`chains`)
    assert effective_coverage(full, wrong, task) == pytest.approx(0.75 * 0.75 * 0.5)


def test_intent_feedback_names_unused_task_numbers_and_invented_ones() -> None:
    from evoflux.scoring.intent import intent_feedback

    task = "Convert 25 degrees Celsius to Fahrenheit, then multiply the result by 2."
    wrong = Workflow.model_validate(
        {
            "nodes": [
                {"id": "n1", "tool": "u.c", "args": {"value": 25}},
                {"id": "n2", "tool": "u.c", "args": {"value": 50, "note": "{{n1.x}} stays out"}},
            ]
        }
    )
    messages = [(d.stage, d.node, d.message) for d in intent_feedback(wrong, task)]
    assert messages == [
        (Stage.ANSWER, None, "the task's number 2 is not used by any step"),
        (Stage.ANSWER, "n2", "n2 uses 50, a number the task does not give"),
    ]


def test_a_step_going_the_other_way_round_discounts_coverage_and_is_named() -> None:
    from evoflux.scoring.coverage import Coverage
    from evoflux.scoring.fitness import effective_coverage
    from evoflux.scoring.intent import intent_feedback

    task = "Convert 100 degrees Fahrenheit to Celsius, then multiply the result by 3."
    args = {"value": 100, "from_unit": "celsius", "to_unit": "fahrenheit"}
    backwards = Workflow.model_validate(
        {
            "nodes": [
                {"id": "n1", "tool": "u.convert", "args": args},
                {"id": "n2", "tool": "m.calculate", "args": {"expression": "{{n1.converted_value}} * 3"}},
            ]
        }
    )
    assert effective_coverage(Coverage(score=1.0), backwards, task) == 0.75
    [feedback] = intent_feedback(backwards, task)
    assert feedback.node == "n1" and "'celsius' to 'fahrenheit'" in feedback.message
    assert feedback.hint == "swap the values of from_unit and to_unit"
    right = backwards.model_copy(deep=True)
    right.nodes[0].args = {**args, "from_unit": "fahrenheit", "to_unit": "celsius"}
    assert effective_coverage(Coverage(score=1.0), right, task) == 1.0
    assert intent_feedback(right, task) == []


def test_a_number_a_call_only_repeats_from_its_arguments_is_no_evidence() -> None:
    from evoflux.scoring.coverage import verified_coverage
    from evoflux.workflow.evidence import computed_numbers

    evidence = "\n".join(
        [
            'n1 = u.convert_pressure({"value": 32, "from_unit": "psi"}) returned: {"original_value": 32.0,'
            ' "converted_value": 220.63}',
            'n2 = u.convert_force({"value": 0.9, "from_unit": "kips", "to_unit": "kips"}) returned: '
            '{"original_value": 0.9, "converted_value": 0.9}',
        ]
    )
    assert computed_numbers(evidence) == {220.63}
    task = "Convert 32 psi to kilopascals, then compute 90% of that value."
    verdict = verified_coverage([("32 psi in kPa", "220.63"), ("90% of it", "0.9")], evidence, task)
    assert verdict.missing == ["90% of it"] and verdict.score == 0.5


def test_the_node_id_is_not_an_argument_number() -> None:
    from evoflux.workflow.evidence import computed_numbers

    assert computed_numbers('n1 = m.sin({"expression": "sin(pi/2)"}) returned: 1.0') == {1.0}


def test_a_part_the_task_never_mentions_is_left_out() -> None:
    from evoflux.scoring.coverage import verified_coverage

    evidence = 'n1 = u.convert({"value": 32}) returned: {"converted_value": 220.63}'
    task = "Convert 32 psi to kilopascals, then compute 90% of that value."
    verdict = verified_coverage(
        [("32 psi in kilopascals", "220.63"), ("population of Oslo", "")], evidence, task
    )
    assert verdict.score == 1.0 and verdict.missing == []
    # the example copied values and all (seen from the 1.5B model): no part, no missing part to add
    copied = verified_coverage([("population of Oslo", "709037"), ("double it", "1418074")], evidence, task)
    assert copied.score == 0.0 and copied.missing == []
    # a part in other words than the task's still counts when the tools really returned its value
    worded = verified_coverage([("pressure in kPa", "220.63"), ("double it", "1418074")], evidence, task)
    assert worded.score == 1.0 and worded.missing == []


def test_a_number_only_a_step_going_nowhere_takes_is_unused() -> None:
    from evoflux.scoring.intent import unused_task_numbers

    task = "Convert 32 psi to kilopascals."
    idle = Workflow.model_validate(
        {"nodes": [{"id": "n1", "tool": "u.p", "args": {"value": 32, "from_unit": "kPa", "to_unit": "kPa"}}]}
    )
    assert unused_task_numbers(idle, task) == [32.0]
    idle.nodes[0].args["from_unit"] = "psi"
    assert unused_task_numbers(idle, task) == []


def test_a_flat_workflow_for_a_task_that_computes_on_earlier_results_is_discounted_and_told() -> None:
    from evoflux.scoring.arithmetic import chain_gap, computation_clauses
    from evoflux.scoring.coverage import Coverage
    from evoflux.scoring.fitness import effective_coverage
    from evoflux.scoring.intent import intent_feedback
    from evoflux.workflow.diagnostics import NOT_COVERED

    task = (
        "A backup of 1.5 terabytes must go onto 4.7 gigabyte DVDs. Convert the backup size to gigabytes, "
        "then work out how many whole DVDs are needed (round up)."
    )
    assert computation_clauses(task) == ["work out how many whole DVDs are needed (round up)"]
    convert = {
        "id": "n1",
        "tool": "u.c",
        "args": {"value": 1.5, "from_unit": "terabyte", "to_unit": "gigabyte"},
    }
    flat = Workflow.model_validate({"nodes": [convert]})
    assert chain_gap(flat, task) == "work out how many whole DVDs are needed (round up)"
    assert effective_coverage(Coverage(score=1.0), flat, task) == 0.5 * 0.75  # flat; and 4.7 unused
    messages = [d.message for d in intent_feedback(flat, task) if d.node is None]
    assert f"{NOT_COVERED}work out how many whole DVDs are needed (round up)" in messages
    divide = {"id": "n2", "tool": "m.e", "args": {"expression": "ceil({{n1.converted_value}} / 4.7)"}}
    chained = Workflow.model_validate({"nodes": [convert, divide]})
    assert chain_gap(chained, task) is None and effective_coverage(Coverage(score=1.0), chained, task) == 1.0
    # a sequence without arithmetic is not a chain: reading a file back needs its path, not the write
    assert computation_clauses("Write 'hi' to notes.txt, then read the file back.") == []
    assert computation_clauses("Create the entity, then add the observation 'owner is Priya' to it.") == []
    assert computation_clauses("Convert 98.6 F to Celsius, then add 1.5 to it") == ["add 1.5 to it"]


def test_a_quoted_text_or_file_name_no_step_uses_counts_as_unused() -> None:
    from evoflux.scoring.intent import intent_feedback, unused_quantities
    from evoflux.scoring.tasktext import task_texts

    task = (
        "Save an order note in order.txt with the text 'unit price 48.50, quantity 7'. Read the note "
        "back and use the calculator to compute the order total."
    )
    assert task_texts(task) == ["unit price 48.50, quantity 7", "order.txt"]
    assert task_texts("Ada's notes are the team's, e.g. 3.5 of them") == []  # apostrophes, decimals
    full = Workflow.model_validate(
        {
            "nodes": [
                {
                    "id": "n1",
                    "tool": "fs.write",
                    "args": {"path": "/w/Order.txt", "content": "Unit price 48.50, quantity 7"},
                },
                {"id": "n2", "tool": "fs.read", "args": {"path": "/w/order.txt"}},
                {"id": "n3", "tool": "calc.calculate", "args": {"expression": "48.50 * 7"}},
            ]
        }
    )
    assert unused_quantities(full, task) == 0.0
    only_total = Workflow.model_validate({"nodes": [full.nodes[2].model_dump()]})
    assert unused_quantities(only_total, task) == 0.5  # the numbers are used, the two texts are not
    messages = [d.message for d in intent_feedback(only_total, task)]
    assert "the task's text 'order.txt' is not used by any step" in messages
