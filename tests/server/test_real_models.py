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
    assert types[1:first_delta] == [
        "perception", "perception", "safety", "appraisal", "strategy", "speech.style"
    ]  # fmt: skip
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


def test_a_backchannel_goes_on_and_a_real_interruption_stops_the_reply(live: ServerThread):
    """Open microphone while Attune speaks: "Okay." is a backchannel (signalled, no turn, the
    reply goes on); "Wait, can I tell you something about my sister?" stops the reply and is
    answered as the next turn."""
    okay = speech_pcm16("Okay.", silence_s=1.0)
    wait = speech_pcm16("Wait, can I tell you something about my sister?", silence_s=1.0)

    async def speaking(client: AttuneClient, text: str) -> tuple[str, str]:
        ref = await client.send_text(text)
        while (event := await client.receive()).type != "audio.chunk":
            pass
        return ref, str(event.message["turn_id"])

    async def gather(client: AttuneClient, **wanted: Any) -> dict[str, dict[str, Any]]:
        """Receive until each named predicate has matched a message (in any order)."""
        found: dict[str, dict[str, Any]] = {}
        while len(found) < len(wanted):
            message = (await client.receive(timeout=120)).message
            for name, match in wanted.items():
                if name not in found and match(message):
                    found[name] = message
        return found

    async def main() -> dict[str, Any]:
        caps = Capabilities(audio=True)
        async with AttuneClient(live.url, capabilities=caps) as client:
            ref1, turn1 = await speaking(client, "I lost my job and I don't know what to do next.")
            mark = len(client.received)
            heard = await client.send_audio(okay, mode="open", barge_in=True)
            got = await gather(
                client,
                signal=lambda m: m["type"] == "speech.backchannel",
                done1=lambda m: m["type"] == "reply.done" and m.get("ref") == ref1,
            )
            first = [e.message for e in client.received[mark:]]

            ref2, turn2 = await speaking(client, "My sister says I should move back home.")
            talking = asyncio.create_task(
                client.send_audio(wait, mode="open", barge_in=True, end=False)
            )
            got |= await gather(client, barge=lambda m: m["type"] == "speech.barge_in")
            await client.interrupt(turn_id=turn2, played_seconds=0.5)  # at once, as a page does
            spoken = await talking
            got |= await gather(
                client,
                cut=lambda m: m["type"] == "turn.interrupted",
                queued=lambda m: m["type"] == "turn.queued" and m.get("ref") == spoken,
            )
            answer = await client.collect(spoken)

            # a short "Stop." once the reply is complete but still playing: it is judged when
            # it ends, so it is already queued as a turn when the page's interrupt arrives
            ref3, turn3 = await speaking(client, "Thank you for listening to me today.")
            got |= await gather(
                client, done3=lambda m: m["type"] == "reply.done" and m.get("ref") == ref3
            )
            stop = asyncio.create_task(
                client.send_audio(speech_pcm16("Stop.", 1.0), mode="open", barge_in=True)
            )
            got |= await gather(client, barge3=lambda m: m["type"] == "speech.barge_in")
            await client.interrupt(turn_id=turn3, played_seconds=1.0)
            await stop
            got |= await gather(
                client, cut3=lambda m: m["type"] == "turn.interrupted" and m["turn_id"] == turn3
            )
            return {
                "refs": (ref1, turn1, heard, ref2, turn2, spoken),
                "first": first,
                "answer": answer,
                "turn3": turn3,
                **got,
            }

    out = run(main())
    _, turn1, heard, _, turn2, spoken = out["refs"]
    assert out["signal"]["turn_id"] == turn1
    assert out["done1"]["turn_id"] == turn1
    assert out["done1"]["data"]["result"]["interrupted"] is False
    kinds = [m["type"] for m in out["first"]]
    assert "speech.barge_in" not in kinds and "turn.interrupted" not in kinds
    assert not any(m.get("ref") == heard and m["type"] == "turn.queued" for m in out["first"])
    assert out["barge"]["turn_id"] == turn2
    assert out["cut"]["turn_id"] == turn2
    assert out["queued"]["ref"] == spoken
    result = out["answer"].result
    assert result is not None and "sister" in words(result["transcript"]["text"])
    assert out["barge3"]["turn_id"] == out["turn3"]
    reply3, said3 = out["done3"]["data"]["result"]["reply"], out["cut3"]["said"]
    assert said3 and reply3.startswith(said3) and len(said3) < len(reply3)  # 1 s of it heard


def test_open_microphone_streams_live_transcripts_and_the_turn_reuses_the_last(
    live: ServerThread,
):
    """While the person speaks, ``transcript.partial`` grows with what they said; the last one,
    made during the pause, is the turn's transcript (the turn does not transcribe again)."""
    pcm = speech_pcm16(silence_s=1.5)

    async def main() -> tuple[list[str], TurnOutcome, list[str]]:
        async with AttuneClient(live.url) as client:
            ref = await client.send_audio(pcm, mode="open", end=False)
            outcome = await client.collect(ref)
            kinds = [e.type for e in client.received]
            partials = [
                str(e.message["text"]) for e in client.received if e.type == "transcript.partial"
            ]
            return partials, outcome, kinds

    partials, outcome, kinds = run(main())
    assert len(partials) >= 2, partials
    assert kinds.index("transcript.partial") < kinds.index("turn.queued")
    assert {"lost", "job"} <= set(words(partials[-1]))
    result = outcome.result
    assert result is not None
    assert result["transcript"]["text"].strip() == partials[-1]
    assert result["timings_ms"]["asr"] < 5  # reused, not transcribed again


def run(coro: Any) -> Any:
    return asyncio.run(coro)
