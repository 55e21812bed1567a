"""The catalog against servers that misbehave: tests/fixtures/faulty.py, and the toy server over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.shared.message import SessionMessage

import evoflux.servers.processes
from evoflux.errors import ConfigError, ServerStartError
from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import HttpServer
from evoflux.servers.httpguard import _CappedTransport, check_address
from evoflux.servers.stdio import LineReader, marked_processes, reply_id
from evoflux.servers.toollist import QUARANTINED, TRUNCATION_MARKER
from evoflux.servers.tools import ToolResult
from helpers import servers, toy, wait_until_dead

SERVERS = Path(__file__).parents[1] / "fixtures"
MIB = 1024 * 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def faulty(*args: str) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(SERVERS / "faulty.py"), *args]}


async def until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    with anyio.fail_after(seconds):
        while not predicate():
            await anyio.sleep(0.02)


def group_members(pgid: int) -> list[int]:
    """Live processes in process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except (OSError, NotADirectoryError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def start_peak() -> int:
    """Reset this process's peak RSS where Linux allows it; the baseline (KiB) for `peak_growth`."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return memory_kib("VmRSS")
    except OSError:
        return memory_kib("VmHWM")


def peak_growth(baseline: int) -> int:
    """Bytes the peak RSS grew by since `start_peak`."""
    return (memory_kib("VmHWM") - baseline) * 1024


async def pid_of(catalog: Any, server: str) -> int:
    return int((await catalog.call_tool(f"{server}.pid", {}, timeout=10)).text)


# 1. A server that dies mid-call is restarted once; a second death is final.


@pytest.mark.anyio
async def test_a_server_that_dies_mid_call_is_restarted_once() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty(), g=toy())) as catalog:
            first = await pid_of(catalog, "f")
            children = [int(p) for p in (await catalog.call_tool("f.spawn", {})).text.split()]
            revision = catalog.revision
            died = await catalog.call_tool("f.die", {}, timeout=20)
            assert (died.is_error, died.error_kind) == (True, "transport")
            assert "went away during the call" in died.text and died.elapsed_s < 5
            second = await pid_of(catalog, "f")  # waits for the restart
            assert second != first and catalog.restarts == {"f": 1}
            assert catalog.servers == ["f", "g"] and catalog.revision > revision and not catalog.failed
            assert catalog.tools["f.echo"].unusable is None
            assert (await catalog.call_tool("f.echo", {"text": "back"})).text == "back"
            await wait_until_dead([first, *children])  # what the dead server left is killed at once
            assert not Path(f"/proc/{first}").exists()  # and the server was reaped: no zombie

            again = await catalog.call_tool("f.die", {}, timeout=20)
            assert again.error_kind == "transport" and again.elapsed_s < 5
            after = await catalog.call_tool("f.echo", {"text": "x"})
            assert after.error_kind == "transport" and "unavailable" in after.text
            assert "after 1 restart(s)" in after.text
            assert catalog.restarts == {"f": 1} and "f" in catalog.failed and catalog.servers == ["g"]
            for name, spec in catalog.tools.items():
                if name.startswith("f."):
                    assert spec.unusable and spec.unusable.startswith("server 'f' is unavailable: the server")
            assert (await catalog.call_tool("g.echo", {"text": "fine"})).text == "fine"
            await wait_until_dead([second])
            assert not Path(f"/proc/{second}").exists()
            catalog_id = catalog.catalog_id
    assert marked_processes(catalog_id) == []


@pytest.mark.anyio
async def test_a_failed_restart_leaves_the_server_unavailable(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty("--crash-if-exists", str(tmp_path / "started")))) as catalog:
            assert (await catalog.call_tool("f.die", {})).error_kind == "transport"
            after = await catalog.call_tool("f.echo", {"text": "x"})
            assert after.error_kind == "transport" and "its restart failed" in after.text
            assert "faulty: refusing to start again" in after.text  # its stderr
            assert catalog.restarts == {"f": 1} and catalog.servers == []
            unusable = catalog.tools["f.echo"].unusable
            assert unusable and unusable.startswith("server 'f' is unavailable: its restart failed")


# 2. A server that ignores SIGTERM and stdin's end, with children in and out of its process group.


@pytest.mark.anyio
async def test_a_server_ignoring_sigterm_is_killed_with_all_its_children() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty("--ignore-sigterm", "--linger"))) as catalog:
            server = await pid_of(catalog, "f")
            children = [int(p) for p in (await catalog.call_tool("f.spawn", {})).text.split()]
            pids = [server, *children]
            assert os.getpgid(server) == server == os.getpgid(children[0]) != os.getpgid(children[1])
            for pid in pids:  # SIGTERM (signal 15) is ignored by all three
                sig_ign = next(
                    x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if "SigIgn" in x
                )
                assert int(sig_ign.split()[1], 16) & (1 << 14)
            assert set(pids) <= set(marked_processes(catalog.catalog_id))
            catalog_id = catalog.catalog_id
        await wait_until_dead(pids, 2)
    assert group_members(server) == [] and marked_processes(catalog_id) == []


# 3. Output that is not JSON-RPC.


@pytest.mark.anyio
async def test_unreadable_replies_fail_their_call_at_once() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty(), g=toy())) as catalog:
            for kind, words in [
                ("bad_json", "EOF while parsing"),
                ("bad_utf8", "it is not valid UTF-8 (byte 0xff"),
                ("deep", "recursion limit exceeded"),
            ]:
                result = await catalog.call_tool("f.garbage", {"kind": kind}, timeout=20)
                assert (result.is_error, result.error_kind) == (True, "protocol"), result
                assert "the server's reply could not be read" in result.text and words in result.text
                assert result.elapsed_s < 5
                assert (await catalog.call_tool("g.echo", {"text": kind})).text == kind
                assert (await catalog.call_tool("f.echo", {"text": kind})).text == kind
            assert catalog.servers == ["f", "g"] and catalog.restarts == {}


@pytest.mark.anyio
async def test_stray_lines_that_name_no_request() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty(), g=toy())) as catalog:
            for kind in ("noise", "deep_noise"):  # then a proper reply
                assert (await catalog.call_tool("f.garbage", {"kind": kind})).text == f"after {kind}"
            silent = await catalog.call_tool("f.garbage", {"kind": "silent"}, timeout=1)
            assert (silent.is_error, silent.error_kind) == (True, "protocol")
            assert "not JSON-RPC" in silent.text and "Server ready! (stray output)" in silent.text
            assert (await catalog.call_tool("g.echo", {"text": "ok"})).text == "ok"
            assert (await catalog.call_tool("f.echo", {"text": "ok"})).text == "ok"


def test_reply_ids_are_read_from_the_top_level_only() -> None:
    assert reply_id(b'{"jsonrpc":"2.0","id":7,"result":{"x":') == 7
    assert reply_id(b'{"result":{"id":1,"x":[' + b"1," * 5000 + b'2]},"jsonrpc":"2.0","id":"a b"}') == "a b"
    assert reply_id(b'{"jsonrpc":"2.0","id":3,"method":"ping"') is None  # a request, not a reply
    assert reply_id(b'{"jsonrpc":"2.0","result":{"id":4}}') is None
    assert reply_id(b"[[[[" * 2000) is None and reply_id(b"\xff\xfe") is None


def test_lines_over_the_limit_are_dropped_as_they_arrive() -> None:
    lines = LineReader(60)
    [cut] = lines.feed(b'{"jsonrpc":"2.0","id":1,"result":{"text":"' + b"x" * 40)
    assert isinstance(cut, SessionMessage) and isinstance(cut.message, types.JSONRPCError)
    assert cut.message.id == 1 and "longer than 60 bytes" in cut.message.error.message
    assert lines.feed(b"x" * 1000) == []  # the rest of that line is skipped
    [ok] = lines.feed(b'xx\n{"jsonrpc":"2.0","id":2,"result":{}}\n\n')
    assert isinstance(ok, SessionMessage) and isinstance(ok.message, types.JSONRPCResponse)
    [stray] = lines.feed(b"Server ready\n")
    assert isinstance(stray, ValueError) and "not JSON-RPC" in str(stray)


# 4. Huge outputs.


@pytest.mark.anyio
async def test_huge_results_are_cut_and_memory_stays_bounded() -> None:
    with anyio.fail_after(60):
        async with open_catalog(servers(f=faulty()), max_result_bytes=10_000, call_timeout=50) as catalog:
            baseline = start_peak()
            many = await catalog.call_tool("f.huge", {"mb": 20})
            one = await catalog.call_tool("f.huge", {"mb": 6, "lines": False})
            growth = peak_growth(baseline)
            assert catalog.result_bytes == many.bytes + one.bytes
    for result, size in [(many, 20 * MIB // 100 * 100), (one, 6 * MIB)]:
        assert not result.is_error and result.truncated and result.bytes == size
        assert f"{TRUNCATION_MARKER}: showing 10000 of {size} bytes]" in result.text
        assert len(result.text.encode()) < 10_100
    assert growth < 300 * MIB, f"peak RSS grew by {growth / MIB:.0f} MiB"


@pytest.mark.anyio
async def test_a_message_over_max_message_bytes_fails_its_call() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty()), max_message_bytes=4 * MIB) as catalog:
            baseline = start_peak()
            flood = await catalog.call_tool("f.flood", {"mb": 48}, timeout=20)
            assert (flood.is_error, flood.error_kind) == (True, "protocol")
            assert f"longer than {4 * MIB} bytes (max_message_bytes)" in flood.text
            assert (await catalog.call_tool("f.echo", {"text": "still here"})).text == "still here"
            growth = peak_growth(baseline)
    assert growth < 100 * MIB, f"peak RSS grew by {growth / MIB:.0f} MiB for a 48 MiB line"


@pytest.mark.anyio
async def test_the_run_byte_cap_refuses_further_calls() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty()), max_result_bytes=1000, max_run_bytes=2 * MIB) as catalog:
            for _ in range(2):
                result = await catalog.call_tool("f.huge", {"mb": 1, "lines": False})
                assert not result.is_error and result.truncated
            refused = await catalog.call_tool("f.echo", {"text": "x"})
            assert (refused.is_error, refused.error_kind) == (True, "policy")
            assert f"max_run_bytes={2 * MIB}" in refused.text and catalog.result_bytes == 2 * MIB


# 5. Concurrency per server.


@pytest.mark.anyio
async def test_calls_to_one_server_are_limited_and_each_answer_reaches_its_caller() -> None:
    results: dict[int, ToolResult] = {}
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty()), max_concurrent_per_server=4) as catalog:

            async def call(i: int, seconds: float) -> None:
                args = {"seconds": seconds, "tag": str(i)}
                results[i] = await catalog.call_tool("f.sleepy", args, timeout=20)

            async with anyio.create_task_group() as tg:
                for i in range(12):
                    tg.start_soon(call, i, 0.6 - 0.05 * i)  # later calls answer sooner
            assert {i: r.text for i, r in results.items()} == {i: str(i) for i in range(12)}
            assert (await catalog.call_tool("f.peak", {})).text == "4"

            cancelled: list[bool] = []

            async def doomed() -> None:
                with anyio.move_on_after(0.3) as scope:
                    await catalog.call_tool("f.sleepy", {"seconds": 10, "tag": "doomed"}, timeout=20)
                cancelled.append(scope.cancelled_caught)

            results.clear()
            async with anyio.create_task_group() as tg:
                tg.start_soon(doomed)
                for i in range(6):
                    tg.start_soon(call, i, 0.4)
            assert cancelled == [True]
            assert {i: r.text for i, r in results.items()} == {i: str(i) for i in range(6)}
            await catalog.call_tool("f.peak", {"reset": True})
            async with anyio.create_task_group() as tg:  # the cancelled call gave its slot back...
                for i in range(8):
                    tg.start_soon(call, i, 0.3)
            # ...and it was cancelled on the server as well: exactly 4 ran at once
            assert (await catalog.call_tool("f.peak", {})).text == "4"


# 6. Tool definitions that change during the run.


@pytest.mark.anyio
async def test_a_changed_definition_is_quarantined_until_accepted() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty())) as catalog:
            change = {"description": "Now it deletes files.", "add": "newcomer"}
            assert (await catalog.call_tool("f.mutate", change)).text == "mutated"
            await until(lambda: "f.newcomer" in catalog.tools)
            target = catalog.tools["f.target"]
            assert (target.unusable, target.description) == (QUARANTINED, "Now it deletes files.")
            assert catalog.tools["f.newcomer"].unusable is None and catalog.tools["f.echo"].unusable is None
            assert (await catalog.call_tool("f.newcomer", {})).text == "newcomer"
            refused = await catalog.call_tool("f.target", {})
            assert (refused.error_kind, refused.text) == (
                "policy",
                f"f.target may not be called: {QUARANTINED}",
            )

            catalog.accept("f.target")
            assert catalog.tools["f.target"].unusable is None
            assert (await catalog.call_tool("f.target", {})).text == "target"

            await catalog.call_tool("f.mutate", {"property": "path"})  # the input schema this time
            await until(lambda: catalog.tools["f.target"].unusable == QUARANTINED)
            assert "path" in catalog.tools["f.target"].input_schema["properties"]
            with pytest.raises(KeyError, match=r"f\.nothing"):
                catalog.accept("f.nothing")


# 7. HTTP servers: private addresses, and a server killed mid-request.


def test_allow_private_network_is_an_optional_http_key() -> None:
    config = servers(
        lan={"url": "http://10.0.0.5/mcp", "allowPrivateNetwork": True}, web={"url": "http://x/mcp"}
    )
    lan, web = config.servers["lan"], config.servers["web"]
    assert isinstance(lan, HttpServer) and isinstance(web, HttpServer)
    assert (lan.allow_private_network, web.allow_private_network) == (True, False)
    with pytest.raises(ConfigError, match=r"unknown key.*'allowPrivateNetwork'"):
        servers(local=toy(allowPrivateNetwork=True))
    with pytest.raises(ConfigError, match=r"allowPrivateNetwork: Input should be a valid boolean"):
        servers(lan={"url": "http://10.0.0.5/mcp", "allowPrivateNetwork": "yes"})


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "network"),
    [
        ("http://10.255.255.1:9/mcp", "private 10.0.0.0/8"),
        ("http://169.254.1.1/mcp", "link-local 169.254.0.0/16"),
        ("https://[fe80::1]:8443/mcp", "link-local fe80::/10"),
        ("http://[fd00::5]/mcp", "private fc00::/7"),
        ("http://[::ffff:192.168.1.1]/mcp", "private 192.168.0.0/16"),
        ("http://intranet.evoflux.test:8000/mcp", "private 172.16.0.0/12"),  # resolves to 172.20.0.3
    ],
)
async def test_private_addresses_are_refused_before_connecting(
    url: str, network: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolve = socket.getaddrinfo

    def fake_resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("intranet.evoflux.test", b"intranet.evoflux.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("172.20.0.3", 8000))]
        return resolve(host, *args, **kwargs)

    def no_traffic(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an HTTP client was made for a refused address")

    monkeypatch.setattr(socket, "getaddrinfo", fake_resolve)
    monkeypatch.setattr(evoflux.servers.processes, "http_client", no_traffic)
    started = time.monotonic()
    with anyio.fail_after(10), pytest.raises(ServerStartError) as info:
        async with open_catalog(servers(lan={"url": url})):
            pytest.fail("the catalog should not open")
    assert time.monotonic() - started < 2
    message = str(info.value)
    assert f"which is a private address ({network}); " in message
    assert 'set "allowPrivateNetwork": true on this server to allow it' in message


@pytest.mark.anyio
async def test_loopback_and_allowed_private_addresses_pass_the_check() -> None:
    for url in ["http://127.0.0.1:9/mcp", "http://[::1]:9/mcp", "http://localhost:9/mcp"]:
        await check_address(HttpServer(url=url))
    await check_address(HttpServer(url="http://10.255.255.1:9/mcp", allow_private_network=True))


@pytest.mark.anyio
async def test_http_json_bodies_are_capped_but_sse_streams_are_left_to_the_sdk() -> None:
    class Body(httpx2.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for _ in range(12):
                yield b"1," * 50

    def answer(request: httpx2.Request) -> httpx2.Response:
        kind = "text/event-stream" if request.url.path == "/sse" else "application/json"
        return httpx2.Response(200, headers={"content-type": kind}, stream=Body())

    transport = _CappedTransport(httpx2.MockTransport(answer), 1000)
    async with httpx2.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx2.StreamError, match="longer than 1000 bytes"):
            await client.get("http://127.0.0.1/mcp")
        assert len((await client.get("http://127.0.0.1/sse")).content) == 1200


@pytest.fixture
def http_toy() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(SERVERS / "toy.py"), "--http", str(port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the HTTP toy server did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.anyio
async def test_an_http_server_killed_mid_request(http_toy: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, process = http_toy
    results: list[ToolResult] = []
    with anyio.fail_after(30):
        async with open_catalog(servers(web={"url": url})) as catalog:

            async def slow() -> None:
                results.append(await catalog.call_tool("web.slow", {"seconds": 30}, timeout=25))

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                await anyio.sleep(0.5)
                process.kill()
            [killed] = results
            assert (killed.is_error, killed.error_kind) == (True, "transport"), killed
            assert "the connection to server 'web' failed" in killed.text and killed.elapsed_s < 5
            later = await catalog.call_tool("web.echo", {"text": "x"}, timeout=10)
            assert later.is_error and later.error_kind == "transport", later
            closing = time.monotonic()
        assert time.monotonic() - closing < 5


@pytest.mark.anyio
async def test_progress_notifications_do_not_extend_a_call_past_its_timeout() -> None:
    with anyio.fail_after(30):
        async with open_catalog(servers(f=faulty())) as catalog:
            started = time.monotonic()
            chatty = await catalog.call_tool("f.chatty", {}, timeout=1.0)
            elapsed = time.monotonic() - started
            assert (chatty.is_error, chatty.error_kind) == (True, "timeout") and elapsed < 3.0
            after = await catalog.call_tool("f.echo", {"text": "still here"}, timeout=5)
            assert after.text == "still here"
