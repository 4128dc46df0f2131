"""The ``speech_emotion`` contract: a reading in range for any utterance, and a baseline that
the graph can carry to the next turn."""

from __future__ import annotations

import numpy as np
import pytest

from attune.types import Audio, SpeechEmotion
from modalities.speech.base import SpeechEmotionRecognizer
from tests.conformance.backends import params

ROLE = "speech_emotion"
pytestmark = pytest.mark.parametrize("backend", params(ROLE), indirect=True)


def _voice(seconds: float = 1.5, rate: int = 16000) -> Audio:
    """A vowel-like tone with a falling pitch and a syllable rhythm."""
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    pitch = 180 - 40 * t / seconds
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    samples = 0.3 * envelope * (np.sin(phase) + 0.3 * np.sin(2 * phase))
    return Audio(samples.astype(np.float32), rate)


def test_a_reading_in_range(backend: SpeechEmotionRecognizer) -> None:
    assert isinstance(backend, SpeechEmotionRecognizer)
    reading = backend.analyze(_voice())
    assert isinstance(reading, SpeechEmotion)
    assert 0.0 <= reading.arousal <= 1.0 and -1.0 <= reading.valence <= 1.0
    assert 0.0 <= reading.confidence <= 1.0
    if reading.scores:
        assert sum(reading.scores.values()) == pytest.approx(1.0, abs=1e-3)


def test_the_baseline_carries_to_the_next_turn(backend: SpeechEmotionRecognizer) -> None:
    baseline = None
    for _ in range(3):
        reading = backend.analyze(_voice(), baseline=baseline)
        baseline = backend.update_baseline(baseline, reading)
    again = backend.analyze(_voice(), baseline=baseline)
    assert 0.0 <= again.arousal <= 1.0
