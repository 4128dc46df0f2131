"""The avatar's cue timeline: what the face does, frame by frame, as plain JSON-ready data.

:func:`build_cues` turns one piece of reply audio (a sentence chunk or the whole reply) into an
:class:`AvatarCues` at a fixed frame rate; any renderer (the portrait warp, the cartoon, or the
kiosk's browser) draws the same timeline.

**Frame grid.** Frame ``k`` of the reply covers ``[k / fps, (k + 1) / fps)`` seconds. A chunk at
``offset`` seconds owns frames ``round(offset * fps)`` up to ``round(end * fps)``, so cues built
per :class:`~modalities.voice.base.SpeechChunk` line up with its audio and
:func:`concat_cues` of consecutive chunks equals one timeline for the whole reply.

**Lip sync.** With phoneme timings each phoneme maps to a viseme
(:mod:`modalities.avatar.visemes`), a target ``(open, width, round)``:

=====  =====  =====  =====  ====================================
name   open   width  round  phonemes
=====  =====  =====  =====  ====================================
rest   0.00    0.0    0.0   silence, punctuation
PP     0.00   -0.1    0.1   p b m (lips closed)
FF     0.10    0.1    0.0   f v
TH     0.20    0.1    0.0   θ ð
DD     0.22    0.2    0.0   t d n l ɾ
SS     0.12    0.45   0.0   s z
KK     0.35    0.1    0.0   k g ŋ h
CH     0.22   -0.3    0.6   ʃ ʒ ʧ ʤ
RR     0.25   -0.3    0.5   ɹ ɚ
AA     0.90    0.15   0.0   ɑ æ ɐ ʌ (and the first half of aɪ, aʊ)
EH     0.55    0.35   0.0   ɛ ə ɜ (and eɪ)
IH     0.30    0.75   0.0   i ɪ j
OH     0.65   -0.45   0.7   ɔ o (and oʊ, ɔɪ)
OU     0.28   -0.7    1.0   u ʊ w
=====  =====  =====  =====  ====================================

The targets are laid out on a 100 Hz grid (a stress mark takes the viseme of the phoneme after
it; a diphthong is two visemes, half its duration each) and smoothed with a Gaussian of
``COARTICULATION_S`` (35 ms), which blends each shape into its neighbours as speech does. The
jaw follows the voice too: with ``v`` the smoothed viseme openness and ``L`` the loudness,
``open = 0.6 * v * (0.4 + 0.6 * L) + 0.4 * L * min(1, v / 0.15)``, so louder syllables open
wider, the mouth never gapes in silence even where timings are off, and closures (p, b, m:
``v`` = 0) stay closed however loud. Without timings the mouth follows the audio alone:
openness is the loudness envelope (per-frame RMS in dB, mapped from 35 dB below the chunk's
95th-percentile level to that level), width rises with the spectral centroid (sibilants and
"ee" are bright) and rounding with a dark, loud spectrum ("oo", "oh").

**Expression.** The supporter's face answers the user's affect, like the voice does
(:mod:`modalities.voice.style`, whose ``RESPONSE_ROWS`` pick the row here too). Each row sets
``smile`` (mouth corners, -1 down .. 1 up), ``brow_raise`` (-1 .. 1), ``brow_inner`` (inner
brows up and together, concern, 0 .. 1), ``eye_open`` (-1 soft/narrow .. 1 wide) and
``head_tilt`` (roll, degrees):

=========  =====  ==========  ==========  ========  ====  ========================================
row        smile  brow_raise  brow_inner  eye_open  tilt  chosen for
=========  =====  ==========  ==========  ========  ====  ========================================
neutral     0.15     0.0         0.0        0.0       0   attentive: no or neutral affect
gentle     -0.15     0.1         0.9       -0.1       5   warm concern for the user's sadness
calm        0.2      0.0         0.15      -0.2       2   calm, soft eyes for fear/anxiety
steady      0.0     -0.1         0.1        0.0       0   level and unthreatening for anger/disgust
bright      0.35     0.5         0.0        0.25      0   engaged, for surprise
joy         0.85     0.35        0.0       -0.15      2   a shared smile for joy
warm        0.45     0.15        0.2       -0.1       4   Affirmation blends toward it
sad        -0.6      0.0         1.0       -0.3       6   ``render --emotion sad`` only
excited     1.0      0.7         0.0        0.3       0   ``render --emotion excited`` only
anxious    -0.2      0.6         0.8        0.4       0   ``render --emotion anxious`` only
=========  =====  ==========  ==========  ========  ====  ========================================

:func:`expression_for` mixes the rows by the affect's probabilities (as ``style_for`` does);
*Affirmation and Reassurance* moves the mix halfway toward ``warm``; *Information* and
*Providing Suggestions* halve it (neutral and clear); a *Question* raises the brows by 0.15
(interest). ``expressiveness`` scales everything (0 = neutral face).

**Life.** Blinks come every 2-6 s (a seeded random schedule; 60 ms closing, 30 ms closed,
120 ms opening); the head drifts by a degree or two (sums of slow sinusoids, with a small nod
following the speech's loudness) and the gaze rests on the viewer with short glances away.
All three are functions of time since the reply began and of ``seed``, so they run on smoothly
across sentence chunks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from attune.errors import InputError
from attune.taxonomy import Strategy
from attune.types import Audio, FusedAffect, TextEmotion, WordTiming
from modalities.avatar.visemes import shape, visemes_of
from modalities.voice.style import CLEAR_STRATEGIES, RESPONSE_ROWS, WARM_STRATEGIES

if TYPE_CHECKING:
    from modalities.voice.base import PhonemeTiming

#: Width (standard deviation) of the coarticulation smoothing, seconds.
COARTICULATION_S = 0.035
#: The level range of the loudness envelope, dB below the chunk's loud level.
LOUDNESS_RANGE_DB = 35.0
#: A chunk whose loud level is below this (dBFS) is silence.
SILENCE_DBFS = -55.0
_GRID_HZ = 100


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Expression(_Frozen):
    """The supporter's facial expression (see the table in the module docstring)."""

    name: str = "neutral"
    smile: float = Field(default=0.0, ge=-1.0, le=1.0)
    brow_raise: float = Field(default=0.0, ge=-1.0, le=1.0)
    brow_inner: float = Field(default=0.0, ge=0.0, le=1.0)
    eye_open: float = Field(default=0.0, ge=-1.0, le=1.0)
    head_tilt: float = Field(default=0.0, ge=-15.0, le=15.0)


_EXPRESSION_FIELDS = ("smile", "brow_raise", "brow_inner", "eye_open", "head_tilt")


def _row(name: str, *values: float) -> Expression:
    return Expression(name=name, **dict(zip(_EXPRESSION_FIELDS, values, strict=True)))


#: Named expressions (the table in the module docstring), keyed like the voice presets.
EXPRESSIONS: dict[str, Expression] = {
    e.name: e
    for e in (
        _row("neutral", 0.15, 0.0, 0.0, 0.0, 0.0),
        _row("gentle", -0.15, 0.1, 0.9, -0.1, 5.0),
        _row("calm", 0.2, 0.0, 0.15, -0.2, 2.0),
        _row("steady", 0.0, -0.1, 0.1, 0.0, 0.0),
        _row("bright", 0.35, 0.5, 0.0, 0.25, 0.0),
        _row("joy", 0.85, 0.35, 0.0, -0.15, 2.0),
        _row("warm", 0.45, 0.15, 0.2, -0.1, 4.0),
        _row("sad", -0.6, 0.0, 1.0, -0.3, 6.0),
        _row("excited", 1.0, 0.7, 0.0, 0.3, 0.0),
        _row("anxious", -0.2, 0.6, 0.8, 0.4, 0.0),
    )
}


def _vector(e: Expression) -> np.ndarray:
    return np.array([getattr(e, f) for f in _EXPRESSION_FIELDS], dtype=np.float64)


def _from_vector(name: str, v: np.ndarray) -> Expression:
    lows, highs = (-1.0, -1.0, 0.0, -1.0, -15.0), (1.0, 1.0, 1.0, 1.0, 15.0)
    values = {
        f: round(float(min(hi, max(lo, x))), 4)
        for f, x, lo, hi in zip(_EXPRESSION_FIELDS, v, lows, highs, strict=True)
    }
    return Expression(name=name, **values)


def scaled_expression(expression: Expression, expressiveness: float) -> Expression:
    """``expression`` with every parameter multiplied by ``expressiveness`` (clamped)."""
    return _from_vector(expression.name, _vector(expression) * expressiveness)


def expression_for(
    strategy: Strategy | None,
    affect: FusedAffect | TextEmotion | None,
    expressiveness: float = 1.0,
) -> Expression:
    """The supporter's expression for a reply, from the strategy and the user's affect.

    See the module docstring for the table and how rows are mixed and adjusted.
    """
    weights: dict[str, float] = {}
    if affect is not None:
        scores = affect.scores if isinstance(affect, FusedAffect) else affect.ekman
        known = {k: max(0.0, float(v)) for k, v in scores.items() if k in RESPONSE_ROWS}
        total = sum(known.values())
        weights = {k: v / total for k, v in known.items()} if total > 0 else {}
    mix = np.zeros(len(_EXPRESSION_FIELDS))
    for label, weight in weights.items():
        mix += weight * _vector(EXPRESSIONS[RESPONSE_ROWS[label]])
    if not weights:
        mix = _vector(EXPRESSIONS["neutral"])
    name = RESPONSE_ROWS[max(weights, key=lambda k: weights[k])] if weights else "neutral"
    if strategy in WARM_STRATEGIES:
        mix = (mix + _vector(EXPRESSIONS["warm"])) / 2
        name += "+warm"
    elif strategy in CLEAR_STRATEGIES:
        mix = mix / 2
        name += "+clear"
    elif strategy is Strategy.QUESTION:
        mix[1] += 0.15
        name += "+question"
    return _from_vector(name, mix * expressiveness)


class FrameCue(NamedTuple):
    """Every cue of one frame (see :class:`AvatarCues` for the meaning and ranges)."""

    mouth_open: float
    mouth_width: float
    mouth_round: float
    smile: float
    brow_raise: float
    brow_inner: float
    eye_open: float
    blink: float
    head_yaw: float
    head_pitch: float
    head_roll: float
    gaze_x: float
    gaze_y: float


COLUMNS: tuple[str, ...] = FrameCue._fields


class AvatarCues(_Frozen):
    """A cue timeline: one value per frame in each column (columnar, compact JSON).

    ``fps`` frames per second; frame ``i`` starts at ``offset + i / fps`` seconds from the start
    of the reply (``offset`` is on the frame grid). Mouth: ``mouth_open`` [0, 1],
    ``mouth_width`` [-1, 1] (+ spread), ``mouth_round`` [0, 1]. Expression: ``smile`` [-1, 1],
    ``brow_raise`` [-1, 1], ``brow_inner`` [0, 1], ``eye_open`` [-1, 1]; ``blink`` [0, 1]
    (1 = eyes shut). Head: ``head_yaw`` / ``head_pitch`` / ``head_roll`` in degrees (yaw +
    towards the viewer's right, pitch + down, roll + clockwise). Gaze: ``gaze_x`` / ``gaze_y``
    in [-1, 1] (+ right, + down; 0 = at the viewer). ``expression`` names the table row.
    """

    fps: int = Field(ge=1, le=120)
    offset: float = Field(ge=0.0)
    frames: int = Field(ge=0)
    expression: str = "neutral"
    mouth_open: list[float]
    mouth_width: list[float]
    mouth_round: list[float]
    smile: list[float]
    brow_raise: list[float]
    brow_inner: list[float]
    eye_open: list[float]
    blink: list[float]
    head_yaw: list[float]
    head_pitch: list[float]
    head_roll: list[float]
    gaze_x: list[float]
    gaze_y: list[float]

    @model_validator(mode="after")
    def _same_lengths(self) -> AvatarCues:
        for column in COLUMNS:
            if len(getattr(self, column)) != self.frames:
                raise ValueError(f"column {column} has {len(getattr(self, column))} values")
        return self

    @property
    def start_frame(self) -> int:
        """The index of the first frame in the whole reply's frame grid."""
        return round(self.offset * self.fps)

    @property
    def duration(self) -> float:
        """Seconds covered by the frames."""
        return self.frames / self.fps

    def frame(self, index: int) -> FrameCue:
        """The cues of frame ``index`` (``IndexError`` outside ``0 .. frames - 1``)."""
        if not 0 <= index < self.frames:
            raise IndexError(f"frame {index} of {self.frames}")
        return FrameCue(*(getattr(self, c)[index] for c in COLUMNS))

    def column(self, name: str) -> np.ndarray:
        """One column as a float32 array."""
        return np.asarray(getattr(self, name), dtype=np.float32)


# --- audio features ---------------------------------------------------------------------------


def _frame_windows(audio: Audio, times: np.ndarray, fps: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample ranges ``[lo, hi)`` of the audio around each frame (1.5 frames wide)."""
    rate, n = audio.sample_rate, len(audio.samples)
    lo = np.clip(np.round((times - 0.25 / fps) * rate), 0, n).astype(np.int64)
    hi = np.clip(np.round((times + 1.25 / fps) * rate), 0, n).astype(np.int64)
    return lo, hi


def loudness_envelope(audio: Audio, times: np.ndarray, fps: int) -> np.ndarray:
    """Loudness in [0, 1] at each frame start time (seconds into ``audio``): frame RMS in dB,
    mapped linearly from ``LOUDNESS_RANGE_DB`` below the 95th-percentile level to that level;
    all zeros when the audio is silence."""
    if not len(times):
        return np.zeros(0)
    x = audio.samples.astype(np.float64)
    lo, hi = _frame_windows(audio, times, fps)
    csum = np.concatenate([[0.0], np.cumsum(x * x)])
    rms = np.sqrt((csum[hi] - csum[lo]) / np.maximum(hi - lo, 1))
    db = 20 * np.log10(rms + 1e-9)
    top = float(np.percentile(db, 95))
    if top < SILENCE_DBFS:
        return np.zeros(len(times))
    return np.clip((db - (top - LOUDNESS_RANGE_DB)) / LOUDNESS_RANGE_DB, 0.0, 1.0)


def _spectral_centroid(audio: Audio, times: np.ndarray, fps: int) -> np.ndarray:
    """Spectral centroid (Hz, 100 Hz - 8 kHz) of the audio around each frame."""
    size = int(2 ** math.ceil(math.log2(max(audio.sample_rate * 1.5 / fps, 16))))
    lo, _ = _frame_windows(audio, times, fps)
    padded = np.concatenate([audio.samples.astype(np.float64), np.zeros(size)])
    idx = lo[:, None] + np.arange(size)[None, :]
    spectrum = np.abs(np.fft.rfft(padded[idx] * np.hanning(size), axis=1))
    freqs = np.fft.rfftfreq(size, 1.0 / audio.sample_rate)
    band = (freqs >= 100) & (freqs <= 8000)
    power = spectrum[:, band]
    return (power @ freqs[band]) / np.maximum(power.sum(axis=1), 1e-12)


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a 1-D signal (``sigma`` in samples), edges held."""
    if sigma <= 0 or len(x) < 2:
        return x
    radius = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    padded = np.pad(x, radius, mode="edge")
    return np.convolve(padded, k / k.sum(), mode="valid")


# --- mouth ------------------------------------------------------------------------------------


def _viseme_tracks(phonemes: Sequence[PhonemeTiming], offset: float, duration: float) -> np.ndarray:
    """``(3, n)`` open/width/round targets on the 100 Hz grid, coarticulation-smoothed."""
    n = max(1, math.ceil(duration * _GRID_HZ) + 1)
    tracks = np.zeros((3, n))
    items = list(phonemes)
    for i, p in enumerate(items):
        names = visemes_of(p.phoneme)
        if p.phoneme.strip() in {"ˈ", "ˌ"} and i + 1 < len(items):
            names = visemes_of(items[i + 1].phoneme)[:1]  # a stress mark anticipates its vowel
        a, b = (p.start - offset) * _GRID_HZ, (p.end - offset) * _GRID_HZ
        step = (b - a) / len(names)
        for k, name in enumerate(names):
            lo = int(np.clip(round(a + k * step), 0, n))
            hi = int(np.clip(round(a + (k + 1) * step), 0, n))
            tracks[:, lo:hi] = np.array(shape(name))[:, None]
    sigma = COARTICULATION_S * _GRID_HZ
    return np.stack([_smooth(t, sigma) for t in tracks])


def _mouth(
    audio: Audio,
    times: np.ndarray,
    fps: int,
    offset: float,
    phonemes: Sequence[PhonemeTiming] | None,
    words: Sequence[WordTiming] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (open, width, round, loudness) from timings when given, else from audio."""
    loud = loudness_envelope(audio, times, fps)
    if phonemes:
        tracks = _viseme_tracks(phonemes, offset, audio.duration)
        grid = np.arange(tracks.shape[1]) / _GRID_HZ
        mid = times + 0.5 / fps
        open_, width, round_ = (np.interp(mid, grid, t) for t in tracks)
        open_ = 0.6 * open_ * (0.4 + 0.6 * loud) + 0.4 * loud * np.minimum(1.0, open_ / 0.15)
    else:
        centroid = _spectral_centroid(audio, times, fps)
        open_ = _smooth(0.85 * loud**0.8, 0.6)
        width = np.clip((centroid - 1800.0) / 1500.0, -1.0, 1.0) * 0.6 * (loud > 0.05)
        round_ = np.clip((1300.0 - centroid) / 800.0, 0.0, 1.0) * loud
        if words:  # words give no shapes, but the mouth rests between them
            speaking = np.zeros(len(times), dtype=bool)
            for w in words:
                speaking |= (times + offset >= w.start - 0.06) & (times + offset < w.end + 0.06)
            open_ = np.where(speaking, open_, open_ * 0.3)
    return open_, width, round_, loud


# --- life: blinks, head, gaze -----------------------------------------------------------------


def _blinks(t: np.ndarray, seed: int) -> np.ndarray:
    """Eye closure in [0, 1] at absolute times ``t`` from a seeded blink schedule."""
    end = float(t.max()) if len(t) else 0.0
    rng = np.random.default_rng([seed, 1])
    starts, at = [], float(rng.uniform(0.4, 2.5))
    while at <= end + 1.0:
        starts.append(at)
        at += 2.0 + float(rng.exponential(1.5))
    out = np.zeros(len(t))
    for s in starts:
        d = t - s
        closing = np.clip(d / 0.06, 0, 1)
        opening = np.clip(1 - (d - 0.09) / 0.12, 0, 1)
        out = np.maximum(out, np.where((d >= 0) & (d < 0.21), np.minimum(closing, opening), 0))
    return out


def _drift(t: np.ndarray, seed: int, amplitude: float) -> np.ndarray:
    """A slow, smooth wander of about ``amplitude`` (three seeded sinusoids, 0.07-0.4 Hz)."""
    rng = np.random.default_rng([seed, 2, int(amplitude * 1000)])
    freqs = rng.uniform(0.07, 0.4, 3)
    phases = rng.uniform(0, 2 * math.pi, 3)
    weights = np.array([0.6, 0.3, 0.2])
    return amplitude * (
        weights[:, None] * np.sin(2 * math.pi * freqs[:, None] * t + phases[:, None])
    ).sum(0)


def _gaze(t: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaze (x, y) at absolute times ``t``: fixations of 0.8-3 s, mostly at the viewer."""
    end = float(t.max()) if len(t) else 0.0
    rng = np.random.default_rng([seed, 3])
    gx, gy = np.zeros(len(t)), np.zeros(len(t))
    at = 0.0
    while at <= end:
        hold = float(rng.uniform(0.8, 3.0))
        if rng.random() < 0.35:
            x, y = rng.normal(0, 0.35), rng.normal(0.1, 0.2)
            mask = (t >= at) & (t < at + hold)
            gx[mask], gy[mask] = np.clip(x, -1, 1), np.clip(y, -1, 1)
        at += hold
    return _smooth(gx, 0.7), _smooth(gy, 0.7)


# --- building ---------------------------------------------------------------------------------


def build_cues(
    audio: Audio,
    *,
    phonemes: Sequence[PhonemeTiming] | None = None,
    words: Sequence[WordTiming] | None = None,
    expression: Expression | None = None,
    fps: int = 25,
    offset: float = 0.0,
    seed: int = 0,
) -> AvatarCues:
    """The cue timeline of ``audio``, which starts ``offset`` seconds into the reply.

    ``phonemes`` and ``words`` carry times from the start of the reply (as in a
    :class:`~modalities.voice.base.SpeechChunk`); with phonemes the lips follow visemes,
    otherwise the audio (see the module docstring). ``expression`` defaults to ``neutral``.
    Blinks, head motion and gaze depend only on the reply time and ``seed``, so chunks built
    one by one join seamlessly with :func:`concat_cues`.
    """
    if fps < 1:
        raise InputError("bad_fps", f"fps must be positive, got {fps}")
    expression = expression or EXPRESSIONS["neutral"]
    first = round(offset * fps)
    n = max(0, round((offset + audio.duration) * fps) - first)
    absolute = (first + np.arange(n)) / fps
    local = absolute - offset
    open_, width, round_, loud = _mouth(audio, local, fps, offset, phonemes, words)
    nod = _smooth(loud, 0.3 * fps) * 1.2
    gaze_x, gaze_y = _gaze(absolute, seed)
    const = np.ones(n)

    def col(x: np.ndarray) -> list[float]:
        return [round(float(v), 3) for v in x]

    return AvatarCues(
        fps=fps,
        offset=first / fps,
        frames=n,
        expression=expression.name,
        mouth_open=col(np.clip(open_, 0, 1)),
        mouth_width=col(np.clip(width, -1, 1)),
        mouth_round=col(np.clip(round_, 0, 1)),
        smile=col(const * expression.smile),
        brow_raise=col(const * expression.brow_raise),
        brow_inner=col(const * expression.brow_inner),
        eye_open=col(const * expression.eye_open),
        blink=col(_blinks(absolute, seed)),
        head_yaw=col(_drift(absolute, seed, 2.0)),
        head_pitch=col(_drift(absolute, seed, 1.2) + nod),
        head_roll=col(_drift(absolute, seed, 1.0) + expression.head_tilt),
        gaze_x=col(gaze_x),
        gaze_y=col(gaze_y),
    )


def concat_cues(parts: Sequence[AvatarCues]) -> AvatarCues:
    """Consecutive cue timelines (e.g. one per sentence chunk) as one.

    They must share ``fps`` and follow each other on the frame grid
    (``InputError("cues_not_contiguous")`` otherwise). The expression columns and head roll are
    eased across the joins (a 0.4 s moving average) so the face changes gradually between
    sentences; an empty sequence is ``InputError("no_cues")``.
    """
    if not parts:
        raise InputError("no_cues", "there are no cue timelines to join")
    fps = parts[0].fps
    for before, after in itertools.pairwise(parts):
        if after.fps != fps or after.start_frame != before.start_frame + before.frames:
            raise InputError("cues_not_contiguous", "cue timelines must follow each other")
    data: dict[str, list[float]] = {c: [v for p in parts for v in getattr(p, c)] for c in COLUMNS}
    if len(parts) > 1:
        width = max(1, round(0.4 * fps))
        kernel = np.ones(width) / width
        for c in ("smile", "brow_raise", "brow_inner", "eye_open", "head_roll"):
            x = np.asarray(data[c])
            padded = np.pad(x, (width // 2, width - 1 - width // 2), mode="edge")
            data[c] = [round(float(v), 3) for v in np.convolve(padded, kernel, mode="valid")]
    return AvatarCues(
        fps=fps,
        offset=parts[0].offset,
        frames=sum(p.frames for p in parts),
        expression=parts[-1].expression,
        **data,
    )
