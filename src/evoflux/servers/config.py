"""The servers config: which MCP servers a run talks to, in the standard `mcpServers` client format."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from evoflux.errors import ConfigError

__all__ = [
    "HttpServer",
    "ServerConfig",
    "ServersConfig",
    "StdioServer",
    "ToolRulesConfig",
    "default_servers_path",
    "evoflux_home",
    "load_servers",
    "parse_servers",
]

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_STDIO_KEYS = {"command", "args", "env", "cwd"}
_HTTP_KEYS = {"url", "headers", "allowPrivateNetwork"}
_COMMON_KEYS = {
    "type",
    "disabled",
    "description",
    "readOnlyTools",
    "writeTools",
    "destructiveTools",
    "allowTools",
    "denyTools",
}


class ToolRulesConfig(BaseModel):
    """Per-server tool rules: which tools the planner may see, and the effect class of tools whose server
    does not annotate them (or annotates them wrongly). Each entry is a tool name or an fnmatch pattern."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

    read_only_tools: list[str] = Field(default_factory=list, alias="readOnlyTools")
    write_tools: list[str] = Field(default_factory=list, alias="writeTools")
    destructive_tools: list[str] = Field(default_factory=list, alias="destructiveTools")
    allow_tools: list[str] | None = Field(
        default=None, alias="allowTools", description="Only these tools are listed (default: all)."
    )
    deny_tools: list[str] = Field(default_factory=list, alias="denyTools", description="Never listed.")


class StdioServer(ToolRulesConfig):
    """A server Evoflux launches as a subprocess and talks to over stdin/stdout."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

    command: str = Field(
        min_length=1, description="Executable, looked up on PATH then next to sys.executable."
    )
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, description="Set on top of the parent environment.")
    cwd: str | None = None
    description: str = ""

    def launch_line(self) -> str:
        """The command line as one readable string (for messages; it never goes through a shell)."""
        return " ".join([self.command, *self.args])


class HttpServer(ToolRulesConfig):
    """A server already running somewhere, reached over Streamable HTTP."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    allow_private_network: StrictBool = Field(
        default=False,
        alias="allowPrivateNetwork",
        description="Allow a URL that goes to a private or link-local address (loopback is always allowed).",
    )
    description: str = ""

    def launch_line(self) -> str:
        """The URL (for messages)."""
        return self.url


ServerConfig = StdioServer | HttpServer


class ServersConfig(BaseModel):
    """Named servers; tools are then known as `name.tool`."""

    model_config = ConfigDict(frozen=True)

    servers: dict[str, ServerConfig] = Field(default_factory=dict)
    source: Path | None = Field(default=None, description="The file this config was read from.")
    workspace: Path | None = Field(default=None, description="The sandbox directory, when a server uses one.")

    def select(self, names: Iterable[str]) -> ServersConfig:
        """The same config restricted to `names` (in that order); unknown names raise `ConfigError`."""
        wanted = list(dict.fromkeys(names))
        unknown = [n for n in wanted if n not in self.servers]
        if unknown:
            raise ConfigError(
                f"unknown server(s) {', '.join(map(repr, unknown))} in {self._where()}: "
                f"choose among {', '.join(self.servers) or '(none configured)'}"
            )
        return self.model_copy(update={"servers": {n: self.servers[n] for n in wanted}})

    def _where(self) -> str:
        return str(self.source) if self.source else "the servers config"


def default_servers_path() -> Path:
    """The example config shipped with Evoflux (offline-capable registry servers, see `evoflux setup`)."""
    return Path(str(resources.files("evoflux") / "data" / "servers.json"))


def evoflux_home(environ: Mapping[str, str] | None = None) -> Path:
    """Per-user data: `$EVOFLUX_HOME`, else `$XDG_DATA_HOME/evoflux`, else `~/.local/share/evoflux`."""
    env = os.environ if environ is None else environ
    if home := env.get("EVOFLUX_HOME"):
        return Path(home).expanduser()
    data = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "evoflux"


def load_servers(
    path: str | os.PathLike[str] | None = None,
    *,
    workspace: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ServersConfig:
    """Read and validate a servers config file (the shipped example when `path` is None).

    `workspace` overrides `EVOFLUX_WORKSPACE` (e.g. a fresh temporary directory per benchmark task);
    `environ` replaces `os.environ` for `${VAR}` expansion.
    """
    file = Path(path) if path is not None else default_servers_path()
    if not file.is_file():
        hint = "create it" if not file.exists() else "give the path of a JSON file, not a directory"
        raise ConfigError(
            f"servers config {file} not found: {hint}, or omit the path to use the example config at "
            f"{default_servers_path()}"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"cannot read servers config {file}: {e}; check its permissions and encoding"
        ) from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"servers config {file} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}; "
            "fix the syntax there (trailing commas and comments are not allowed in JSON)"
        ) from e
    return parse_servers(data, source=file, workspace=workspace, environ=environ)


def parse_servers(
    data: Any,
    *,
    source: Path | None = None,
    workspace: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ServersConfig:
    """Validate already-parsed JSON in the `mcpServers` format (see `load_servers`)."""
    where = str(source) if source else "servers config"
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
        raise ConfigError(
            f'{where}: expected a JSON object with an "mcpServers" object mapping server names to '
            '{"command": ..., "args": [...]} or {"url": ...}'
        )
    env = dict(os.environ if environ is None else environ)
    if workspace is None:
        workspace = env.get("EVOFLUX_WORKSPACE") or evoflux_home(env) / "workspace"
    ws = Path(workspace).expanduser().absolute()
    builtins = {"EVOFLUX_WORKSPACE": ws, "EVOFLUX_FILES": ws / "files", "EVOFLUX_STATE": ws / "state"}
    env.update({k: str(v) for k, v in builtins.items()})
    used: set[str] = set()
    servers: dict[str, ServerConfig] = {}
    for name, raw in data["mcpServers"].items():
        _check_name(name, where)
        entry = _parse_entry(name, raw, where)
        if entry is not None:
            servers[name] = _expand_entry(entry, env, used, f"{where}: server {name!r}")
    for var, directory in builtins.items():
        if var not in used:
            continue
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(
                f"{where}: cannot create {var} directory {directory}: {e}; choose another workspace "
                "(set EVOFLUX_WORKSPACE or pass workspace=)"
            ) from e
    return ServersConfig(servers=servers, source=source, workspace=ws if used & set(builtins) else None)


def _check_name(name: str, where: str) -> None:
    if not _NAME.match(name):
        fixed = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "server"
        raise ConfigError(
            f"{where}: server name {name!r} may only hold letters, digits, '_' and '-' (tools are named "
            f"'server.tool', so a '.' would be ambiguous); rename it, e.g. to {fixed!r}"
        )


def _parse_entry(name: str, raw: Any, where: str) -> ServerConfig | None:
    at = f"{where}: server {name!r}"
    if not isinstance(raw, dict):
        raise ConfigError(
            f'{at} must be an object like {{"command": "...", "args": [...]}} or {{"url": "..."}}'
        )
    if raw.get("disabled") is True:
        return None
    kind = raw.get("type")
    if kind in ("sse",):
        raise ConfigError(f'{at}: the SSE transport is not supported; serve Streamable HTTP and give "url"')
    if kind not in (None, "stdio", "http", "streamable-http", "streamableHttp"):
        raise ConfigError(
            f'{at}: unknown "type" {kind!r}; use "stdio" (with "command") or "http" (with "url")'
        )
    has_command, has_url = "command" in raw, "url" in raw
    if has_command and has_url:
        raise ConfigError(
            f'{at} gives both "command" and "url": keep "command" to launch it or "url" to reach it'
        )
    if not has_command and not has_url:
        raise ConfigError(
            f'{at} has neither "command" nor "url": add "command" (and "args") to launch it over stdio, '
            'or "url" for a Streamable HTTP server'
        )
    allowed = (_STDIO_KEYS if has_command else _HTTP_KEYS) | _COMMON_KEYS
    extra = sorted(set(raw) - allowed)
    if extra:
        raise ConfigError(
            f"{at}: unknown key(s) {', '.join(map(repr, extra))}; allowed: {', '.join(sorted(allowed))}"
        )
    fields = {k: v for k, v in raw.items() if k not in ("type", "disabled")}
    model: type[StdioServer] | type[HttpServer] = StdioServer if has_command else HttpServer
    try:
        return model.model_validate(fields)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'entry'}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"{at} is invalid ({problems}); {_shape_hint(has_command)}") from e


def _shape_hint(stdio: bool) -> str:
    if stdio:
        return 'expected "command": string, "args": [strings], "env": {string: string}, "cwd": string'
    return 'expected "url": "http(s)://...", "headers": {string: string}, "allowPrivateNetwork": true/false'


def _expand_entry(entry: ServerConfig, env: Mapping[str, str], used: set[str], at: str) -> ServerConfig:
    def sub(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            var, default = m.group(1), m.group(2)
            value = env.get(var)
            if not value and default is not None:
                return default
            if value is not None:
                used.add(var)
                return value
            raise ConfigError(
                f"{at} uses ${{{var}}}, which is not set: export {var}, or write ${{{var}:-default}}"
            )

        return _VAR.sub(one, text)

    if isinstance(entry, StdioServer):
        return entry.model_copy(
            update={
                "command": sub(entry.command),
                "args": [sub(a) for a in entry.args],
                "env": {k: sub(v) for k, v in entry.env.items()},
                "cwd": sub(entry.cwd) if entry.cwd is not None else None,
            }
        )
    return entry.model_copy(
        update={"url": sub(entry.url), "headers": {k: sub(v) for k, v in entry.headers.items()}}
    )
