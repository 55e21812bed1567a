"""`evolve`: inference-time evolutionary search over executable tool workflows."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from pydantic import BaseModel, Field

from evoflux.edits.context import EditContext
from evoflux.edits.model_guided import missing_parts, model_append, model_guided
from evoflux.edits.operators import mutate
from evoflux.edits.structure import distinct_calls
from evoflux.models.decoding import opening_temperature
from evoflux.planner.plans import PlanResult
from evoflux.protocols import Judge, Planner, ToolCaller
from evoflux.scoring.contract import TaskContract
from evoflux.scoring.coverage import Coverage
from evoflux.scoring.fitness import Fitness, compute_fitness
from evoflux.scoring.state_change import judged_with_changes
from evoflux.search.budget import Budget, Spend
from evoflux.search.intensity import Intensity, IntensityConfig
from evoflux.search.outcome import (
    Listener,
    SearchOutcome,
    ready_to_commit,
    solved,
    summarize,
)
from evoflux.search.population import Candidate, Evaluated, Population
from evoflux.search.redesign import failure_summary
from evoflux.search.seeding import build_stepwise
from evoflux.servers.tools import ToolSpec
from evoflux.workflow.evaluate import evaluate
from evoflux.workflow.evidence import evidence_text
from evoflux.workflow.execute import CallCache, ExecutionSettings
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Trace
from evoflux.workflow.validate import canonicalise_tools, validate
from evoflux.workflow.writes import WritePolicy

__all__ = ["SearchSettings", "Switches", "evolve"]


class Switches(BaseModel):
    """The mechanisms, each switchable for ablation."""

    redesign: bool = True
    diversity: bool = True
    feedback: bool = True
    model_edits: bool = Field(default=True, description="False: rule-based edits only (--rules-only).")
    judge: bool = Field(default=True, description="Judge task coverage of candidates that run through.")
    stepwise: bool = Field(
        default=True,
        description="Build the first seed step by step from the planner's decomposition (needs feedback).",
    )


class SearchSettings(BaseModel):
    """Everything that shapes one search besides the task, the catalog and the planner."""

    budget: Budget = Field(default_factory=Budget)
    switches: Switches = Field(default_factory=Switches)
    intensity: IntensityConfig = Field(default_factory=IntensityConfig)
    explore_edits: int = Field(default=3, ge=1, description="Rule-based edits per exploring child.")
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    seed: int = 0
    contract: TaskContract | None = None


async def evolve(
    task: str,
    caller: ToolCaller,
    planner: Planner,
    tools: Sequence[ToolSpec],
    settings: SearchSettings,
    *,
    judge: Judge | None = None,
    on_generation: Callable[[dict[str, Any]], None] | None = None,
    on_candidate: Listener | None = None,
    writes: WritePolicy | None = None,
    commit_early: bool = False,
    start: Sequence[Workflow] = (),
) -> SearchOutcome:
    """Evolve workflows for `task` until solved or out of budget; never raises for a bad candidate.
    `writes`: what evaluations do with calls that may change state; `commit_early`: stop ("commit") when
    `ready_to_commit(best)`; `start`: workflows evaluated before any plan."""
    s = _Search(task, caller, planner, tools, settings, judge or planner, on_candidate)
    s.writes, s.commit_early = writes, commit_early
    budget, switches, rng = settings.budget, settings.switches, s.rng
    for workflow in start:
        await s.admit(workflow, generation=0, origin="committed")
    await s.seed_population(first=not start)
    out = SearchOutcome(best=s.best())
    for generation in range(1, budget.generations + 1):
        if reason := s.stop_reason():
            out.stopped_because = reason
            break
        for _ in range(budget.offspring if len(s.population) else 0):
            if s.stop_reason():
                break
            explore = s.intensity.explore(rng) or not switches.model_edits  # adaptive intensity
            parent = s.evaluated[s.population.select(rng, explore=explore).id]
            if explore:  # structured edits, several at once
                await s.explore(parent, generation)
            else:  # one model-guided local edit of the blamed node
                await s.exploit(parent, generation)
        note = ""
        if not len(s.population):  # every plan so far failed to parse: ask for fresh ones
            await s.seed_population(first=False)
            note = "reseeded"
        elif switches.redesign and s.intensity.stalled() and not s.stop_reason():  # meta-guided redesign
            await s.redesign(generation)
            out.redesigns, note = out.redesigns + 1, "redesign"
        s.population.prune()  # diversity pruning (plain top-k under --no-diversity)
        best = s.best()
        value = best.candidate.fitness.value if best else 0.0
        out.best_history.append(value)
        out.intensity_history.append(s.intensity.update(value))
        out.generations = generation
        if on_generation is not None:
            on_generation(s.generation_summary(generation, note))
    else:
        out.stopped_because = s.stop_reason() or "generations"
    out.best, out.candidates, out.cache = s.best(), len(s.evaluated), s.cache
    out.tool_calls = s.spend.tool_calls
    if out.best is not None and not switches.feedback:
        out.best = await s.evaluate(out.best.candidate, execute=True)
    return out


class _Search:
    """The state of one search; `evolve` drives it."""

    def __init__(
        self,
        task: str,
        caller: ToolCaller,
        planner: Planner,
        tools: Sequence[ToolSpec],
        settings: SearchSettings,
        judge: Judge,
        listener: Listener | None,
    ) -> None:
        self.task, self.caller, self.planner, self.tools = task, caller, planner, list(tools)
        self.settings, self.judge, self.listener = settings, judge, listener
        self.switches = settings.switches
        self.rng = random.Random(settings.seed)
        self.population = Population(settings.budget.population, no_diversity=not self.switches.diversity)
        self.intensity = Intensity(settings.intensity)
        self.cache = CallCache()
        self.spend = Spend(settings.budget, planner.usage)
        self.evaluated: dict[str, Evaluated] = {}
        self._coverage: dict[str, Coverage | None] = {}
        self.writes: WritePolicy | None = None
        self.commit_early = False
        self._calls = 0

    # -- budget and bookkeeping --------------------------------------------------------------------

    def stop_reason(self) -> str | None:
        best = self.best()
        if best is not None and solved(best, judged=self.switches.judge and self.switches.feedback):
            return "solved"
        if best is not None and self.commit_early and ready_to_commit(best):
            return "commit"
        return self.spend.exhausted(self.planner.usage)

    def best(self) -> Evaluated | None:
        top = self.population.best
        return self.evaluated.get(top.id) if top is not None else None

    def context(self, parent: Evaluated) -> EditContext:
        return EditContext(
            catalog=self.caller.tools,
            rng=self.rng,
            diagnostics=parent.feedback,
            trace=parent.trace if parent.trace.runs else None,
            task=self.task,
        )

    def generation_summary(self, generation: int, note: str) -> dict[str, Any]:
        best = self.best()
        members = [self.evaluated[c.id] for c in self.population if c.id in self.evaluated]
        return {
            "generation": generation,
            "best": best.candidate.fitness.value if best else 0.0,
            "best_stage": best.candidate.fitness.describe() if best else "none",
            "best_fitness": best.candidate.fitness if best else None,
            "population": len(self.population),
            "intensity": self.intensity.value,
            "feasible": sum(m.trace.feasible for m in members),
            "candidates": len(self.evaluated),
            "lm_calls": self.planner.usage.calls,
            "tool_calls": self.spend.tool_calls,
            "note": note,
        }

    # -- making candidates -------------------------------------------------------------------------

    async def seed_population(self, *, first: bool = True) -> None:
        """`budget.seeds` seeds: first, when it can be built, the stepwise seed; then plans, the first at
        the run's opening temperature (greedy for seed 0, see `decoding`), the others at a higher one."""
        built = first and await self.stepwise_seed()
        for i in range(self.settings.budget.seeds - built):
            if (built or i or not first) and self.stop_reason():
                break
            temperature = opening_temperature(self.settings.seed) if i == 0 and first else 0.8
            seed = i if first else self._next_seed()

            def make(sd: int, t: float = temperature) -> PlanResult:
                return self.planner.plan(self.task, self.tools, seed=sd, temperature=t)

            plan = await self._plan(make, seed)
            await self.admit(plan, generation=0, origin="seed")

    async def stepwise_seed(self) -> bool:
        """A workflow built one node per step of the planner's decomposition of the task, each node run
        as it is written (`stepwise`); False when switched off or nothing came of it."""
        if not (self.switches.stepwise and self.switches.feedback):
            return False
        opening = opening_temperature(self.settings.seed)
        steps = await anyio.to_thread.run_sync(
            lambda: self.planner.decompose(self.task, seed=self.settings.seed, temperature=opening)
        )
        if not steps:
            return False
        seed = self._next_seed()

        async def write(context: str, tools: Sequence[ToolSpec], purpose: str) -> dict[str, Any] | None:
            return await anyio.to_thread.run_sync(
                lambda: self.planner.rewrite_node(
                    self.task,
                    tools,
                    context,
                    seed=seed,
                    purpose=purpose,
                    temperature=0.0,
                )
            )

        async def run(workflow: Workflow) -> Trace:
            trace = await evaluate(
                self.task,
                workflow,
                self.caller,
                settings=self.settings.execution,
                cache=self.cache,
                writes=self.writes,
            )
            self.spend.tool_calls += trace.tool_calls
            return trace

        workflow = await build_stepwise(
            self.task,
            steps,
            self.caller.tools,
            write,
            run,
            self.rng,
            revalidate=lambda w: validate(w, self.caller.tools, self.settings.execution.limits),
            stop=lambda: self.stop_reason() is not None,
        )
        if workflow is None:
            return False
        await self.admit(workflow, generation=0, origin="stepwise")
        return True

    async def explore(self, parent: Evaluated, generation: int, tries: int = 3) -> None:
        """Several rule-based edits at once; an edit that only recreates a known workflow is redrawn."""
        ctx = self.context(parent)
        for _ in range(tries):
            child, edits = mutate(
                parent.candidate.workflow,
                ctx,
                n_edits=self.settings.explore_edits,
                revalidate=lambda w: validate(w, self.caller.tools, self.settings.execution.limits),
            )
            if not edits:
                return
            if child.digest() not in self.evaluated:
                await self.admit(child, generation=generation, origin="explore", parent=parent, edits=edits)
                return

    async def exploit(self, parent: Evaluated, generation: int) -> None:
        """One model-guided edit: a rewrite of the blamed node, or, when the parent runs through but the
        verdict says part of the task is unanswered, a new step for that part. When the reply does not
        apply or only recreates a known workflow, one rule-based edit instead."""
        seed = self._next_seed()

        def rewrite(context: str, tools: Sequence[ToolSpec] = (), purpose: str = "") -> dict[str, Any] | None:
            return self.planner.rewrite_node(
                self.task, tools or self.tools, context, seed=seed, purpose=purpose
            )

        ctx = self.context(parent)
        ran_through = parent.trace.feasible  # only the verdict's missing parts are left to act on
        op = model_append(rewrite) if ran_through and missing_parts(ctx) else model_guided(rewrite)
        child = await anyio.to_thread.run_sync(lambda: op(parent.candidate.workflow, ctx))
        edits = [op.name]
        if child is None or child.digest() in self.evaluated:
            child, edits = mutate(parent.candidate.workflow, ctx, n_edits=1)
            if not edits or child.digest() in self.evaluated:
                return
        await self.admit(child, generation=generation, origin="exploit", parent=parent, edits=edits)

    async def redesign(self, generation: int) -> None:
        summary = failure_summary(self.task, list(self.evaluated.values()), self.best())
        plan = await self._plan(
            lambda seed: self.planner.redesign(self.task, self.tools, summary, seed=seed), self._next_seed()
        )
        await self.admit(plan, generation=generation, origin="redesign")

    async def _plan(self, make: Callable[[int], PlanResult], seed: int) -> Workflow | PlanResult:
        plan = await anyio.to_thread.run_sync(make, self.settings.seed * 1000 + seed)
        if plan.workflow is None:
            return plan
        return canonicalise_tools(plan.workflow, self.caller.tools)

    def _next_seed(self) -> int:
        self._calls += 1
        return 100 + self._calls

    async def admit(
        self,
        made: Workflow | PlanResult,
        *,
        generation: int,
        origin: str,
        parent: Evaluated | None = None,
        edits: Sequence[str] = (),
    ) -> Evaluated | None:
        """Evaluate a new workflow (or record an unparsable plan) and offer it to the population."""
        if isinstance(made, PlanResult):  # the model's output did not parse: nothing to evolve
            if self.listener is not None:
                empty = Candidate.new(Workflow(), Fitness.worst(), origin=origin, generation=generation)
                self.listener(origin, Evaluated(empty, Trace(diagnostics=made.diagnostics)), "")
            return None
        seed_size = distinct_calls(parent.candidate.workflow, self.caller.tools) if parent else None
        known = self.evaluated.get(made.digest())
        if known is not None:
            return known
        fitness = Fitness.worst()
        candidate = Candidate.new(
            made,
            fitness,
            generation=generation,
            origin=origin,
            parent=parent.candidate.id if parent else None,
            edits=edits,
        )
        evaluated = await self.evaluate(candidate, execute=self.switches.feedback, seed_size=seed_size)
        self.evaluated[candidate.id] = evaluated
        self.population.add(evaluated.candidate)
        if self.listener is not None:
            self.listener(origin, evaluated, parent.candidate.id if parent else "")
        return evaluated

    async def evaluate(
        self, candidate: Candidate, *, execute: bool, seed_size: int | None = None
    ) -> Evaluated:
        """Validate and (when `execute`) run a candidate, judge coverage, and compute its fitness."""
        workflow = candidate.workflow
        if execute:
            trace = await evaluate(
                self.task,
                workflow,
                self.caller,
                settings=self.settings.execution,
                cache=self.cache,
                writes=self.writes,
            )
            self.spend.tool_calls += trace.tool_calls
        else:
            trace = Trace(diagnostics=validate(workflow, self.caller.tools, self.settings.execution.limits))
        coverage = await self._judge(workflow, trace) if trace.answer is not None else None
        fitness = compute_fitness(workflow, trace, coverage, self.task, seed_size=seed_size)
        scored = candidate.model_copy(update={"fitness": fitness, "summary": summarize(trace, coverage)})
        return Evaluated(scored, trace, coverage, self.task)

    async def _judge(self, workflow: Workflow, trace: Trace) -> Coverage | None:
        if not self.switches.judge:
            return None
        evidence = evidence_text(workflow, trace, every_node=True)
        if evidence not in self._coverage:  # the same evidence is judged once
            answer = trace.answer or ""
            self._coverage[evidence] = await anyio.to_thread.run_sync(
                lambda: self.judge.judge(self.task, evidence, answer)
            )
        seen, tools, contract = self._coverage[evidence], self.caller.tools, self.settings.contract
        return judged_with_changes(seen, workflow, self.task, tools, trace, contract)
