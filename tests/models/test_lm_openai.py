"""`OpenAIModel` against a real local OpenAI-compatible server (llama.cpp's, through xllamacpp, serving the
lite model), and its response-format fallback against a minimal server that rejects `json_schema`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from evoflux.models.lm import Message
from evoflux.models.openai_compat import OpenAIModel
from evoflux.models.registry import MODELS, ModelError, cache_dir

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
    "additionalProperties": False,
}
CHAT = [
    Message(role="system", content="Extract the city and the number of days as JSON."),
    Message(role="user", content="Weather in Paris for the next 3 days, please."),
]


class _Strict(BaseHTTPRequestHandler):
    """Answers chat completions, but rejects `json_schema` response formats (as some servers do)."""

    requests: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(body)
        kind = (body.get("response_format") or {}).get("type")
        if body["messages"][-1]["content"] == "too long":
            self._reply(400, {"error": {"message": "the prompt exceeds the context window"}})
        elif kind == "json_schema":
            self._reply(400, {"error": {"message": "response_format type json_schema is not supported"}})
        else:
            usage = {
                "prompt_tokens": 12,
                "completion_tokens": 5,
                "prompt_tokens_details": {"cached_tokens": 8},
            }
            message = {"role": "assistant", "content": '{"city":"Paris","days":3}'}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            self._reply(
                200,
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "m",
                    "choices": [choice],
                    "usage": usage,
                },
            )

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def strict_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Strict,), {"requests": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_rejected_json_schema_falls_back_to_json_object_once(
    strict_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = strict_server
    model = OpenAIModel("m", url, timeout_s=10, max_retries=0)
    first = model.complete(CHAT, schema=SCHEMA, max_tokens=20)
    assert [r["response_format"]["type"] for r in seen] == ["json_schema", "json_object"]
    assert json.loads(first.text) == {"city": "Paris", "days": 3}
    assert first.usage.prompt_tokens == 12 and first.usage.cached_tokens == 8 and first.usage.calls == 1
    model.complete(CHAT, schema=SCHEMA, max_tokens=20)
    assert seen[-1]["response_format"]["type"] == "json_object" and len(seen) == 3
    assert model.format_mode == "json_object"
    model.close()


def test_an_unrelated_rejection_raises_without_falling_back(
    strict_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _ = strict_server
    model = OpenAIModel("m", url, timeout_s=10, max_retries=0)
    model.format_mode = "json_object"
    with pytest.raises(ModelError, match="exceeds the context"):
        model.complete([Message(role="user", content="too long")], schema=SCHEMA)
    assert model.format_mode == "json_object"


def test_an_unreachable_server_raises_a_model_error() -> None:
    model = OpenAIModel("m", "http://127.0.0.1:9/v1", timeout_s=5, max_retries=0)
    with pytest.raises(ModelError, match="cannot reach"):
        model.complete(CHAT)


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """llama.cpp's own OpenAI-compatible HTTP server, in this process, serving the lite model."""
    path: Path = cache_dir() / "models" / MODELS["lite"].filename
    if not path.is_file():
        pytest.skip("the lite model is not in the cache: run ensure_model('lite') once")
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = 2048
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 2
    params.verbosity = 0
    params.api_keys = ["test-key"]
    server = xllamacpp.Server(params)
    yield f"{server.listening_address}/v1"
    del server


def test_a_real_server_answers_with_schema_valid_json(llama_server: str) -> None:
    model = OpenAIModel("lite", llama_server, api_key="test-key", timeout_s=120)
    completion = model.complete(CHAT, schema=SCHEMA, max_tokens=40)
    Draft202012Validator(SCHEMA).validate(json.loads(completion.text))
    assert completion.finish_reason == "stop" and model.format_mode == "json_schema"
    again = model.complete(CHAT, schema=SCHEMA, max_tokens=40)
    assert again.usage.cached_tokens > 0 and again.usage.prompt_tokens == completion.usage.prompt_tokens
    truncated = model.complete(CHAT, max_tokens=2)
    assert truncated.finish_reason == "length" and truncated.usage.completion_tokens == 2
    model.close()


def test_a_real_server_refuses_a_wrong_key(llama_server: str) -> None:
    model = OpenAIModel("lite", llama_server, api_key="wrong", timeout_s=30, max_retries=0)
    with pytest.raises(ModelError, match="API key"):
        model.complete(CHAT, max_tokens=2)
