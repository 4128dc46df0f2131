"""The ``tts`` contract: audible, bounded float audio at the rate it states, timings when it
says it has them, sentences streamed in order, and a clear error for text it cannot speak."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from attune.errors import InputError
from attune.types import VoiceStyle
from modalities.voice.base import SpeechChunk, SpeechSynthesizer, TTSCapabilities
from tests.conformance.backends import params

ROLE = "tts"
pytestmark = pytest.mark.parametrize("backend", params(ROLE), indirect=True)

TEXT = "I'm here with you, and I'm listening."


def test_audible_bounded_audio_at_the_stated_rate(backend: SpeechSynthesizer) -> None:
    assert isinstance(backend, SpeechSynthesizer)
    caps = backend.capabilities
    assert isinstance(caps, TTSCapabilities)
    chunk = backend.synthesize(TEXT)
    assert isinstance(chunk, SpeechChunk)
    samples = chunk.audio.samples
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert chunk.audio.sample_rate == caps.sample_rate
    assert 0.5 < chunk.audio.duration < 15.0
    assert np.isfinite(samples).all() and np.abs(samples).max() <= 1.0
    assert float(np.sqrt(np.mean(samples**2))) > 1e-3


def test_timings_when_it_says_it_has_them(backend: SpeechSynthesizer) -> None:
    caps = backend.capabilities
    chunk = backend.synthesize(TEXT)
    if caps.word_timings:
        assert chunk.words
        for word in chunk.words:
            assert chunk.offset - 1e-3 <= word.start <= word.end <= chunk.end + 0.05
    else:
        assert not chunk.words
    if caps.phoneme_timings:
        assert chunk.phonemes


def test_a_style_is_accepted(backend: SpeechSynthesizer) -> None:
    chunk = backend.synthesize(TEXT, VoiceStyle(speed=0.9))
    assert chunk.audio.duration > 0.5


def test_sentences_stream_in_order(backend: SpeechSynthesizer) -> None:
    chunks = list(backend.stream("That sounds so hard. I'm here. Tell me more."))
    assert chunks
    offsets = [c.offset for c in chunks]
    assert offsets == sorted(offsets) and offsets[0] == pytest.approx(0.0, abs=1e-6)
    for before, after in itertools.pairwise(chunks):
        assert after.offset == pytest.approx(before.end, abs=0.05)


@pytest.mark.parametrize("text", ["", "   ", "x" * 100_000])
def test_text_it_cannot_speak_is_a_clear_error(backend: SpeechSynthesizer, text: str) -> None:
    with pytest.raises(InputError):
        backend.synthesize(text)
