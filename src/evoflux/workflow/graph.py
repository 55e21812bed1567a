"""The typed workflow graph: tool-call nodes, references between them (`refs`), and a final answer step."""

from __future__ import annotations

import hashlib
import json
import re
from graphlib import CycleError, TopologicalSorter
from typing import Any

from pydantic import BaseModel, Field, field_validator

from evoflux.workflow.refs import (
    find_refs,
    inline_refs,
    template_refs,
)

__all__ = ["NODE_ID", "Answer", "CycleError", "Node", "Workflow"]

NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


class Node(BaseModel):
    """One tool call."""

    id: str = Field(description="Unique id, referenced by later nodes as `id.path`.")
    tool: str = Field(description="Qualified tool name, `server.tool`.")
    args: dict[str, Any] = Field(default_factory=dict, description="Literals and references.")
    why: str = Field(default="", description="The planner's note on the step's purpose (not hashed).")

    @field_validator("args")
    @classmethod
    def _inline_dollar_refs(cls, args: dict[str, Any]) -> dict[str, Any]:
        """`"$n1.value * 0.9"`: a `$`-reference to a planner-style node id (`n` and digits) inside a longer
        text is read as `{{n1.value}}` (small models write this; sent as is, it reaches the tool as
        the literal text). Whole-string references and other `$` words are left alone."""
        return {key: inline_refs(value) for key, value in args.items()}


class Answer(BaseModel):
    """The explicit final step: which outputs the answer is written from."""

    uses: list[str] = Field(default_factory=list, description="Node ids whose outputs answer the task.")
    template: str = Field(default="", description="Answer text with `{{n1.path}}` placeholders.")


class Workflow(BaseModel):
    """A DAG of tool calls plus the final answer step."""

    nodes: list[Node] = Field(default_factory=list)
    answer: Answer = Field(default_factory=Answer)

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def canonical(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, planner notes dropped."""
        data = {
            "nodes": [{"id": n.id, "tool": n.tool, "args": n.args} for n in self.nodes],
            "answer": {"uses": sorted(set(self.answer.uses)), "template": self.answer.template},
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)

    def digest(self) -> str:
        """A stable 16-hex-digit hash of the canonical form."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:16]

    def dependencies(self) -> dict[str, set[str]]:
        """Node id -> ids of the nodes its arguments reference (unknown ids included)."""
        return {n.id: {ref.node for _, ref in find_refs(n.args)} for n in self.nodes}

    def waves(self) -> list[list[str]]:
        """Topological generations: each wave depends only on earlier waves. Raises CycleError."""
        ids = {n.id for n in self.nodes}
        sorter: TopologicalSorter[str] = TopologicalSorter()
        for node_id, deps in self.dependencies().items():
            sorter.add(node_id, *(d for d in deps if d in ids))
        sorter.prepare()
        waves: list[list[str]] = []
        order = {n.id: i for i, n in enumerate(self.nodes)}
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=order.__getitem__)
            waves.append(ready)
            sorter.done(*ready)
        return waves

    def mermaid(self) -> str:
        """A mermaid flowchart of the graph."""
        lines = ["flowchart TD"]
        for n in self.nodes:
            label = f"{n.id}: {n.tool}".replace('"', "'")
            lines.append(f'    {_mermaid_id(n.id)}["{label}"]')
        lines.append('    answer(["answer"])')
        ids = {n.id for n in self.nodes}
        for node_id, deps in self.dependencies().items():
            lines += [f"    {_mermaid_id(d)} --> {_mermaid_id(node_id)}" for d in sorted(deps) if d in ids]
        used = set(self.answer.uses) | {r.node for r in template_refs(self.answer.template)}
        lines += [f"    {_mermaid_id(u)} --> answer" for u in sorted(used) if u in ids]
        return "\n".join(lines)


def _mermaid_id(node_id: str) -> str:
    return "node_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)
