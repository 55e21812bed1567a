"""Run a validated workflow over a live catalog: topological waves, parallel nodes, bounded in time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import anyio
from pydantic import BaseModel

from evoflux.protocols import ToolCaller
from evoflux.servers.argschema import NO_VALUE, coerce, properties
from evoflux.servers.tools import ToolResult, ToolSpec, output_value
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import Workflow
from evoflux.workflow.refs import Ref, RefError, as_ref, find_refs, resolve_path, substitute
from evoflux.workflow.trace import Event, NodeRun, Trace
from evoflux.workflow.validate import Limits, check_arguments

__all__ = ["CallCache", "ExecutionSettings", "execute", "tool_failure"]


class ExecutionSettings(BaseModel):
    """Bounds on one execution."""

    call_timeout_s: float = 30.0
    deadline_s: float = 180.0
    max_parallel: int = 8
    limits: Limits = Limits()


class CallCache:
    """Results of identical calls within one run, keyed by tool, canonical arguments and `after`: the
    state-changing calls the workflow made on that server before this one (see `execute`)."""

    def __init__(self) -> None:
        self._results: dict[str, ToolResult] = {}
        self.hits = 0

    @staticmethod
    def key(tool: str, arguments: dict[str, Any], after: str = "") -> str:
        text = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
        return tool + "\x00" + text + ("\x00" + after if after else "")

    def get(self, tool: str, arguments: dict[str, Any], after: str = "") -> ToolResult | None:
        found = self._results.get(self.key(tool, arguments, after))
        self.hits += found is not None
        return found

    def put(self, tool: str, arguments: dict[str, Any], result: ToolResult, after: str = "") -> None:
        if result.error_kind in (None, "tool", "protocol", "output_schema"):
            self._results[self.key(tool, arguments, after)] = result

    def __len__(self) -> int:
        return len(self._results)


def _fit_referenced(
    planned: dict[str, Any], arguments: dict[str, Any], schema: dict[str, Any]
) -> dict[str, Any]:
    """Top-level arguments that were whole references, converted to the type their parameter declares
    (an upstream number feeding a string parameter becomes its text, "42" feeding a number becomes 42).
    Literals are left alone: the static checks already hold them to the schema."""
    props = properties(schema)
    fitted = dict(arguments)
    for name, value in arguments.items():
        if name in props and as_ref(planned.get(name)) is not None:
            converted = coerce(value, props[name])
            if converted is not NO_VALUE:
                fitted[name] = converted
    return fitted


_ERROR_PREFIXES = ("error", "exception", "traceback", "failed", "invalid", "unknown tool")


def _reports_failure(item: dict[str, Any]) -> bool:
    return item.get("success") is False or item.get("ok") is False or item.get("status") == "error"


def tool_failure(result: ToolResult) -> str | None:
    """Why a result is a failure: `isError`, an error payload returned as a normal result, or a batch
    whose every item reports a failure (`{"results": [{"success": false, "error": ...}, ...]}`)."""
    if result.is_error:
        return (result.text or result.error_kind or "the tool reported an error").strip()[:500]
    value = output_value(result)
    if isinstance(value, dict):
        if _reports_failure(value):
            return json.dumps(value, default=str)[:500]
        error = value.get("error")
        if error and len([k for k in value if value[k] not in (None, "", [], {})]) <= 2:
            return str(error)[:500]
        for items in value.values():
            if (
                isinstance(items, list)
                and items
                and all(isinstance(i, dict) and (_reports_failure(i) or i.get("error")) for i in items)
            ):
                return "every item failed: " + json.dumps(items[0], default=str)[:450]
    text = result.text.strip().lower()
    if result.structured is None and text.startswith(_ERROR_PREFIXES):
        return result.text.strip()[:500]
    return None


async def execute(
    workflow: Workflow,
    caller: ToolCaller,
    *,
    settings: ExecutionSettings | None = None,
    cache: CallCache | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> Trace:
    """Execute every node of a statically valid workflow. Never raises for a tool failure."""
    settings = settings or ExecutionSettings()
    cache = cache if cache is not None else CallCache()
    trace = Trace()
    started = time.monotonic()
    limiter = anyio.CapacityLimiter(settings.max_parallel)
    notify = on_event or (lambda event: None)
    failed: set[str] = set()
    deps = workflow.dependencies()
    writes: dict[str, list[str]] = {}  # server -> its state-changing calls so far, in order

    async def run_node(node_id: str) -> None:
        node = workflow.node(node_id)
        assert node is not None
        if deps[node_id] & failed:
            failed.add(node_id)
            trace.runs[node_id] = NodeRun(node=node_id, tool=node.tool, status="skipped")
            notify(Event(kind="skipped", node=node_id, tool=node.tool, detail="an upstream node failed"))
            return
        run, diagnostic = await _call(node_id, node.tool, node.args)
        trace.runs[node_id] = run
        if diagnostic is not None:
            failed.add(node_id)
            trace.diagnostics.append(diagnostic)
            notify(Event(kind="failed", node=node_id, tool=node.tool, detail=diagnostic.message))
        else:
            notify(Event(kind="cached" if run.cached else "ok", node=node_id, tool=node.tool))

    async def run_lane(lane: list[str]) -> None:
        for node_id in lane:
            await run_node(node_id)

    async def _call(node_id: str, tool: str, args: dict[str, Any]) -> tuple[NodeRun, Diagnostic | None]:
        def fail(stage: Stage, message: str, hint: str, path: str | None = None) -> Diagnostic:
            return Diagnostic(stage=stage, node=node_id, message=message, hint=hint, path=path)

        try:
            arguments = substitute(args, trace.outputs)
        except RefError as exc:
            where = next((w for w, ref in find_refs(args) if not _resolves(ref, trace.outputs)), "")
            return NodeRun(node=node_id, tool=tool, status="error"), fail(
                Stage.EXECUTE,
                f"reference did not resolve against the executed output: {exc}",
                "refer to a field that the upstream output really has",
                f"args.{where}" if where else "args",
            )
        spec = caller.tools.get(tool)
        if spec is None:
            return NodeRun(node=node_id, tool=tool, status="error"), fail(
                Stage.RESOLVE, f"tool {tool!r} is no longer in the catalog", "use another tool"
            )
        arguments = _fit_referenced(args, arguments, spec.input_schema)
        problems = check_arguments(node_id, arguments, spec, settings.limits)
        if problems:
            return NodeRun(node=node_id, tool=tool, status="error", arguments=arguments), problems[0]
        notify(Event(kind="started", node=node_id, tool=tool))
        after = "\x01".join(writes.get(spec.server, []))
        result = cache.get(tool, arguments, after)
        cached = result is not None
        if result is None:
            async with limiter:
                result = await caller.call_tool(tool, arguments, timeout=settings.call_timeout_s)
            trace.tool_calls += 1
            cache.put(tool, arguments, result, after)
        if spec.changes_state:  # later calls to this server see another state
            writes.setdefault(spec.server, []).append(CallCache.key(tool, arguments))
        reason = tool_failure(result)
        status: Literal["ok", "error"] = "error" if reason else "ok"
        run = NodeRun(
            node=node_id,
            tool=tool,
            status=status,
            arguments=arguments,
            result=result,
            output=None if reason else output_value(result),
            cached=cached,
        )
        if reason is None:
            return run, None
        kind = result.error_kind or "tool"
        return run, fail(Stage.EXECUTE, f"{tool} failed ({kind}): {reason}", _execute_hint(kind))

    with anyio.move_on_after(settings.deadline_s) as scope:
        for wave in workflow.waves():
            async with anyio.create_task_group() as group:
                for lane in _lanes(wave, workflow, caller.tools):
                    group.start_soon(run_lane, lane)
    if scope.cancelled_caught:
        for node in workflow.nodes:
            if node.id not in trace.runs:
                trace.runs[node.id] = NodeRun(node=node.id, tool=node.tool, status="error")
                trace.diagnostics.append(
                    Diagnostic(
                        stage=Stage.EXECUTE,
                        node=node.id,
                        message=f"the run deadline of {settings.deadline_s:g}s was reached",
                        hint="use fewer or faster steps",
                    )
                )
    trace.wall_s = time.monotonic() - started
    return trace


def _lanes(wave: list[str], workflow: Workflow, tools: Mapping[str, ToolSpec]) -> list[list[str]]:
    """The wave's nodes as lanes that run side by side, each lane's nodes one after another: the nodes
    of a server that one of them changes the state of share a lane, in workflow order (write, then
    read); every other node has its own."""
    server: dict[str, tuple[str, bool]] = {}
    for node_id in wave:
        node = workflow.node(node_id)
        spec = tools.get(node.tool) if node is not None else None
        if spec is not None:
            server[node_id] = (spec.server, spec.changes_state)
    ordered = {s for s, writes in server.values() if writes}
    lanes: dict[str, list[str]] = {}
    for node_id in wave:
        name, _ = server.get(node_id, ("", False))
        lanes.setdefault(name if name in ordered else "\x00" + node_id, []).append(node_id)
    return list(lanes.values())


def _resolves(ref: Ref, outputs: dict[str, Any]) -> bool:
    """Whether a reference resolves against the executed outputs (to blame the one that does not)."""
    if ref.node not in outputs:
        return False
    try:
        resolve_path(outputs[ref.node], ref.steps)
    except RefError:
        return False
    return True


def _execute_hint(kind: str) -> str:
    return {
        "timeout": "the tool did not answer in time; use other arguments or another tool",
        "protocol": "the server rejected the call; check the arguments against the schema",
        "transport": "the server connection failed; try again or use another tool",
        "output_schema": "the tool's output broke its own schema; use another tool",
    }.get(kind, "read the error and change the arguments, or use another tool")
