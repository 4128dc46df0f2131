"""Shared fixtures of the avatar tests: real speech from the bundled voice, loaded renderers."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")
pytest.importorskip("av")
pytest.importorskip("ai_edge_litert")
pytest.importorskip("hibari")

from agent import load_settings
from attune import registry
from attune.types import TextEmotion
from modalities.avatar.base import AvatarRenderer
from modalities.voice.base import SpeechChunk

#: Sentences the lip-sync tests speak (written by the project).
SENTENCES = (
    "That sounds really hard, and I am glad you told me about it.",
    "What would help you most right now, do you think?",
    "You did the best you could with what you knew at the time.",
)


@pytest.fixture(scope="session")
def speech() -> list[SpeechChunk]:
    """One synthesised chunk per sentence (with phoneme timings)."""
    tts = registry.create("tts", "hibari", load_settings())
    return [tts.synthesize(s) for s in SENTENCES]


@pytest.fixture(scope="session")
def renderers() -> dict[str, AvatarRenderer]:
    """Every registered avatar backend at the default settings, loaded once."""
    settings = load_settings()
    out = {name: registry.create("avatar", name, settings) for name in registry.names("avatar")}
    for renderer in out.values():
        renderer.load()
    return out


def affect(label: str) -> TextEmotion:
    """A clear reading of one Ekman label."""
    ekman = {k: (0.9 if k == label else 0.02) for k in ("anger", "fear", "joy", "sadness")}
    return TextEmotion(scores={}, labels=[], ekman=ekman, valence=0.0, arousal=0.5, intensity=0.8)


def loudness_db(samples: np.ndarray, rate: int, fps: int, frames: int) -> np.ndarray:
    """Per-frame RMS level in dB (floored at -60), computed independently of the cue code."""
    hop = rate / fps
    out = np.empty(frames)
    for i in range(frames):
        window = samples[int(i * hop) : int((i + 1) * hop)]
        rms = float(np.sqrt(np.mean(window.astype(np.float64) ** 2))) if len(window) else 0.0
        out[i] = max(-60.0, 20 * np.log10(rms + 1e-9))
    return out
