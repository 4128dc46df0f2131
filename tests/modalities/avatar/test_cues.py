"""The cue timeline: JSON round trip, the frame grid, lip sync from timings and from audio,
expression rows, blinks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from attune.errors import InputError
from attune.taxonomy import Strategy
from attune.types import Audio
from modalities.avatar.cues import (
    EXPRESSIONS,
    AvatarCues,
    build_cues,
    concat_cues,
    expression_for,
)
from modalities.avatar.visemes import visemes_of
from modalities.voice.base import SpeechChunk

from .conftest import affect


def _tone(seconds: float, rate: int = 24000) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    envelope = (np.sin(2 * np.pi * 2.0 * t) > 0).astype(np.float32)  # 2 Hz on/off bursts
    return Audio((0.3 * envelope * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)


def test_json_round_trip(speech: list[SpeechChunk]) -> None:
    chunk = speech[0]
    cues = build_cues(chunk.audio, phonemes=chunk.phonemes, expression=EXPRESSIONS["gentle"])
    again = AvatarCues.model_validate_json(cues.model_dump_json())
    assert again == cues
    assert cues.frames == round(chunk.audio.duration * 25)
    assert len(cues.model_dump_json()) < 120 * cues.frames  # compact: ~13 short numbers a frame


def test_chunks_line_up_with_the_whole_reply(speech: list[SpeechChunk]) -> None:
    offset, parts = 0.0, []
    for chunk in speech:
        shifted = chunk.shifted(offset)
        parts.append(build_cues(shifted.audio, phonemes=shifted.phonemes, offset=shifted.offset))
        offset = shifted.end
    whole = concat_cues(parts)
    assert whole.offset == 0.0
    assert abs(whole.frames - round(offset * 25)) <= 1
    for before, after in itertools.pairwise(parts):
        assert after.start_frame == before.start_frame + before.frames
    # blinks and head motion depend on reply time only: the joins are seamless
    lone = build_cues(Audio(np.zeros(int(offset * 24000), np.float32), 24000))
    assert np.allclose(whole.column("blink")[: lone.frames], lone.column("blink")[: whole.frames])
    with pytest.raises(InputError) as err:
        concat_cues([parts[0], parts[2]])
    assert err.value.code == "cues_not_contiguous"


def test_audio_only_lip_sync_follows_loudness() -> None:
    cues = build_cues(_tone(3.0))
    opening = cues.column("mouth_open")
    mid = (np.arange(cues.frames) + 0.5) / cues.fps
    phase = (mid * 2.0) % 1.0  # where each frame sits in the tone's on/off cycle
    assert opening[(phase > 0.15) & (phase < 0.35)].mean() > 0.6  # well inside a burst
    assert opening[(phase > 0.65) & (phase < 0.85)].mean() < 0.1  # well inside a pause
    assert np.all(cues.column("mouth_width") >= -1)


def test_timings_and_audio_agree(speech: list[SpeechChunk]) -> None:
    chunk = speech[1]
    with_timings = build_cues(chunk.audio, phonemes=chunk.phonemes)
    audio_only = build_cues(chunk.audio)
    r = np.corrcoef(with_timings.column("mouth_open"), audio_only.column("mouth_open"))[0, 1]
    assert r > 0.5
    assert with_timings.column("mouth_round").max() > 0.3  # "would", "you": rounded lips


def test_silence_keeps_the_mouth_shut_but_the_face_alive() -> None:
    cues = build_cues(Audio(np.zeros(24000 * 8, np.float32), 24000), seed=3)
    assert cues.column("mouth_open").max() == 0.0
    blinks = np.diff((cues.column("blink") > 0.5).astype(int)) == 1
    assert 1 <= blinks.sum() <= 5  # every 2-6 s
    assert 0.2 < np.ptp(cues.column("head_yaw")) < 6.0


def test_visemes() -> None:
    assert visemes_of("m") == ("PP",)
    assert visemes_of("ɑ") == ("AA",)
    assert visemes_of("O") == ("OH", "OU")  # a diphthong: two shapes
    assert visemes_of("?") == ("rest",)


def test_expression_answers_the_affect() -> None:
    concern = expression_for(None, affect("sadness"))
    joy = expression_for(None, affect("joy"))
    assert concern.name == "gentle" and joy.name == "joy"
    assert concern.brow_inner > 0.5 > joy.brow_inner
    assert joy.smile > 0.5 > concern.smile
    assert expression_for(None, None) == EXPRESSIONS["neutral"]
    warm = expression_for(Strategy.AFFIRMATION, affect("sadness"))
    assert warm.name == "gentle+warm" and warm.smile > concern.smile
    flat = expression_for(None, affect("joy"), expressiveness=0.0)
    assert flat.smile == flat.brow_raise == flat.head_tilt == 0.0
