"""Streaming endpointing with the real Silero VAD on synthesised speech."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from attune.errors import InputError
from attune.settings import AttuneSettings
from attune.types import Audio
from modalities.speech.segmenter import (
    SileroVAD,
    SpeechSegmenter,
    SpeechStarted,
    Utterance,
)

from .conftest import silence

pytest.importorskip("onnxruntime")


def stream(segmenter: SpeechSegmenter, samples: np.ndarray, chunk_ms: int) -> list[object]:
    """Feed ``samples`` in chunks of ``chunk_ms`` as a microphone would, then flush."""
    size = chunk_ms * 16
    events: list[object] = []
    for start in range(0, samples.size, size):
        events += segmenter.push(samples[start : start + size])
    return events + segmenter.flush()


def utterances(events: list[object]) -> list[Utterance]:
    return [e for e in events if isinstance(e, Utterance)]


@pytest.fixture(scope="module")
def three_sentences(espeak_sentences: list[Audio]) -> np.ndarray:
    """Three sentences with 0.8 s pauses between them (and silence around)."""
    parts = [silence(0.5)]
    for audio in espeak_sentences[:3]:
        parts += [audio.samples, silence(0.8)]
    return np.concatenate(parts)


def noise(kind: str, seconds: float, rms: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(seconds * 16000))
    if kind == "pink":
        spectrum = np.fft.rfft(white)
        spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
        white = np.fft.irfft(spectrum, white.size)
    return (white / white.std() * rms).astype(np.float32)


def test_silence_gives_nothing() -> None:
    assert stream(SpeechSegmenter(), silence(5.0), 20) == []


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("rms", [0.01, 0.05])  # -40 and -26 dBFS
def test_noise_gives_no_utterance(kind: str, rms: float) -> None:
    assert utterances(stream(SpeechSegmenter(), noise(kind, 5.0, rms), 32)) == []


def test_three_sentences_give_three_utterances(three_sentences: np.ndarray) -> None:
    events = stream(SpeechSegmenter(), three_sentences, 20)
    found = utterances(events)
    assert len(found) == 3
    assert [type(e) for e in events] == [SpeechStarted, Utterance] * 3
    for event, utterance in zip(events[::2], found, strict=True):
        assert isinstance(event, SpeechStarted)
        assert utterance.start < event.at < utterance.end
        assert utterance.audio.duration == pytest.approx(utterance.end - utterance.start)
        assert utterance.audio.sample_rate == 16000
    assert all(a.end < b.start for a, b in itertools.pairwise(found))


def test_chunk_size_and_encoding_do_not_matter(three_sentences: np.ndarray) -> None:
    reference = utterances(stream(SpeechSegmenter(), three_sentences, 20))
    pcm = (three_sentences * 32767).astype("<i2").tobytes()
    segmenter = SpeechSegmenter()
    from_bytes: list[object] = []
    for start in range(0, len(pcm), 3200):  # 100 ms of PCM16
        from_bytes += segmenter.push(pcm[start : start + 3200])
    for other in (
        utterances(stream(SpeechSegmenter(), three_sentences, 100)),
        utterances(stream(SpeechSegmenter(), three_sentences, 7)),
        utterances(from_bytes + segmenter.flush()),
    ):
        assert [(u.start, u.end) for u in other] == [(u.start, u.end) for u in reference]


def test_short_pause_does_not_split(espeak_sentences: list[Audio]) -> None:
    first, second = espeak_sentences[0], espeak_sentences[1]
    samples = np.concatenate([silence(0.3), first.samples, silence(0.2), second.samples])
    assert len(utterances(stream(SpeechSegmenter(), samples, 20))) == 1


def test_pre_roll_and_padding(espeak_sentences: list[Audio]) -> None:
    samples = np.concatenate([silence(1.0), espeak_sentences[0].samples, silence(1.0)])
    (utterance,) = utterances(stream(SpeechSegmenter(), samples, 20))
    assert 0.6 <= utterance.start <= 0.75  # the VAD fires near 1.0 s; 300 ms pre-roll
    speech_end = 1.0 + espeak_sentences[0].duration
    assert speech_end - 0.1 <= utterance.end <= speech_end + 0.35


def test_short_sounds_are_dropped(espeak_sentences: list[Audio]) -> None:
    burst = espeak_sentences[0].samples[4000:6400]  # 150 ms of a word
    samples = np.concatenate([silence(0.5), burst, silence(1.0)])
    assert stream(SpeechSegmenter(min_speech_ms=250), samples, 20) == []


def test_long_speech_is_cut(espeak_sentences: list[Audio]) -> None:
    samples = np.concatenate([a.samples for a in espeak_sentences[:3]])
    found = utterances(stream(SpeechSegmenter(max_utterance_seconds=2.5), samples, 20))
    assert len(found) >= 3
    assert all(u.audio.duration <= 2.5 + 0.05 for u in found)


def test_flush_emits_the_utterance_in_progress(espeak_sentences: list[Audio]) -> None:
    segmenter = SpeechSegmenter()
    events = segmenter.push(np.concatenate([silence(0.3), espeak_sentences[0].samples]))
    assert not utterances(events)
    assert len(utterances(segmenter.flush())) == 1
    assert segmenter.flush() == []


def test_settings_and_bad_chunks() -> None:
    settings = AttuneSettings(speech={"min_silence_ms": 700, "vad_threshold": 0.6})
    segmenter = SpeechSegmenter.from_settings(settings)
    assert segmenter.min_silence == 700 * 16 and segmenter.threshold == 0.6
    with pytest.raises(InputError, match="whole number"):
        segmenter.push(b"\x00\x00\x00")
    with pytest.raises(InputError, match="mono"):
        segmenter.push(np.zeros((10, 2), np.float32))
    with pytest.raises(InputError) as caught:
        segmenter.push(np.full(10, np.nan, np.float32))
    assert caught.value.code == "bad_audio_values"
    with pytest.raises(InputError, match="16000 Hz"):
        segmenter.segment(Audio(np.zeros(800, np.float32), 8000))


def test_vad_is_fast(three_sentences: np.ndarray) -> None:
    vad = SileroVAD()
    vad.load()
    windows = three_sentences[: three_sentences.size // 512 * 512].reshape(-1, 512)
    started = time.perf_counter()
    for window in windows:
        vad(window)
    rtf = (time.perf_counter() - started) / (windows.size / 16000)
    print(f"Silero VAD real-time factor: {rtf:.4f}")
    assert rtf < 0.1
