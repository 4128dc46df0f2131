"""The server with the real default models (one server for the module: they load once).

A fake proves the wiring; these prove that a person's typed, spoken and shown input goes
through the real stack over the wire: Whisper hears the espeak-ng sentence streamed in real
time, the face model reads the astronaut, hibari speaks, and barge-in cuts the stored reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from agent import load_settings
from server.app import build_server
from server.client import AttuneClient, TurnOutcome
from server.protocol import Capabilities
from tests.server.harness import ServerThread, words
from tests.server.media import face_jpeg, speech_pcm16

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    state = tmp_path_factory.mktemp("state")
    settings = load_settings(paths={"state_dir": state}, llm={"candidates": 1})
    server = build_server(settings)
    with ServerThread(server) as thread:
        yield thread
    server.bot.close()
    server.owners.close()


def test_text_turn_with_speech_streams_every_event_in_order(live: ServerThread):
    async def main() -> TurnOutcome:
        caps = Capabilities(audio=True)
        async with AttuneClient(live.url, capabilities=caps, audio_out="wav") as client:
            return await client.turn("My dog died yesterday and I miss him so much.")

    outcome = run(main())
    types = outcome.types
    first_delta = types.index("reply.delta")
    assert types[0] == "turn.queued" and types[-1] == "reply.done"
    assert types[1:first_delta] == ["perception", "perception", "safety", "appraisal", "strategy"]
    assert outcome.audio and all(t in {"reply.delta", "audio.chunk"} for t in types[first_delta:-1])
    for chunk in outcome.audio:
        assert chunk.audio is not None and chunk.audio[:4] == b"RIFF"
        assert chunk.message["format"] == "wav" and chunk.message["duration"] > 0.2
    result = outcome.result
    assert result is not None and len(result["reply"].split()) >= 3
    assert {"sadness", "grief"} & set(result["text_emotion"]["labels"][:3])


def test_spoken_turn_streamed_in_real_time(live: ServerThread):
    pcm = speech_pcm16()

    async def main() -> TurnOutcome:
        async with AttuneClient(live.url) as client:
            return await client.turn(audio=pcm, realtime=True)

    outcome = run(main())
    result = outcome.result
    assert result is not None, outcome.error
    heard = words(result["transcript"]["text"])
    assert {"lost", "job", "sad"} <= set(heard)
    assert result["speech_emotion"] is not None and result["reply"]


def test_camera_frame_and_text_turn(live: ServerThread):
    async def main() -> tuple[TurnOutcome, dict[str, Any]]:
        async with AttuneClient(live.url) as client:
            await client.send_image(face_jpeg())
            while (event := await client.receive()).type != "face.reading":
                pass
            return await client.turn("Today was a good day."), event.message

    outcome, reading = run(main())
    assert reading["face"]["detected"] is True and reading["face"]["faces"] == 1
    result = outcome.result
    assert result is not None and result["face"]["detected"] is True
    assert set(result["affect"]["confidence"]) == {"text", "face"}


def test_barge_in_during_the_spoken_reply(live: ServerThread):
    async def main() -> tuple[list[Any], list[Any]]:
        async with AttuneClient(live.url, capabilities=Capabilities(audio=True)) as client:
            ref = await client.send_text("I lost my job and I don't know what to do next.")
            while (event := await client.receive()).type != "audio.chunk":
                pass
            await client.interrupt(turn_id=event.message["turn_id"], played_seconds=0.6)
            while (await client.receive(timeout=120)).type != "turn.interrupted":
                pass
        async with AttuneClient(live.url, session_id=client.session_id) as again:
            assert again.started is not None
            history = again.started["history"]
        return [e.message for e in client.received if e.message.get("ref") == ref], history

    messages, history = run(main())
    ack = messages[-1]
    done = next(m for m in messages if m["type"] == "reply.done")
    assert done["data"]["result"]["interrupted"] is True
    first = next(m for m in messages if m["type"] == "audio.chunk")
    assert first["text"].startswith(ack["said"])  # 0.6 s: part of the first sentence at most
    assert history[-1]["content"] == ack["said"] and history[-1]["interrupted"] is True


def run(coro: Any) -> Any:
    return asyncio.run(coro)
