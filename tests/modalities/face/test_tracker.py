"""The tracker smooths frames, keeps a face through brief dropouts and forgets stale frames."""

from __future__ import annotations

import pytest

from attune.settings import AttuneSettings
from attune.types import FER_LABELS, FaceReading
from modalities.face.tracker import FaceTracker

NO_FACE = FaceReading(detected=False, faces=0, backend="test")


def reading(label: str, p: float = 0.9, confidence: float = 0.8) -> FaceReading:
    rest = (1 - p) / (len(FER_LABELS) - 1)
    scores = {k: (p if k == label else rest) for k in FER_LABELS}
    return FaceReading(
        detected=True, faces=1, scores=scores, label=label, confidence=confidence, backend="test"
    )


def test_steady_frames_are_stable() -> None:
    tracker = FaceTracker(window_frames=8, window_seconds=3.0)
    for i in range(5):
        out = tracker.update(reading("happy"), i * 0.1)
    assert out.detected and out.label == "happy" and out.frames == 5
    assert out.stability == pytest.approx(1.0)
    assert out.scores["happy"] == pytest.approx(0.9, abs=1e-3)
    assert out.valence > 0.5


def test_one_odd_frame_barely_moves_the_reading() -> None:
    tracker = FaceTracker(window_frames=8, window_seconds=3.0)
    for i in range(6):
        tracker.update(reading("happy"), i * 0.1)
    out = tracker.update(reading("sad"), 0.6)
    assert out.label == "happy" and out.frames == 7
    assert out.stability is not None and 0.5 < out.stability < 1.0


def test_alternating_frames_are_unstable() -> None:
    tracker = FaceTracker(window_frames=8, window_seconds=3.0)
    for i in range(8):
        out = tracker.update(reading("happy" if i % 2 else "sad"), i * 0.1)
    steady = FaceTracker()
    for i in range(8):
        calm = steady.update(reading("happy"), i * 0.1)
    assert out.stability is not None and out.stability < 0.6  # two states: TV 0.44 each
    assert out.confidence < calm.confidence


def test_a_brief_dropout_keeps_the_face() -> None:
    tracker = FaceTracker(window_frames=8, window_seconds=3.0)
    tracker.update(reading("sad"), 0.0)
    out = tracker.update(NO_FACE, 0.2)
    assert out.detected and out.label == "sad" and out.frames == 1
    out = tracker.update(NO_FACE, 3.5)  # the face frame is now stale
    assert not out.detected and out.frames == 0


def test_stale_frames_are_dropped_and_recent_ones_weigh_more() -> None:
    tracker = FaceTracker(window_frames=8, window_seconds=3.0)
    tracker.update(reading("sad"), 0.0)
    tracker.update(reading("sad"), 0.1)
    out = tracker.update(reading("happy"), 5.0)
    assert out.label == "happy" and out.frames == 1
    tracker.reset()
    tracker.update(reading("sad"), 0.0)
    out = tracker.update(reading("happy"), 2.9)
    assert out.label == "happy"  # the same confidence, but the sad frame is older


def test_the_window_holds_at_most_window_frames() -> None:
    tracker = FaceTracker.from_settings(AttuneSettings())
    for i in range(20):
        out = tracker.update(reading("neutral"), i * 0.01)
    assert out.frames == AttuneSettings().face.window_frames
    tracker.reset()
    assert not tracker.update(NO_FACE, 1.0).detected
