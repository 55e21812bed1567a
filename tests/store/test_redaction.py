"""Secrets from the servers config and the environment stay out of logs and printed results."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evoflux.store.redaction import REDACTED, config_secrets, install_log_redaction, redact

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")
SECRET = "s3cr3t-value-1234567890"


def test_redact_replaces_configured_secrets_and_key_shaped_tokens() -> None:
    text = f"token={SECRET} auth=Bearer abc.def-ghi key=sk-{'x' * 24} task-list sk-learn"
    out = redact(text, [SECRET])
    assert SECRET not in out and "abc.def-ghi" not in out and "x" * 24 not in out
    assert out.count(REDACTED) == 3 and "task-list sk-learn" in out


def test_config_secrets_include_env_headers_and_secret_named_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-from-environment")
    found = config_secrets(["env-secret-1"], ["Bearer header-token-9"])
    assert {"env-secret-1", "Bearer header-token-9", "header-token-9", "tok-from-environment"} <= set(found)


def test_log_records_of_evoflux_loggers_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction([SECRET])
    with caplog.at_level(logging.WARNING, logger="evoflux"):
        logging.getLogger("evoflux.servers.catalog").warning("server said %s", f"error: {SECRET}")
    assert SECRET not in caplog.text and REDACTED in caplog.text
    logging.setLogRecordFactory(logging.LogRecord)


def test_a_server_that_echoes_its_secret_env_is_redacted_in_the_printed_result(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    entry = {"command": sys.executable, "args": [TOY], "env": {"TOY_SECRET": SECRET}}
    config.write_text(json.dumps({"mcpServers": {"toy": entry}}))
    plan = {
        "nodes": [{"id": "n1", "tool": "toy.getenv", "args": {"name": "TOY_SECRET"}}],
        "answer": {"uses": ["n1"], "template": "The value is {{n1}}."},
    }
    code = (
        "import json, sys, anyio\n"
        "from evoflux.servers.catalog import open_catalog\n"
        "from evoflux.servers.config import load_servers\n"
        "from evoflux.workflow.graph import Workflow\n"
        "from evoflux.workflow.evaluate import evaluate\n"
        "from evoflux.store.redaction import config_secrets, redact\n"
        "from evoflux.store.recording import config_secrets as secrets_of\n"
        "async def main():\n"
        f"    config = load_servers({str(config)!r})\n"
        "    async with open_catalog(config) as catalog:\n"
        f"        trace = await evaluate('x', Workflow.model_validate({plan!r}), catalog)\n"
        "    print(redact(trace.model_dump_json(), secrets_of(config)))\n"
        "anyio.run(main)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout and REDACTED in done.stdout
