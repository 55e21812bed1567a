"""The exceptions Evoflux raises. Each message says what went wrong and what would fix it."""

from __future__ import annotations

__all__ = ["ConfigError", "EvofluxError", "ServerStartError"]


class EvofluxError(Exception):
    """Base class of every error Evoflux raises on purpose."""


class ConfigError(EvofluxError):
    """A servers config (or another config file) is missing or invalid."""


class ServerStartError(EvofluxError):
    """An MCP server could not be started, initialized or listed."""

    def __init__(self, server: str, message: str) -> None:
        super().__init__(message)
        self.server = server
