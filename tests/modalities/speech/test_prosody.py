"""Prosodic features and the ``prosody`` speech-emotion backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attune.settings import AttuneSettings
from attune.types import (
    CHECKPOINT_TYPES,
    Audio,
    ProsodyBaseline,
    SpeechEmotion,
    Transcript,
    TranscriptSegment,
    WordTiming,
)
from modalities.speech.prosody import (
    BASELINE_UTTERANCES,
    ProsodyEmotion,
    extract_prosody,
    update_baseline,
)

from .conftest import SENTENCES, espeak, silence

CALM = ("-v", "en-us", "-s", "120", "-p", "25", "-a", "60")
EXCITED = ("-v", "en-us", "-s", "210", "-p", "75", "-a", "180")


def vowel(f0: float, seconds: float = 1.0, amplitude: float = 0.3) -> Audio:
    """A buzzy harmonic tone with a 5 Hz vibrato of +-3 %, like a sustained vowel."""
    t = np.arange(int(seconds * 16000)) / 16000
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / 16000
    wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    return Audio((amplitude * wave / np.abs(wave).max()).astype(np.float32), 16000)


@pytest.mark.parametrize("f0", [90.0, 150.0, 220.0, 400.0])
def test_pitch_of_a_vowel(f0: float) -> None:
    features = extract_prosody(vowel(f0))
    assert features.f0_mean_hz == pytest.approx(f0, rel=0.03)
    assert 0.5 < features.f0_range_st < 1.5  # +-3 % is about 1 semitone
    assert features.voiced_ratio > 0.9
    assert features.energy_db == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=4)


def test_silence_has_no_pitch() -> None:
    features = extract_prosody(Audio(silence(1.0), 16000))
    assert features.f0_mean_hz is None and features.voiced_ratio == 0.0


def test_pauses_and_rate_from_words(espeak_dir: Path) -> None:
    speech = espeak("I went for a long walk", espeak_dir / "walk.wav", "-v", "en-us")
    samples = np.concatenate([speech.samples, silence(0.8), speech.samples])
    audio = Audio(samples, 16000)
    features = extract_prosody(audio)
    assert features.pause_ratio == pytest.approx(0.8 / audio.duration, abs=0.08)
    assert 2.0 < features.speaking_rate < 8.0
    spoken = ["I", "went", "for", "a", "long", "walk"] * 2
    words = [WordTiming(word=w, start=0.2 * i, end=0.2 * i + 0.2) for i, w in enumerate(spoken)]
    transcript = Transcript(
        text="", segments=[TranscriptSegment(text="", start=0, end=2, confidence=1, words=words)]
    )
    with_words = extract_prosody(audio, transcript)
    speech_seconds = audio.duration * (1 - with_words.pause_ratio)
    assert with_words.speaking_rate == pytest.approx(12 / speech_seconds, rel=0.1)


@pytest.fixture(scope="module")
def calm_and_excited(espeak_dir: Path) -> list[tuple[Audio, Audio]]:
    return [
        (
            espeak(s, espeak_dir / f"calm{i}.wav", *CALM),
            espeak(s, espeak_dir / f"excited{i}.wav", *EXCITED),
        )
        for i, s in enumerate(SENTENCES[:4])
    ]


def test_excited_speech_has_higher_arousal(
    calm_and_excited: list[tuple[Audio, Audio]],
) -> None:
    backend = ProsodyEmotion.from_settings(AttuneSettings())
    for calm, excited in calm_and_excited:
        low, high = backend.analyze(calm), backend.analyze(excited)
        assert high.arousal > low.arousal + 0.1
        assert high.features is not None and low.features is not None
        assert high.features.speaking_rate > low.features.speaking_rate
        assert high.features.energy_db > low.features.energy_db
        assert high.backend == "prosody" and not high.normalized
        assert 0.0 < low.confidence <= 1.0


def test_faster_hibari_speech_has_higher_arousal(hibari_voice) -> None:  # type: ignore[no-untyped-def]
    """Only the speed changes here; the syllable counter misses nuclei in some fast
    sentences, so the comparison is over the set."""
    backend = ProsodyEmotion()
    slow, fast = [], []
    for sentence in SENTENCES[:3]:
        slow.append(backend.analyze(Audio(hibari_voice(sentence, speed=0.75, seed=0), 24000)))
        fast.append(backend.analyze(Audio(hibari_voice(sentence, speed=1.35, seed=0), 24000)))
    assert np.mean([e.arousal for e in fast]) > np.mean([e.arousal for e in slow]) + 0.03
    assert sum(f.arousal > s.arousal for f, s in zip(fast, slow, strict=True)) >= 2


def test_cues_name_what_stands_out(calm_and_excited: list[tuple[Audio, Audio]]) -> None:
    calm, excited = calm_and_excited[1]
    quiet = Audio(calm.samples * 0.1, calm.sample_rate)
    assert {"quiet", "slow"} <= set(ProsodyEmotion().analyze(quiet).cues)
    assert "loud" in ProsodyEmotion().analyze(excited).cues


def test_baseline_normalises_to_the_speaker(
    calm_and_excited: list[tuple[Audio, Audio]],
) -> None:
    """A habitually quiet, slow speaker is 'usual' (arousal near 0.5) once known, and their
    excited turn still stands out against that baseline."""
    backend = ProsodyEmotion()
    baseline: ProsodyBaseline | None = None
    first = backend.analyze(calm_and_excited[0][0])
    for calm, _ in calm_and_excited[:BASELINE_UTTERANCES]:
        emotion = backend.analyze(calm, baseline=baseline)
        baseline = backend.update_baseline(baseline, emotion)
    assert baseline is not None and baseline.utterances == BASELINE_UTTERANCES
    calm, excited = calm_and_excited[3]
    usual = backend.analyze(calm, baseline=baseline)
    assert usual.normalized
    assert abs(usual.arousal - 0.5) < abs(first.arousal - 0.5)
    assert backend.analyze(excited, baseline=baseline).arousal > 0.7


def test_baseline_updates() -> None:
    backend = ProsodyEmotion()
    emotion = backend.analyze(vowel(200.0, seconds=1.5))
    assert emotion.features is not None
    one = backend.update_baseline(None, emotion)
    assert one is not None and one.utterances == 1 and one.variances["f0_st"] == 0.0
    two = update_baseline(one, backend.analyze(vowel(100.0, seconds=1.5)).features)  # type: ignore[arg-type]
    assert two is not None and two.counts["f0_st"] == 2
    assert two.means["f0_st"] == pytest.approx(6.0, abs=0.3)  # mean of 12 and 0 semitones
    assert two.variances["f0_st"] == pytest.approx(36.0, rel=0.1)
    short = backend.analyze(vowel(200.0, seconds=0.3))
    assert backend.update_baseline(two, short) is two
    assert (
        backend.update_baseline(None, SpeechEmotion(arousal=0.5, valence=0, confidence=0)) is None
    )
    assert ProsodyBaseline in CHECKPOINT_TYPES
    assert ProsodyBaseline.model_validate_json(two.model_dump_json()) == two
