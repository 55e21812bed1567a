"""The population: structural signatures, distance, de-duplication, diversity pruning, selection."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from evoflux.scoring.fitness import ANSWERED, Fitness
from evoflux.search.population import Candidate, Population, dedup, distance, prune, signature, trace_summary
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import Answer, Node, Workflow
from evoflux.workflow.trace import NodeRun, Trace


def _chain(*tools: str, ids: tuple[str, ...] | None = None, literal: str = "x") -> Workflow:
    """A chain: each node references the previous one's output through its `input` argument."""
    names = ids or tuple(f"n{i + 1}" for i in range(len(tools)))
    nodes = [Node(id=names[0], tool=tools[0], args={"q": literal})]
    nodes += [
        Node(id=names[i], tool=tool, args={"input": {"$ref": f"{names[i - 1]}.out"}, "q": literal})
        for i, tool in enumerate(tools[1:], start=1)
    ]
    return Workflow(nodes=nodes, answer=Answer(uses=[names[-1]]))


def _candidate(workflow: Workflow, coverage: float, generation: int = 0) -> Candidate:
    fitness = Fitness(reached=ANSWERED, executed=1.0, coverage=coverage, size=len(workflow.nodes))
    return Candidate.new(workflow, fitness, generation=generation)


# -- signature and distance --------------------------------------------------------------------------


def test_signature_ignores_ids_order_and_literals() -> None:
    base = _chain("a.search", "b.fetch", "c.summarize")
    renamed = _chain("a.search", "b.fetch", "c.summarize", ids=("s", "f", "z"), literal="other")
    shuffled = base.model_copy(update={"nodes": list(reversed(base.nodes))})
    assert signature(base) == signature(renamed) == signature(shuffled)
    assert base.digest() != renamed.digest()


def test_signature_sees_tools_and_wiring() -> None:
    base = _chain("a.search", "b.fetch", "c.summarize")
    assert signature(base) != signature(_chain("a.search", "b.fetch", "c.translate"))
    assert signature(base) != signature(_chain("a.search", "c.summarize", "b.fetch"))
    parallel = base.model_copy(deep=True)
    parallel.nodes[2].args["input"] = {"$ref": "n1.out"}
    assert signature(base) != signature(parallel)
    renamed_arg = base.model_copy(deep=True)
    renamed_arg.nodes[2].args = {"text": renamed_arg.nodes[2].args["input"]}
    assert signature(base) != signature(renamed_arg)
    no_answer = base.model_copy(update={"answer": Answer()})
    assert signature(base) != signature(no_answer)


def test_signature_survives_cycles_and_dangling_references() -> None:
    cyclic = Workflow(
        nodes=[
            Node(id="n1", tool="a.x", args={"v": "$n2.out"}),
            Node(id="n2", tool="b.y", args={"v": "$n1.out", "w": "$n9.out"}),
        ]
    )
    assert signature(cyclic) == signature(cyclic.model_copy(deep=True))
    assert distance(cyclic, cyclic) == 0.0


def test_distance_is_a_bounded_symmetric_dissimilarity() -> None:
    a = _chain("a.search", "b.fetch", "c.summarize")
    b = _chain("a.search", "b.fetch", "c.translate")
    c = _chain("x.one", "y.two")
    assert (
        distance(a, a) == 0.0
        and distance(a, _chain("a.search", "b.fetch", "c.summarize", literal="y")) == 0.0
    )
    assert distance(a, b) == distance(b, a)
    assert 0.0 < distance(a, b) < distance(a, c) == 1.0
    # tools: 2 of 4 shared; edges: 1 of 3; sequence: 1 substitution in 3.
    assert distance(a, b) == pytest.approx((0.5 + 2 / 3 + 1 / 3) / 3)
    assert distance(Workflow(), Workflow()) == 0.0


# -- de-duplication and pruning ----------------------------------------------------------------------


def test_dedup_keeps_the_fittest_twin_in_first_seen_order() -> None:
    first = _candidate(_chain("a.search", "b.fetch"), 0.2)
    other = _candidate(_chain("x.one"), 0.9)
    better_twin = _candidate(_chain("a.search", "b.fetch", ids=("p", "q"), literal="fixed"), 0.8)
    equal_twin = _candidate(_chain("a.search", "b.fetch", literal="again"), 0.8)
    assert dedup([first, other, better_twin, equal_twin]) == [better_twin, other]


def _crowd() -> list[Candidate]:
    """Four near-copies of the best design, and one distinct design that is worse than all of them."""
    return [
        _candidate(_chain("a.search", "b.fetch", "c.summarize"), 0.9),
        _candidate(_chain("a.search", "b.fetch", "c.summarize", "d.format"), 0.85),
        _candidate(_chain("a.search", "b.fetch", "c.translate"), 0.8),
        _candidate(_chain("a.search", "b.fetch", "b.fetch", "c.summarize"), 0.75),
        _candidate(_chain("w.lookup", "z.compute"), 0.3),
    ]


def test_pruning_keeps_a_distinct_but_worse_design_alive() -> None:
    crowd = _crowd()
    kept = prune(crowd, 3)
    assert kept[0] is crowd[0] and crowd[4] in kept and len(kept) == 3
    assert [c.fitness.coverage for c in kept] == sorted((c.fitness.coverage for c in kept), reverse=True)


def test_pruning_without_diversity_keeps_the_fittest() -> None:
    crowd = _crowd()
    assert prune(crowd, 3, no_diversity=True) == crowd[:3]
    assert prune(crowd, 3, diversity=0.0) == crowd[:3]


def test_pruning_keeps_elites_and_is_deterministic() -> None:
    crowd = _crowd()
    assert prune(crowd, 2, elites=2) == crowd[:2]
    shuffled = crowd[::-1]
    assert prune(shuffled, 3) == prune(crowd, 3)
    assert prune(crowd, 10) == crowd


# -- the population ----------------------------------------------------------------------------------


def test_population_add_replaces_a_twin_only_when_fitter() -> None:
    population = Population(cap=4)
    worse = _candidate(_chain("a.search", "b.fetch"), 0.2)
    assert population.add(worse)
    assert not population.add(_candidate(_chain("a.search", "b.fetch", literal="same"), 0.2))
    better = _candidate(_chain("a.search", "b.fetch", literal="fixed"), 0.6)
    assert population.add(better)
    assert population.members == [better] and population.best is better


def test_population_prune_enforces_the_cap_and_reports_the_dropped() -> None:
    population = Population(cap=3)
    crowd = _crowd()
    for candidate in crowd:
        population.add(candidate)
    dropped = population.prune()
    assert len(population) == 3 and crowd[4] in population.members
    assert sorted(c.id for c in dropped) == sorted(c.id for c in crowd if c not in population.members)
    ablated = Population(cap=3, no_diversity=True)
    for candidate in crowd:
        ablated.add(candidate)
    ablated.prune()
    assert crowd[4] not in ablated.members


def test_selection_is_deterministic_for_a_seed() -> None:
    population = Population(cap=8)
    for candidate in _crowd():
        population.add(candidate)

    def draws(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [population.select(rng, explore=i % 2 == 0).id for i in range(20)]

    assert draws(11) == draws(11)
    assert draws(11) != draws(12)


def test_tournament_draws_from_the_fitter_part_and_uniform_from_all() -> None:
    population = Population(cap=8, tournament_size=2)
    crowd = _crowd()
    for candidate in crowd:
        population.add(candidate)
    rng = random.Random(0)
    winners = Counter(population.tournament(rng).id for _ in range(300))
    assert crowd[4].id not in winners and crowd[3].id not in winners
    # Two contestants from the fitter three: the third of them can never win.
    assert winners[crowd[0].id] > winners[crowd[1].id] > 0 and crowd[2].id not in winners
    assert set(Counter(population.uniform(rng).id for _ in range(300))) == {c.id for c in crowd}


def test_selection_needs_members_and_sane_settings() -> None:
    with pytest.raises(LookupError):
        Population().tournament(random.Random(0))
    with pytest.raises(ValueError):
        Population(cap=0)


def test_candidate_records_its_origin_and_trace() -> None:
    workflow = _chain("a.search")
    trace = Trace(
        runs={"n1": NodeRun(node="n1", tool="a.search", status="error")},
        diagnostics=[Diagnostic(stage=Stage.EXECUTE, node="n1", message="timeout")],
        tool_calls=1,
    )
    fitness = Fitness(reached=int(Stage.EXECUTE))
    candidate = Candidate.new(
        workflow, fitness, trace=trace, generation=2, origin="explore", parent="abc", edits=["swap_tool"]
    )
    assert candidate.id == workflow.digest() and candidate.edits == ["swap_tool"]
    assert candidate.summary == trace_summary(trace) == "execute: 0/1 ran, 1 calls; [execute] n1: timeout"
