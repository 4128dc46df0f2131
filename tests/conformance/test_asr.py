"""The ``asr`` contract: speech gives its words, timed inside the audio; silence gives nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from attune.types import Audio, Transcript
from modalities.audio import load_audio
from modalities.speech.base import SpeechRecognizer
from tests.conformance.backends import params

ROLE = "asr"
pytestmark = pytest.mark.parametrize("backend", params(ROLE), indirect=True)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Audio:
    """espeak-ng saying one sentence (an independent voice), as the microphone would give it."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (make install puts it there)")
    path: Path = tmp_path_factory.mktemp("asr") / "said.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "I lost my job today."], check=True, timeout=60)
    return load_audio(path)


def test_speech_gives_words_timed_inside_the_audio(backend: SpeechRecognizer, spoken: Audio):
    assert isinstance(backend, SpeechRecognizer)
    transcript = backend.transcribe(spoken)
    assert isinstance(transcript, Transcript)
    assert transcript.text.strip()
    assert transcript.duration == pytest.approx(spoken.duration, abs=0.1)
    for segment in transcript.segments:
        assert 0.0 <= segment.start <= segment.end <= spoken.duration + 0.1
        assert 0.0 <= segment.confidence <= 1.0


def test_silence_gives_no_text(backend: SpeechRecognizer):
    silence = Audio(np.zeros(16000, dtype=np.float32), 16000)
    assert backend.transcribe(silence).text.strip() == ""
