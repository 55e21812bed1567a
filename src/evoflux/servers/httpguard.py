"""Guards for Streamable HTTP servers: no private or link-local addresses unless the config allows them,
and a bound on the size of each response body."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import anyio
import httpx2  # the SDK's own HTTP client; headers reach the server through it

from evoflux.servers.config import HttpServer

__all__ = ["PRIVATE_NETWORKS", "PrivateAddress", "check_address", "http_client"]

PRIVATE_NETWORKS = {
    ipaddress.ip_network(net): label
    for net, label in [
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("fc00::/7", "private"),
        ("169.254.0.0/16", "link-local"),
        ("fe80::/10", "link-local"),
    ]
}


class PrivateAddress(ValueError):
    """An HTTP server's URL goes to a private or link-local address, and its entry does not allow that."""


async def check_address(config: HttpServer) -> None:
    """Raise `PrivateAddress` when `config.url` goes to a private or link-local address (resolving a
    host name first) and `allowPrivateNetwork` is not set. Sends nothing to the server."""
    if config.allow_private_network:
        return
    parts = urlsplit(config.url)
    host = parts.hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos]
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        for network, label in PRIVATE_NETWORKS.items():
            if address in network:
                via = "" if str(address) == host else f" (through {host})"
                raise PrivateAddress(
                    f"its url {config.url} goes to {address}{via}, which is a private address ({label} "
                    f'{network}); set "allowPrivateNetwork": true on this server to allow it'
                )


def http_client(config: HttpServer, max_bytes: int) -> httpx2.AsyncClient:
    """The client for one server: its headers, generous timeouts, JSON bodies capped at `max_bytes`."""
    return httpx2.AsyncClient(
        headers=config.headers,
        timeout=httpx2.Timeout(30.0, read=300.0),
        transport=_CappedTransport(httpx2.AsyncHTTPTransport(), max_bytes),
    )


class _CappedTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, max_bytes: int) -> None:
        self._inner = inner
        self._max_bytes = max_bytes

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        content_type = response.headers.get("content-type", "").lower()
        if not content_type.startswith("text/event-stream") and isinstance(
            response.stream, httpx2.AsyncByteStream
        ):
            response.stream = _CappedStream(response.stream, self._max_bytes)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, max_bytes: int) -> None:
        self._inner = inner
        self._max_bytes = max_bytes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._max_bytes:
                raise httpx2.StreamError(
                    f"the response body is longer than {self._max_bytes} bytes (max_message_bytes)"
                )
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()
