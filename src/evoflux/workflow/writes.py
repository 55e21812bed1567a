"""Writes: how a run treats calls that may change state (staged, sent once, or never), and the ledger of
every such call it sent, so that none is sent twice."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from evoflux.servers.effects import Effect
from evoflux.servers.tools import ToolResult, tool_failure

__all__ = [
    "REFUSED",
    "REFUSED_HINT",
    "Confirm",
    "Ledger",
    "SentWrite",
    "WriteMode",
    "WritePolicy",
    "refuse_all",
]

REFUSED = "{tool} was not sent: it may delete or overwrite data, and nobody confirmed it"
REFUSED_HINT = "confirm it when asked (or pass --yes), or do the task without this call"

WriteMode = Literal["staged", "live", "dry-run"]
"""`staged`: candidates never write; the chosen workflow is committed once. `live`: every evaluation sends
its writes (for sandboxes and test servers). `dry-run`: nothing that may write is ever sent."""

Confirm = Callable[[str, dict[str, Any]], bool]
"""Asked before a destructive call is sent: (tool, arguments) -> send it?"""


def refuse_all(tool: str, arguments: dict[str, Any]) -> bool:
    """The confirmation of a run that cannot ask anyone: no destructive call is sent."""
    return False


class SentWrite(BaseModel):
    """One state-changing call a run sent (or was sending when it stopped)."""

    seq: int = Field(default=0, description="Its place in the run's ledger, from 0.")
    node: str
    tool: str
    effect: Effect
    arguments: dict[str, Any]
    status: Literal["sending", "sent", "failed"] = "sending"
    result: str = ""
    at: float = 0.0


class Ledger:
    """The state-changing calls one run has sent, in order. An identical call (same tool, same arguments)
    is answered from here instead of being sent again; `on_change` sees each entry before the call goes
    out and again when it returns, so a run killed in between still leaves its record."""

    def __init__(self, on_change: Callable[[SentWrite], None] | None = None) -> None:
        self.entries: list[SentWrite] = []
        self._results: dict[str, ToolResult] = {}
        self._on_change = on_change or (lambda entry: None)

    @staticmethod
    def key(tool: str, arguments: dict[str, Any]) -> str:
        return tool + "\x00" + json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)

    def get(self, tool: str, arguments: dict[str, Any]) -> ToolResult | None:
        """The result of this very call, when the run already sent it."""
        return self._results.get(self.key(tool, arguments))

    def begin(self, node: str, tool: str, effect: Effect, arguments: dict[str, Any]) -> SentWrite:
        entry = SentWrite(
            seq=len(self.entries), node=node, tool=tool, effect=effect, arguments=arguments, at=time.time()
        )
        self.entries.append(entry)
        self._on_change(entry)
        return entry

    def finish(self, entry: SentWrite, result: ToolResult) -> None:
        failure = tool_failure(result)
        entry.status = "failed" if failure else "sent"
        entry.result = (failure or result.text)[:500]
        self._results[self.key(entry.tool, entry.arguments)] = result
        self._on_change(entry)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class WritePolicy:
    """What `execute` does with a call that may change state: stage it (`send=False`: not sent, its
    dependants and later calls to its server wait) or send it once through the ledger (`replay=False`:
    send it every time, as live mode does), destructive ones only when `confirm` says yes."""

    send: bool
    ledger: Ledger = field(default_factory=Ledger)
    confirm: Confirm = refuse_all
    replay: bool = True
    """False in live mode: every evaluation sends its writes (only recorded in the ledger)."""
