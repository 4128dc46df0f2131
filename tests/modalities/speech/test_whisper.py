"""Whisper tiny.en (bundled) on synthesised speech, silence and bad configurations."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest

from attune.errors import ModelNotFoundError
from attune.settings import AttuneSettings
from attune.types import Audio
from modalities.speech import whisper
from modalities.speech.segmenter import SpeechSegmenter
from modalities.speech.whisper import FasterWhisperASR, join_split_model, resolve_model_dir

from .conftest import SENTENCES, padded, silence

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)

jiwer = pytest.importorskip("jiwer")
pytest.importorskip("faster_whisper")


@pytest.fixture(scope="module")
def asr() -> FasterWhisperASR:
    recognizer = FasterWhisperASR.from_settings(AttuneSettings(device="cpu"))
    recognizer.load()
    return recognizer


def normalise(text: str) -> str:
    return " ".join(jiwer.RemovePunctuation()(text.lower()).replace("-", " ").split())


def corpus_wer(asr: FasterWhisperASR, audios: list[Audio]) -> tuple[float, float]:
    """WER over :data:`SENTENCES` and the real-time factor of the recogniser."""
    hypotheses, elapsed, seconds = [], 0.0, 0.0
    for audio in audios:
        utterance = padded(audio)
        started = time.perf_counter()
        hypotheses.append(normalise(asr.transcribe(utterance).text))
        elapsed += time.perf_counter() - started
        seconds += utterance.duration
    return jiwer.wer([normalise(s) for s in SENTENCES], hypotheses), elapsed / seconds


def test_hibari_speech_wer(asr: FasterWhisperASR, hibari_sentences: list[Audio]) -> None:
    wer, rtf = corpus_wer(asr, hibari_sentences)
    print(f"hibari: WER {wer:.3f}, RTF {rtf:.3f}")
    assert wer <= 0.10


def test_espeak_speech_wer(asr: FasterWhisperASR, espeak_sentences: list[Audio]) -> None:
    wer, rtf = corpus_wer(asr, espeak_sentences)
    print(f"espeak-ng: WER {wer:.3f}, RTF {rtf:.3f}")
    assert wer <= 0.10


def test_transcript_shape(asr: FasterWhisperASR, hibari_sentences: list[Audio]) -> None:
    audio = padded(hibari_sentences[0])
    transcript = asr.transcribe(audio)
    assert transcript.backend == "faster-whisper" and transcript.language == "en"
    assert transcript.duration == pytest.approx(audio.duration)
    assert 0.3 < transcript.confidence <= 1.0
    words = transcript.words
    assert len(words) == len(SENTENCES[0].split())
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert all(w.end <= audio.duration + 0.1 and w.probability is not None for w in words)
    segment = transcript.segments[0]
    assert 0.0 <= segment.no_speech_prob < 0.5


def test_other_rates_are_resampled(asr: FasterWhisperASR, hibari_voice) -> None:  # type: ignore[no-untyped-def]
    raw = Audio(hibari_voice(SENTENCES[1], seed=0), 24000)
    assert normalise(asr.transcribe(raw).text) == normalise(SENTENCES[1])


def test_silence_gives_no_text(asr: FasterWhisperASR) -> None:
    assert asr.transcribe(Audio(silence(3.0), 16000)).text == ""
    rng = np.random.default_rng(0)
    hiss = (rng.standard_normal(48000) * 1e-3).astype(np.float32)  # -60 dBFS
    assert asr.transcribe(Audio(hiss, 16000)).text == ""


def test_segmented_stream_transcribes_each_sentence(
    asr: FasterWhisperASR, hibari_sentences: list[Audio]
) -> None:
    """Segmenter then ASR, as the live path runs them; noise between turns is never decoded."""
    rng = np.random.default_rng(1)
    parts = [(rng.standard_normal(16000) * 0.02).astype(np.float32)]
    for audio in hibari_sentences[:2]:
        parts += [audio.samples, (rng.standard_normal(16000) * 0.02).astype(np.float32)]
    found = SpeechSegmenter().segment(Audio(np.concatenate(parts), 16000))
    texts = [normalise(asr.transcribe(u.audio).text) for u in found]
    assert texts == [normalise(s) for s in SENTENCES[:2]]


def test_long_recordings_use_vad(hibari_sentences: list[Audio]) -> None:
    asr = FasterWhisperASR(max_utterance_seconds=4.0)
    parts = []
    for audio in hibari_sentences[:3]:
        parts += [audio.samples, silence(1.5)]
    transcript = asr.transcribe(Audio(np.concatenate(parts), 16000))
    assert normalise(transcript.text) == normalise(" ".join(SENTENCES[:3]))
    assert transcript.segments[-1].start > 6.0


def test_device_and_compute_type() -> None:
    cpu = FasterWhisperASR.from_settings(AttuneSettings(device="cpu"))
    assert (cpu.device, cpu.compute_type) == ("cpu", "int8")
    cuda = FasterWhisperASR.from_settings(AttuneSettings(device="cuda"))
    assert (cuda.device, cuda.compute_type) == ("cuda", "float16")
    chosen = AttuneSettings(device="cpu", speech={"compute_type": "float32", "threads": 2})
    asr = FasterWhisperASR.from_settings(chosen)
    assert (asr.compute_type, asr.threads) == ("float32", 2)


def test_model_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (resolve_model_dir(None, tmp_path) / "model.bin").is_file()
    assert resolve_model_dir("tiny.en", tmp_path) == resolve_model_dir(None, tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"model\.bin"):
        resolve_model_dir(tmp_path / "missing", tmp_path)
    monkeypatch.setattr(whisper, "BASE_PARTS", ("no_such_part_1", "no_such_part_2"))
    with pytest.raises(ModelNotFoundError, match="pip install no-such-part-1 no-such-part-2"):
        resolve_model_dir("base", tmp_path)
    with pytest.raises(ModelNotFoundError):
        FasterWhisperASR(tmp_path / "missing").load()


def test_split_model_is_joined_once(tmp_path: Path) -> None:
    one, two = tmp_path / "part1" / "data", tmp_path / "part2" / "data"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    (one / "config.json").write_text("{}")
    (one / "vocabulary.txt").write_text("a\nb\n")
    (one / "model.bin.part1").write_bytes(b"A" * 1000)
    (two / "model.bin.part2").write_bytes(b"B" * 500)
    cache = tmp_path / "cache"
    joined = join_split_model([one.parent, two.parent], cache)
    assert (joined / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 500
    assert (joined / "vocabulary.txt").read_text() == "a\nb\n"
    assert not list(joined.glob("*.tmp"))
    stamp = (joined / "model.bin").stat().st_mtime_ns
    assert join_split_model([one.parent, two.parent], cache) == joined
    assert (joined / "model.bin").stat().st_mtime_ns == stamp
    (two / "model.bin.part2").write_bytes(b"C" * 600)  # a new version of the wheel
    join_split_model([one.parent, two.parent], cache)
    assert (joined / "model.bin").read_bytes() == b"A" * 1000 + b"C" * 600
    with pytest.raises(ModelNotFoundError, match="incomplete"):
        join_split_model([one.parent, tmp_path / "empty"], tmp_path / "other")
