"""The population of candidate workflows: selection, de-duplication and diversity pruning."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz.distance import Levenshtein

from evoflux.scoring.coverage import Coverage
from evoflux.scoring.fitness import Fitness
from evoflux.scoring.intent import intent_feedback
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.graph import CycleError, Workflow
from evoflux.workflow.refs import find_refs
from evoflux.workflow.trace import Trace

__all__ = ["Candidate", "Evaluated", "Population", "dedup", "distance", "prune", "signature", "trace_summary"]


_T = TypeVar("_T", bound=Hashable)


class Candidate(BaseModel):
    """One evaluated workflow and where it came from."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The workflow's digest (see `Workflow.digest`).")
    workflow: Workflow
    fitness: Fitness
    generation: int = Field(default=0, description="The generation it was made in (0: the seed plans).")
    origin: str = Field(default="seed", description="seed, explore, exploit, redesign, ...")
    parent: str | None = Field(default=None, description="The id of the candidate it was edited from.")
    edits: list[str] = Field(default_factory=list, description="Names of the operators that made it.")
    summary: str = Field(default="", description="A one-line summary of its trace.")

    @classmethod
    def new(
        cls,
        workflow: Workflow,
        fitness: Fitness,
        *,
        trace: Trace | None = None,
        generation: int = 0,
        origin: str = "seed",
        parent: str | None = None,
        edits: Sequence[str] = (),
    ) -> Candidate:
        summary = trace_summary(trace) if trace is not None else fitness.describe()
        return cls(
            id=workflow.digest(),
            workflow=workflow,
            fitness=fitness,
            generation=generation,
            origin=origin,
            parent=parent,
            edits=list(edits),
            summary=summary,
        )


def trace_summary(trace: Trace, limit: int = 160) -> str:
    """One line: how far it got, what ran, and the first diagnostic."""
    text = f"{trace.stage.label}: {trace.executed}/{len(trace.runs)} ran, {trace.tool_calls} calls"
    if trace.diagnostics:
        text += f"; {trace.diagnostics[0]}"
    return text[:limit]


# -- structure ---------------------------------------------------------------------------------------


def _edges(workflow: Workflow) -> dict[str, list[tuple[str, str]]]:
    """Node id -> (argument name, referenced node id) for each reference in its arguments."""
    edges: dict[str, list[tuple[str, str]]] = {}
    for node in workflow.nodes:
        for where, ref in find_refs(node.args):
            edges.setdefault(node.id, []).append((where.split(".")[0].split("[")[0], ref.node))
    return edges


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def signature(workflow: Workflow) -> str:
    """The canonical structural signature: tools and dependency edges, blind to ids, order, literals."""
    tools = {n.id: n.tool for n in workflow.nodes}
    edges = _edges(workflow)
    memo: dict[str, str] = {}

    def node_signature(node_id: str, path: frozenset[str]) -> str:
        if node_id not in tools:
            return "?"
        if node_id in path:
            return f"cycle:{tools[node_id]}"
        if node_id not in memo:
            inner = path | {node_id}
            parts = sorted(f"{arg}<{node_signature(dep, inner)}" for arg, dep in edges.get(node_id, []))
            memo[node_id] = _short_hash(f"{tools[node_id]}({','.join(parts)})")
        return memo[node_id]

    nodes = sorted(node_signature(n.id, frozenset()) for n in workflow.nodes)
    answer = set(workflow.answer.uses) | {r.node for _, r in find_refs(workflow.answer.template)}
    used = sorted(node_signature(a, frozenset()) for a in answer)
    return _short_hash(f"{';'.join(nodes)}|{';'.join(used)}")


def _tool_sequence(workflow: Workflow) -> list[str]:
    """Tools in dependency order (within a wave, by name); list order when there is a cycle."""
    tools = {n.id: n.tool for n in workflow.nodes}
    try:
        return [tool for wave in workflow.waves() for tool in sorted(tools[i] for i in wave)]
    except CycleError:
        return [n.tool for n in workflow.nodes]


def _jaccard_distance(a: Counter[_T], b: Counter[_T]) -> float:
    union = sum((a | b).values())
    return 1.0 - sum((a & b).values()) / union if union else 0.0


def distance(a: Workflow, b: Workflow) -> float:
    """Structural distance in [0, 1]: tool multisets, tool-to-tool edges, tool sequences (equal thirds)."""
    tools_a, tools_b = Counter(n.tool for n in a.nodes), Counter(n.tool for n in b.nodes)
    edges_a, edges_b = _tool_edges(a), _tool_edges(b)
    sequence = Levenshtein.normalized_distance(_tool_sequence(a), _tool_sequence(b))
    return (_jaccard_distance(tools_a, tools_b) + _jaccard_distance(edges_a, edges_b) + sequence) / 3.0


def _tool_edges(workflow: Workflow) -> Counter[tuple[str, str]]:
    tools = {n.id: n.tool for n in workflow.nodes}
    return Counter(
        (tools[dep], tools[node])
        for node, refs in _edges(workflow).items()
        for _, dep in refs
        if dep in tools
    )


# -- keeping the population in shape -----------------------------------------------------------------


def _by_fitness(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Fittest first; equal fitness keeps the given order (the sort is stable)."""
    return sorted(candidates, key=lambda c: c.fitness.key(), reverse=True)


def dedup(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per structural signature: the fittest (earliest among equals), in first-seen order."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        key = signature(candidate.workflow)
        if key not in best or best[key].fitness < candidate.fitness:
            best[key] = candidate
    return list(best.values())


def prune(
    candidates: Iterable[Candidate],
    cap: int,
    *,
    elites: int = 1,
    diversity: float = 0.6,
    no_diversity: bool = False,
) -> list[Candidate]:
    """At most `cap` candidates, fittest first, chosen by the rule in the module docstring."""
    ordered = _by_fitness(dedup(candidates))
    if len(ordered) <= cap or no_diversity:
        return ordered[:cap]
    rank = {id(c): 1.0 - i / (len(ordered) - 1) for i, c in enumerate(ordered)}
    kept = ordered[: max(0, min(elites, cap))]
    rest = ordered[len(kept) :]
    nearest = {id(c): min((distance(c.workflow, k.workflow) for k in kept), default=1.0) for c in rest}
    while len(kept) < cap and rest:
        score = [((1 - diversity) * rank[id(c)] + diversity * nearest[id(c)], rank[id(c)]) for c in rest]
        chosen = rest.pop(max(range(len(rest)), key=score.__getitem__))
        kept.append(chosen)
        for c in rest:
            nearest[id(c)] = min(nearest[id(c)], distance(c.workflow, chosen.workflow))
    return _by_fitness(kept)


class Population:
    """The candidates of one search. `add` de-duplicates; `prune` (once per generation) enforces the cap."""

    def __init__(
        self,
        cap: int = 8,
        *,
        elites: int = 1,
        diversity: float = 0.6,
        no_diversity: bool = False,
        tournament_size: int = 3,
    ) -> None:
        if cap < 1 or tournament_size < 1 or not 0.0 <= diversity <= 1.0:
            raise ValueError("cap and tournament_size must be positive, diversity within [0, 1]")
        self.cap, self.elites, self.diversity = cap, elites, diversity
        self.no_diversity, self.tournament_size = no_diversity, tournament_size
        self._members: dict[str, Candidate] = {}

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.members)

    @property
    def members(self) -> list[Candidate]:
        """Fittest first."""
        return _by_fitness(self._members.values())

    @property
    def best(self) -> Candidate | None:
        return self.members[0] if self._members else None

    def add(self, candidate: Candidate) -> bool:
        """Add a candidate; a structural duplicate replaces its twin only when fitter. True if kept."""
        key = signature(candidate.workflow)
        twin = self._members.get(key)
        if twin is not None and not twin.fitness < candidate.fitness:
            return False
        self._members.pop(key, None)
        self._members[key] = candidate
        return True

    def prune(self) -> list[Candidate]:
        """Bring the population within its cap (see `prune`); returns the candidates dropped."""
        kept = prune(
            self._members.values(),
            self.cap,
            elites=self.elites,
            diversity=self.diversity,
            no_diversity=self.no_diversity,
        )
        kept_ids = {id(c) for c in kept}
        dropped = [c for c in self._members.values() if id(c) not in kept_ids]
        self._members = {k: c for k, c in self._members.items() if id(c) in kept_ids}
        return dropped

    def tournament(self, rng: random.Random) -> Candidate:
        """Exploitation: the fittest of `tournament_size` contestants drawn from the fitter half."""
        members = self._require()
        pool = members[: max(self.tournament_size, (len(members) + 1) // 2)]
        contestants = rng.sample(range(len(pool)), min(self.tournament_size, len(pool)))
        return pool[min(contestants)]

    def uniform(self, rng: random.Random) -> Candidate:
        """Exploration: any member, uniformly."""
        return rng.choice(self._require())

    def select(self, rng: random.Random, *, explore: bool) -> Candidate:
        return self.uniform(rng) if explore else self.tournament(rng)

    def _require(self) -> list[Candidate]:
        members = self.members
        if not members:
            raise LookupError("the population is empty")
        return members


@dataclass
class Evaluated:
    """A candidate with what its evaluation produced."""

    candidate: Candidate
    trace: Trace
    coverage: Coverage | None = None
    task: str = ""

    @property
    def feedback(self) -> list[Diagnostic]:
        """Execution diagnostics, the coverage verdict and, once it ran through, the intent checks (task
        numbers no step uses, numbers no one gave): what the next edit acts on."""
        verdict = self.coverage.feedback() if self.coverage else []
        intent = intent_feedback(self.candidate.workflow, self.task) if self.trace.feasible else []
        return self.trace.diagnostics + verdict + intent
