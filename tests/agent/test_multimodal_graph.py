"""Voice and camera turns through the graph, over fakes: routing, event order, what is stored.

The real models behind these roles are tested in ``tests/modalities``; here the fakes prove
that every perception node runs when its input is present, that the transcript becomes the
turn's text, that speech is synthesised after the reply, and that raw media are never stored.
"""

from __future__ import annotations

import io
import itertools
import sqlite3
import wave
from pathlib import Path

import numpy as np
import pytest

from agent.appraisal import MIXED_GOAL
from attune.errors import InputError
from attune.types import Audio
from tests.agent.helpers import APPRAISAL_JSON, fake_attune
from tests.fakes.media import FakeASR, FakeFace, FakeSpeechEmotion, FakeTTS


def _tone(seconds: float = 1.0, level: float = 0.3) -> Audio:
    t = np.arange(int(16000 * seconds), dtype=np.float32) / 16000
    return Audio((level * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16000)


def _wav_bytes(audio: Audio) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes((audio.samples * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def _face_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(64, 64, 3), dtype=np.uint8)


def _media(face_label: str = "happy", heard: str = "I lost my job today and I feel so sad"):
    return {
        "asr": FakeASR(heard),
        "speech_emotion": FakeSpeechEmotion(),
        "tts": FakeTTS(),
        "face": FakeFace(face_label),
    }


def test_text_audio_and_image_in_one_turn_run_every_perception_node(tmp_path: Path):
    bot = fake_attune(db=tmp_path / "s.sqlite", media=_media("sad"))
    events = list(bot.stream_turn("Hi.", "mm", audio=_tone(), image=_face_image(), speak=False))
    perception = [e.data for e in events if e.type == "perception"]
    assert [sorted(d) for d in perception] == [
        ["speech_emotion", "transcript"],
        ["text_emotion"],
        ["face"],
        ["affect"],
    ]
    result = events[-1].data["result"]
    assert isinstance(result, dict)
    timings = result["timings_ms"]
    assert {"perceive_speech", "perceive_text", "perceive_face", "fuse_affect", "asr"} <= set(
        timings
    )
    assert set(result["affect"]["confidence"]) == {"text", "speech", "face"}
    # the typed text and the transcript are both the user's message
    history = bot.history("mm")
    assert history[0].content == "Hi. I lost my job today and I feel so sad"


def test_voice_only_turn_uses_the_transcript_as_the_message():
    bot = fake_attune(media=_media(heard="My dog died and I am sad"))
    result = bot.turn(audio=_wav_bytes(_tone()), session_id="v1")
    assert result.transcript is not None and result.transcript.text == "My dog died and I am sad"
    assert result.text_emotion is not None and result.text_emotion.primary_ekman == "sadness"
    assert result.face is None and result.affect is not None
    assert bot.history("v1")[0].content == "My dog died and I am sad"


def test_silent_audio_is_a_clear_error_and_the_session_is_untouched():
    bot = fake_attune([APPRAISAL_JSON, "First.", APPRAISAL_JSON, "Second."], media=_media())
    bot.turn("hello", "quiet")
    with pytest.raises(InputError) as err:
        bot.turn(audio=_tone(level=0.0001), session_id="quiet")
    assert err.value.code == "no_speech"
    assert len(bot.history("quiet")) == 2
    assert bot.turn("still there?", "quiet").reply == "Second."
    assert len(bot.history("quiet")) == 4


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, "empty_turn"),
        ({"audio": b"not audio at all"}, "bad_audio"),
        ({"text": "hi", "image": b"not an image"}, "bad_image"),
    ],
)
def test_bad_media_fail_before_the_graph_runs(kwargs, code):
    bot = fake_attune(media=_media())
    with pytest.raises(InputError) as err:
        bot.turn(session_id="bad", **kwargs)
    assert err.value.code == code
    assert bot.history("bad") == []


def test_speech_follows_the_reply_and_precedes_done():
    media = _media()
    bot = fake_attune([APPRAISAL_JSON, "I'm so sorry. That must hurt a lot."], media=media)
    events = list(bot.stream_turn("My dog died and I am sad", "sp", speak=True))
    types = [e.type for e in events]
    first_audio = types.index("audio.chunk")
    assert "reply.delta" in types[:first_audio] and types[-1] == "reply.done"
    chunks = [e.data["chunk"] for e in events if e.type == "audio.chunk"]
    assert [c.text for c in chunks] == ["I'm so sorry.", "That must hurt a lot."]
    assert chunks[1].offset == pytest.approx(chunks[0].audio.duration)
    style = media["tts"].styles[0]
    assert style is not None and style.speed < 1.0  # sadness: slower
    assert "synthesize_speech" in events[-1].data["result"]["timings_ms"]  # type: ignore[index]


def test_no_speech_unless_asked():
    media = _media()
    bot = fake_attune(media=media)
    types = [e.type for e in bot.stream_turn("hello", "ns")]
    assert "audio.chunk" not in types and media["tts"].styles == []


def test_a_crisis_reply_is_spoken_calmly():
    media = _media()
    bot = fake_attune(media=media)
    events = list(bot.stream_turn("I want to kill myself", "cr", speak=True))
    assert "crisis" in [e.type for e in events]
    assert any(e.type == "audio.chunk" for e in events)
    assert all(s is not None and s.name == "calm" for s in media["tts"].styles)


def test_sad_words_with_a_happy_face_are_reflected_as_mixed_feelings():
    bot = fake_attune(media=_media("happy"))
    result = bot.turn("My dog died and I am so sad", "mix", image=_face_image())
    assert result.affect is not None and result.affect.incongruent
    assert result.appraisal is not None and result.appraisal.goal == MIXED_GOAL
    system_prompt = bot.context.llm.calls[-1][0][0].content  # type: ignore[attr-defined]
    assert "do not match" in system_prompt

    congruent = fake_attune(media=_media("sad"))
    same = congruent.turn("My dog died and I am so sad", "mix", image=_face_image())
    assert same.affect is not None and not same.affect.incongruent
    assert same.appraisal is not None and same.appraisal.goal != MIXED_GOAL


def test_prosody_baseline_carries_across_turns():
    bot = fake_attune(media=_media())
    first = bot.turn(audio=_tone(), session_id="pb")
    second = bot.turn(audio=_tone(), session_id="pb")
    assert first.speech_emotion is not None and not first.speech_emotion.normalized
    assert second.speech_emotion is not None and second.speech_emotion.normalized


def test_raw_audio_and_images_are_never_stored(tmp_path: Path):
    db = tmp_path / "s.sqlite"
    bot = fake_attune(db=db, media=_media())
    image = _face_image()
    audio = _tone()
    bot.turn("hello", "priv", audio=audio, image=image)
    bot.close()
    raw = db.read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("s.sqlite-*") if p.is_file()
    )
    assert image.tobytes()[:48] not in raw
    assert audio.samples.tobytes()[4000:4064] not in raw
    rows = sqlite3.connect(db).execute("select count(*) from checkpoints").fetchone()
    assert rows[0] > 0


def test_interrupt_mid_reply_keeps_what_was_said():
    import threading

    from tests.fakes import FakeLLM

    cancel = threading.Event()

    class GatedLLM(FakeLLM):
        """Streams three words, then waits until the test interrupts (no race)."""

        def stream(self, messages, params):
            for i, piece in enumerate(super().stream(messages, params)):
                if i == 3 and len(self.calls) > 1:
                    cancel.wait(5)
                yield piece

    reply = "I'm so sorry. That must hurt a lot. Tell me more about him."
    bot = fake_attune(media=_media())
    bot.context.llm = GatedLLM([APPRAISAL_JSON, reply])
    deltas = []
    done = None
    for event in bot.stream_turn("My dog died and I am sad", "int", speak=True, cancel=cancel):
        if event.type == "reply.delta":
            deltas.append(event.data["text"])
            if len(deltas) == 3:
                cancel.set()  # the user barges in while the reply streams
        elif event.type == "reply.done":
            done = event.data["result"]
    assert isinstance(done, dict) and done["interrupted"] is True
    assert done["reply"] == "I'm so sorry."
    history = bot.history("int")
    assert history[-1].interrupted and history[-1].content == "I'm so sorry."
    # the client heard only the first words
    assert bot.truncate_reply("int", done["turn_id"], "I'm so")
    assert bot.history("int")[-1].content == "I'm so"
    assert not bot.truncate_reply("int", "no-such-turn", "x")
    # the next turn sees the cut history and goes on normally
    bot.turn("yes", "int")
    assert len(bot.history("int")) == 4


def test_interrupt_before_the_reply_records_only_the_message():
    import threading

    cancel = threading.Event()
    cancel.set()
    bot = fake_attune(media=_media())
    events = list(bot.stream_turn("hello there", "early", cancel=cancel))
    done = events[-1].data["result"]
    assert isinstance(done, dict) and done["interrupted"] and done["reply"] == ""
    assert [m.role for m in bot.history("early")] == ["user"]


def test_low_latency_voice_turn_speaks_while_the_reply_is_written():
    media = _media()
    bot = fake_attune(
        ["I'm so sorry. That must hurt a lot. What was his name?"],
        candidates=3,
        media=media,
    )
    events = list(bot.stream_turn(audio=_tone(), session_id="ll", speak=True))
    types = [e.type for e in events]
    # no appraisal call: the only LLM call is the single streamed reply
    assert len(bot.context.llm.calls) == 1  # type: ignore[attr-defined]
    first_audio = types.index("audio.chunk")
    assert "reply.delta" in types[first_audio + 1 :]  # audio began before the text finished
    chunks = [e.data["chunk"] for e in events if e.type == "audio.chunk"]
    assert [c.text for c in chunks] == [
        "I'm so sorry.",
        "That must hurt a lot.",
        "What was his name?",
    ]
    for before, after in itertools.pairwise(chunks):
        assert after.offset == pytest.approx(before.end)
    result = events[-1].data["result"]
    assert isinstance(result, dict) and result["appraisal"]["sources"]["event"] == "dialogue"
    assert "to_first_audio" in result["timings_ms"]


def test_low_latency_can_be_turned_off():
    bot = fake_attune(
        [APPRAISAL_JSON, "I'm so sorry. Tell me more."],
        media=_media(),
        voice={"low_latency": False},
    )
    events = list(bot.stream_turn(audio=_tone(), session_id="off", speak=True))
    types = [e.type for e in events]
    assert len(bot.context.llm.calls) == 2  # type: ignore[attr-defined]  # appraisal + reply
    assert "reply.delta" not in types[types.index("audio.chunk") :]


def test_avatar_cues_come_with_each_spoken_sentence():
    bot = fake_attune([APPRAISAL_JSON, "I'm so sorry. That must hurt a lot."], media=_media())
    events = list(bot.stream_turn("My dog died and I am sad", "av", avatar=True))
    types = [e.type for e in events]
    assert types.count("audio.chunk") == 2 and types.count("avatar.cues") == 2
    for i, kind in enumerate(types):
        if kind == "audio.chunk":
            assert types[i + 1] == "avatar.cues"
    chunks = [e.data["chunk"] for e in events if e.type == "audio.chunk"]
    cues = [e.data["cues"] for e in events if e.type == "avatar.cues"]
    fps = bot.settings.avatar.fps
    for chunk, cue in zip(chunks, cues, strict=True):
        assert isinstance(cue, dict) and cue["fps"] == fps
        assert abs(cue["frames"] - round(chunk.audio.duration * fps)) <= 1
    assert "avatar.video" not in types  # only when asked


@pytest.mark.slow
def test_a_video_of_the_reply_is_rendered_when_asked(tmp_path: Path):
    av = pytest.importorskip("av")
    from attune import registry
    from attune.settings import AttuneSettings

    settings = AttuneSettings(avatar={"size": 128})
    renderer = registry.create("avatar", "cartoon", settings)  # the real one, small frames
    bot = fake_attune(
        [APPRAISAL_JSON, "I'm so sorry. That must hurt a lot."],
        media={**_media(), "avatar": renderer},
        avatar={"size": 128},
        paths={"state_dir": tmp_path},
    )
    events = list(bot.stream_turn("My dog died and I am sad", "vid", video=True))
    assert [e.type for e in events][-2:] == ["avatar.video", "reply.done"]
    path = Path(str(events[-2].data["path"]))
    assert path.is_file() and path.parent == tmp_path / "videos"
    with av.open(str(path)) as container:
        kinds = {s.type for s in container.streams}
    assert kinds == {"video", "audio"}
    result = events[-1].data["result"]
    assert isinstance(result, dict) and result["video_path"] == str(path)
