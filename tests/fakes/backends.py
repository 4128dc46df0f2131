"""Fake backends for the roles ``embedder``, ``text_emotion``, ``llm``, ``strategy_planner``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from attune.taxonomy import STRATEGIES, Strategy
from attune.types import ChatMessage, GenerationParams, TextEmotion
from modalities.llm.base import LLM, LLMCapabilities
from modalities.text.base import Embedder, TextEmotionRecognizer
from modalities.text.labels import build_text_emotion
from strategies.base import PlanningContext, StrategyPlanner, normalise


class FakeEmbedder(Embedder):
    """Bag-of-words hashing into 64 dimensions: similar words give similar vectors."""

    dim = 64

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakeEmbedder:
        return cls()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z']+", text.lower()) or ["<empty>"]:
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
            out[i] /= np.linalg.norm(out[i])
        return out


class FakeTextEmotion(TextEmotionRecognizer):
    """Keyword rules: a few words per emotion, else neutral."""

    name = "fake"
    KEYWORDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "sadness": ("sad", "died", "lost", "cry", "miss"),
        "grief": ("died", "funeral", "passed away"),
        "joy": ("happy", "great", "wonderful", "promoted"),
        "fear": ("scared", "afraid", "worried"),
        "anger": ("angry", "furious", "hate"),
    }

    def __init__(self) -> None:
        self.calls = 0

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakeTextEmotion:
        return cls()

    def analyze_batch(self, texts: Sequence[str]) -> list[TextEmotion]:
        self.calls += len(texts)
        results = []
        for text in texts:
            lower = text.lower()
            scores = {
                label: 0.9
                for label, words in self.KEYWORDS.items()
                if any(w in lower for w in words)
            }
            scores.setdefault("neutral", 0.1 if scores else 0.9)
            results.append(build_text_emotion(scores, 0.5, backend=self.name))
        return results


class FakeLLM(LLM):
    """Replies from a script, in order; records every call. Streams word by word (a word is a
    token for ``max_tokens``), and ends before a stop string."""

    name = "fake"

    def __init__(
        self,
        replies: Sequence[str] = ("That sounds really hard. What happened?",),
        *,
        json_schema: bool = False,
    ) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[list[ChatMessage], GenerationParams]] = []
        self.capabilities = LLMCapabilities(json_schema=json_schema, seeded=True)
        self.closed_streams = 0

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakeLLM:
        return cls(**kwargs)

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        self.calls.append((list(messages), params))
        reply = self.replies[(len(self.calls) - 1) % len(self.replies)]
        cuts = [reply.find(s) for s in params.stop if s and s in reply]
        reply = reply[: min(cuts)] if cuts else reply
        try:  # a word is a token: at most max_tokens of them
            yield from re.findall(r"\S+\s*", reply)[: params.max_tokens]
        finally:
            self.closed_streams += 1


class FakePlanner(StrategyPlanner):
    """Always prefers one strategy (probability 0.65), the rest share the remainder."""

    name = "fake"

    def __init__(self, favourite: Strategy = Strategy.REFLECTION) -> None:
        self.favourite = favourite
        self.contexts: list[PlanningContext] = []

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakePlanner:
        return cls(**kwargs)

    def predict_proba(self, context: PlanningContext) -> dict[Strategy, float]:
        self.contexts.append(context)
        return normalise({s: (0.65 if s is self.favourite else 0.05) for s in STRATEGIES})
