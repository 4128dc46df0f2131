"""Audio I/O: decoding, validation, resampling and the wire encoders."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from attune.errors import InputError
from attune.types import Audio
from modalities.audio import (
    from_array,
    from_pcm16,
    load_audio,
    resample,
    to_ogg_opus,
    to_pcm16,
    to_wav,
)


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(audio: Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples * np.hanning(audio.samples.size)))
    return float(np.argmax(spectrum) * audio.sample_rate / audio.samples.size)


def level(audio: Audio) -> float:
    """RMS-based amplitude of a sine, away from the edges."""
    middle = audio.samples[audio.samples.size // 10 : -audio.samples.size // 10]
    return float(np.sqrt(2) * middle.std())


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """A 16-bit WAV of ``samples`` shaped ``(n,)`` or ``(n, channels)``."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((frames * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def encode_with_av(samples: np.ndarray, rate: int, fmt: str, codec: str) -> bytes:
    av = pytest.importorskip("av")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


# --- decoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_wav_at_any_rate_is_resampled_to_16k(rate: int) -> None:
    audio = load_audio(wav_bytes(tone(1000, 1.0, rate), rate))
    assert audio.sample_rate == 16000
    assert audio.samples.dtype == np.float32
    assert audio.duration == pytest.approx(1.0, abs=1e-3)
    assert peak_frequency(audio) == pytest.approx(1000, abs=2)
    assert level(audio) == pytest.approx(0.5, rel=0.01)


def test_stereo_is_averaged_to_mono(tmp_path: Path) -> None:
    left = tone(440, 1.0, 16000)
    path = tmp_path / "stereo.wav"
    path.write_bytes(wav_bytes(np.stack([left, np.zeros_like(left)], axis=1), 16000))
    audio = load_audio(path)
    assert level(audio) == pytest.approx(0.25, rel=0.01)


@pytest.mark.parametrize(("fmt", "codec"), [("flac", "flac"), ("mp3", "libmp3lame")])
def test_compressed_formats_decode(fmt: str, codec: str) -> None:
    data = encode_with_av(tone(440, 1.0, 44100), 44100, fmt, codec)
    audio = load_audio(data)
    assert audio.duration == pytest.approx(1.0, abs=0.06)
    assert peak_frequency(audio) == pytest.approx(440, abs=2)


def test_clipped_audio_is_accepted() -> None:
    samples = np.clip(tone(300, 1.0, 16000, amplitude=2.0), -1.0, 1.0)
    audio = load_audio(wav_bytes(samples, 16000))
    assert np.abs(audio.samples).max() <= 1.0
    loud = from_array(tone(300, 1.0, 16000, amplitude=3.0), 16000)
    assert np.abs(loud.samples).max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("source", "code"),
    [
        (b"", "empty_audio"),
        (b"RIFF\x00\x00garbage" * 50, "bad_audio"),
        (bytes(range(256)) * 40, "bad_audio"),
    ],
)
def test_unusable_bytes(source: bytes, code: str) -> None:
    with pytest.raises(InputError) as caught:
        load_audio(source)
    assert caught.value.code == code


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(InputError) as caught:
        load_audio(tmp_path / "empty.wav")
    assert caught.value.code == "empty_audio"


def test_too_long_names_the_limit() -> None:
    data = wav_bytes(tone(440, 3.0, 16000), 16000)
    with pytest.raises(InputError, match="limit is 2 s") as caught:
        load_audio(data, max_seconds=2)
    assert caught.value.code == "audio_too_long"
    assert load_audio(data, max_seconds=3.5).duration == pytest.approx(3.0)
    with pytest.raises(InputError, match="limit is 2 s"):
        from_array(tone(440, 3.0, 16000), 16000, max_seconds=2)


def test_nan_and_inf_are_refused() -> None:
    samples = tone(440, 0.5, 16000)
    samples[100] = np.nan
    with pytest.raises(InputError) as caught:
        from_array(samples, 16000)
    assert caught.value.code == "bad_audio_values"
    samples[100] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        from_array(samples, 16000, target_rate=8000)


# --- PCM and arrays ---------------------------------------------------------------------------


def test_pcm16_validation() -> None:
    with pytest.raises(InputError, match="whole number"):
        from_pcm16(b"\x00\x01\x02", 16000)
    with pytest.raises(InputError, match="whole number"):
        from_pcm16(b"\x00\x01" * 3, 16000, channels=2)
    for rate in (4000, 400000):
        with pytest.raises(InputError, match="outside"):
            from_pcm16(b"\x00\x00" * 10, rate)
    with pytest.raises(InputError) as caught:
        from_pcm16(b"", 16000)
    assert caught.value.code == "empty_audio"


def test_pcm16_stereo_at_48k() -> None:
    mono = tone(500, 1.0, 48000)
    interleaved = np.stack([mono, mono], axis=1)
    audio = from_pcm16((interleaved * 32767).astype("<i2").tobytes(), 48000, channels=2)
    assert audio.sample_rate == 16000
    assert peak_frequency(audio) == pytest.approx(500, abs=2)
    assert level(audio) == pytest.approx(0.5, rel=0.01)


def test_arrays_int16_and_channels_last() -> None:
    int16 = (tone(700, 0.5, 16000) * 32767).astype(np.int16)
    assert level(from_array(int16, 16000)) == pytest.approx(0.5, rel=0.01)
    two = from_array(np.stack([tone(700, 0.5, 8000)] * 2, axis=1), 8000)
    assert two.sample_rate == 16000 and two.duration == pytest.approx(0.5)
    with pytest.raises(InputError, match="dimensions"):
        from_array(np.zeros((2, 2, 2), np.float32), 16000)
    with pytest.raises(InputError, match="sample type"):
        from_array(np.zeros(100, np.int64), 16000)


def test_resampling_keeps_frequency_and_rejects_aliases() -> None:
    source = Audio(tone(3000, 1.0, 44100) + tone(12000, 1.0, 44100), 44100)
    audio = resample(source, 16000)
    assert peak_frequency(audio) == pytest.approx(3000, abs=2)
    spectrum = np.abs(np.fft.rfft(audio.samples))
    alias = spectrum[int(3900 * audio.duration) : int(4100 * audio.duration)].max()
    assert alias < spectrum.max() * 1e-2  # 12 kHz would alias to 4 kHz
    assert resample(audio, 16000) is audio


# --- encoders ---------------------------------------------------------------------------------


def test_pcm16_and_wav_round_trip() -> None:
    audio = Audio(tone(440, 1.0, 16000), 16000)
    back = from_pcm16(to_pcm16(audio), 16000)
    assert np.abs(back.samples - audio.samples).max() < 1e-4
    wav = load_audio(to_wav(audio))
    assert np.abs(wav.samples - audio.samples).max() < 1e-4
    assert len(to_pcm16(audio)) == 2 * audio.samples.size


def test_ogg_opus_round_trip() -> None:
    pytest.importorskip("av")
    audio = Audio(tone(440, 1.5, 24000), 24000)
    data = to_ogg_opus(audio)
    assert data[:4] == b"OggS" and b"OpusHead" in data[:100]
    back = load_audio(data, target_rate=24000)
    assert back.duration == pytest.approx(1.5, abs=0.03)
    assert peak_frequency(back) == pytest.approx(440, abs=2)
    assert level(back) == pytest.approx(0.5, rel=0.05)
