"""Prosody: acoustic features of an utterance and the ``prosody`` speech-emotion backend.

Features (:func:`extract_prosody`, numpy only, audio at 16 kHz):

- Frames of 40 ms every 10 ms. A frame is *active* when its RMS level is above
  ``max(-55 dBFS, loudest frame - 35 dB)``. The *speech span* runs from the first to the last
  active frame: leading and trailing silence belong to the endpointing, not to the speaker.
- Pitch: a YIN tracker (cumulative-mean-normalised difference function, absolute threshold 0.15,
  parabolic interpolation) over 50-500 Hz on active frames. A frame is *voiced* when the best
  dip is below 0.3; isolated octave jumps (more than ~10 semitones from the median of the
  neighbouring voiced frames) are replaced by that median. ``f0_mean_hz`` is the mean over
  voiced frames, ``f0_range_st`` the 5th-95th percentile span in semitones.
- ``energy_db``: the power mean of voiced frames (active frames if none is voiced), in dBFS;
  ``energy_range_db``: 5th-95th percentile span of the active frames' levels.
- ``speaking_rate`` in syllables per second of speech (the speech span minus its pauses). With
  a transcript that has word timings, syllables are counted from the words (vowel groups) -
  the words' own text, never logged; otherwise syllable nuclei are peaks of the smoothed
  level (30 ms moving average) of voiced frames that stand at least 1 dB above the dip
  separating them from the previous nucleus (after de Jong & Wempe, 2009).
- ``pause_ratio``: the share of the speech span in inactive runs of 150 ms or more;
  ``voiced_ratio``: the share of the speech span that is voiced.

Emotion (:class:`ProsodyEmotion`): each feature becomes a z-score against a reference. The
reference is a population default (below) blended with the speaker's own running statistics
from :class:`~attune.types.ProsodyBaseline`: weight ``min(1, n / BASELINE_UTTERANCES)`` on
the speaker's mean, and on their standard deviation (floored at half the population one), where
``n`` counts the speaker's utterances with that feature; ``normalized`` is true once the
baseline holds ``BASELINE_UTTERANCES`` utterances. Pitch is compared in semitones.

- arousal = sigmoid(0.8 * (0.30 pitch + 0.20 range + 0.30 energy + 0.25 rate - 0.15 pauses)),
  so 0.5 is the reference speaker. Before a baseline exists, pitch level and energy say more
  about the voice and the microphone than about arousal, so their weights are halved then.
- valence (a weak cue, within +-0.3) = 0.3 * tanh(0.5 * (0.5 range + 0.25 energy + 0.25 rate)):
  lively, varied speech leans positive; flat, quiet, slow speech leans negative.
- confidence = (0.4 + 0.4 * baseline weight) * min(1, duration / 2 s) * min(1, voiced / 0.3).
- cues: a feature beyond +-1 z names itself ("quiet", "loud", "slow", "fast", "high-pitched",
  "low-pitched", "wide pitch range", "flat", "many pauses").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.types import (
    Audio,
    ProsodyBaseline,
    ProsodyFeatures,
    SpeechEmotion,
    Transcript,
)
from modalities.audio import resample
from modalities.speech.base import SpeechEmotionRecognizer

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

SAMPLE_RATE = 16000
FRAME = 640  # 40 ms
HOP = 160  # 10 ms
F0_MIN, F0_MAX = 50.0, 500.0
_TAU_MIN = int(SAMPLE_RATE / F0_MAX)
_TAU_MAX = int(SAMPLE_RATE / F0_MIN)
_YIN_THRESHOLD = 0.15
_VOICED_DIP = 0.3
_FLOOR_DB = -55.0
_DYNAMIC_DB = 35.0
_MIN_PAUSE_FRAMES = 15  # 150 ms
_NUCLEUS_DIP_DB = 1.0

#: Utterances after which the speaker's own statistics fully replace the population ones.
BASELINE_UTTERANCES = 3
#: After this many utterances the baseline becomes an exponential moving average.
BASELINE_WINDOW = 20
#: Utterances shorter than this, or less voiced, do not update the baseline.
MIN_BASELINE_SECONDS = 0.8
MIN_BASELINE_VOICED = 0.15


@dataclass(frozen=True)
class _Reference:
    mean: float
    std: float


#: Population defaults for an unknown adult speaker ("f0_st" is semitones re 100 Hz:
#: 9 st = 168 Hz, between typical male and female voices).
POPULATION: dict[str, _Reference] = {
    "f0_st": _Reference(9.0, 4.0),
    "f0_range_st": _Reference(8.0, 3.0),
    "energy_db": _Reference(-26.0, 6.0),
    "speaking_rate": _Reference(4.5, 1.0),
    "pause_ratio": _Reference(0.15, 0.12),
}


def _to_semitones(hz: float) -> float:
    return 12.0 * math.log2(hz / 100.0)


def _feature_values(features: ProsodyFeatures) -> dict[str, float]:
    """The normalised quantities of an utterance (pitch in semitones re 100 Hz)."""
    values = {
        "energy_db": features.energy_db,
        "speaking_rate": features.speaking_rate,
        "pause_ratio": features.pause_ratio,
    }
    if features.f0_mean_hz is not None:
        values["f0_st"] = _to_semitones(features.f0_mean_hz)
    if features.f0_range_st is not None:
        values["f0_range_st"] = features.f0_range_st
    return values


# --- feature extraction -----------------------------------------------------------------------


def _frames(x: np.ndarray, length: int) -> np.ndarray:
    """Frames of ``length`` samples every ``HOP`` (zero-padded at the end)."""
    count = max(1, 1 + (x.size - FRAME + HOP - 1) // HOP)
    padded = np.concatenate([x, np.zeros(count * HOP + length, np.float32)])
    index = np.arange(count)[:, None] * HOP + np.arange(length)[None, :]
    return padded[index]


def _yin(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pitch (Hz) and the YIN dip of each frame (``FRAME + _TAU_MAX`` samples each)."""
    n = FRAME
    size = 1 << math.ceil(math.log2(n + frames.shape[1]))
    spectrum = np.fft.rfft(frames, size, axis=1)
    head = np.fft.rfft(frames[:, :n], size, axis=1)
    corr = np.fft.irfft(np.conj(head) * spectrum, size, axis=1)[:, : _TAU_MAX + 1]
    squares = np.cumsum(np.square(frames, dtype=np.float64), axis=1)
    squares = np.concatenate([np.zeros((frames.shape[0], 1)), squares], axis=1)
    taus = np.arange(_TAU_MAX + 1)
    energy_lagged = squares[:, taus + n] - squares[:, taus]
    diff = squares[:, n : n + 1] + energy_lagged - 2.0 * corr
    diff[:, 0] = 0.0
    cumulative = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, _TAU_MAX + 1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(cumulative, 1e-12)

    f0 = np.zeros(frames.shape[0])
    dips = np.ones(frames.shape[0])
    for i, row in enumerate(cmnd):
        search = row[_TAU_MIN : _TAU_MAX + 1]
        below = np.flatnonzero(search < _YIN_THRESHOLD)
        if below.size:
            tau = int(below[0]) + _TAU_MIN
            while tau + 1 <= _TAU_MAX and row[tau + 1] < row[tau]:
                tau += 1
        else:
            tau = int(np.argmin(search)) + _TAU_MIN
        dips[i] = row[tau]
        if _TAU_MIN < tau < _TAU_MAX:
            a, b, c = row[tau - 1], row[tau], row[tau + 1]
            denom = a - 2 * b + c
            shift = 0.5 * (a - c) / denom if abs(denom) > 1e-12 else 0.0
        else:
            shift = 0.0
        f0[i] = SAMPLE_RATE / (tau + float(np.clip(shift, -1, 1)))
    return f0, dips


def _fix_octave_jumps(f0: np.ndarray) -> np.ndarray:
    """Replace values ~an octave or more off their neighbours' median by that median."""
    fixed = f0.copy()
    for i in range(f0.size):
        around = np.concatenate([f0[max(0, i - 3) : i], f0[i + 1 : i + 4]])
        if around.size < 2:
            continue
        median = float(np.median(around))
        if abs(12.0 * math.log2(f0[i] / median)) > 10.0:
            fixed[i] = median
    return fixed


def _syllable_nuclei(level_db: np.ndarray, voiced: np.ndarray) -> int:
    """Count level peaks of voiced frames separated by dips of at least 1 dB."""
    smooth = np.convolve(level_db, np.ones(3) / 3.0, mode="same")
    count = 0
    last_peak: float | None = None
    dip = math.inf
    for i in range(1, smooth.size - 1):
        dip = min(dip, smooth[i])
        is_peak = voiced[i] and smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1]
        if not is_peak:
            continue
        if last_peak is None or min(last_peak, smooth[i]) - dip >= _NUCLEUS_DIP_DB:
            count += 1
            last_peak, dip = float(smooth[i]), math.inf
        elif smooth[i] > last_peak:
            last_peak = float(smooth[i])
    return count


_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


def _syllables(word: str) -> int:
    """An English syllable estimate: vowel groups, a silent final ``e`` not counted."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    if not letters:
        return 0
    groups = len(_VOWEL_GROUPS.findall(letters))
    if letters.endswith("e") and not letters.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return max(1, groups)


def extract_prosody(audio: Audio, transcript: Transcript | None = None) -> ProsodyFeatures:
    """The prosodic features of one utterance (see the module docstring for the method)."""
    x = resample(audio, SAMPLE_RATE).samples.astype(np.float32, copy=False)
    duration = audio.duration
    frames = _frames(x, FRAME + _TAU_MAX)
    rms = np.sqrt(np.mean(np.square(frames[:, :FRAME], dtype=np.float64), axis=1))
    level_db = 20.0 * np.log10(np.maximum(rms, 1e-10))
    active = level_db > max(_FLOOR_DB, float(level_db.max()) - _DYNAMIC_DB)
    if not active.any():
        return ProsodyFeatures(
            duration=duration,
            energy_db=float(level_db.max()),
            speaking_rate=0.0,
            pause_ratio=1.0 if duration > 0 else 0.0,
            voiced_ratio=0.0,
        )
    first, last = np.flatnonzero(active)[[0, -1]]
    span = slice(int(first), int(last) + 1)
    active, level_db = active[span], level_db[span]

    f0, dips = _yin(frames[span])
    voiced = active & (dips < _VOICED_DIP) & (f0 >= F0_MIN) & (f0 <= F0_MAX)
    f0_voiced = _fix_octave_jumps(f0[voiced]) if voiced.any() else f0[:0]

    pause_frames = 0
    run = 0
    for is_active in [*active.tolist(), True]:
        if is_active:
            pause_frames += run if run >= _MIN_PAUSE_FRAMES else 0
            run = 0
        else:
            run += 1
    span_frames = active.size
    pause_ratio = pause_frames / span_frames
    speech_seconds = max((span_frames - pause_frames) * HOP / SAMPLE_RATE, 1e-3)

    words = transcript.words if transcript is not None else []
    if words:
        syllables = sum(_syllables(w.word) for w in words)
    else:
        syllables = _syllable_nuclei(level_db, voiced)

    loud = voiced if voiced.any() else active
    power = np.mean(np.power(10.0, level_db[loud] / 10.0))
    levels = level_db[active]
    f0_mean = float(np.mean(f0_voiced)) if f0_voiced.size >= 3 else None
    f0_range = (
        float(12.0 * np.log2(np.percentile(f0_voiced, 95) / np.percentile(f0_voiced, 5)))
        if f0_voiced.size >= 3
        else None
    )
    return ProsodyFeatures(
        duration=duration,
        f0_mean_hz=f0_mean,
        f0_range_st=f0_range,
        energy_db=float(10.0 * np.log10(power)),
        energy_range_db=float(np.percentile(levels, 95) - np.percentile(levels, 5)),
        speaking_rate=syllables / speech_seconds,
        pause_ratio=float(min(1.0, pause_ratio)),
        voiced_ratio=float(voiced.sum() / span_frames),
    )


# --- the speaker's baseline -------------------------------------------------------------------


def update_baseline(
    baseline: ProsodyBaseline | None, features: ProsodyFeatures
) -> ProsodyBaseline | None:
    """``baseline`` with one more utterance folded in (Welford's running mean and variance for
    the first :data:`BASELINE_WINDOW` utterances, an exponential moving average after that).
    Utterances too short or unvoiced to measure return ``baseline`` unchanged."""
    if features.duration < MIN_BASELINE_SECONDS or features.voiced_ratio < MIN_BASELINE_VOICED:
        return baseline
    base = baseline or ProsodyBaseline()
    counts, means, variances = dict(base.counts), dict(base.means), dict(base.variances)
    for name, value in _feature_values(features).items():
        n = counts.get(name, 0) + 1
        weight = 1.0 / min(n, BASELINE_WINDOW)
        mean = means.get(name, value)
        delta = value - mean
        variances[name] = (1.0 - weight) * (variances.get(name, 0.0) + weight * delta * delta)
        means[name] = mean + weight * delta
        counts[name] = n
    return ProsodyBaseline(
        utterances=base.utterances + 1, counts=counts, means=means, variances=variances
    )


def _reference(name: str, baseline: ProsodyBaseline | None) -> tuple[_Reference, float]:
    """The blended reference of a feature and the weight the speaker's statistics got."""
    population = POPULATION[name]
    n = baseline.counts.get(name, 0) if baseline is not None else 0
    if baseline is None or n == 0:
        return population, 0.0
    weight = min(1.0, n / BASELINE_UTTERANCES)
    own_std = max(math.sqrt(baseline.variances.get(name, 0.0)), 0.5 * population.std)
    mean = (1 - weight) * population.mean + weight * baseline.means[name]
    std = (1 - weight) * population.std + weight * own_std
    return _Reference(mean, std), weight


_CUES = {
    "energy_db": ("quiet", "loud"),
    "speaking_rate": ("slow", "fast"),
    "f0_st": ("low-pitched", "high-pitched"),
    "f0_range_st": ("flat", "wide pitch range"),
    "pause_ratio": ("", "many pauses"),
}


def prosody_emotion(
    features: ProsodyFeatures, baseline: ProsodyBaseline | None = None, *, backend: str = ""
) -> SpeechEmotion:
    """Arousal, a weak valence cue, confidence and cues from features (see the docstring)."""
    z: dict[str, float] = {}
    weights: list[float] = []
    for name, value in _feature_values(features).items():
        reference, weight = _reference(name, baseline)
        z[name] = float(np.clip((value - reference.mean) / reference.std, -3.0, 3.0))
        weights.append(weight)
    speaker_weight = float(np.mean(weights)) if weights else 0.0
    absolute = 0.5 + 0.5 * speaker_weight  # pitch level and loudness need the speaker's baseline
    arousal_z = (
        0.30 * absolute * z.get("f0_st", 0.0)
        + 0.20 * z.get("f0_range_st", 0.0)
        + 0.30 * absolute * z["energy_db"]
        + 0.25 * z["speaking_rate"]
        - 0.15 * z["pause_ratio"]
    )
    arousal = 1.0 / (1.0 + math.exp(-0.8 * arousal_z))
    valence_z = 0.5 * z.get("f0_range_st", 0.0) + 0.25 * z["energy_db"] + 0.25 * z["speaking_rate"]
    valence = 0.3 * math.tanh(0.5 * valence_z)
    confidence = (
        (0.4 + 0.4 * speaker_weight)
        * min(1.0, features.duration / 2.0)
        * min(1.0, features.voiced_ratio / 0.3)
    )
    cues = [
        _CUES[name][0 if score < 0 else 1]
        for name, score in z.items()
        if abs(score) >= 1.0 and _CUES[name][0 if score < 0 else 1]
    ]
    return SpeechEmotion(
        arousal=arousal,
        valence=valence,
        confidence=confidence,
        features=features,
        cues=cues,
        normalized=baseline is not None and baseline.utterances >= BASELINE_UTTERANCES,
        backend=backend,
    )


class ProsodyEmotion(SpeechEmotionRecognizer):
    """Speech emotion from prosody alone: numpy only, no model to load."""

    name = "prosody"

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> ProsodyEmotion:
        """Nothing to configure: the method's constants are documented in this module."""
        return cls()

    def analyze(
        self,
        audio: Audio,
        *,
        transcript: Transcript | None = None,
        baseline: ProsodyBaseline | None = None,
    ) -> SpeechEmotion:
        """Arousal and a weak valence cue of one utterance, normalised by ``baseline``."""
        return prosody_emotion(extract_prosody(audio, transcript), baseline, backend=self.name)
