"""The runtime context: model handles and settings given to every node (never module globals).

Backends of the text stack are created with :class:`agent.Attune`; those of the other
modalities (``asr``, ``speech_emotion``, ``tts``, ``face``, ``avatar``) are created from the
registry on first use, so a text-only deployment needs none of their packages. The raw media of
a turn (:class:`TurnMedia`) ride in a per-turn copy of the context (:meth:`AttuneContext.for_turn`),
not in the graph state: audio and camera frames are never written to the session store.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.types import Audio, Transcript

if TYPE_CHECKING:
    from agent.safety.detector import CrisisDetector
    from attune.settings import AttuneSettings
    from modalities.avatar.base import AvatarRenderer
    from modalities.face.base import FaceAnalyzer
    from modalities.llm.base import LLM
    from modalities.speech.base import SpeechEmotionRecognizer, SpeechRecognizer
    from modalities.text.base import Embedder, TextEmotionRecognizer
    from modalities.voice.base import SpeechSynthesizer
    from strategies.base import StrategyPlanner


@dataclass(frozen=True, eq=False)
class TurnMedia:
    """The raw media of one turn: 16 kHz mono audio and/or one image (RGB array or encoded
    bytes). Held only for the duration of the turn."""

    audio: Audio | None = None
    image: np.ndarray | bytes | None = None
    #: What was said in ``audio``, when it was already recognised while the person spoke
    #: (live partial recognition): the turn then does not transcribe it again.
    transcript: Transcript | None = None


@dataclass
class _LazyBackends:
    """Backends created from the registry on first use, shared by every turn of an Attune."""

    settings: AttuneSettings
    given: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, role: str) -> Any:
        with self.lock:
            if role not in self.given:
                from attune import registry

                name = getattr(self.settings.backends, role)
                self.given[role] = registry.create(role, name, self.settings)
            return self.given[role]


@dataclass
class AttuneContext:
    """The backends one graph run uses. Built by :class:`agent.Attune` from the registry."""

    settings: AttuneSettings
    embedder: Embedder
    text_emotion: TextEmotionRecognizer
    llm: LLM
    planner: StrategyPlanner
    #: The crisis detector; ``None`` builds the configured one over ``embedder`` (it is never
    #: absent: every turn is checked).
    safety: CrisisDetector | None = None
    #: Backends of the other modalities given explicitly (role -> instance); the rest are
    #: created from the registry on first use.
    modality_backends: dict[str, Any] = field(default_factory=dict)
    #: The media of the turn being run (set by :meth:`for_turn`).
    media: TurnMedia = field(default_factory=TurnMedia)
    #: Set when the turn is interrupted (barge-in); nodes stop at their next safe point.
    cancel: threading.Event | None = None
    _lazy: _LazyBackends | None = None

    def __post_init__(self) -> None:
        if self.safety is None:
            from agent.safety.detector import CrisisDetector

            self.safety = CrisisDetector.from_settings(self.settings, self.embedder)
        if self._lazy is None:
            self._lazy = _LazyBackends(self.settings, dict(self.modality_backends))

    def for_turn(self, media: TurnMedia, cancel: threading.Event | None = None) -> AttuneContext:
        """A copy carrying one turn's media and cancel flag; backends stay shared."""
        return dataclasses.replace(self, media=media, cancel=cancel)

    @property
    def cancelled(self) -> bool:
        """Whether the turn being run was interrupted."""
        return self.cancel is not None and self.cancel.is_set()

    @property
    def crisis_detector(self) -> CrisisDetector:
        """The crisis detector (always set after construction)."""
        assert self.safety is not None
        return self.safety

    def backend(self, role: str) -> Any:
        """The backend playing ``role`` (created on first use)."""
        assert self._lazy is not None
        return self._lazy.get(role)

    @property
    def asr(self) -> SpeechRecognizer:
        return self.backend("asr")

    @property
    def speech_emotion(self) -> SpeechEmotionRecognizer:
        return self.backend("speech_emotion")

    @property
    def tts(self) -> SpeechSynthesizer:
        return self.backend("tts")

    @property
    def face(self) -> FaceAnalyzer:
        return self.backend("face")

    @property
    def avatar(self) -> AvatarRenderer:
        return self.backend("avatar")
