"""Test media: a spoken sentence (espeak-ng, an independent voice) and a face photo (JPEG)."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SENTENCE = "I lost my job today and I feel really sad about it."


@functools.lru_cache(maxsize=4)
def _spoken(sentence: str) -> bytes:
    out = Path(tempfile.mkdtemp(prefix="attune-speech-")) / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out), sentence],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out.read_bytes()


def speech_wav(sentence: str = SENTENCE) -> bytes:
    """A WAV of ``sentence`` spoken by espeak-ng (skips the test when it is not installed)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make install adds it)")
    return _spoken(sentence)


def speech_pcm16(sentence: str = SENTENCE, silence_s: float = 0.0) -> bytes:
    """The sentence as 16 kHz mono PCM16, followed by ``silence_s`` of silence."""
    from modalities.audio import load_audio, to_pcm16

    pcm = to_pcm16(load_audio(speech_wav(sentence), target_rate=16000))
    return pcm + b"\0\0" * int(16000 * silence_s)


@functools.lru_cache(maxsize=1)
def face_jpeg() -> bytes:
    """scikit-image's astronaut (a clear frontal face) as a JPEG."""
    import cv2
    from skimage import data

    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    assert ok
    return encoded.tobytes()
