"""Live catalogs over real MCP servers: the toy server in tests/fixtures, and one registry server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from evoflux.errors import ServerStartError
from evoflux.servers.catalog import Catalog, open_catalog
from evoflux.servers.config import StdioServer, load_servers
from evoflux.servers.processes import online_variant, resolve_command, warm_servers
from evoflux.servers.stdio import marked_processes
from evoflux.servers.toollist import TRUNCATION_MARKER
from helpers import TOY_TOOLS, alive, servers, toy, wait_until_dead

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def pid_of(catalog: Catalog, server: str) -> int:
    return int((await catalog.call_tool(f"{server}.pid", {}, timeout=5)).text)


@pytest.mark.anyio
async def test_connects_to_several_servers_at_once() -> None:
    config = servers(
        a=toy("--start-delay", "1.5"), b=toy("--start-delay", "1.5"), c=toy("--start-delay", "1.5")
    )
    started = time.monotonic()
    with anyio.fail_after(30):
        async with open_catalog(config) as catalog:
            elapsed = time.monotonic() - started
            assert catalog.servers == ["a", "b", "c"]
            assert len(catalog.tools) == 3 * TOY_TOOLS
            spec = catalog.tools["b.add"]
            assert (spec.server, spec.tool, spec.description) == ("b", "add", "Add two numbers.")
            assert spec.input_schema["required"] == ["a", "b"]
            assert spec.output_schema is not None and spec.output_schema["required"] == ["sum"]
    assert elapsed < 4.5  # one after another would take at least 4.5 s of start delays alone


@pytest.mark.anyio
async def test_pages_tools_list_including_an_empty_string_cursor() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(paged=toy("--pages", "3"), loop=toy("--repeat-cursor"))) as catalog:
            assert len([n for n in catalog.tools if n.startswith("paged.")]) == TOY_TOOLS
            assert [n for n in catalog.tools if n.startswith("loop.")] == ["loop.add"]


@pytest.mark.anyio
async def test_refreshes_tools_on_list_changed() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(t=toy("--pages", "2"))) as catalog:
            revision = catalog.revision
            assert "t.extra" not in catalog.tools
            assert (await catalog.call_tool("t.grow", {})).text == "grown"
            while "t.extra" not in catalog.tools:
                await anyio.sleep(0.02)
            assert catalog.revision > revision
            assert (await catalog.call_tool("t.extra", {})).text == "extra"


@pytest.mark.anyio
async def test_results_and_their_error_kinds() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(t=toy()), call_timeout=10) as catalog:
            ok = await catalog.call_tool("t.add", {"a": 2, "b": 3})
            assert (ok.is_error, ok.error_kind, ok.text, ok.structured, ok.bytes) == (
                False,
                None,
                "5",
                {"sum": 5},
                1,
            )
            assert ok.elapsed_s > 0
            tool = await catalog.call_tool("t.fail", {"message": "no such city"})
            assert (tool.is_error, tool.error_kind, tool.text) == (True, "tool", "no such city")
            protocol = await catalog.call_tool("t.add", {"a": 2})
            assert protocol.error_kind == "protocol" and "-32602" in protocol.text
            schema = await catalog.call_tool("t.bad_output", {})
            assert schema.error_kind == "output_schema" and "'sum' is a required property" in schema.text
            assert schema.structured == {"total": "not a sum"}
            unknown = await catalog.call_tool("nowhere.add", {})
            assert unknown.error_kind == "protocol" and "the servers are t" in unknown.text


@pytest.mark.anyio
async def test_a_timed_out_call_is_cancelled_and_later_calls_work() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(t=toy())) as catalog:
            slow = await catalog.call_tool("t.slow", {"seconds": 30}, timeout=0.3)
            assert (slow.is_error, slow.error_kind) == (True, "timeout")
            assert 0.3 <= slow.elapsed_s < 2
            assert (await catalog.call_tool("t.echo", {"text": "still here"}, timeout=5)).text == "still here"


@pytest.mark.anyio
async def test_large_text_is_truncated_with_a_marker() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(t=toy()), max_result_bytes=1000) as catalog:
            result = await catalog.call_tool("t.huge", {"kb": 100})
    assert result.truncated and not result.is_error
    assert result.bytes == 100 * 1024
    assert result.text.startswith("x" * 1000)
    assert f"{TRUNCATION_MARKER}: showing 1000 of 102400 bytes]" in result.text
    assert len(result.text.encode()) < 1100


@pytest.mark.anyio
async def test_a_dead_server_gives_transport_errors_and_unusable_tools() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(t=toy(), u=toy()), max_restarts=0) as catalog:
            died = await catalog.call_tool("t.exit", {})
            assert (died.is_error, died.error_kind) == (True, "transport")
            after = await catalog.call_tool("t.echo", {"text": "x"})
            assert after.error_kind == "transport" and "unavailable" in after.text
            assert catalog.servers == ["u"] and "t" in catalog.failed
            assert catalog.tools["t.echo"].unusable is not None
            assert catalog.tools["u.echo"].unusable is None
            assert (await catalog.call_tool("u.echo", {"text": "fine"})).text == "fine"


@pytest.mark.anyio
async def test_start_failure_names_server_command_and_stderr_and_stops_the_others(tmp_path: Path) -> None:
    pidfile = tmp_path / "ok.pid"
    config = servers(ok=toy("--pidfile", str(pidfile)), bad=toy("--crash-on-start"))
    with anyio.fail_after(30), pytest.raises(ServerStartError) as info:
        async with open_catalog(config):
            pytest.fail("the catalog should not open")
    message = str(info.value)
    assert info.value.server == "bad"
    assert "MCP server 'bad' failed to start: the process exited" in message
    assert f"command: {sys.executable} {TOY} --crash-on-start" in message
    assert "toy: refusing to start (--crash-on-start)" in message
    assert "fix:" in message
    assert not alive(int(pidfile.read_text()))


@pytest.mark.anyio
async def test_skip_failed_goes_on_without_the_failed_server() -> None:
    config = servers(ok=toy(), missing={"command": "evoflux-no-such-command"})
    with anyio.fail_after(30):
        async with open_catalog(config, skip_failed=True) as catalog:
            assert catalog.servers == ["ok"]
            assert "was found neither on PATH nor in" in catalog.failed["missing"]
            result = await catalog.call_tool("missing.anything", {})
            assert result.error_kind == "transport" and "unavailable" in result.text


@pytest.mark.anyio
async def test_connect_timeout_stops_a_server_that_never_answers(tmp_path: Path) -> None:
    pidfile = tmp_path / "hang.pid"
    with anyio.fail_after(30), pytest.raises(ServerStartError, match=r"within 1 s(.|\n)*toy: hanging"):
        async with open_catalog(servers(hang=toy("--hang", "--pidfile", str(pidfile))), connect_timeout=1):
            pass
    assert not alive(int(pidfile.read_text()))


@pytest.mark.anyio
async def test_no_process_is_left_after_close() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(a=toy(), b=toy())) as catalog:
            pids = [await pid_of(catalog, "a"), await pid_of(catalog, "b")]
            for detach in (False, True):  # a child in the server's process group, and one that left it
                pids.append(int((await catalog.call_tool("a.spawn", {"detach": detach})).text))
            assert all(alive(p) for p in pids)
            assert set(pids) <= set(marked_processes(catalog.catalog_id))
            catalog_id = catalog.catalog_id
        await wait_until_dead(pids)
    assert marked_processes(catalog_id) == []


@pytest.mark.anyio
async def test_no_process_is_left_after_an_error_or_a_cancellation() -> None:
    pids: list[int] = []
    with anyio.fail_after(30):
        with pytest.raises(RuntimeError, match="boom"):
            async with open_catalog(servers(a=toy())) as catalog:
                pids.append(await pid_of(catalog, "a"))
                raise RuntimeError("boom")
        with anyio.move_on_after(10) as scope:
            async with open_catalog(servers(b=toy())) as catalog:
                pids.append(await pid_of(catalog, "b"))
                scope.cancel()
                await anyio.sleep(30)
        await wait_until_dead(pids)


@pytest.mark.anyio
async def test_servers_get_the_parent_environment_and_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOFLUX_TEST_PARENT", "from-parent")
    with anyio.fail_after(30):
        async with open_catalog(servers(t=toy(env={"EVOFLUX_TEST_OWN": "own"}))) as catalog:
            for name, value in [("EVOFLUX_TEST_PARENT", "from-parent"), ("EVOFLUX_TEST_OWN", "own")]:
                assert (await catalog.call_tool("t.getenv", {"name": name})).text == value
            assert (await catalog.call_tool("t.getenv", {"name": "PATH"})).text == os.environ["PATH"]


def test_commands_are_found_next_to_the_running_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert resolve_command("uvx") == str(Path(sys.executable).parent / "uvx")


def test_online_variant_drops_offline_switches() -> None:
    server = StdioServer(
        command="npx", args=["--offline", "-y", "pkg@1.0"], env={"UV_OFFLINE": "1", "A": "b"}
    )
    assert online_variant(server) == StdioServer(command="npx", args=["-y", "pkg@1.0"], env={"A": "b"})
    assert online_variant(StdioServer(command="python", args=["server.py"])) is None


@pytest.fixture
def http_toy(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, TOY, "--http", str(port)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the HTTP toy server did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.anyio
async def test_streamable_http_server(http_toy: str) -> None:
    config = servers(web={"url": http_toy, "headers": {"X-Evoflux-Test": "1"}})
    with anyio.fail_after(30):
        async with open_catalog(config) as catalog:
            assert len(catalog.tools) == TOY_TOOLS
            assert (await catalog.call_tool("web.add", {"a": 1, "b": 1})).structured == {"sum": 2}
            slow = await catalog.call_tool("web.slow", {"seconds": 30}, timeout=0.3)
            assert slow.error_kind == "timeout"
            assert (await catalog.call_tool("web.echo", {"text": "ok"})).text == "ok"


@pytest.mark.anyio
async def test_warm_servers_reports_each_server() -> None:
    config = servers(ok=toy(), bad=toy("--crash-on-start"))
    messages: list[str] = []
    with anyio.fail_after(60):
        results = await warm_servers(config, progress=messages.append)
    assert [(r.name, r.ok) for r in results] == [("ok", True), ("bad", False)]
    assert results[0].message == f"ready, {TOY_TOOLS} tools"
    assert "toy: refusing to start" in results[1].message
    assert any(m.startswith("ok: checking that it starts") for m in messages)


@pytest.mark.anyio
async def test_real_registry_server_over_stdio(tmp_path: Path) -> None:
    """mcp-server-time from PyPI through uvx --offline, as the example config has it."""
    config = load_servers(workspace=tmp_path).select(["time"])
    with anyio.fail_after(300):
        [warm] = await warm_servers(config)
        if not warm.ok:
            pytest.skip(f"mcp-server-time is not cached and could not be installed: {warm.message}")
        async with open_catalog(config) as catalog:
            assert {"time.get_current_time", "time.convert_time"} <= set(catalog.tools)
            result = await catalog.call_tool("time.get_current_time", {"timezone": "Asia/Tokyo"}, timeout=20)
            assert not result.is_error, result.text
            assert result.structured["timezone"] == "Asia/Tokyo"
            bad = await catalog.call_tool("time.get_current_time", {"timezone": "Mars/Olympus"}, timeout=20)
            assert bad.is_error
            catalog_id = catalog.catalog_id
            assert marked_processes(catalog_id)
    assert marked_processes(catalog_id) == []
