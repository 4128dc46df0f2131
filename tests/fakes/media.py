"""Fake backends for the roles ``asr``, ``speech_emotion``, ``tts``, ``face`` and ``avatar``.

Deterministic and instant; they prove the graph's wiring, not the features (the real-model tests
under ``tests/modalities`` do that).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attune.types import (
    FER_LABELS,
    Audio,
    FaceReading,
    ProsodyBaseline,
    SpeechEmotion,
    Transcript,
    TranscriptSegment,
    VoiceStyle,
)
from modalities.avatar.base import AvatarRenderer
from modalities.avatar.cues import AvatarCues
from modalities.face.base import FaceAnalyzer
from modalities.speech.base import SpeechEmotionRecognizer, SpeechRecognizer
from modalities.voice.base import SpeechChunk, SpeechSynthesizer, TTSCapabilities, validate_text


class FakeASR(SpeechRecognizer):
    """Hears ``text`` in any audio louder than -50 dBFS, nothing in quieter audio."""

    name = "fake"

    def __init__(self, text: str = "I lost my job today and I feel so sad") -> None:
        self.text = text
        self.calls = 0

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakeASR:
        return cls()

    def transcribe(self, audio: Audio) -> Transcript:
        self.calls += 1
        rms = float(np.sqrt(np.mean(audio.samples**2))) if len(audio.samples) else 0.0
        if rms < 10 ** (-50 / 20):
            return Transcript(text="", duration=audio.duration, backend=self.name)
        seg = TranscriptSegment(text=self.text, start=0.0, end=audio.duration, confidence=0.9)
        return Transcript(
            text=self.text, segments=[seg], duration=audio.duration, backend=self.name
        )


class FakeSpeechEmotion(SpeechEmotionRecognizer):
    """Calm, slightly low voice, whatever the audio; counts the baseline's utterances."""

    name = "fake"

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakeSpeechEmotion:
        return cls()

    def analyze(
        self,
        audio: Audio,
        *,
        transcript: Transcript | None = None,
        baseline: ProsodyBaseline | None = None,
    ) -> SpeechEmotion:
        return SpeechEmotion(
            arousal=0.3,
            valence=-0.1,
            confidence=0.5,
            cues=["quiet", "slow"],
            normalized=baseline is not None and baseline.utterances > 0,
            backend=self.name,
        )

    def update_baseline(
        self, baseline: ProsodyBaseline | None, observation: Any
    ) -> ProsodyBaseline | None:
        count = baseline.utterances if baseline is not None else 0
        return ProsodyBaseline(utterances=count + 1)


class FakeTTS(SpeechSynthesizer):
    """A 220 Hz tone, 0.05 s per character, at 16 kHz; records the styles it was asked for."""

    name = "fake"

    def __init__(self) -> None:
        self.styles: list[VoiceStyle | None] = []

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakeTTS:
        return cls()

    @property
    def capabilities(self) -> TTSCapabilities:
        return TTSCapabilities(
            streaming=True, word_timings=False, phoneme_timings=False, sample_rate=16000
        )

    def synthesize(self, text: str, style: VoiceStyle | None = None) -> SpeechChunk:
        text = validate_text(text)
        self.styles.append(style)
        n = int(16000 * 0.05 * len(text))
        t = np.arange(n, dtype=np.float32) / 16000
        samples = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        return SpeechChunk(audio=Audio(samples, 16000), text=text)


class FakeFace(FaceAnalyzer):
    """Reads ``label`` on every image that is not all one colour; no face on a blank one."""

    name = "fake"

    def __init__(self, label: str = "happy") -> None:
        self.label = label

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakeFace:
        return cls()

    def analyze(self, image: Any) -> FaceReading:
        from modalities.face.image import load_image

        # the real backends' decoding and limits: InputError on unusable input
        array = load_image(
            image, max_bytes=20_000_000, max_decoded_pixels=60_000_000, max_pixels=4_000_000
        )
        if array.size == 0 or array.min() == array.max():
            return FaceReading(detected=False, backend=self.name)
        scores = {label: (0.94 if label == self.label else 0.01) for label in FER_LABELS}
        valence = {"happy": 0.8, "sad": -0.7}.get(self.label, 0.0)
        return FaceReading(
            detected=True,
            faces=1,
            box=(0, 0, array.shape[1], array.shape[0]),
            scores=scores,
            label=self.label,
            valence=valence,
            arousal=0.5,
            confidence=0.9,
            backend=self.name,
        )


class FakeAvatar(AvatarRenderer):
    """A grey square with a dark mouth bar as wide as the mouth is open; instant."""

    name = "fake"

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakeAvatar:
        return cls(**{**cls.settings_kwargs(settings), **kwargs})

    def render_frame(self, cues: AvatarCues, index: int) -> np.ndarray:
        frame = np.full((self.size, self.size, 3), 160, dtype=np.uint8)
        height = max(1, int(cues.mouth_open[index] * self.size / 4))
        top = self.size * 2 // 3
        frame[top : top + height, self.size // 3 : self.size * 2 // 3] = 40
        return frame
