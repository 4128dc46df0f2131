"""The wire protocol and the limits, without a network: parsing, the generated schema, the
token bucket, Origins, tokens, and what an interrupted reply keeps."""

from __future__ import annotations

import json

import pytest

from attune.types import WordTiming
from server import protocol as p
from server.limits import (
    Auth,
    TokenBucket,
    host_allowed,
    host_name,
    is_loopback,
    origin_allowed,
    owner_id,
    presented_token,
)
from server.turns import SentChunk, TurnRecord


def test_the_schema_file_is_current():
    assert p.SCHEMA_PATH.read_text(encoding="utf-8") == p.schema_text(), (
        "docs/protocol.schema.json is stale: run python -m server.protocol"
    )
    schema = json.loads(p.schema_text())
    client_types = {m["properties"]["type"]["const"] for m in _variants(schema, "client")}
    assert client_types == {
        "session.start", "user.text", "user.audio.start", "user.audio.end", "user.image",
        "interrupt", "session.end",
    }  # fmt: skip
    server_types = {m["properties"]["type"].get("const") for m in _variants(schema, "server")} - {
        None
    }
    assert {"session.started", "audio.chunk", "error", "turn.interrupted"} <= server_types


def _variants(schema: dict, side: str) -> list[dict]:
    refs = schema[side].get("oneOf") or schema[side].get("anyOf")
    return [schema["$defs"][r["$ref"].rsplit("/", 1)[1]] for r in refs]


def test_parse_client_messages():
    message = p.parse_client_message('{"type": "user.text", "text": "hi", "ref": "a-1"}')
    assert isinstance(message, p.UserText) and message.ref == "a-1"
    start = p.parse_client_message('{"type": "session.start", "v": 1}')
    assert isinstance(start, p.SessionStart) and start.audio_in.sample_rate == 16000
    for raw, code in [
        ("nope", "bad_json"),
        ('"text"', "bad_message"),
        ('{"text": "hi"}', "bad_message"),
        ('{"type": "user.text", "text": "hi", "extra": 1}', "bad_message"),
        ('{"type": "session.start"}', "bad_message"),
        ('{"type": "session.start", "v": 2}', "unsupported_version"),
        ('{"type": "x.y", "v": 1}', "unknown_type"),
    ]:
        with pytest.raises(p.ProtocolError) as info:
            p.parse_client_message(raw)
        assert info.value.code == code, raw


def test_error_messages_never_echo_the_input():
    secret = "my-secret-words"
    with pytest.raises(p.ProtocolError) as info:
        p.parse_client_message(json.dumps({"type": "user.text", "text": 1, "ref": secret}))
    assert secret not in str(info.value)


def test_token_bucket_allows_bursts_then_the_rate():
    bucket = TokenBucket(rate=10, burst=20)
    now = bucket._last
    assert sum(bucket.take(now) for _ in range(50)) == 20
    assert sum(bucket.take(now + 1.0) for _ in range(50)) == 10


def test_tokens_and_origins():
    auth = Auth(["s3cret"])
    assert auth.required and auth.owner("s3cret") == owner_id("s3cret") != "s3cret"
    assert auth.owner("wrong") is None and auth.owner(None) is None
    assert Auth().owner(None) == "anonymous"
    assert presented_token("/ws?token=abc", None) == "abc"
    assert presented_token("/ws", "Bearer xyz") == "xyz"
    checked = {"host_checked": True}
    assert origin_allowed(None, "h:1", [], **checked)
    assert origin_allowed("http://h:1", "h:1", [], **checked)
    assert not origin_allowed("http://e:1", "h:1", [], **checked)
    # a Host nobody vetted (beyond loopback, no allowed_hosts): browsers need the allowlist
    assert not origin_allowed("http://h:1", "h:1", [], host_checked=False)
    assert origin_allowed(None, "h:1", [], host_checked=False)  # programs send no Origin
    assert origin_allowed("https://app.example", "h:1", ["https://app.example/"], **checked)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_hosts_a_loopback_server_answers_to():
    for good in ("127.0.0.1:8765", "localhost:8765", "LOCALHOST", "[::1]:8765", "127.0.0.2"):
        assert host_allowed(good, "127.0.0.1", []), good
    for bad in ("evil.example:8765", "evil.example", "192.168.1.5:8765", "", None, "[::1"):
        assert not host_allowed(bad, "127.0.0.1", []), bad
    assert host_allowed("evil.example:1", "0.0.0.0", [])  # beyond loopback the token protects
    assert host_allowed("attune.lan:8765", "127.0.0.1", ["attune.lan"])
    assert not host_allowed("localhost:8765", "127.0.0.1", ["attune.lan"])
    assert host_name("[::1]:80") == "::1" and host_name("Example.org:443") == "example.org"


def test_what_an_interrupted_reply_keeps():
    record = TurnRecord(ref=None, deltas=["I'm so ", "sorry to ", "hear"])
    assert record.said() == "I'm so sorry to hear"
    words = [
        WordTiming(word="That", start=1.0, end=1.2),
        WordTiming(word="sounds", start=1.2, end=1.5),
        WordTiming(word="hard.", start=1.5, end=2.0),
    ]
    record.chunks = [
        SentChunk(offset=0.0, duration=1.0, text="I'm sorry.", words=[]),
        SentChunk(offset=1.0, duration=1.0, text="That sounds hard.", words=words),
    ]
    assert record.said() == "I'm sorry. That sounds hard."  # played all that was sent
    record.played_seconds = 1.6
    assert record.said() == "I'm sorry. That sounds"
    record.played_seconds = 0.5  # untimed sentence: proportional
    assert record.said() == "I'm"
