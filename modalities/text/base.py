"""Interfaces of the text roles: ``embedder`` and ``text_emotion``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import InputError
from attune.lifecycle import Loadable
from attune.types import TextEmotion

if TYPE_CHECKING:
    from attune.settings import AttuneSettings


def validate_texts(texts: Sequence[str]) -> list[str]:
    """Check a batch for a text role: a sequence of non-empty strings, else :class:`InputError`."""
    if isinstance(texts, str):
        raise InputError("bad_text", "expected a sequence of texts, got a single str")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InputError("bad_text", f"text {i} is a {type(text).__name__}, expected a str")
        if not text.strip():
            raise InputError("empty_text", f"text {i} is empty or only whitespace")
    return items


class Embedder(Loadable, ABC):
    """Maps texts to L2-normalised vectors (one row per text, ``float32``)."""

    #: The vector size.
    dim: int

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> Embedder:
        """Construct cheaply from settings; weights load in :meth:`load` or on first use."""

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: an array of shape ``(len(texts), dim)``, rows of unit length."""


class TextEmotionRecognizer(Loadable, ABC):
    """Reads the emotions expressed in a text (GoEmotions' 28 labels)."""

    name: str

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> TextEmotionRecognizer:
        """Construct cheaply from settings; weights load in :meth:`load` or on first use."""

    @abstractmethod
    def analyze_batch(self, texts: Sequence[str]) -> list[TextEmotion]:
        """One :class:`TextEmotion` per text."""

    def analyze(self, text: str) -> TextEmotion:
        """The emotion of one text."""
        return self.analyze_batch([text])[0]
