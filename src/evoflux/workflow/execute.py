"""Run a validated workflow over a live catalog: topological waves, parallel nodes, bounded in time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any, Literal

import anyio
from pydantic import BaseModel

from evoflux.protocols import ToolCaller
from evoflux.servers.argschema import NO_VALUE, coerce, properties
from evoflux.servers.tools import ToolResult, ToolSpec, output_value, tool_failure
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import Workflow
from evoflux.workflow.refs import Ref, RefError, as_ref, find_refs, resolve_path, substitute
from evoflux.workflow.trace import Event, NodeRun, Trace
from evoflux.workflow.validate import Limits, check_arguments
from evoflux.workflow.writes import REFUSED, REFUSED_HINT, WritePolicy

__all__ = ["CallCache", "ExecutionSettings", "execute", "send_once"]

Fail = Callable[..., Diagnostic]
"""Makes the diagnostic of a failed node: (stage, message, hint, path=None)."""


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


async def execute(
    workflow: Workflow,
    caller: ToolCaller,
    *,
    settings: ExecutionSettings | None = None,
    cache: CallCache | None = None,
    on_event: Callable[[Event], None] | None = None,
    writes: WritePolicy | None = None,
) -> Trace:
    """Execute every node of a statically valid workflow. Never raises for a tool failure. `writes` says
    what happens to calls that may change state (see `WritePolicy`); without it they are sent as is."""
    settings = settings or ExecutionSettings()
    cache = cache if cache is not None else CallCache()
    trace = Trace()
    started = time.monotonic()
    limiter = anyio.CapacityLimiter(settings.max_parallel)
    notify = on_event or (lambda event: None)
    failed: set[str] = set()
    pending: set[str] = set()  # staged writes and the nodes that wait for them
    staged_servers: set[str] = set()  # a later call to such a server would read the state before the write
    deps = workflow.dependencies()
    written: dict[str, list[str]] = {}  # server -> its state-changing calls so far, in order

    async def run_node(node_id: str) -> None:
        node = workflow.node(node_id)
        assert node is not None
        if deps[node_id] & failed:
            failed.add(node_id)
            trace.runs[node_id] = NodeRun(node=node_id, tool=node.tool, status="skipped")
            notify(Event(kind="skipped", node=node_id, tool=node.tool, detail="an upstream node failed"))
            return
        spec = caller.tools.get(node.tool)
        if deps[node_id] & pending or (spec is not None and spec.server in staged_servers):
            pending.add(node_id)
            trace.runs[node_id] = NodeRun(node=node_id, tool=node.tool, status="waiting")
            notify(Event(kind="waiting", node=node_id, tool=node.tool, detail="waits for a staged write"))
            return
        run, diagnostic = await _call(node_id, node.tool, node.args)
        trace.runs[node_id] = run
        if run.status == "staged":
            pending.add(node_id)
            staged_servers.add(spec.server if spec is not None else "")
            notify(
                Event(kind="staged", node=node_id, tool=node.tool, detail="sent once this workflow is chosen")
            )
            return
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
        record = writes if writes is not None and spec.changes_state else None
        if record is not None and record.replay:
            return await _write(node_id, spec, arguments, record, fail)
        if record is not None and not await confirmed(record, spec, arguments):
            run = NodeRun(node=node_id, tool=tool, status="refused", arguments=arguments)
            return run, fail(Stage.EXECUTE, REFUSED.format(tool=tool), REFUSED_HINT)
        notify(Event(kind="started", node=node_id, tool=tool))
        after = "\x01".join(written.get(spec.server, []))
        result = cache.get(tool, arguments, after)
        cached = result is not None
        if result is None:
            entry = record.ledger.begin(node_id, tool, spec.effect, arguments) if record else None
            async with limiter:
                result = await caller.call_tool(tool, arguments, timeout=settings.call_timeout_s)
            if record is not None and entry is not None:
                record.ledger.finish(entry, result)
            trace.tool_calls += 1
            cache.put(tool, arguments, result, after)
        if spec.changes_state:  # later calls to this server see another state
            written.setdefault(spec.server, []).append(CallCache.key(tool, arguments))
        return _finished(node_id, tool, arguments, result, cached, fail)

    async def _write(
        node_id: str, spec: ToolSpec, arguments: dict[str, Any], policy: WritePolicy, fail: Fail
    ) -> tuple[NodeRun, Diagnostic | None]:
        """A call that may change state, under the run's write policy (see `send_once`)."""
        written.setdefault(spec.server, []).append(CallCache.key(spec.name, arguments))
        if policy.send and policy.ledger.get(spec.name, arguments) is None:
            notify(Event(kind="started", node=node_id, tool=spec.name))
        async with limiter:
            result, how = await send_once(
                caller, spec, arguments, policy, node=node_id, timeout=settings.call_timeout_s
            )
        if result is not None:
            trace.tool_calls += how == "sent"
            return _finished(node_id, spec.name, arguments, result, how == "replayed", fail)
        status: Literal["staged", "refused"] = "staged" if how == "staged" else "refused"
        run = NodeRun(node=node_id, tool=spec.name, status=status, arguments=arguments)
        if how == "staged":
            return run, None
        return run, fail(Stage.EXECUTE, REFUSED.format(tool=spec.name), REFUSED_HINT)

    def _finished(
        node_id: str, tool: str, arguments: dict[str, Any], result: ToolResult, cached: bool, fail: Fail
    ) -> tuple[NodeRun, Diagnostic | None]:
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
        for wave in _waves(workflow, caller.tools):
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


def _waves(workflow: Workflow, tools: Mapping[str, ToolSpec]) -> list[list[str]]:
    """The workflow's waves, with the calls to one server kept in workflow order around a call that may
    change its state (a read written after a write runs after it, even with no reference between
    them); the references' waves alone if that order contradicts them."""
    ids = {n.id for n in workflow.nodes}
    after: dict[str, set[str]] = {
        n: {d for d in deps if d in ids} for n, deps in workflow.dependencies().items()
    }
    seen: list[tuple[str, str, bool]] = []  # (node, server, changes state), in workflow order
    for node in workflow.nodes:
        spec = tools.get(node.tool)
        if spec is None:
            continue
        for earlier, server, writes in seen:
            if server == spec.server and (writes or spec.changes_state):
                after[node.id].add(earlier)
        seen.append((node.id, spec.server, spec.changes_state))
    sorter: TopologicalSorter[str] = TopologicalSorter(after)
    order = {n.id: i for i, n in enumerate(workflow.nodes)}
    try:
        sorter.prepare()
    except CycleError:
        return workflow.waves()
    waves: list[list[str]] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=order.__getitem__)
        waves.append(ready)
        sorter.done(*ready)
    return waves


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


async def send_once(
    caller: ToolCaller,
    spec: ToolSpec,
    arguments: dict[str, Any],
    policy: WritePolicy,
    *,
    node: str,
    timeout: float,
) -> tuple[ToolResult | None, Literal["replayed", "sent", "staged", "refused"]]:
    """A call that may change state: answered from the ledger when the run already sent this very call,
    else staged (not sent), refused (destructive and not confirmed), or sent once and recorded."""
    result = policy.ledger.get(spec.name, arguments) if policy.replay else None
    if result is not None:
        return result, "replayed"
    if not policy.send:
        return None, "staged"
    if not await confirmed(policy, spec, arguments):
        return None, "refused"
    entry = policy.ledger.begin(node, spec.name, spec.effect, arguments)
    result = await caller.call_tool(spec.name, arguments, timeout=timeout)
    policy.ledger.finish(entry, result)
    return result, "sent"


async def confirmed(policy: WritePolicy, spec: ToolSpec, arguments: dict[str, Any]) -> bool:
    """Whether the call may go out: anything but a destructive call, or one that `confirm` allows."""
    if spec.effect != "destructive":
        return True
    return bool(await anyio.to_thread.run_sync(policy.confirm, spec.name, arguments))
