"""The ``avatar`` contract: RGB frames of the configured size for every cue frame, and a mouth
that moves with the speech."""

from __future__ import annotations

import numpy as np
import pytest

from attune.types import Audio
from modalities.avatar.base import AvatarRenderer
from modalities.avatar.cues import build_cues
from tests.conformance.backends import params

ROLE = "avatar"
pytestmark = pytest.mark.parametrize("backend", params(ROLE), indirect=True)


def _speech_then_silence(rate: int = 16000) -> Audio:
    """0.4 s of a loud, voice-like tone, then 0.4 s of silence."""
    t = np.arange(int(0.4 * rate), dtype=np.float32) / rate
    loud = 0.5 * np.sin(2 * np.pi * 160 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 5 * t))
    return Audio(np.concatenate([loud, np.zeros_like(loud)]).astype(np.float32), rate)


def test_frames_of_the_configured_size(backend: AvatarRenderer) -> None:
    assert isinstance(backend, AvatarRenderer)
    cues = build_cues(_speech_then_silence(), fps=backend.fps)
    assert cues.frames == pytest.approx(0.8 * backend.fps, abs=1)
    frames = list(backend.frames(cues))
    assert len(frames) == cues.frames
    for frame in frames[:: max(1, len(frames) // 4)]:
        assert frame.dtype == np.uint8 and frame.shape == (backend.size, backend.size, 3)


def test_the_mouth_moves_with_the_speech(backend: AvatarRenderer) -> None:
    cues = build_cues(_speech_then_silence(), fps=backend.fps)
    talking = int(np.argmax(cues.mouth_open))
    quiet = cues.frames - 1
    assert cues.mouth_open[talking] > cues.mouth_open[quiet] + 0.1
    a = backend.render_frame(cues, talking).astype(np.int16)
    b = backend.render_frame(cues, quiet).astype(np.int16)
    assert np.abs(a - b).mean() > 0.05
