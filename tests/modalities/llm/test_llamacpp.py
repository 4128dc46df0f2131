"""The llama.cpp backend: errors, constrained output, quietness, and the HTTP listener."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from attune.errors import ModelNotFoundError
from attune.settings import AttuneSettings, LLMSettings
from attune.types import ChatMessage, GenerationParams
from modalities.llm.base import GenerationError
from modalities.llm.llamacpp import LlamaCppLLM, _request, serve_gguf

APPRAISAL: dict[str, object] = {
    "type": "object",
    "properties": {
        "emotion": {"type": "string", "enum": ["sadness", "fear", "anger", "joy"]},
        "intensity": {"type": "integer", "minimum": 0, "maximum": 10},
    },
    "required": ["emotion", "intensity"],
    "additionalProperties": False,
}


def test_from_settings_is_cheap_and_takes_the_llm_settings(tmp_path: Path) -> None:
    settings = AttuneSettings(
        device="cpu", llm=LLMSettings(model_path=tmp_path / "m.gguf", context_size=1024, threads=3)
    )
    llm = LlamaCppLLM.from_settings(settings, parallel=2)
    assert (llm.model_path, llm.context_size, llm.threads, llm.parallel) == (
        tmp_path / "m.gguf",
        1024,
        3,
        2,
    )
    assert not llm.loaded
    assert llm.capabilities.json_schema and llm.capabilities.seeded and llm.capabilities.continues


def test_request_carries_every_generation_param() -> None:
    params = GenerationParams(
        max_tokens=9, temperature=0.3, top_p=0.8, stop=("\n",), seed=-1, json_schema=APPRAISAL
    )
    request = _request([ChatMessage(role="user", content="hi")], params)
    assert request["messages"] == [{"role": "user", "content": "hi"}]
    assert (request["max_tokens"], request["temperature"], request["top_p"]) == (9, 0.3, 0.8)
    assert request["stop"] == ["\n"] and request["json_schema"] == APPRAISAL
    assert 0 <= request["seed"] < 0xFFFFFFFF  # never llama.cpp's "random seed" value
    assert "seed" not in _request([], GenerationParams())
    plain = _request([], GenerationParams())
    assert "ignore_eos" not in plain and "dry_multiplier" not in plain
    more = _request([], GenerationParams(ignore_eos=True, repeat_penalty=0.8))
    assert more["ignore_eos"] is True and more["dry_multiplier"] == 0.8


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    llm = LlamaCppLLM(tmp_path / "absent.gguf")
    with pytest.raises(ModelNotFoundError, match=r"absent\.gguf"):
        llm.load()
    with pytest.raises(ModelNotFoundError, match=r"absent\.gguf"):
        llm.stream([ChatMessage(role="user", content="hi")], GenerationParams())


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp")
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelNotFoundError, match=r"fake\.gguf"):
        LlamaCppLLM(fake, device="cpu").load()


@pytest.mark.slow
def test_json_schema_output_parses_and_matches(llamacpp_llm: Any) -> None:
    messages = [ChatMessage(role="user", content="I lost my job today. How do I feel?")]
    for seed in (1, 2):
        text = llamacpp_llm.generate(
            messages, GenerationParams(max_tokens=40, seed=seed, json_schema=APPRAISAL)
        )
        value = json.loads(text)
        assert set(value) == {"emotion", "intensity"}
        assert value["emotion"] in APPRAISAL["properties"]["emotion"]["enum"]  # type: ignore[index]
        assert 0 <= value["intensity"] <= 10


@pytest.mark.slow
def test_a_prompt_longer_than_the_context_is_a_clear_error(llamacpp_llm: Any) -> None:
    secret = "zebra " * 3000
    with pytest.raises(GenerationError) as caught:
        llamacpp_llm.generate([ChatMessage(role="user", content=secret)], GenerationParams())
    assert caught.value.code == "context_overflow"
    assert "2048" in str(caught.value) and "zebra" not in str(caught.value)
    assert llamacpp_llm.generate(
        [ChatMessage(role="user", content="Hi")], GenerationParams(max_tokens=4)
    )


@pytest.mark.slow
def test_in_process_use_is_quiet_and_opens_no_tcp_port(
    bundled_gguf: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()

    def tcp_listeners() -> set[Any]:
        return {c.laddr for c in me.net_connections(kind="inet") if c.status == "LISTEN"}

    before = tcp_listeners()
    capfd.readouterr()
    llm = LlamaCppLLM(bundled_gguf, device="cpu")
    try:
        llm.generate([ChatMessage(role="user", content="Hi")], GenerationParams(max_tokens=4))
        assert tcp_listeners() <= before
        socket_dir = llm._socket_dir
        assert socket_dir is not None and (Path(socket_dir) / "llama.sock").exists()
        assert Path(socket_dir).stat().st_mode & 0o077 == 0  # private to this user
    finally:
        llm.close()
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # llama.cpp's C++ logging is off too
    assert not Path(socket_dir).exists()


@pytest.mark.slow
def test_closing_mid_stream_ends_the_stream_with_a_clear_error(bundled_gguf: Path) -> None:
    llm = LlamaCppLLM(bundled_gguf, device="cpu")
    stream = llm.stream(
        [ChatMessage(role="user", content="Tell me a long story.")],
        GenerationParams(max_tokens=300),
    )
    next(stream)
    llm.close()
    with pytest.raises(GenerationError, match="closed"):
        list(stream)
    assert not llm.loaded


@pytest.mark.slow
def test_serve_gguf_answers_openai_style_http_on_loopback(bundled_gguf: Path) -> None:
    import urllib.request

    pytest.importorskip("xllamacpp")
    server, base_url = serve_gguf(bundled_gguf, threads=1, context_size=512)
    with server:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        body = json.dumps(
            {"model": "any", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        ).encode()
        request = urllib.request.Request(
            f"{base_url}/chat/completions", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
        assert answer["choices"][0]["message"]["content"]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.address}/health", timeout=5)
