"""Synthesised test speech (espeak-ng and hibari), made once per test session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from attune.types import Audio
from modalities.audio import from_array, load_audio

#: Short everyday sentences, as a person might say them to the chatbot.
SENTENCES = (
    "I went for a long walk by the river.",
    "Then I had lunch with an old friend.",
    "I have been feeling tired and a little lonely lately.",
    "My sister called me yesterday to talk about her new job.",
    "The weather was lovely this morning.",
)
#: espeak-ng's American voice at a moderate rate: what tiny.en transcribes best of its voices.
ESPEAK_VOICE = ("-v", "en-us+m3", "-s", "140")


def trim(audio: Audio, floor: float = 1e-3) -> Audio:
    """``audio`` without its leading and trailing silence (so test pauses are exact)."""
    loud = np.flatnonzero(np.abs(audio.samples) > floor)
    return Audio(audio.samples[loud[0] : loud[-1] + 1].copy(), audio.sample_rate)


def espeak(text: str, path: Path, *args: str) -> Audio:
    """``text`` spoken by espeak-ng (22.05 kHz), loaded at 16 kHz and trimmed."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    subprocess.run(["espeak-ng", *args, "-w", str(path), text], check=True, capture_output=True)
    return trim(load_audio(path))


@pytest.fixture(scope="session")
def espeak_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("espeak")


@pytest.fixture(scope="session")
def espeak_sentences(espeak_dir: Path) -> list[Audio]:
    """Each of :data:`SENTENCES` spoken by espeak-ng."""
    return [espeak(s, espeak_dir / f"s{i}.wav", *ESPEAK_VOICE) for i, s in enumerate(SENTENCES)]


@pytest.fixture(scope="session")
def hibari_voice():  # type: ignore[no-untyped-def]
    hibari = pytest.importorskip("hibari")
    return hibari.Hibari()


@pytest.fixture(scope="session")
def hibari_sentences(hibari_voice) -> list[Audio]:  # type: ignore[no-untyped-def]
    """Each of :data:`SENTENCES` spoken by hibari (24 kHz) and resampled to 16 kHz."""
    return [trim(from_array(hibari_voice(s, seed=0), 24000)) for s in SENTENCES]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), np.float32)


def padded(audio: Audio, seconds: float = 0.3) -> Audio:
    """``audio`` with silence on both sides, as an endpointed utterance has."""
    pad = silence(seconds)
    return Audio(np.concatenate([pad, audio.samples, pad]), audio.sample_rate)
