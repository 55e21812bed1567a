"""Keeping secrets out of what Evoflux writes: the run store, its exports, logs and printed results."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "config_secrets",
    "install_log_redaction",
    "redact",
    "secret_env_values",
]

REDACTED = "[redacted]"
MIN_SECRET = 6
_SECRET_NAMES = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
_PATTERNS = [
    (re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_\-]{16,}"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), REDACTED),
    (re.compile(r"\b(Bearer\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE), rf"\g<1>{REDACTED}"),
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each secret (6 characters or more) and each API-key-looking token replaced."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def secret_env_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look secret (`*KEY*`, `*TOKEN*`, ...)."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if any(s in k.upper() for s in _SECRET_NAMES) and len(v) >= MIN_SECRET]


def config_secrets(env_values: Iterable[str], header_values: Iterable[str]) -> list[str]:
    """Secrets from a servers config's env and header values, plus secret-named environment variables."""
    found = list(env_values)
    for value in header_values:
        found.append(value)
        if " " in value:  # "Bearer abc...": the token alone, too
            found.append(value.split(" ", 1)[1])
    found += secret_env_values()
    return sorted({s for s in found if len(s) >= MIN_SECRET}, key=len, reverse=True)


_BASE_FACTORY = logging.getLogRecordFactory()


def install_log_redaction(secrets: Iterable[str]) -> None:
    """Redact every log record made from now on in this process (Evoflux's, the MCP SDK's, any
    library's): its message, with the arguments merged in, has the secrets replaced. Installing again
    replaces the secrets; an empty list still redacts key-shaped tokens."""
    kept = list(secrets)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = _BASE_FACTORY(*args, **kwargs)
        with contextlib.suppress(TypeError, ValueError):  # arguments that do not fit the format: leave it
            record.msg, record.args = redact(record.getMessage(), kept), None
        return record

    logging.setLogRecordFactory(factory)
