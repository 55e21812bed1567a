"""Helpers the server tests share: configs for the test servers, and process checks via /proc."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio

from evoflux.models.lm import Completion, Message, Usage
from evoflux.servers.config import ServersConfig, parse_servers
from evoflux.servers.tools import ToolSpec

SERVERS = Path(__file__).parent / "fixtures"
TOY_TOOLS = 16
"""How many tools `fixtures/toy.py` lists (before `grow`)."""


def toy(*args: str, **entry: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(SERVERS / "toy.py"), *args], **entry}


def servers(**entries: dict[str, Any]) -> ServersConfig:
    return parse_servers({"mcpServers": entries}, environ={})


def alive(pid: int) -> bool:
    """Running (a zombie, waiting for a parent that may never reap it, counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def wait_until_dead(pids: list[int], seconds: float = 5.0) -> None:
    with anyio.fail_after(seconds):
        while any(alive(p) for p in pids):
            await anyio.sleep(0.02)


def converter(name: str, units: list[str]) -> ToolSpec:
    """A unit-converter tool spec (`conv.<name>`: value, from_unit, to_unit over `units`)."""
    schema = {
        "type": "object",
        "properties": {
            "value": {"type": "number"},
            "from_unit": {"type": "string", "enum": units},
            "to_unit": {"type": "string", "enum": units},
        },
        "required": ["value", "from_unit", "to_unit"],
    }
    return ToolSpec(
        name=f"conv.{name}", server="conv", tool=name, description="Convert a value.", input_schema=schema
    )


CALC = ToolSpec(
    name="calc.calculate",
    server="calc",
    tool="calculate",
    description="Evaluate a math expression.",
    input_schema={
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
)
LENGTH = converter("length", ["foot", "meter", "inch"])
AREA = converter("area", ["square foot", "square meter", "acre"])


class FixedReply:
    """Test double: a language model that always answers `text`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.prompts: list[str] = []
        self.chats: list[list[Message]] = []

    def complete(self, messages: list[Message], **kwargs: Any) -> Completion:
        self.prompts.append(messages[-1].content)
        self.chats.append(messages)
        return Completion(text=self.text, finish_reason="stop", usage=Usage(calls=1, prompt_tokens=50))
