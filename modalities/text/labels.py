"""GoEmotions labels, their Ekman grouping, and how valence, arousal and intensity are derived.

Derivation (documented in docs/ARCHITECTURE.md, used by every text-emotion backend):

* Each of the 28 labels has a coordinate ``(valence in [-1, 1], arousal in [0, 1])`` on Russell's
  circumplex, assigned by the project (``AFFECT_COORDINATES``), consistent in sign and rough
  magnitude with published valence-arousal norms for the label words.
* ``valence`` and ``arousal`` are the score-weighted means of those coordinates over the
  *detected* labels (those at or above their threshold; the top label when none is). Neutral sits
  at (0, 0.2), so a detected neutral reading pulls both towards calm and neutral. Averaging over
  all 28 labels instead would let the many small, mixed-sign scores of undetected labels drown
  out what was detected.
* ``intensity`` is the strongest non-neutral label probability: how clearly some emotion is
  expressed, whichever it is.
* ``ekman`` groups the scores into Ekman's 6 emotions (the GoEmotions authors' mapping) plus
  neutral, each group scoring the maximum of its members.
"""

from __future__ import annotations

from collections.abc import Mapping

from attune.types import TextEmotion

GOEMOTIONS_LABELS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)  # fmt: skip

EKMAN_GROUPS: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": (
        "joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
        "relief", "pride", "admiration", "desire", "caring",
    ),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}  # fmt: skip

#: label -> (valence, arousal)
AFFECT_COORDINATES: dict[str, tuple[float, float]] = {
    "admiration": (0.60, 0.45), "amusement": (0.70, 0.60), "anger": (-0.70, 0.85),
    "annoyance": (-0.50, 0.60), "approval": (0.50, 0.35), "caring": (0.60, 0.35),
    "confusion": (-0.20, 0.50), "curiosity": (0.30, 0.55), "desire": (0.40, 0.65),
    "disappointment": (-0.60, 0.35), "disapproval": (-0.50, 0.50), "disgust": (-0.75, 0.60),
    "embarrassment": (-0.50, 0.55), "excitement": (0.75, 0.85), "fear": (-0.75, 0.80),
    "gratitude": (0.75, 0.40), "grief": (-0.90, 0.40), "joy": (0.85, 0.70),
    "love": (0.85, 0.55), "nervousness": (-0.50, 0.75), "optimism": (0.65, 0.50),
    "pride": (0.70, 0.55), "realization": (0.10, 0.45), "relief": (0.60, 0.25),
    "remorse": (-0.65, 0.40), "sadness": (-0.80, 0.30), "surprise": (0.10, 0.80),
    "neutral": (0.00, 0.20),
}  # fmt: skip

LABEL_TO_EKMAN: dict[str, str] = {
    label: group for group, members in EKMAN_GROUPS.items() for label in members
}


def build_text_emotion(
    scores: Mapping[str, float],
    thresholds: Mapping[str, float] | float,
    backend: str,
) -> TextEmotion:
    """Turn per-label probabilities into a :class:`TextEmotion` with the derived dimensions.

    ``scores`` may name any subset of the 28 labels (missing ones count as 0); unknown labels
    are an error. ``thresholds`` is one value or one per label. When no label reaches its
    threshold, the single strongest label is reported.
    """
    unknown = set(scores) - set(GOEMOTIONS_LABELS)
    if unknown:
        raise ValueError(f"unknown GoEmotions labels: {sorted(unknown)}")
    full = {label: float(min(max(scores.get(label, 0.0), 0.0), 1.0)) for label in GOEMOTIONS_LABELS}

    def threshold(label: str) -> float:
        return thresholds if isinstance(thresholds, float) else thresholds.get(label, 0.5)

    ranked = sorted(full, key=lambda k: full[k], reverse=True)
    labels = [label for label in ranked if full[label] >= threshold(label)] or ranked[:1]

    total = sum(full[k] for k in labels)
    if total > 0:
        valence = sum(full[k] * AFFECT_COORDINATES[k][0] for k in labels) / total
        arousal = sum(full[k] * AFFECT_COORDINATES[k][1] for k in labels) / total
    else:
        valence, arousal = AFFECT_COORDINATES["neutral"]
    intensity = max(v for k, v in full.items() if k != "neutral")
    ekman = {group: max(full[m] for m in members) for group, members in EKMAN_GROUPS.items()}
    return TextEmotion(
        scores=full,
        labels=labels,
        ekman=ekman,
        valence=_clip(valence, -1.0, 1.0),
        arousal=_clip(arousal, 0.0, 1.0),
        intensity=_clip(intensity, 0.0, 1.0),
        backend=backend,
    )


def _clip(value: float, low: float, high: float) -> float:
    return round(min(max(value, low), high), 4)
