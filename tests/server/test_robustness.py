"""Hostile and broken clients: each gets a clear ``error`` or a clean close, the server keeps
serving other sessions, and nothing stored is lost. Also the handshake protections (token,
Origin, binding) and the idle timeout."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from attune.errors import ConfigError
from server.client import AttuneClient
from server.limits import Auth, check_binding
from tests.server.harness import ServerThread, SlowLLM, fake_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    db = tmp_path_factory.mktemp("robust") / "sessions.sqlite"
    with ServerThread(fake_server(db, llm=SlowLLM(delay=0.01))) as thread:
        yield thread


@pytest.fixture(scope="module")
def witness(live: ServerThread) -> dict[str, Any]:
    """A session with one stored turn, made before any abuse."""

    async def main() -> dict[str, Any]:
        async with AttuneClient(live.url) as client:
            await client.turn("My sister is moving far away.")
            return {"session_id": client.session_id}

    return asyncio.run(main())


def assert_healthy(live: ServerThread, witness: dict[str, Any]) -> None:
    """Another session works and the witness's history is intact."""

    async def main() -> tuple[Any, list[Any]]:
        async with AttuneClient(live.url) as fresh:
            outcome = await fresh.turn("Are you still there?")
        async with AttuneClient(live.url, session_id=witness["session_id"]) as old:
            assert old.started is not None
            return outcome, old.started["history"]

    outcome, history = asyncio.run(main())
    assert outcome.result is not None
    assert [m["role"] for m in history[:2]] == ["user", "assistant"]
    assert history[0]["content"] == "My sister is moving far away." and history[1]["content"]


async def _errors_after(live: ServerThread, *frames: str | bytes, count: int = 1) -> list[Any]:
    async with AttuneClient(live.url) as client:
        for frame in frames:
            await client.ws.send(frame)
        errors = []
        while len(errors) < count:
            event = await client.receive(timeout=10)
            if event.type == "error":
                errors.append(event.message)
        outcome = await client.turn("Still here?")  # the same connection still works
        assert outcome.result is not None
        return errors


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_message"),
        ('{"type": "user.dance"}', "unknown_type"),
        ('{"type": "user.text", "text": 42}', "bad_message"),
        ('{"type": "user.text", "text": "hi", "ref": "no spaces allowed"}', "bad_message"),
        ('{"type": "interrupt", "played_seconds": "soon"}', "bad_message"),
        ('{"type": "user.text", "text": "   "}', "empty_text"),
        ('{"type": "user.text", "text": "' + "x" * 5000 + '"}', "text_too_long"),
        ('{"type": "session.start", "v": 1}', "session_already_started"),
        (b"\x00\xff" * 1000, "audio_not_started"),
        ('{"type": "user.audio.end"}', "audio_not_started"),
        ('{"type": "user.image", "data": "!!!! not base64"}', "bad_image"),
        (json.dumps({"type": "user.image", "data": _b64(b"GIF89a garbage" * 50)}), "bad_image"),
    ],
)  # fmt: skip
def test_bad_messages_get_a_clear_recoverable_error(
    live: ServerThread, witness: dict[str, Any], frame: str | bytes, code: str
):
    (error,) = asyncio.run(_errors_after(live, frame))
    assert error["code"] == code and error["recoverable"] is True and error["message"]
    assert "garbage" not in error["message"] and "x" * 20 not in error["message"]


def test_audio_garbage_and_wrong_formats(live: ServerThread, witness: dict[str, Any]):
    start = '{"type": "user.audio.start"}'
    end = '{"type": "user.audio.end"}'
    errors = asyncio.run(_errors_after(live, start, b"\x01\x02\x03", end, start, end, count=2))
    assert [e["code"] for e in errors] == ["bad_audio", "empty_audio"]
    assert_healthy(live, witness)


def test_before_session_start_and_unsupported_version(live: ServerThread):
    async def main() -> list[Any]:
        async with connect(live.url) as ws:
            await ws.send('{"type": "user.text", "text": "hi"}')
            first = json.loads(await ws.recv())
            await ws.send('{"type": "session.start", "v": 99}')
            second = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return [first, second]

    first, second = asyncio.run(main())
    assert first["code"] == "no_session" and first["recoverable"] is True
    assert second["code"] == "unsupported_version" and second["recoverable"] is False
    assert "v1" in second["message"]


def test_a_50_mb_frame_closes_the_connection_cleanly(live: ServerThread, witness: dict[str, Any]):
    async def main() -> int | None:
        async with AttuneClient(live.url) as client:
            try:
                await client.ws.send(b"\0" * (50 * 1024 * 1024))
                await client.receive(timeout=30)
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None
        return None

    assert asyncio.run(main()) == 1009  # message too big
    assert_healthy(live, witness)


def test_a_flood_of_messages_is_throttled_then_closed(live: ServerThread, witness: dict[str, Any]):
    async def main() -> tuple[list[str], int | None]:
        codes: list[str] = []
        async with AttuneClient(live.url) as client:
            try:
                await client.ws.send('{"type": "user.audio.start"}')
                for _ in range(3000):
                    await client.ws.send(b"\0\0" * 160)
                while True:
                    event = await client.receive(timeout=30)
                    if event.type == "error":
                        codes.append(event.message["code"])
            except ConnectionClosed as exc:
                return codes, exc.rcvd.code if exc.rcvd else None
        return codes, None

    codes, close_code = asyncio.run(main())
    assert "rate_limited" in codes and close_code == 1008
    assert len(codes) < 200  # throttling errors are themselves throttled
    assert_healthy(live, witness)


def test_a_client_vanishing_mid_turn_loses_nothing(live: ServerThread, witness: dict[str, Any]):
    async def main() -> list[Any]:
        client = AttuneClient(live.url)
        await client.connect()
        await client.send_text("I failed my exam and I feel terrible.")
        while (await client.receive()).type != "reply.delta":
            pass
        client.ws.transport.abort()  # no close handshake: the client just vanishes
        for _ in range(50):  # the turn still finishes and is stored
            async with AttuneClient(live.url, session_id=client.session_id) as again:
                assert again.started is not None
                history = again.started["history"]
            if len(history) == 2:
                return list(history)
            await asyncio.sleep(0.1)
        raise AssertionError("the turn was not stored")

    history = asyncio.run(main())
    assert history[0]["content"] == "I failed my exam and I feel terrible."
    assert history[1]["role"] == "assistant"
    assert_healthy(live, witness)


def test_token_origin_and_ownership(tmp_path: Path):
    server = fake_server(tmp_path / "s.sqlite", tokens=("token-one", "token-two"))
    with ServerThread(server) as live:

        async def status(uri: str = live.url, **kwargs: Any) -> int:
            try:
                async with connect(uri, **kwargs):
                    return 101
            except InvalidStatus as exc:
                return exc.response.status_code

        async def main() -> dict[str, Any]:
            bearer = {"Authorization": "Bearer token-one"}
            out: dict[str, Any] = {
                "none": await status(),
                "wrong": await status(additional_headers={"Authorization": "Bearer nope"}),
                "header": await status(additional_headers=bearer),
                "query": await status(uri=live.url + "?token=token-two"),
                "evil_origin": await status(
                    additional_headers=bearer,
                    origin="http://evil.example",  # type: ignore[arg-type]
                ),
                "same_origin": await status(
                    additional_headers=bearer,
                    origin=live.http,  # type: ignore[arg-type]
                ),
            }
            async with AttuneClient(live.url, token="token-one") as one:
                await one.turn("Only for token one.")
            try:
                await AttuneClient(live.url, token="token-two", session_id=one.session_id).connect()
            except ConnectionError as exc:
                out["other_token"] = str(exc)
            async with AttuneClient(
                live.url, token="token-one", session_id=one.session_id
            ) as again:
                assert again.started is not None
                out["own_history"] = len(again.started["history"])
            return out

        out = asyncio.run(main())
    assert out["none"] == 401 and out["wrong"] == 401
    assert out["header"] == 101 and out["query"] == 101
    assert out["evil_origin"] == 403 and out["same_origin"] == 101
    assert "does not exist for your token" in out["other_token"]
    assert out["own_history"] == 2


def test_refuses_to_bind_beyond_loopback_without_a_token():
    with pytest.raises(ConfigError, match="without a token"):
        check_binding("0.0.0.0", Auth())
    check_binding("0.0.0.0", Auth(["secret"]))
    check_binding("127.0.0.1", Auth())
    from attune.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2


def test_idle_connections_are_closed(tmp_path: Path):
    server = fake_server(tmp_path / "s.sqlite", server={"idle_timeout_s": 0.5})
    with ServerThread(server) as live:

        async def main() -> tuple[dict[str, Any], int | None]:
            async with AttuneClient(live.url) as client:
                error = (await client.receive(timeout=5)).message
                try:
                    await client.receive(timeout=5)
                except ConnectionClosed as exc:
                    return error, exc.rcvd.code if exc.rcvd else None
            return error, None

        error, code = asyncio.run(main())
    assert error["code"] == "idle_timeout" and error["recoverable"] is False and code == 1000
