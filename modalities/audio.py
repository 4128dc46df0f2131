"""Audio input and output shared by every part of Attune: decode, validate, resample, encode.

Everything that enters the project as sound becomes an :class:`~attune.types.Audio` here:
mono float32 samples in [-1, 1] at a known rate (16 kHz unless asked otherwise). Unusable input
raises :class:`~attune.errors.InputError` with one of these codes (messages name sizes and
formats, never content):

``empty_audio``       no bytes or no samples
``bad_audio``         not decodable, no audio stream, a bad PCM layout or sample rate
``audio_too_long``    longer than ``max_seconds`` (the message says the limit)
``bad_audio_values``  NaN or infinite samples

Decoding containers (WAV, FLAC, Ogg Vorbis/Opus, MP3, WebM, ...) and encoding Ogg Opus use PyAV,
imported only when needed. PCM16, WAV output and resampling are numpy-only, so raw microphone
audio works without PyAV. Resampling is polyphase filtering with a Kaiser-windowed sinc low-pass
(the design of ``scipy.signal.resample_poly``). Measured for 44.1 -> 16 kHz: flat to 0.01 dB up
to 75 % of the new Nyquist frequency, -0.25 dB at 87 %, and components from 1.25 times the new
Nyquist frequency upwards are attenuated by 57 dB or more. Channels are averaged to mono.
"""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path
from typing import Any

import numpy as np

from attune.errors import InputError
from attune.types import Audio

#: The rate every perception model here expects.
DEFAULT_RATE = 16000
MIN_RATE = 8000
MAX_RATE = 192000
OPUS_RATE = 48000
_OPUS_FRAME = 960  # 20 ms at 48 kHz
_KAISER_BETA = 5.0
_BLOCK = 1 << 15


def _check_rate(sample_rate: int) -> None:
    if not MIN_RATE <= int(sample_rate) <= MAX_RATE:
        raise InputError(
            "bad_audio", f"sample rate {sample_rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz"
        )


def _too_long(seconds: float, max_seconds: float, *, at_least: bool = False) -> InputError:
    length = f"at least {seconds:.1f} s" if at_least else f"{seconds:.1f} s"
    return InputError("audio_too_long", f"audio is {length} long; the limit is {max_seconds:g} s")


def _finish(
    samples: np.ndarray, sample_rate: int, target_rate: int, max_seconds: float | None
) -> Audio:
    """Validate mono float samples, resample them to ``target_rate`` and wrap them."""
    if samples.size == 0:
        raise InputError("empty_audio", "the audio holds no samples")
    if not np.all(np.isfinite(samples)):
        raise InputError("bad_audio_values", "the audio holds NaN or infinite sample values")
    seconds = samples.size / sample_rate
    if max_seconds is not None and seconds > max_seconds:
        raise _too_long(seconds, max_seconds)
    audio = Audio(np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False), int(sample_rate))
    return resample(audio, target_rate)


# --- building Audio ---------------------------------------------------------------------------


def from_array(
    samples: np.ndarray,
    sample_rate: int,
    *,
    target_rate: int = DEFAULT_RATE,
    max_seconds: float | None = None,
) -> Audio:
    """Audio from a numpy array: float (in [-1, 1]; louder is clipped) or int16, shape ``(n,)``
    or ``(n, channels)``. Channels are averaged; the result is resampled to ``target_rate``."""
    _check_rate(sample_rate)
    array = np.asarray(samples)
    if array.ndim not in (1, 2):
        raise InputError("bad_audio", f"expected a 1-D or 2-D array, got {array.ndim} dimensions")
    if array.dtype == np.int16:
        array = array.astype(np.float32) / 32768.0
    elif np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32, copy=False)
    else:
        raise InputError("bad_audio", f"unsupported sample type {array.dtype}")
    if array.ndim == 2:
        array = array.mean(axis=1, dtype=np.float32) if array.shape[0] else array.reshape(0)
    return _finish(array, int(sample_rate), target_rate, max_seconds)


def from_pcm16(
    data: bytes,
    sample_rate: int,
    channels: int = 1,
    *,
    target_rate: int = DEFAULT_RATE,
    max_seconds: float | None = None,
) -> Audio:
    """Audio from raw little-endian signed 16-bit PCM (interleaved when ``channels`` > 1)."""
    _check_rate(sample_rate)
    if not 1 <= channels <= 8:
        raise InputError("bad_audio", f"{channels} channels is not supported (1..8)")
    if not data:
        raise InputError("empty_audio", "the audio holds no bytes")
    if len(data) % (2 * channels):
        raise InputError(
            "bad_audio",
            f"{len(data)} bytes is not a whole number of {channels}-channel 16-bit samples",
        )
    pcm = np.frombuffer(data, dtype="<i2").astype(np.int16).reshape(-1, channels)
    return from_array(pcm, sample_rate, target_rate=target_rate, max_seconds=max_seconds)


def load_audio(
    source: bytes | bytearray | memoryview | str | Path,
    *,
    target_rate: int = DEFAULT_RATE,
    max_seconds: float | None = None,
) -> Audio:
    """Decode an audio file (a path, or its bytes) of any format FFmpeg reads, downmix it to mono
    and resample it to ``target_rate``.

    Decoding stops as soon as the audio passes ``max_seconds``, so a huge or hostile file costs
    no more than the limit.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise InputError("bad_audio", "the audio file does not exist")
        if path.stat().st_size == 0:
            raise InputError("empty_audio", "the audio file is empty")
        opened: Any = str(path)
    else:
        data = bytes(source)
        if not data:
            raise InputError("empty_audio", "the audio holds no bytes")
        opened = io.BytesIO(data)
    samples, rate = _decode(opened, max_seconds)
    return _finish(samples, rate, target_rate, max_seconds)


def _decode(opened: Any, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Decode the first audio stream to mono float32 at its own rate (channels averaged)."""
    import av

    try:
        container = av.open(opened, mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError("bad_audio", "the data is not a readable audio file") from exc
    with container:
        if not container.streams.audio:
            raise InputError("bad_audio", "the file holds no audio stream")
        stream = container.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        if rate <= 0:
            raise InputError("bad_audio", "the audio stream has no sample rate")
        _check_rate(rate)
        if max_seconds is not None and container.duration is not None:
            seconds = container.duration / 1_000_000  # av.time_base
            if seconds > max_seconds + 1.0:
                raise _too_long(seconds, max_seconds)
        resampler = av.AudioResampler(format="fltp")  # keeps the layout and the rate
        limit = None if max_seconds is None else int(max_seconds * rate) + 1
        parts: list[np.ndarray] = []
        total = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    part = out.to_ndarray().mean(axis=0, dtype=np.float32)
                    parts.append(part)
                    total += part.size
                if limit is not None and total > limit:
                    raise _too_long(total / rate, max_seconds or 0.0, at_least=True)
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().mean(axis=0, dtype=np.float32))
        except av.FFmpegError as exc:
            if not parts:
                raise InputError("bad_audio", "the audio stream could not be decoded") from exc
            # A truncated file: keep what decoded.
    if not parts:
        raise InputError("empty_audio", "the audio stream holds no samples")
    return np.concatenate(parts).astype(np.float32, copy=False), rate


# --- resampling -------------------------------------------------------------------------------


def _lowpass(up: int, down: int) -> tuple[np.ndarray, int]:
    """The Kaiser-windowed sinc anti-aliasing filter for an ``up/down`` rate change, scaled by
    ``up`` (zero stuffing divides the level by ``up``), and its half length."""
    max_rate = max(up, down)
    half = 10 * max_rate
    taps = np.arange(-half, half + 1, dtype=np.float64)
    cutoff = 1.0 / max_rate
    h = cutoff * np.sinc(cutoff * taps) * np.kaiser(taps.size, _KAISER_BETA)
    return h * (up / h.sum()), half


def _resample_poly(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """``x`` resampled by ``up/down``: output ``m`` is the filtered zero-stuffed signal at
    ``m * down``, computed from the polyphase branch of ``m * down + half`` modulo ``up``."""
    h, half = _lowpass(up, down)
    width = -(-h.size // up)
    phases = np.zeros((up, width), dtype=np.float64)
    for p in range(up):
        branch = h[p::up]
        phases[p, : branch.size] = branch
    phases = phases.astype(np.float32)
    n_out = -(-x.size * up // down)
    padded = np.concatenate(
        [np.zeros(width, np.float32), x.astype(np.float32), np.zeros(width + half, np.float32)]
    )
    out = np.empty(n_out, dtype=np.float32)
    lags = np.arange(width)
    for first in range(0, n_out, _BLOCK):
        m = np.arange(first, min(first + _BLOCK, n_out), dtype=np.int64)
        pos = m * down + half
        newest = pos // up  # the newest input sample that the filter reaches
        window = padded[(newest + width)[:, None] - lags[None, :]]
        out[first : first + m.size] = np.einsum("ij,ij->i", window, phases[pos % up])
    return out


def resample(audio: Audio, rate: int) -> Audio:
    """``audio`` at ``rate`` Hz (the same object when the rate already matches)."""
    _check_rate(rate)
    if audio.sample_rate == rate:
        return audio
    g = math.gcd(int(audio.sample_rate), int(rate))
    out = _resample_poly(audio.samples, int(rate) // g, int(audio.sample_rate) // g)
    return Audio(np.clip(out, -1.0, 1.0), int(rate))


# --- encoding for the wire --------------------------------------------------------------------


def to_pcm16(audio: Audio) -> bytes:
    """Raw little-endian 16-bit PCM at the audio's own rate."""
    scaled = np.clip(audio.samples, -1.0, 1.0) * 32767.0
    return np.round(scaled).astype("<i2").tobytes()


def to_wav(audio: Audio) -> bytes:
    """A mono 16-bit PCM WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(audio.sample_rate)
        out.writeframes(to_pcm16(audio))
    return buffer.getvalue()


def to_ogg_opus(audio: Audio, *, bitrate: int = 32000) -> bytes:
    """An Ogg Opus file (mono, 48 kHz as Opus requires; ``bitrate`` in bit/s)."""
    import av

    samples = resample(audio, OPUS_RATE).samples
    pad = (-samples.size) % _OPUS_FRAME
    samples = np.concatenate([samples, np.zeros(pad, np.float32)])
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=OPUS_RATE)
        stream.layout = "mono"
        stream.bit_rate = bitrate
        for i, start in enumerate(range(0, samples.size, _OPUS_FRAME)):
            chunk = samples[None, start : start + _OPUS_FRAME]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = OPUS_RATE
            frame.pts = i * _OPUS_FRAME
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()
