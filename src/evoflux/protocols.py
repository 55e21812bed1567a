"""Every seam of Evoflux on one page: the language model, the tool caller, the planner, the judge, the
answer writer and the observer. Implementations live in their packages; test doubles satisfy these too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from evoflux.models.lm import Completion, Message, Usage
    from evoflux.planner.plans import PlanResult, ReactTurn
    from evoflux.scoring.contract import TaskContract
    from evoflux.scoring.coverage import Coverage
    from evoflux.search.population import Evaluated
    from evoflux.servers.tools import ToolResult, ToolSpec
    from evoflux.workflow.diagnostics import Diagnostic
    from evoflux.workflow.graph import Workflow
    from evoflux.workflow.trace import Event
    from evoflux.workflow.writes import SentWrite

__all__ = ["AnswerWriter", "Judge", "LanguageModel", "Observer", "Planner", "ReactPlanner", "ToolCaller"]


@runtime_checkable
class LanguageModel(Protocol):
    """Anything that completes a chat; `schema` (a JSON Schema) asks for constrained decoding."""

    name: str

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> Completion:
        """Complete the chat. Backend failures raise `models.registry.ModelError`; truncation does not."""
        ...


class ToolCaller(Protocol):
    """A live catalog that can call its tools. `catalog.Catalog` is the real one."""

    @property
    def tools(self) -> Mapping[str, ToolSpec]: ...

    async def call_tool(self, name: str, arguments: dict[str, Any], *, timeout: float) -> ToolResult: ...


class Planner(Protocol):
    """What the methods need from a planner. `LMPlanner` is the product; tests use scripted doubles."""

    usage: Usage

    def plan(
        self, task: str, tools: Sequence[ToolSpec], *, seed: int = 0, temperature: float = 0.0
    ) -> PlanResult:
        """A first workflow for the task."""
        ...

    def repair(
        self,
        task: str,
        tools: Sequence[ToolSpec],
        workflow: Workflow,
        diagnostics: list[Diagnostic],
        outputs: str = "",
        *,
        seed: int = 0,
    ) -> PlanResult:
        """The workflow corrected against its diagnostics (and executed outputs, when any)."""
        ...

    def redesign(self, task: str, tools: Sequence[ToolSpec], summary: str, *, seed: int = 0) -> PlanResult:
        """A fundamentally different workflow, given a summary of what failed across a population."""
        ...

    def decompose(self, task: str, *, seed: int = 0, temperature: float = 0.0) -> list[str]:
        """The task as an ordered list of one-action steps in words (`[]` when the model gives none):
        what the stepwise seed builds a workflow from, one step at a time (`evoflux.search.seeding`)."""
        ...

    def rewrite_node(
        self,
        task: str,
        tools: Sequence[ToolSpec],
        context: str,
        *,
        seed: int = 0,
        purpose: str = "",
        temperature: float = 0.5,
    ) -> dict[str, Any] | None:
        """One node rewritten from its neighbourhood and the diagnostics that blame it (or, with
        `purpose`, one new step that does that part of the task), using one of `tools`, the tools
        `context` lists (with a whole catalog of converters in view, a 1.5B model asked for an
        arithmetic step picks another converter)."""
        ...

    def write_answer(self, task: str, evidence: str, draft: str, changes: str = "") -> str | None:
        """The final answer phrased from executed evidence; `changes` says which calls changed
        something ("" when none did)."""
        ...

    def judge(self, task: str, evidence: str, answer: str) -> Coverage | None:
        """Does the evidence answer each part of the task; what is missing."""
        ...

    def contract(self, task: str) -> TaskContract | None:
        """What the task asks for (the parts of the answer, the values given, the changes asked)."""
        ...


@runtime_checkable
class ReactPlanner(Protocol):
    """A planner that can take ReAct steps (`LMPlanner` and `ScriptedPlanner` can)."""

    usage: Usage

    def react_step(
        self,
        task: str,
        tools: Sequence[ToolSpec],
        history: Sequence[ReactTurn],
        *,
        seed: int = 0,
        temperature: float = 0.0,
    ) -> tuple[dict[str, Any] | None, Completion]: ...

    def write_answer(self, task: str, evidence: str, draft: str, changes: str = "") -> str | None: ...


class AnswerWriter(Protocol):
    """Phrases the final answer from evidence (the planner model implements this)."""

    def write_answer(self, task: str, evidence: str, draft: str, changes: str = "") -> str | None: ...


class Judge(Protocol):
    """Judges task coverage (the planner itself, or an external judge endpoint)."""

    def judge(self, task: str, evidence: str, answer: str) -> Coverage | None: ...


class Observer(Protocol):
    """Receives progress: plans as they are made, node events, search generations."""

    def planned(self, workflow: Workflow | None, diagnostics: list[Diagnostic]) -> None: ...

    def event(self, event: Event) -> None: ...

    def generation(self, summary: dict[str, Any]) -> None: ...

    def candidate(self, mode: str, item: Evaluated, parent: str) -> None: ...

    def write(self, entry: SentWrite) -> None:
        """A state-changing call is about to be sent (`status` sending), or came back."""
        ...
