"""The ``text_emotion`` contract: a valid reading per text, in order, batch or one at a time."""

from __future__ import annotations

import pytest

from attune.types import TextEmotion
from modalities.text.base import TextEmotionRecognizer
from tests.conformance.backends import params

ROLE = "text_emotion"
pytestmark = pytest.mark.parametrize("backend", params(ROLE), indirect=True)

TEXTS = ["I am so happy today", "my dog died", "ok"]
EKMAN = {"anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"}


def test_one_valid_reading_per_text(backend: TextEmotionRecognizer) -> None:
    assert isinstance(backend, TextEmotionRecognizer)
    readings = backend.analyze_batch(TEXTS)
    assert len(readings) == len(TEXTS)
    for reading in readings:
        assert isinstance(reading, TextEmotion)
        assert reading.scores and all(0.0 <= v <= 1.0 for v in reading.scores.values())
        assert reading.labels and set(reading.labels) <= set(reading.scores)
        assert set(reading.ekman) <= EKMAN


def test_analyze_is_the_batch_of_one(backend: TextEmotionRecognizer) -> None:
    batch = backend.analyze_batch(TEXTS)
    for text, reading in zip(TEXTS, batch, strict=True):
        single = backend.analyze(text)
        assert single.labels == reading.labels
        for label, score in single.scores.items():
            assert score == pytest.approx(reading.scores[label], abs=1e-4)
