"""Late fusion of text, speech and face affect into one :class:`FusedAffect`.

**Distributions.** Each modality present becomes a distribution over the common labels
(:mod:`modalities.fusion.labels`): the text's Ekman groups renormalised, the face's FER classes
renamed, the voice's own distribution or one derived from its valence and arousal.

**Weights.** ``weight_m = prior_m x confidence_m``: the prior from settings (text 1.0, speech
0.6, face 0.9 by default) times the reading's own confidence. Text gives no confidence of its
own, so its confidence is how clearly it states one thing: the strongest Ekman group's
probability (neutral included). The face's is its detection score x expression certainty; the
voice's is its backend's. A face reading with no face counts as absent. Each weight has a floor
of ``1e-3`` x the prior so a lone low-confidence modality still gives a reading; one modality
alone reproduces its own reading exactly.

**The estimate.** ``scores`` is the weight-normalised mixture of the distributions and ``label``
its top class; ``valence`` and ``arousal`` are weighted means of each modality's own values;
``intensity`` the weighted mean of each modality's intensity (text: its strongest non-neutral
label; face: ``1 - p(neutral)``; voice: how far its arousal is from the speaker's usual,
``|arousal - 0.5| x 2``). ``confidence`` reports each modality's share of the total weight.

**Incongruence** is the largest disagreement between two modalities, each pair's score being
``sqrt(c_a x c_b) x max(valence gap, arousal gap)`` with ``c`` the readings' own confidences,
so only two confident modalities can disagree strongly:

* valence gap: ``|v_a - v_b| / 2``, halved when both lie on the same side of neutral (a
  difference of degree, not of kind); the voice's valence counts half (prosody says little
  about pleasantness), so its gaps are halved too;
* arousal gap, words against voice only: strong words said flatly (``text intensity x`` how far
  the voice's arousal is *below* usual, ``x 2``) or calm words said with agitation
  (``(1 - text intensity) x`` how far it is *above* usual, ``x 2``).

Pairs scoring at or above ``incongruence_threshold`` are named in ``disagreements``
(``"text~face"``, ``"text~speech"``, ``"speech~face"``) and raise ``incongruent``.

**Explanation**: one sentence per the cues, second person and plain ("your words sound
hopeful, your voice is quiet and slow, and your expression looks sad"), plus a gentle note on
mixed signals when incongruent. It names cues, never diagnoses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from modalities.fusion.labels import (
    face_distribution,
    speech_distribution,
    text_distribution,
)
from modalities.types import (
    AFFECT_LABELS,
    FaceReading,
    FusedAffect,
    Modality,
    SpeechEmotion,
    TextEmotion,
)

if TYPE_CHECKING:
    from agent.settings import FusionSettings

#: How much each modality's valence is worth when comparing valences (prosody: a weak cue).
VALENCE_RELIABILITY: dict[Modality, float] = {"text": 1.0, "speech": 0.5, "face": 1.0}
#: Valences closer to 0 than this count as neutral when comparing signs.
NEUTRAL_BAND = 0.1
MIN_WEIGHT = 1e-3

#: How the text's strongest GoEmotions label is put into words.
TEXT_WORDS: dict[str, str] = {
    "admiration": "admiring", "amusement": "amused", "anger": "angry", "annoyance": "annoyed",
    "approval": "approving", "caring": "caring", "confusion": "unsure",
    "curiosity": "curious", "desire": "longing", "disappointment": "disappointed",
    "disapproval": "unhappy with something", "disgust": "put off",
    "embarrassment": "embarrassed", "excitement": "excited", "fear": "afraid",
    "gratitude": "grateful", "grief": "grieving", "joy": "happy", "love": "warm",
    "nervousness": "nervous", "optimism": "hopeful", "pride": "proud",
    "realization": "like something just clicked", "relief": "relieved",
    "remorse": "regretful", "sadness": "sad", "surprise": "surprised", "neutral": "calm",
}  # fmt: skip
FACE_WORDS: dict[str, str] = {
    "angry": "tense", "disgust": "put off", "fear": "worried", "happy": "happy",
    "sad": "sad", "surprise": "surprised", "neutral": "calm",
}  # fmt: skip
PAIR_WORDS: dict[str, str] = {
    "text~speech": "your words and your voice",
    "text~face": "your words and your expression",
    "speech~face": "your voice and your expression",
}


@dataclass(frozen=True)
class _Reading:
    """One modality on the common footing."""

    modality: Modality
    scores: np.ndarray
    valence: float
    arousal: float
    intensity: float
    confidence: float
    prior: float


def _readings(
    text: TextEmotion | None,
    speech: SpeechEmotion | None,
    face: FaceReading | None,
    settings: FusionSettings,
) -> list[_Reading]:
    def vector(scores: dict[str, float]) -> np.ndarray:
        return np.array([scores[k] for k in AFFECT_LABELS])

    out = []
    if text is not None:
        out.append(
            _Reading(
                "text",
                vector(text_distribution(text)),
                text.valence,
                text.arousal,
                text.intensity,
                float(np.clip(max(text.ekman.values(), default=0.0), 0.0, 1.0)),
                settings.text_weight,
            )
        )
    if speech is not None:
        out.append(
            _Reading(
                "speech",
                vector(speech_distribution(speech)),
                speech.valence,
                speech.arousal,
                min(1.0, abs(speech.arousal - 0.5) * 2),
                speech.confidence,
                settings.speech_weight,
            )
        )
    if face is not None and face.detected and face.scores:
        out.append(
            _Reading(
                "face",
                vector(face_distribution(face)),
                face.valence,
                face.arousal,
                1.0 - float(face.scores.get("neutral", 0.0)),
                face.confidence,
                settings.face_weight,
            )
        )
    return out


def _pair_score(a: _Reading, b: _Reading, text: TextEmotion | None) -> float:
    """How strongly two readings disagree, in [0, 1] (module docstring)."""
    va = a.valence * VALENCE_RELIABILITY[a.modality]
    vb = b.valence * VALENCE_RELIABILITY[b.modality]
    gap = abs(va - vb) / 2
    if (va > NEUTRAL_BAND and vb > NEUTRAL_BAND) or (va < -NEUTRAL_BAND and vb < -NEUTRAL_BAND):
        gap /= 2
    if {a.modality, b.modality} == {"text", "speech"} and text is not None:
        voice = b if b.modality == "speech" else a
        flat = text.intensity * max(0.0, 0.5 - voice.arousal) * 2
        agitated = (1.0 - text.intensity) * max(0.0, voice.arousal - 0.5) * 2
        gap = max(gap, flat, agitated)
    return float(np.clip(math.sqrt(a.confidence * b.confidence) * gap, 0.0, 1.0))


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _voice_phrase(speech: SpeechEmotion) -> str:
    adjectives = [c for c in speech.cues if " " not in c.strip()]
    phrases = [c for c in speech.cues if " " in c.strip()]
    if not adjectives and not phrases:
        mood = (
            "energetic"
            if speech.arousal > 0.65
            else "subdued"
            if speech.arousal < 0.35
            else "steady"
        )
        return f"your voice sounds {mood}"
    if not adjectives:
        return f"your voice has a {_join(phrases)}"
    text = f"your voice is {_join(adjectives)}"
    return text + (f", with a {_join(phrases)}" if phrases else "")


def explain(
    text: TextEmotion | None,
    speech: SpeechEmotion | None,
    face: FaceReading | None,
    disagreements: list[str],
) -> str:
    """A short, gentle, second-person account of the cues (module docstring)."""
    parts = []
    if text is not None:
        parts.append(f"your words sound {TEXT_WORDS.get(text.primary, 'calm')}")
    if speech is not None:
        parts.append(_voice_phrase(speech))
    if face is not None and face.detected and face.label:
        parts.append(f"your expression looks {FACE_WORDS.get(face.label, 'calm')}")
    if not parts:
        return ""
    if len(parts) > 1:
        parts[-1] = "and " + parts[-1]
    sentence = (", " if len(parts) > 2 else " ").join(parts)
    sentence = sentence[0].upper() + sentence[1:] + "."
    if disagreements:
        pairs = _join([PAIR_WORDS.get(p, p) for p in disagreements])
        sentence += (
            f" The signals seem mixed: {pairs} point different ways, so there may be more "
            "to how you feel than one of them shows."
        )
    return sentence


def fuse_affect(
    text: TextEmotion | None,
    speech: SpeechEmotion | None,
    face: FaceReading | None,
    settings: FusionSettings | None = None,
) -> FusedAffect | None:
    """One affect estimate from every modality present; ``None`` when none is (module doc)."""
    if settings is None:
        from agent.settings import FusionSettings

        settings = FusionSettings()
    readings = _readings(text, speech, face, settings)
    if not readings:
        return None
    weights = np.array([r.prior * max(r.confidence, MIN_WEIGHT) for r in readings])
    if weights.sum() <= 0:  # every prior is 0: fall back to equal weights
        weights = np.ones(len(readings))
    share = weights / weights.sum()

    scores = share @ np.stack([r.scores for r in readings])
    valence = float(share @ np.array([r.valence for r in readings]))
    arousal = float(share @ np.array([r.arousal for r in readings]))
    intensity = float(share @ np.array([r.intensity for r in readings]))

    pair_scores = {
        f"{a.modality}~{b.modality}": _pair_score(a, b, text)
        for i, a in enumerate(readings)
        for b in readings[i + 1 :]
    }
    incongruence = max(pair_scores.values(), default=0.0)
    threshold = settings.incongruence_threshold
    disagreements = [pair for pair, score in pair_scores.items() if score >= threshold]
    return FusedAffect(
        scores={k: round(float(v), 4) for k, v in zip(AFFECT_LABELS, scores, strict=True)},
        label=AFFECT_LABELS[int(np.argmax(scores))],
        valence=round(float(np.clip(valence, -1.0, 1.0)), 4),
        arousal=round(float(np.clip(arousal, 0.0, 1.0)), 4),
        intensity=round(float(np.clip(intensity, 0.0, 1.0)), 4),
        confidence={r.modality: round(float(s), 4) for r, s in zip(readings, share, strict=True)},
        incongruence=round(incongruence, 4),
        incongruent=incongruence >= threshold,
        disagreements=disagreements,
        explanation=explain(text, speech, face, disagreements),
    )
