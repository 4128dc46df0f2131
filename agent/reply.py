"""Reply shaping for small models: clean a raw generation, and score candidates.

A candidate's score adds how well it fits the chosen strategy (embedding similarity to the
project's worked examples of that strategy, relative to the other strategies), how relevant it is
to the user's message, and penalties for forms that fail a person in distress (empty, rambling,
talking about being an AI, parroting the message, questions where none was wanted).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.prompting import strategy_guides
from attune.taxonomy import STRATEGIES, Strategy
from modalities.text.base import Embedder

_ROLE_PREFIX = re.compile(
    r"^\s*(?:assistant|supporter|listener|attune|ai|bot|response|reply)\s*:\s*", re.IGNORECASE
)
_TURN_BREAK = re.compile(r"\n\s*(?:user|seeker|human|person|you|me)\s*:", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_BANNED = (
    "as an ai", "language model", "i'm not sure how to respond", "i am not sure how to respond",
    "i cannot help", "i can't help", "i'm just a", "i am just a", "as a chatbot",
)  # fmt: skip


def split_sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation followed by space."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def sentence_key(sentence: str) -> str:
    """A sentence reduced to its lower-case words, to tell when one is said again."""
    return " ".join(re.findall(r"[a-z0-9']+", sentence.lower().replace("\u2019", "'")))


def clean_reply(raw: str, max_sentences: int = 3) -> str:
    """Strip role prefixes and invented next turns, drop a sentence said twice (a small model's
    loop: "I'm sorry to hear that. I'm sorry to hear that."), keep at most ``max_sentences``
    sentences, and drop a trailing fragment cut off by the token limit."""
    text = _TURN_BREAK.split(raw, maxsplit=1)[0]
    text = _ROLE_PREFIX.sub("", text).strip().strip('"').strip()
    text = re.sub(r"\s+", " ", text)
    sentences = split_sentences(text)
    if len(sentences) > 1 and not re.search(r"[.!?][\"')\]]*$", sentences[-1]):
        sentences = sentences[:-1]
    seen: set[str] = set()
    unique = []
    for sentence in sentences:
        key = sentence_key(sentence)
        if key and key in seen:
            continue
        seen.add(key)
        unique.append(sentence)
    sentences = unique
    kept = sentences[:max_sentences]
    return " ".join(kept).strip()


@dataclass(frozen=True)
class ScoredReply:
    """A candidate with its score and the parts of it, for the trace and for tests."""

    text: str
    score: float
    strategy_fit: float
    relevance: float
    penalty: float


#: Strategy prototypes per embedder instance, computed once (not on every turn).
_PROTOTYPES: weakref.WeakKeyDictionary[Embedder, np.ndarray] = weakref.WeakKeyDictionary()


def strategy_prototypes(embedder: Embedder) -> np.ndarray:
    """One unit vector per strategy: the mean embedding of its worked example replies."""
    cached = _PROTOTYPES.get(embedder)
    if cached is None:
        guides = strategy_guides()
        rows = []
        for strategy in STRATEGIES:
            replies = [ex["reply"] for ex in guides[strategy]["examples"]]
            mean = embedder.embed(replies).mean(axis=0)
            rows.append(mean / (np.linalg.norm(mean) + 1e-9))
        cached = _PROTOTYPES[embedder] = np.stack(rows)
    return cached


#: The reply-strategy classifier per embedder instance, loaded once.
_CLASSIFIERS: weakref.WeakKeyDictionary[Embedder, Any] = weakref.WeakKeyDictionary()


def adherence_classifier(embedder: Embedder) -> Any:
    """The shipped reply-strategy classifier (:mod:`strategies.adherence`) over ``embedder``."""
    cached = _CLASSIFIERS.get(embedder)
    if cached is None:
        from strategies.adherence import StrategyClassifier

        cached = _CLASSIFIERS[embedder] = StrategyClassifier.load(embedder)
    return cached


class ReplyScorer:
    """Ranks candidate replies for a strategy and a user message.

    The strategy fit is the similarity to the worked examples of the strategy (relative to the
    other strategies), or with ``adherence`` the reply-strategy classifier's probability of the
    strategy (trained on ESConv supporter wording; the embeddings are shared)."""

    def __init__(self, embedder: Embedder, *, adherence: bool = False) -> None:
        self.embedder = embedder
        self.adherence = adherence

    def score(
        self, candidates: Sequence[str], strategy: Strategy, user_text: str
    ) -> list[ScoredReply]:
        """Score every candidate (same order as given)."""
        if not candidates:
            return []
        vectors = self.embedder.embed([*candidates, user_text])
        cand, user = vectors[:-1], vectors[-1]
        target = STRATEGIES.index(strategy)
        if self.adherence:
            probs = adherence_classifier(self.embedder).proba_of_vectors(cand)
        else:
            sims = cand @ strategy_prototypes(self.embedder).T  # (n, 8)
            # softmax over strategies with a temperature: how much more this strategy than others
            logits = sims / 0.05
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        scored = []
        for i, text in enumerate(candidates):
            relevance = float(cand[i] @ user)
            penalty = _form_penalty(text, strategy, relevance)
            fit = float(probs[i, target])
            scored.append(
                ScoredReply(text, 0.5 * fit + 0.5 * relevance - penalty, fit, relevance, penalty)
            )
        return scored

    def best(self, candidates: Sequence[str], strategy: Strategy, user_text: str) -> ScoredReply:
        """The highest-scoring candidate (the first on ties)."""
        scored = self.score(candidates, strategy, user_text)
        if not scored:
            raise ValueError("no candidates to choose from")
        return max(scored, key=lambda s: s.score)


def _form_penalty(text: str, strategy: Strategy, relevance: float) -> float:
    if not text.strip():
        return 10.0
    lower = text.lower()
    penalty = 0.0
    if any(b in lower for b in _BANNED):
        penalty += 1.0
    words = len(text.split())
    if words < 4:
        penalty += 0.3
    if words > 60:
        penalty += 0.3
    questions = text.count("?")
    if strategy is Strategy.QUESTION and questions == 0:
        penalty += 0.3
    if strategy is not Strategy.QUESTION and questions > 1:
        penalty += 0.15
    if relevance > 0.92 and strategy is not Strategy.RESTATEMENT:
        penalty += 0.3  # parroting the message back
    tokens = re.findall(r"[a-z']+", lower)
    trigrams = list(zip(tokens, tokens[1:], tokens[2:], strict=False))
    if trigrams and len(set(trigrams)) < 0.8 * len(trigrams):
        penalty += 0.4  # repetitive loops, common in small models
    return penalty
