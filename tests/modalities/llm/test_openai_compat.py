"""The ``openai`` backend against a real llama.cpp server, plus its error paths."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from attune.settings import AttuneSettings, LLMSettings, OpenAISettings
from attune.types import ChatMessage, GenerationParams
from modalities.llm.base import GenerationError

pytest.importorskip("openai")

from modalities.llm.openai_compat import OpenAICompatLLM, redact_url  # after the skip

HELLO = [ChatMessage(role="user", content="Hello there, how are you?")]
SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"mood": {"type": "string", "enum": ["calm", "tense"]}},
    "required": ["mood"],
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_from_settings_keeps_the_api_key_secret() -> None:
    settings = AttuneSettings(
        llm=LLMSettings(
            openai=OpenAISettings(
                base_url="http://127.0.0.1:9/v1", model="m", api_key=SecretStr("s3cret")
            )
        )
    )
    llm = OpenAICompatLLM.from_settings(settings)
    assert (llm.base_url, llm.model) == ("http://127.0.0.1:9/v1", "m")
    assert "s3cret" not in repr(vars(llm))


def test_a_closed_port_fails_fast_naming_the_url() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    llm = OpenAICompatLLM(url, timeout_s=30)
    started = time.perf_counter()
    with pytest.raises(GenerationError) as caught:
        llm.generate(HELLO, GenerationParams(max_tokens=4))
    assert time.perf_counter() - started < 5
    assert caught.value.code == "backend_unreachable"
    assert url in str(caught.value) and "Hello" not in str(caught.value)
    llm.close()


def test_credentials_in_the_url_are_not_shown() -> None:
    assert redact_url("http://user:pw@host:8000/v1") == "http://host:8000/v1"
    assert redact_url("http://host/v1") == "http://host/v1"


@pytest.mark.slow
def test_a_wrong_api_key_is_a_clear_error(llama_server: str) -> None:
    llm = OpenAICompatLLM(llama_server, api_key="wrong", timeout_s=60)
    with pytest.raises(GenerationError) as caught:
        llm.generate(HELLO, GenerationParams(max_tokens=4))
    assert caught.value.code == "auth_failed"
    llm.close()


@pytest.mark.slow
def test_json_schema_goes_through_response_format(openai_llm: Any) -> None:
    # greedy and seeded: sampled at the default 0.7 the grammar lets the model spend its 24
    # tokens on whitespace now and then, and the JSON is cut off (seen once in 7 full runs)
    params = GenerationParams(max_tokens=24, json_schema=SCHEMA, temperature=0.0, seed=7)
    text = openai_llm.generate(HELLO, params)
    assert json.loads(text)["mood"] in ("calm", "tense")
    assert openai_llm.capabilities.json_schema


@pytest.mark.slow
def test_context_overflow_is_recognised(openai_llm: Any) -> None:
    with pytest.raises(GenerationError) as caught:
        openai_llm.generate(
            [ChatMessage(role="user", content="zebra " * 3000)], GenerationParams(max_tokens=4)
        )
    assert caught.value.code == "context_overflow"
    assert "zebra" not in str(caught.value)


class _NoStructuredOutput(BaseHTTPRequestHandler):
    """A minimal chat-completions server that rejects ``response_format`` (HTTP 400)."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "response_format" in body:
            payload = json.dumps({"error": {"message": "unknown field response_format"}})
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload.encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ('{"mood": ', '"calm"}'):
            chunk = {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def plain_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoStructuredOutput)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_server_without_structured_output_gets_plain_requests(plain_server: str) -> None:
    llm = OpenAICompatLLM(plain_server, timeout_s=10)
    params = GenerationParams(max_tokens=8, json_schema=SCHEMA)
    assert list(llm.stream(HELLO, params)) == ['{"mood": ', '"calm"}']
    assert not llm.capabilities.json_schema  # this instance stops asking
    assert OpenAICompatLLM.capabilities.json_schema  # the class default is unchanged
    assert llm.generate(HELLO, params) == '{"mood": "calm"}'
    llm.close()
