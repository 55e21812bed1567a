"""MCP-Bench tasks as `BenchTask`s."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evoflux.bench.tasks import BenchTask, SuiteError

__all__ = [
    "ALWAYS_SHOWN",
    "SERVER_ALIASES",
    "is_runner_format",
    "load_mcpbench",
    "parse_mcpbench",
    "server_name",
]

SERVER_ALIASES: dict[str, str] = {"Time MCP": "time"}
"""MCP-Bench server names whose servers-config name is not the plain `server_name` slug."""

ALWAYS_SHOWN: tuple[str, ...] = ("Time MCP",)
"""Servers MCP-Bench adds to every task's catalog."""


def server_name(name: str, aliases: Mapping[str, str] = SERVER_ALIASES) -> str:
    """The servers-config name of an MCP-Bench server: an alias, else lower case with every run of other
    characters than letters and digits written `_` ("NASA Data" -> `nasa_data`)."""
    if name in aliases:
        return aliases[name]
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def is_runner_format(data: Any) -> bool:
    """Whether parsed JSON has MCP-Bench's runner structure (a `server_tasks` list)."""
    return isinstance(data, dict) and isinstance(data.get("server_tasks"), list)


def _strings(value: Any, what: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SuiteError(f"{where}: '{what}' must be a list of server names")
    return list(value)


def _text(task: dict[str, Any], key: str, where: str) -> str:
    value = task.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(f"{where}: the task has no '{key}' text")
    return value.strip()


def parse_mcpbench(
    data: Any,
    source: str = "MCP-Bench data",
    *,
    distractions: bool = True,
    extra_servers: Sequence[str] = (),
    aliases: Mapping[str, str] = SERVER_ALIASES,
) -> list[BenchTask]:
    """The tasks of parsed runner-format JSON, in file order. `distractions=False` leaves the distraction
    servers out; `extra_servers` (MCP-Bench names) are added to every task. Raises `SuiteError`."""
    if not is_runner_format(data):
        raise SuiteError(f"{source}: not MCP-Bench's runner format (no 'server_tasks' list)")
    tasks: list[BenchTask] = []
    for g, group in enumerate(data["server_tasks"]):
        where = f"{source}: server_tasks[{g}]"
        if not isinstance(group, dict) or not isinstance(group.get("tasks"), list):
            raise SuiteError(f"{where}: expected an object with a 'tasks' list")
        own = _strings(group.get("servers", []), "servers", where)
        for t, task in enumerate(group["tasks"]):
            at = f"{where}.tasks[{t}]"
            if not isinstance(task, dict):
                raise SuiteError(f"{at}: expected a task object")
            task_id = _text(task, "task_id", at)
            extra = _strings(task.get("distraction_servers", []), "distraction_servers", at)
            names = own + (extra if distractions else []) + list(extra_servers)
            tasks.append(
                BenchTask(
                    id=task_id,
                    task=_text(task, "fuzzy_description", at),
                    servers=list(dict.fromkeys(server_name(n, aliases) for n in names)),
                    notes=_text(task, "task_description", at),
                )
            )
    return tasks


def load_mcpbench(
    path: str | Path,
    *,
    distractions: bool = True,
    extra_servers: Sequence[str] = (),
    aliases: Mapping[str, str] = SERVER_ALIASES,
) -> list[BenchTask]:
    """The tasks of one runner-format file (see `parse_mcpbench`). Raises `SuiteError`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SuiteError(f"cannot read task file {path}: {e}") from e
    except ValueError as e:
        raise SuiteError(f"{path}: not JSON ({e})") from e
    return parse_mcpbench(
        data, str(path), distractions=distractions, extra_servers=extra_servers, aliases=aliases
    )
