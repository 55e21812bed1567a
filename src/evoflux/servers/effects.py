"""What calling a tool may do to the world: read, write, or destructive write, and where that class came from
(the server's annotations, the MCP specification's defaults for what they leave out, or the user's config)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import Literal, Protocol

__all__ = ["Effect", "EffectSource", "ToolRules", "allowed", "configured_effect", "effect_of", "matches"]

Effect = Literal["read", "write", "destructive"]
"""`read`: changes nothing; `write`: changes state, additively; `destructive`: may delete or overwrite."""

EffectSource = Literal["server", "spec default", "config"]
"""`server`: the server's own hints decided; `spec default`: a hint was missing and the MCP default
(`readOnlyHint: false`, `destructiveHint: true`) decided; `config`: the servers config says so."""


def effect_of(read_only: bool | None, destructive: bool | None) -> tuple[Effect, EffectSource]:
    """The class the MCP tool annotations give, with the specification's defaults for missing hints."""
    if read_only is True:
        return "read", "server"
    if destructive is False:
        return "write", "server"
    source: EffectSource = "server" if read_only is False and destructive is True else "spec default"
    return "destructive", source


class ToolRules(Protocol):
    """The per-server tool rules of the servers config (each a list of tool names or fnmatch patterns)."""

    @property
    def read_only_tools(self) -> Sequence[str]: ...

    @property
    def write_tools(self) -> Sequence[str]: ...

    @property
    def destructive_tools(self) -> Sequence[str]: ...

    @property
    def allow_tools(self) -> Sequence[str] | None: ...

    @property
    def deny_tools(self) -> Sequence[str]: ...


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether a tool's own name matches one of the patterns (`read_*`, `list_tables`), case-sensitively."""
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def allowed(rules: ToolRules, tool: str) -> bool:
    """Whether the config lets the planner see and the search call this tool."""
    if rules.allow_tools is not None and not matches(tool, rules.allow_tools):
        return False
    return not matches(tool, rules.deny_tools)


def configured_effect(rules: ToolRules, tool: str) -> Effect | None:
    """The class the config gives the tool; the most cautious one when several patterns match."""
    if matches(tool, rules.destructive_tools):
        return "destructive"
    if matches(tool, rules.write_tools):
        return "write"
    if matches(tool, rules.read_only_tools):
        return "read"
    return None
