"""The servers config: the mcpServers format, variables, the workspace and the messages of bad configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evoflux.errors import ConfigError, EvofluxError
from evoflux.servers.config import (
    HttpServer,
    StdioServer,
    default_servers_path,
    load_servers,
    parse_servers,
)


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "servers.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def error_of(data: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_servers(data, environ={}, **kwargs)
    return str(info.value)


def test_example_config_ships_as_package_data_and_uses_the_workspace(tmp_path: Path) -> None:
    assert default_servers_path().is_file()
    config = load_servers(workspace=tmp_path / "ws")
    assert list(config.servers) == ["time", "unit_converter", "calculator", "filesystem", "memory"]
    fs = config.servers["filesystem"]
    memory = config.servers["memory"]
    assert isinstance(fs, StdioServer) and isinstance(memory, StdioServer)
    assert fs.args[-1] == str(tmp_path / "ws" / "files")
    assert memory.env["MEMORY_FILE_PATH"] == str(tmp_path / "ws" / "state" / "memory.jsonl")
    assert (tmp_path / "ws" / "files").is_dir() and (tmp_path / "ws" / "state").is_dir()
    assert config.workspace == tmp_path / "ws"
    for server in config.servers.values():
        assert isinstance(server, StdioServer) and "--offline" in server.args


def test_workspace_defaults_to_the_environment(tmp_path: Path) -> None:
    data = {"mcpServers": {"fs": {"command": "npx", "args": ["${EVOFLUX_FILES}"]}}}
    config = parse_servers(data, environ={"EVOFLUX_WORKSPACE": str(tmp_path)})
    assert config.servers["fs"] == StdioServer(command="npx", args=[str(tmp_path / "files")])
    config = parse_servers(data, environ={"EVOFLUX_HOME": str(tmp_path / "home")})
    assert config.workspace == tmp_path / "home" / "workspace"


def test_variables_expand_with_defaults(tmp_path: Path) -> None:
    data = {
        "mcpServers": {
            "a": {"command": "${TOOL:-uvx}", "args": ["--token=${TOKEN}"], "env": {"K": "${EMPTY:-d}"}},
            "web": {"url": "http://${HOST}:8000/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
        }
    }
    config = parse_servers(
        data, environ={"TOKEN": "t0k", "HOST": "localhost", "EMPTY": ""}, workspace=tmp_path
    )
    assert config.servers["a"] == StdioServer(command="uvx", args=["--token=t0k"], env={"K": "d"})
    assert config.servers["web"] == HttpServer(
        url="http://localhost:8000/mcp", headers={"Authorization": "Bearer t0k"}
    )
    assert config.workspace is None
    message = error_of({"mcpServers": {"a": {"command": "x", "args": ["${MISSING}"]}}})
    assert "${MISSING}" in message and "export MISSING" in message


def test_select_keeps_a_subset_in_the_order_asked() -> None:
    data = {"mcpServers": {n: {"command": "x"} for n in ("a", "b", "c")}}
    config = parse_servers(data, environ={})
    assert list(config.select(["c", "a"]).servers) == ["c", "a"]
    with pytest.raises(ConfigError, match=r"unknown server\(s\) 'z'.*choose among a, b, c"):
        config.select(["a", "z"])


def test_disabled_servers_are_skipped() -> None:
    config = parse_servers(
        {"mcpServers": {"a": {"command": "x", "disabled": True}, "b": {"url": "http://h/"}}}
    )
    assert list(config.servers) == ["b"]


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.json not found: create it") as info:
        load_servers(tmp_path / "nope.json")
    assert isinstance(info.value, EvofluxError)
    with pytest.raises(ConfigError, match="not a directory"):
        load_servers(tmp_path)


def test_invalid_json_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "mcpServers": {\n    "a": {"command": "x",}\n  }\n}\n')
    with pytest.raises(ConfigError, match=r"not valid JSON: .* at line 3, column 26"):
        load_servers(path)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"args": ["x"]}, 'neither "command" nor "url"'),
        ({"command": "x", "url": "http://h/"}, 'both "command" and "url"'),
        ({"command": "x", "arg": ["y"]}, "unknown key(s) 'arg'; allowed: allowTools, args, command, cwd"),
        ({"command": "x", "args": "y"}, "args: Input should be a valid list"),
        ({"command": ""}, "command: String should have at least 1 character"),
        ({"url": "ftp://h/"}, "url: String should match pattern"),
        ({"url": "http://h/", "type": "sse"}, "SSE transport is not supported"),
        ({"command": "x", "type": "ws"}, 'unknown "type"'),
        (["x"], "must be an object"),
    ],
)
def test_bad_entries_say_what_and_how_to_fix(entry: Any, expected: str) -> None:
    message = error_of({"mcpServers": {"s": entry}})
    assert "server 's'" in message
    assert expected in message


def test_bad_names_and_shapes() -> None:
    message = error_of({"mcpServers": {"my.server": {"command": "x"}}})
    assert "'my.server'" in message and "'.'" in message and "'my_server'" in message
    assert '"mcpServers"' in error_of({"servers": {}})
    assert '"mcpServers"' in error_of([1, 2])


def test_launch_line_is_readable() -> None:
    assert StdioServer(command="uvx", args=["a", "b"]).launch_line() == "uvx a b"
    assert HttpServer(url="http://h/mcp").launch_line() == "http://h/mcp"
