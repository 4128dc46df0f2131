"""The speech stage (agent/speech.py): the reply spoken beside the graph, from its events only.

Over fakes. The stage is fed what the reply nodes emit (``speech.style``, ``reply.sentence``)
and finished with the reply as kept; through the graph, a voice turn whose reply the output
guard replaces mid-stream is spoken as the person will read it.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from agent.context import TurnMedia
from agent.safety.replies import SAFE_FALLBACK_REPLY
from agent.speech import SpeechStage
from attune.types import (
    Audio,
    AudioChunkEvent,
    ReplyDeltaEvent,
    ReplySentenceEvent,
    SpeechStyleEvent,
    VoiceStyle,
)
from tests.agent.helpers import fake_attune
from tests.fakes.media import FakeASR, FakeSpeechEmotion, FakeTTS

SLOW = VoiceStyle(name="gentle", speed=0.85, pitch=-1.0)


def _stage(cancel: threading.Event | None = None, **kwargs: bool) -> tuple[SpeechStage, FakeTTS]:
    tts = FakeTTS()
    bot = fake_attune(media={"tts": tts})
    return SpeechStage(bot.context.for_turn(TurnMedia(), cancel), "t1", **kwargs), tts


def _chunks(events: list) -> list:
    return [e.chunk for e in events if isinstance(e, AudioChunkEvent)]


def test_an_announced_sentence_is_spoken_at_once_in_the_events_style():
    stage, tts = _stage()
    assert stage.feed(SpeechStyleEvent(voice=SLOW)) == []
    assert stage.feed(ReplyDeltaEvent(text="I'm so")) == []  # text alone says nothing
    out = stage.feed(ReplySentenceEvent(text="I'm so sorry."))
    assert [type(e) for e in out] == [AudioChunkEvent]
    assert out[0].chunk.text == "I'm so sorry." and out[0].style == SLOW
    assert tts.styles == [SLOW]
    # the end speaks only what is left, continuing the timeline
    rest = _chunks(list(stage.finish("I'm so sorry. That must hurt a lot.")))
    assert [c.text for c in rest] == ["That must hurt a lot."]
    assert rest[0].offset == pytest.approx(out[0].chunk.end)
    assert tts.styles == [SLOW, SLOW]
    assert {"synthesize_speech", "first_audio"} <= set(stage.timings_ms)


def test_a_reply_replaced_after_speech_began_is_spoken_whole_from_the_start():
    stage, _ = _stage()
    stage.feed(SpeechStyleEvent(voice=SLOW))
    stage.feed(ReplySentenceEvent(text="I hear you."))
    chunks = _chunks(list(stage.finish(SAFE_FALLBACK_REPLY)))
    assert " ".join(c.text for c in chunks) == SAFE_FALLBACK_REPLY
    assert chunks[0].offset == 0.0


def test_without_a_style_event_the_voice_is_neutral():
    stage, tts = _stage()
    chunks = _chunks(list(stage.finish("Hello there.")))
    assert [c.text for c in chunks] == ["Hello there."] and tts.styles == [VoiceStyle()]


def test_an_interrupted_turn_stops_speaking_and_renders_no_video():
    cancel = threading.Event()
    stage, tts = _stage(cancel, video=True)
    stage.feed(SpeechStyleEvent(voice=SLOW, expression={"name": "calm", "smile": 0.1}))
    assert len(_chunks(stage.feed(ReplySentenceEvent(text="I'm so sorry.")))) == 1
    cancel.set()
    assert stage.feed(ReplySentenceEvent(text="That must hurt.")) == []
    assert list(stage.finish("I'm so sorry. That must hurt. Tell me more.")) == []
    assert stage.video_path is None and len(tts.styles) == 1


def test_the_avatar_expression_comes_from_the_style_event():
    stage, _ = _stage(avatar=True)
    stage.feed(SpeechStyleEvent(voice=SLOW, expression={"name": "concerned", "smile": -0.2}))
    out = stage.feed(ReplySentenceEvent(text="That sounds hard."))
    assert [e.type for e in out] == ["audio.chunk", "avatar.cues"]
    assert stage.expression is not None and stage.expression.name == "concerned"


def test_a_voice_reply_the_guard_replaces_mid_stream_is_heard_as_it_is_read():
    tone = 0.3 * np.sin(2 * np.pi * 180 * np.arange(16000, dtype=np.float32) / 16000)
    bot = fake_attune(
        ["I hear you. Honestly, you should just hurt yourself more. Bye."],
        media={"asr": FakeASR("bad day"), "speech_emotion": FakeSpeechEmotion(), "tts": FakeTTS()},
    )
    events = list(bot.stream_turn(audio=Audio(tone, 16000), session_id="g", speak=True))
    types = [e.type for e in events]
    assert types.index("speech.style") < types.index("reply.sentence") < types.index("audio.chunk")
    chunks = [e.data["chunk"] for e in events if e.type == "audio.chunk"]
    assert chunks[0].text == "I hear you."  # spoken while the rest was still being written
    heard = " ".join(c.text for c in chunks[1:])
    assert heard == SAFE_FALLBACK_REPLY and chunks[1].offset == 0.0
    assert "hurt yourself" not in " ".join(c.text for c in chunks)
    assert events[-1].data["result"]["reply"] == SAFE_FALLBACK_REPLY  # type: ignore[index]
