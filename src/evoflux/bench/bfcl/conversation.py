"""One BFCL multi-turn entry run as one conversation: each user turn is a task for the method, with the
earlier turns as context, against the same live backends (one MCP server per class); the calls that
reached the backends in each turn are recorded from the servers' log and scored by BFCL's own
multi-turn checker."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evoflux.bench.bfcl.data import Entry, call_text, server_name
from evoflux.methods import MethodSettings, run_method
from evoflux.protocols import Judge, Planner, ToolCaller
from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import ServersConfig, parse_servers
from evoflux.servers.tools import ToolResult, ToolSpec
from evoflux.workflow.writes import Confirm

__all__ = ["HeldBack", "check_entry", "entry_servers", "run_conversation", "turn_task"]

_CONTEXT_CHARS = 1500
"""How much of the earlier turns a turn's task carries (the most recent first to go in)."""


def entry_servers(entry: Entry, workspace: Path, category: str) -> tuple[ServersConfig, Path]:
    """A config that starts one server per backend class of the entry, loaded with the entry's
    starting state, every one logging to the same file (so the log keeps the order of the calls)."""
    log = workspace / "calls.jsonl"
    log.touch()
    servers: dict[str, Any] = {}
    for class_name in entry.involved_classes:
        scenario = workspace / f"{class_name}.json"
        scenario.write_text(json.dumps(entry.initial_config.get(class_name, {})), encoding="utf-8")
        args = ["-m", "evoflux.bench.bfcl.server", class_name, "--scenario", str(scenario), "--log", str(log)]
        if "long_context" in category:
            args.append("--long-context")
        servers[server_name(class_name)] = {"command": sys.executable, "args": args}
    return parse_servers({"mcpServers": servers}, environ={}), log


def turn_task(history: list[tuple[str, str]], request: str) -> str:
    """A turn's task: the request, after what was asked and answered before it (cut from the oldest)."""
    if not history:
        return request
    lines = [f"User: {asked}\nAssistant: {answered}" for asked, answered in history]
    earlier = "\n".join(lines)[-_CONTEXT_CHARS:]
    return f"Earlier in this conversation:\n{earlier}\n\nNow: {request}"


class HeldBack:
    """The catalog without the functions an entry holds back until a later turn (BFCL's missing-function
    category): they are neither shown nor callable while held back."""

    def __init__(self, inner: ToolCaller, held: set[str]) -> None:
        self.inner, self.held = inner, held

    def _hidden(self, name: str) -> bool:
        return name.partition(".")[2] in self.held

    @property
    def tools(self) -> Mapping[str, ToolSpec]:
        return {name: spec for name, spec in self.inner.tools.items() if not self._hidden(name)}

    async def call_tool(self, name: str, arguments: dict[str, Any], *, timeout: float) -> ToolResult:
        if self._hidden(name):
            return ToolResult(is_error=True, error_kind="policy", text=f"no tool {name!r} is available")
        return await self.inner.call_tool(name, arguments, timeout=timeout)


def _read_calls(log: Path, start: int) -> tuple[list[str], int]:
    """The calls logged from byte `start` on, in BFCL's syntax, and where the log ends."""
    data = log.read_bytes()
    calls = []
    for line in data[start:].decode("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            calls.append(call_text(row["tool"], row["arguments"]))
    return calls, len(data)


async def run_conversation(
    entry: Entry,
    category: str,
    method: str,
    settings: MethodSettings,
    make_planner: Callable[[], Planner],
    workspace: Path,
    *,
    judge: Judge | None = None,
    confirm: Confirm | None = None,
    connect_timeout: float = 120.0,
) -> list[dict[str, Any]]:
    """Every turn of the entry through `method` (a fresh planner per turn): per turn, the task as sent,
    the result (`RunResult.to_json()`) and the calls that reached the backends. Functions the entry
    holds back appear at their turn, whose request is then BFCL's own "more functions" message."""
    from bfcl_eval.constants.default_prompts import DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC as MORE

    config, log = entry_servers(entry, workspace, category)
    turns: list[dict[str, Any]] = []
    history: list[tuple[str, str]] = []
    offset = 0
    held = {name for names in entry.missed_function.values() for name in names}
    async with open_catalog(
        config, call_timeout=settings.execution.call_timeout_s, connect_timeout=connect_timeout
    ) as catalog:
        caller = HeldBack(catalog, held)
        for index, request in enumerate(entry.turns):
            if str(index) in entry.missed_function:
                held -= set(entry.missed_function[str(index)])
                request = request or str(MORE)
            task = turn_task(history, request)
            result = await run_method(method, task, caller, make_planner(), settings, None, judge, confirm)
            calls, offset = _read_calls(log, offset)
            turns.append({"task": task, "result": result.to_json(), "calls": calls})
            history.append((request, result.answer or "(no answer)"))
    return turns


def check_entry(entry: Entry, category: str, calls: list[list[str]]) -> dict[str, Any]:
    """BFCL's multi-turn checker on the calls of each turn (`valid`, and why not)."""
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_checker as checker
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

    name = f"evoflux_{uuid.uuid4().hex[:12]}"  # the checker keeps instances in globals by this name
    decoded = [[turn] if turn else [] for turn in calls]
    try:
        verdict: dict[str, Any] = checker.multi_turn_checker(
            decoded, entry.ground_truth, entry.raw, category, name
        )
    finally:
        for key in [k for k in vars(multi_turn_utils) if k.startswith(name)]:
            delattr(multi_turn_utils, key)
    return verdict
