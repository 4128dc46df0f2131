"""Interfaces of the hearing roles: ``asr`` and ``speech_emotion``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from attune.lifecycle import Loadable
from attune.types import Audio, ProsodyBaseline, ProsodyFeatures, SpeechEmotion, Transcript

if TYPE_CHECKING:
    from attune.settings import AttuneSettings


class SpeechRecognizer(Loadable, ABC):
    """Turns one utterance (or a longer recording) into text with word timings."""

    name: str

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> SpeechRecognizer:
        """Construct cheaply from settings; weights load in :meth:`load` or on first use."""

    @abstractmethod
    def transcribe(self, audio: Audio) -> Transcript:
        """What was said in ``audio`` (any rate; resampled as the model needs). Silence and
        noise give an empty ``text``."""


class SpeechEmotionRecognizer(Loadable, ABC):
    """Reads affect from how an utterance was said.

    The graph keeps the speaker's :class:`ProsodyBaseline` in the session state: each turn it
    calls :meth:`analyze` with the baseline of the earlier turns, then stores
    ``update_baseline(baseline, emotion)`` for the next turn. Backends that do not normalise per
    speaker ignore the baseline.
    """

    name: str

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> SpeechEmotionRecognizer:
        """Construct cheaply from settings; weights load in :meth:`load` or on first use."""

    @abstractmethod
    def analyze(
        self,
        audio: Audio,
        *,
        transcript: Transcript | None = None,
        baseline: ProsodyBaseline | None = None,
    ) -> SpeechEmotion:
        """The affect of one utterance; ``transcript`` (its words and timings) and ``baseline``
        (this speaker's earlier turns, not including this one) refine it when given."""

    def update_baseline(
        self,
        baseline: ProsodyBaseline | None,
        observation: SpeechEmotion | ProsodyFeatures,
    ) -> ProsodyBaseline | None:
        """The baseline with one more utterance folded in (a new object; ``None`` stays ``None``
        when the observation carries no prosody features). Utterances too short or too unvoiced
        to measure leave it unchanged."""
        from modalities.speech.prosody import update_baseline

        features = observation.features if isinstance(observation, SpeechEmotion) else observation
        if features is None:
            return baseline
        return update_baseline(baseline, features)
