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

**Words carry what happened** (``words``, the message itself, when given). The text
classifier scores how a sentence sounds; a plain statement of a bereavement or a failure
sounds flat and gets a modest top score. :func:`modalities.fusion.cues.verbal_cues` finds such
adverse events, and then the text reading changes: its confidence is at least the event's
strength (0.7-0.9), its valence at most ``-0.7 x strength``, and half the strength of its
distribution moves to the feeling the event usually carries (bereavement: sadness; an
illness: fear). The fused valence then never turns positive against adverse words (it is at
most the text's share of the text's valence), and the fused label is not ``joy``: a smile
over a loss is reported as incongruence, not as happiness. Face and voice still modulate the
intensity, the arousal and the mixture.

**Masking.** Hedges and minimisers ("I'm fine, really", "it's just that", "I guess") with
negative words (adverse events, or a text valence below ``-0.2``) add ``MASKING_BONUS`` to the
disagreement between the words and each channel that does not itself look negative: the
plain statement of a loss is flagged against a smile, and the hedged one more so, where the
hedge used to lower the words' confidence and hide it.

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

from attune.types import (
    AFFECT_LABELS,
    FaceReading,
    FusedAffect,
    Modality,
    SpeechEmotion,
    TextEmotion,
)
from modalities.fusion.cues import VerbalCues, verbal_cues
from modalities.fusion.labels import (
    face_distribution,
    speech_distribution,
    text_distribution,
)

if TYPE_CHECKING:
    from attune.settings import FusionSettings

#: How much each modality's valence is worth when comparing valences (prosody: a weak cue).
VALENCE_RELIABILITY: dict[Modality, float] = {"text": 1.0, "speech": 0.5, "face": 1.0}
#: Valences closer to 0 than this count as neutral when comparing signs.
NEUTRAL_BAND = 0.1
MIN_WEIGHT = 1e-3
#: Added to a words~channel disagreement when negative words are played down (hedged).
MASKING_BONUS = 0.15
#: How an adverse event is named in the explanation.
EVENT_WORDS: dict[str, str] = {
    "bereavement": "a loss", "failure": "a setback", "breakup": "a break-up",
    "illness": "an illness", "danger": "feeling unsafe", "sleepless": "sleepless nights",
    "loneliness": "loneliness", "worry": "a worry",
}  # fmt: skip

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
    cues: VerbalCues,
) -> list[_Reading]:
    def vector(scores: dict[str, float]) -> np.ndarray:
        return np.array([scores[k] for k in AFFECT_LABELS])

    out = []
    if text is not None:
        scores = vector(text_distribution(text))
        valence = text.valence
        confidence = float(np.clip(max(text.ekman.values(), default=0.0), 0.0, 1.0))
        intensity = text.intensity
        if cues.adverse and cues.feeling in AFFECT_LABELS:
            # what happened outweighs how flatly it was said (module docstring)
            target = np.zeros(len(AFFECT_LABELS))
            target[AFFECT_LABELS.index(cues.feeling)] = 1.0
            moved = cues.strength / 2
            scores = (1 - moved) * scores / max(scores.sum(), 1e-9) + moved * target
            valence = min(valence, -0.7 * cues.strength)
            confidence = max(confidence, cues.strength)
            intensity = max(intensity, 0.6 * cues.strength)
        out.append(
            _Reading("text", scores, valence, text.arousal, intensity, confidence,
                     settings.text_weight)
        )  # fmt: skip
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


def _pair_score(a: _Reading, b: _Reading, text: TextEmotion | None, masking: bool) -> float:
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
    score = math.sqrt(a.confidence * b.confidence) * gap
    if masking and "text" in (a.modality, b.modality):
        other = b if a.modality == "text" else a
        if other.valence * VALENCE_RELIABILITY[other.modality] > -NEUTRAL_BAND:
            score += MASKING_BONUS
    return float(np.clip(score, 0.0, 1.0))


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
    cues: VerbalCues | None = None,
) -> str:
    """A short, gentle, second-person account of the cues (module docstring)."""
    parts = []
    if text is not None and cues is not None and cues.adverse:
        parts.append(f"your words tell of {EVENT_WORDS.get(cues.events[0], 'something painful')}")
    elif text is not None:
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
    *,
    words: str | None = None,
) -> FusedAffect | None:
    """One affect estimate from every modality present; ``None`` when none is (module doc).

    ``words`` is the message ``text`` was read from: with it, what the words say happened and
    how they play it down count too."""
    if settings is None:
        from attune.settings import FusionSettings

        settings = FusionSettings()
    cues = verbal_cues(words) if words and text is not None else VerbalCues()
    readings = _readings(text, speech, face, settings, cues)
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

    words_reading = next((r for r in readings if r.modality == "text"), None)
    negative_words = words_reading is not None and (cues.adverse or words_reading.valence < -0.2)
    masking = negative_words and bool(cues.hedges)
    pair_scores = {
        f"{a.modality}~{b.modality}": _pair_score(a, b, text, masking)
        for i, a in enumerate(readings)
        for b in readings[i + 1 :]
    }
    label = AFFECT_LABELS[int(np.argmax(scores))]
    if words_reading is not None and cues.adverse:
        # adverse words: the estimate is never happy; a smile over them is incongruence
        valence = min(valence, float(share[readings.index(words_reading)]) * words_reading.valence)
        if label == "joy":
            label = max((k for k in AFFECT_LABELS if k != "joy"),
                        key=lambda k: scores[AFFECT_LABELS.index(k)])  # fmt: skip
    incongruence = max(pair_scores.values(), default=0.0)
    threshold = settings.incongruence_threshold
    disagreements = [pair for pair, score in pair_scores.items() if score >= threshold]
    return FusedAffect(
        scores={k: round(float(v), 4) for k, v in zip(AFFECT_LABELS, scores, strict=True)},
        label=label,
        valence=round(float(np.clip(valence, -1.0, 1.0)), 4),
        arousal=round(float(np.clip(arousal, 0.0, 1.0)), 4),
        intensity=round(float(np.clip(intensity, 0.0, 1.0)), 4),
        confidence={r.modality: round(float(s), 4) for r, s in zip(readings, share, strict=True)},
        incongruence=round(incongruence, 4),
        incongruent=incongruence >= threshold,
        disagreements=disagreements,
        explanation=explain(text, speech, face, disagreements, cues),
        cues=[*cues.events, *(["hedged"] if masking else [])],
    )
