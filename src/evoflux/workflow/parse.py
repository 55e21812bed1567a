"""Read a workflow out of what a small model wrote, forgivingly, reporting what could not be read."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import NODE_ID, Workflow

__all__ = ["extract_json", "normalise", "parse_workflow"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_NODE_KEYS = ("nodes", "steps", "workflow", "plan", "calls", "tool_calls")
_TOOL_KEYS = ("tool", "tool_name", "name", "function")
_ARG_KEYS = ("args", "arguments", "parameters", "params", "input")


def extract_json(text: str) -> Any:
    """The first JSON value in text: the whole text, a fenced block, or the outermost braces."""
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    start = text.find("{")
    if start >= 0:
        candidates.append(text[start : text.rfind("}") + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    if start >= 0:
        try:
            return decoder.raw_decode(text[start:])[0]
        except ValueError:
            pass
    raise ValueError("no JSON object found in the model output")


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((data[k] for k in keys if k in data), None)


def normalise(data: Any) -> dict[str, Any]:
    """Map the shapes small models write onto the Workflow shape."""
    if isinstance(data, list):
        data = {"nodes": data}
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object with a 'nodes' list, got {type(data).__name__}")
    raw_nodes = _first(data, _NODE_KEYS)
    if isinstance(raw_nodes, dict):
        raw_nodes = [{"id": k, **v} if isinstance(v, dict) else v for k, v in raw_nodes.items()]
    if not isinstance(raw_nodes, list):
        raise ValueError("the workflow has no 'nodes' list")
    nodes = []
    for i, raw in enumerate(raw_nodes, start=1):
        if not isinstance(raw, dict):
            raise ValueError(f"node #{i} is a {type(raw).__name__}, not an object")
        tool = _first(raw, _TOOL_KEYS)
        if isinstance(tool, dict):  # {"function": {"name":..., "arguments":...}}
            raw = {**raw, **tool}
            tool = tool.get("name")
        args = _first(raw, _ARG_KEYS)
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = {"input": args}
        node_id = raw.get("id", raw.get("node_id", f"n{i}"))
        nodes.append(
            {
                "id": str(node_id),
                "tool": tool if isinstance(tool, str) else "",
                "args": args if isinstance(args, dict) else {},
                "why": str(raw.get("why", raw.get("purpose", ""))),
            }
        )
    answer = data.get("answer", data.get("final_answer", data.get("final", {})))
    if isinstance(answer, str):
        answer = {"template": answer}
    if not isinstance(answer, dict):
        answer = {}
    uses = answer.get("uses", answer.get("from", answer.get("inputs", [])))
    if isinstance(uses, str):
        uses = [uses]
    uses = [str(u).lstrip("$").split(".")[0] for u in uses if isinstance(u, str | int)]
    template = answer.get("template", answer.get("text", ""))
    return {"nodes": nodes, "answer": {"uses": uses, "template": str(template or "")}}


def parse_workflow(text: str, *, truncated: bool = False) -> tuple[Workflow | None, list[Diagnostic]]:
    """Parse model output into a Workflow, or return `parse` diagnostics saying why not."""
    hint = 'Answer with one JSON object: {"nodes": [{"id", "tool", "args"}], "answer": {...}}.'
    if truncated:
        return None, [
            Diagnostic(
                stage=Stage.PARSE,
                message="the model ran out of tokens before finishing the plan",
                hint="Write a shorter plan with fewer steps and shorter arguments.",
            )
        ]
    try:
        workflow = Workflow.model_validate(normalise(extract_json(text)))
    except (ValueError, ValidationError) as exc:
        message = str(exc).splitlines()[0][:300]
        return None, [Diagnostic(stage=Stage.PARSE, message=message, hint=hint)]
    return workflow, structure_diagnostics(workflow)


def structure_diagnostics(workflow: Workflow) -> list[Diagnostic]:
    """Problems with the graph's shape itself: no nodes, bad or duplicate ids, empty tool names."""
    diagnostics: list[Diagnostic] = []
    if not workflow.nodes:
        diagnostics.append(
            Diagnostic(
                stage=Stage.PARSE,
                message="the workflow calls no tool",
                hint="Add at least one tool call whose output answers the task.",
            )
        )
    seen: set[str] = set()
    for node in workflow.nodes:
        if not NODE_ID.match(node.id) or node.id == "answer":
            diagnostics.append(
                Diagnostic(
                    stage=Stage.PARSE,
                    node=node.id,
                    message=f"node id {node.id!r} is not a valid identifier",
                    hint="Use short ids like n1, n2 (letters, digits, _ or -), not 'answer'.",
                )
            )
        if node.id in seen:
            diagnostics.append(
                Diagnostic(
                    stage=Stage.PARSE,
                    node=node.id,
                    message=f"node id {node.id!r} is used twice",
                    hint="Give every node its own id.",
                )
            )
        seen.add(node.id)
        if not node.tool:
            diagnostics.append(
                Diagnostic(
                    stage=Stage.PARSE,
                    node=node.id,
                    message="the node names no tool",
                    hint="Set 'tool' to a tool name from the catalog, written server.tool.",
                )
            )
    return diagnostics


__all__ += ["structure_diagnostics"]
