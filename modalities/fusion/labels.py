"""How each modality's labels map onto the common label set (:data:`AFFECT_LABELS`).

* **Text** (GoEmotions, 28 labels): ``TextEmotion.ekman`` already groups the scores into Ekman's
  six emotions plus neutral (the GoEmotions authors' grouping, max over members; see
  ``modalities/text/labels.py``). The scores are multi-label, so the groups are renormalised to
  sum to 1.
* **Face** (FER2013, 7 labels): one to one by meaning, :data:`FER_TO_AFFECT`
  (angry -> anger, happy -> joy, sad -> sadness, the others keep their names).
* **Speech** (prosody): a distribution over the common labels when the backend gives one;
  otherwise one derived from its valence and arousal by :func:`circumplex_distribution`, a
  softmax over the negative squared distances to each label's circumplex prototype. Prosody
  places a voice on the circumplex only roughly, so this distribution is deliberately soft.

Circumplex prototypes (:data:`AFFECT_CIRCUMPLEX`) are the text module's coordinates for the
label words (Russell's circumplex: valence in [-1, 1], arousal in [0, 1]), so the modalities
share one affect space.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from attune.types import AFFECT_LABELS, FER_LABELS, FaceReading, SpeechEmotion, TextEmotion
from modalities.text.labels import AFFECT_COORDINATES

FER_TO_AFFECT: dict[str, str] = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "joy",
    "sad": "sadness",
    "surprise": "surprise",
    "neutral": "neutral",
}
#: label -> (valence, arousal) for each of :data:`AFFECT_LABELS`.
AFFECT_CIRCUMPLEX: dict[str, tuple[float, float]] = {
    label: AFFECT_COORDINATES[label] for label in AFFECT_LABELS
}
#: label -> (valence, arousal) for each of :data:`FER_LABELS` (via :data:`FER_TO_AFFECT`).
FER_CIRCUMPLEX: dict[str, tuple[float, float]] = {
    label: AFFECT_CIRCUMPLEX[FER_TO_AFFECT[label]] for label in FER_LABELS
}
#: Softness of the prosody distribution: the squared circumplex distance that costs a factor e.
PROSODY_TEMPERATURE = 0.15


def normalized(scores: Mapping[str, float]) -> dict[str, float]:
    """``scores`` over :data:`AFFECT_LABELS` (missing = 0), summing to 1 (uniform if all 0)."""
    values = np.array([max(float(scores.get(k, 0.0)), 0.0) for k in AFFECT_LABELS])
    total = values.sum()
    values = values / total if total > 0 else np.full(len(AFFECT_LABELS), 1 / len(AFFECT_LABELS))
    return dict(zip(AFFECT_LABELS, values.tolist(), strict=True))


def circumplex_distribution(
    valence: float, arousal: float, temperature: float = PROSODY_TEMPERATURE
) -> dict[str, float]:
    """A distribution over :data:`AFFECT_LABELS` from a point on the circumplex: the softmax of
    ``-distance^2 / temperature`` to each label's prototype."""
    protos = np.array([AFFECT_CIRCUMPLEX[k] for k in AFFECT_LABELS])
    d2 = ((protos - np.array([valence, arousal])) ** 2).sum(axis=1)
    logits = -d2 / temperature
    weights = np.exp(logits - logits.max())
    return dict(zip(AFFECT_LABELS, (weights / weights.sum()).tolist(), strict=True))


def text_distribution(text: TextEmotion) -> dict[str, float]:
    """The text's Ekman groups, renormalised over :data:`AFFECT_LABELS`."""
    return normalized(text.ekman)


def face_distribution(face: FaceReading) -> dict[str, float]:
    """The face's FER distribution renamed onto :data:`AFFECT_LABELS`."""
    return normalized({FER_TO_AFFECT[k]: v for k, v in face.scores.items() if k in FER_TO_AFFECT})


def speech_distribution(speech: SpeechEmotion) -> dict[str, float]:
    """The speech backend's own distribution when it names the common labels, else the
    circumplex distribution of its valence and arousal."""
    if speech.scores and set(speech.scores) <= set(AFFECT_LABELS):
        return normalized(speech.scores)
    return circumplex_distribution(speech.valence, speech.arousal)
