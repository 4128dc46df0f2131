"""The server over fake backends, through real websockets on loopback: the protocol, turns
in order, audio and camera input, interruption, sessions, and the web side (static files).

The fakes make turns instant (the LLM is slowed a little so that a reply can be interrupted);
the real models are exercised in ``test_real_models.py``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.client import AttuneClient, TurnOutcome
from server.protocol import Capabilities
from tests.conftest import REPO
from tests.server.harness import LONG_REPLY, ServerThread, SlowLLM, fake_server
from tests.server.media import face_jpeg, speech_pcm16

TURN_ORDER = ["turn.queued", "perception", "safety", "appraisal", "strategy", "reply.delta"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    db = tmp_path_factory.mktemp("server") / "sessions.sqlite"
    with ServerThread(fake_server(db, llm=SlowLLM(delay=0.01))) as thread:
        yield thread


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def _collapse(types: list[str]) -> list[str]:
    """Event types with repeats folded (perception+ -> perception)."""
    return [t for i, t in enumerate(types) if i == 0 or types[i - 1] != t]


# --- turns ------------------------------------------------------------------------------------


def test_text_turn_streams_every_event_in_order(live: ServerThread):
    async def main() -> TurnOutcome:
        async with AttuneClient(live.url, capabilities=Capabilities(audio=True)) as client:
            return await client.turn("My dog died yesterday and I am so sad.")

    outcome = run(main())
    types = _collapse(outcome.types)
    # the reply is spoken (audio asked for): how, before its first word
    spoken_order = [*TURN_ORDER[:-1], "speech.style", TURN_ORDER[-1]]
    # spoken sentences may interleave with the text still being generated
    assert types[: len(spoken_order)] == spoken_order and types[-1] == "reply.done"
    assert set(types[len(spoken_order) : -1]) <= {"reply.delta", "audio.chunk"}
    assert "audio.chunk" in types
    messages = [e.message for e in outcome.events]
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(m["v"] == 1 for m in messages)
    turn_ids = {m["turn_id"] for m in messages if m["type"] != "turn.queued"}
    assert len(turn_ids) == 1 and None not in turn_ids
    assert {m["ref"] for m in messages} == {outcome.ref}
    perception = [m["data"] for m in messages if m["type"] == "perception"]
    assert "text_emotion" in perception[0] and "affect" in perception[-1]
    strategy = next(m["data"] for m in messages if m["type"] == "strategy")
    assert strategy["strategy"]["strategy"] and strategy["strategy"]["probabilities"]
    for chunk in outcome.audio:  # header, then exactly the bytes it announces
        assert chunk.audio is not None and len(chunk.audio) == chunk.message["bytes"] > 0
        assert chunk.message["format"] == "pcm16" and chunk.message["sample_rate"] == 16000
    result = outcome.result
    assert result is not None and result["reply"] and result["interrupted"] is False
    streamed = "".join(m["data"]["text"] for m in messages if m["type"] == "reply.delta")
    assert streamed.startswith(result["reply"][:20])


def test_turns_of_a_session_run_one_at_a_time_in_order(live: ServerThread):
    async def main() -> list[Any]:
        async with AttuneClient(live.url) as client:
            refs = [await client.send_text(f"Message number {i}.") for i in range(3)]
            outcomes = [await client.collect(ref) for ref in refs]
            history = []
        async with AttuneClient(live.url, session_id=client.session_id) as again:
            assert again.started is not None
            history = again.started["history"]
        return [refs, outcomes, client.received, history]

    refs, outcomes, received, history = run(main())
    queued = [m.message for m in received if m.type == "turn.queued"]
    assert [q["ref"] for q in queued] == refs and [q["position"] for q in queued] == [0, 1, 2]
    done = [m.message["ref"] for m in received if m.type == "reply.done"]
    assert done == refs
    # no event of one turn arrives between those of another
    order = [m.message.get("ref") for m in received if m.message.get("turn_id")]
    assert order == sorted(order, key=refs.index)
    assert [m["content"] for m in history if m["role"] == "user"] == [
        f"Message number {i}." for i in range(3)
    ]
    assert all(o.result is not None for o in outcomes)


def test_audio_turn_streamed_in_real_time_chunks(live: ServerThread):
    pcm = speech_pcm16()

    async def main() -> TurnOutcome:
        async with AttuneClient(live.url) as client:
            return await client.turn(audio=pcm, realtime=True)

    outcome = run(main())
    first = next(e.message["data"] for e in outcome.events if e.type == "perception")
    assert first["transcript"]["text"] and "speech_emotion" in first
    assert outcome.result is not None and outcome.result["transcript"]["duration"] == (
        pytest.approx(len(pcm) / 32000, abs=0.01)
    )


def test_open_microphone_cuts_utterances_with_the_vad(live: ServerThread):
    pcm = b"\0\0" * 8000 + speech_pcm16(silence_s=1.0)

    async def main() -> list[str]:
        async with AttuneClient(live.url) as client:
            ref = await client.send_audio(pcm, mode="open", realtime=False, end=False)
            outcome = await client.collect(ref, timeout=60)
            await client.send({"type": "user.audio.end"})
            assert outcome.result is not None
            return [e.type for e in client.received]

    types = run(main())
    assert types.index("speech.started") < types.index("turn.queued") < types.index("reply.done")


def test_image_and_text_turn_reads_the_face(live: ServerThread):
    async def main() -> tuple[TurnOutcome, list[Any]]:
        async with AttuneClient(live.url) as client:
            await client.send_image(face_jpeg())
            while (await client.receive()).type != "face.reading":
                pass
            outcome = await client.turn("I'm fine, really.")
            return outcome, [e.message for e in client.received]

    outcome, messages = run(main())
    reading = next(m for m in messages if m["type"] == "face.reading")
    assert reading["face"]["detected"] is True and reading["face"]["label"] == "happy"
    faces = [e.message["data"] for e in outcome.events if e.type == "perception"]
    assert any("face" in d and d["face"]["detected"] for d in faces)
    assert outcome.result is not None and outcome.result["face"]["detected"] is True


# --- interruption -----------------------------------------------------------------------------


def test_interrupt_mid_reply_stops_streaming_and_keeps_what_was_sent(live: ServerThread):
    async def main() -> tuple[list[Any], list[Any]]:
        async with AttuneClient(live.url) as client:
            ref = await client.send_text("I lost my job today.")
            while (await client.receive()).type != "reply.delta":
                pass
            await client.interrupt()
            while (await client.receive()).type != "turn.interrupted":
                pass
            after = await client.turn("Sorry, go on.")  # the session goes on
            assert after.result is not None
        async with AttuneClient(live.url, session_id=client.session_id) as again:
            assert again.started is not None
            history = again.started["history"]
        return [e.message for e in client.received if e.message.get("ref") == ref], history

    messages, history = run(main())
    types = [m["type"] for m in messages]
    done = next(m for m in messages if m["type"] == "reply.done")
    ack = messages[-1]
    assert ack["type"] == "turn.interrupted" and types.index("reply.done") < len(types) - 1
    assert done["data"]["result"]["interrupted"] is True
    sent = "".join(m["data"]["text"] for m in messages if m["type"] == "reply.delta").strip()
    assert ack["said"] == sent
    full = done["data"]["result"]["reply"]
    assert len(full) < len(LONG_REPLY) / 2  # generation stopped early
    stored = next(m for m in history if m["role"] == "assistant" and m["turn_id"] == ack["turn_id"])
    assert stored["content"] == " ".join(sent.split()) and stored["interrupted"] is True


def test_interrupt_during_playback_keeps_what_was_heard(live: ServerThread):
    async def main() -> tuple[TurnOutcome, dict[str, Any], list[Any]]:
        async with AttuneClient(live.url, capabilities=Capabilities(audio=True)) as client:
            outcome = await client.turn("I lost my job today.")
            first = outcome.audio[0].message
            # the client played the first sentence and half a second of the second
            played = first["offset"] + first["duration"] + 0.5
            await client.interrupt(
                turn_id=outcome.events[-1].message["turn_id"], played_seconds=played
            )
            while (ack := await client.receive()).type != "turn.interrupted":
                pass
        async with AttuneClient(live.url, session_id=client.session_id) as again:
            assert again.started is not None
            history = again.started["history"]
        return outcome, ack.message, history

    outcome, ack, history = run(main())
    chunks = [c.message for c in outcome.audio]
    assert ack["said"].startswith(chunks[0]["text"]) and len(chunks) > 1
    assert len(ack["said"]) < len(chunks[0]["text"]) + 1 + len(chunks[1]["text"])
    assert history[-1]["content"] == ack["said"] and history[-1]["interrupted"] is True


def test_nothing_to_interrupt_is_a_recoverable_error(live: ServerThread):
    async def main() -> dict[str, Any]:
        async with AttuneClient(live.url) as client:
            await client.interrupt()
            return (await client.receive()).message

    error = run(main())
    assert error["code"] == "nothing_to_interrupt" and error["recoverable"] is True


# --- sessions ---------------------------------------------------------------------------------


def test_session_end_with_forget_deletes_the_conversation(live: ServerThread):
    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        async with AttuneClient(live.url) as client:
            await client.turn("Something private.")
            ended = await client.end(forget=True)
        async with AttuneClient(live.url, session_id=client.session_id) as again:
            assert again.started is not None
            return ended, again.started

    ended, started = run(main())
    assert ended["forgotten"] is True
    assert started["resumed"] is False and started["history"] == []


def test_cli_client_runs_scripted_turns(live: ServerThread):
    proc = subprocess.run(
        [sys.executable, "-m", "attune.cli", "client", "--url", live.url, "--json",
         "--text", "Hello there.", "--text", "I feel a bit low."],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert messages[0]["type"] == "session.started"
    assert [m["type"] for m in messages].count("reply.done") == 2


# --- HTTP on the same port --------------------------------------------------------------------


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def _raw_get(port: int, path: str) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    status = conn.getresponse().status
    conn.close()
    return status


def test_static_pages_videos_and_no_traversal(live: ServerThread, tmp_path: Path):
    status, kind, body = _get(live.http + "/")
    assert status == 200 and kind == "text/html; charset=utf-8" and b"Attune" in body
    assert _get(live.http + "/index.html")[0] == 200
    status, kind, body = _get(live.http + "/healthz")
    assert status == 200 and kind == "application/json" and json.loads(body)["status"] == "ok"
    for path in ["/../pyproject.toml", "/%2e%2e/pyproject.toml", "/..%2f..%2fpyproject.toml",
                 "/static/../app.py", "/.hidden", "/nope.html", "/video/unknown.mp4",
                 "/%00index.html"]:  # fmt: skip
        assert _raw_get(live.port, path) == 404, path
    video = tmp_path / "reply.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42")
    url = live.server.videos.publish(str(video))
    status, kind, body = _get(live.http + url)
    assert status == 200 and kind == "video/mp4" and body == video.read_bytes()
