"""Late fusion: weights, text-only identity, incongruence and the explanation."""

from __future__ import annotations

import numpy as np
import pytest

from attune.settings import FusionSettings
from attune.types import AFFECT_LABELS, FER_LABELS, FaceReading, SpeechEmotion, TextEmotion
from modalities.face.expression import valence_arousal
from modalities.fusion import fuse_affect
from modalities.fusion.labels import (
    FER_TO_AFFECT,
    circumplex_distribution,
    face_distribution,
    text_distribution,
)
from modalities.text.labels import build_text_emotion


def text(**scores: float) -> TextEmotion:
    return build_text_emotion(scores, 0.3, backend="test")


def face(label: str, p: float = 0.85, confidence: float = 0.8) -> FaceReading:
    rest = (1 - p) / (len(FER_LABELS) - 1)
    scores = {k: (p if k == label else rest) for k in FER_LABELS}
    valence, arousal = valence_arousal(np.array([scores[k] for k in FER_LABELS]))
    return FaceReading(
        detected=True,
        faces=1,
        scores=scores,
        label=label,
        valence=valence,
        arousal=arousal,
        confidence=confidence,
        backend="test",
    )


SAD_TEXT = text(sadness=0.9, grief=0.4)
HAPPY_TEXT = text(joy=0.85, optimism=0.5)


def test_nothing_present_gives_none() -> None:
    assert fuse_affect(None, None, None) is None
    assert fuse_affect(None, None, FaceReading(detected=False)) is None


def test_text_only_equals_the_text_reading() -> None:
    fused = fuse_affect(SAD_TEXT, None, None)
    assert fused is not None
    assert fused.label == "sadness" == SAD_TEXT.primary_ekman
    assert fused.scores == pytest.approx(text_distribution(SAD_TEXT), abs=1e-4)
    assert (fused.valence, fused.arousal) == pytest.approx((SAD_TEXT.valence, SAD_TEXT.arousal))
    assert fused.intensity == pytest.approx(SAD_TEXT.intensity)
    assert fused.confidence == {"text": 1.0}
    assert not fused.incongruent and fused.incongruence == 0.0
    assert fused.explanation == "Your words sound sad."


@pytest.mark.parametrize(
    ("words", "expression", "label"),
    [(SAD_TEXT, "sad", "sadness"), (HAPPY_TEXT, "happy", "joy")],
)
def test_congruent_inputs_are_not_flagged(words: TextEmotion, expression: str, label: str) -> None:
    fused = fuse_affect(words, None, face(expression))
    assert fused is not None
    assert fused.label == label and not fused.incongruent and fused.disagreements == []
    assert fused.incongruence < FusionSettings().incongruence_threshold


def test_sad_words_with_a_happy_face_are_incongruent() -> None:
    fused = fuse_affect(SAD_TEXT, None, face("happy"))
    assert fused is not None
    assert fused.incongruent and fused.disagreements == ["text~face"]
    assert fused.incongruence >= FusionSettings().incongruence_threshold
    assert "sad" in fused.explanation and "happy" in fused.explanation
    assert "mixed" in fused.explanation and "your words and your expression" in fused.explanation
    # Both are in the mixture, weighted by prior x confidence.
    assert fused.scores["sadness"] > 0.2 and fused.scores["joy"] > 0.2
    assert set(fused.confidence) == {"text", "face"}
    assert sum(fused.confidence.values()) == pytest.approx(1.0, abs=1e-3)


def test_an_unsure_face_cannot_contradict_confident_words() -> None:
    fused = fuse_affect(SAD_TEXT, None, face("happy", p=0.3, confidence=0.1))
    assert fused is not None and not fused.incongruent
    assert fused.label == "sadness" and fused.confidence["text"] > 0.8


def test_strong_words_said_flatly_are_flagged() -> None:
    angry = text(anger=0.95, annoyance=0.6)
    flat = SpeechEmotion(arousal=0.1, valence=0.0, confidence=0.8, cues=["quiet", "slow"])
    fused = fuse_affect(angry, flat, None)
    assert fused is not None and fused.incongruent and fused.disagreements == ["text~speech"]
    lively = SpeechEmotion(arousal=0.85, valence=-0.2, confidence=0.8, cues=["loud", "fast"])
    fused = fuse_affect(angry, lively, None)
    assert fused is not None and not fused.incongruent


def test_the_explanation_names_every_modality_present() -> None:
    voice = SpeechEmotion(
        arousal=0.3, valence=-0.1, confidence=0.6, cues=["quiet", "slow", "narrow pitch range"]
    )
    fused = fuse_affect(text(optimism=0.8), voice, face("sad"))
    assert fused is not None
    assert fused.explanation.startswith(
        "Your words sound hopeful, your voice is quiet and slow, with a narrow pitch range, "
        "and your expression looks sad."
    )
    assert set(fused.confidence) == {"text", "speech", "face"}
    no_cues = fuse_affect(None, SpeechEmotion(arousal=0.9, valence=0.0, confidence=0.5), None)
    assert no_cues is not None and no_cues.explanation == "Your voice sounds energetic."


def test_prior_weights_come_from_settings() -> None:
    settings = FusionSettings(text_weight=1.0, face_weight=0.0)
    fused = fuse_affect(SAD_TEXT, None, face("happy"), settings)
    assert fused is not None and fused.confidence["face"] == 0.0 and fused.label == "sadness"


def test_label_mappings() -> None:
    assert set(FER_TO_AFFECT) == set(FER_LABELS) and set(FER_TO_AFFECT.values()) == set(
        AFFECT_LABELS
    )
    assert face_distribution(face("happy"))["joy"] == pytest.approx(0.85)
    calm_low = circumplex_distribution(-0.8, 0.25)
    assert max(calm_low, key=lambda k: calm_low[k]) == "sadness"
    assert sum(circumplex_distribution(0.8, 0.7).values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("words", "events", "hedged"),
    [
        ("My father passed away last week.", ("bereavement",), False),
        (
            "Honestly I'm okay. I just haven't slept since the funeral.",
            ("bereavement", "sleepless"),
            True,
        ),
        ("I failed my exam and my parents will be furious.", ("failure", "worry"), False),
        ("My girlfriend broke up with me, but whatever.", ("breakup",), True),
        ("My mum was diagnosed with cancer.", ("illness",), False),
        ("I got the job and I'm so happy!", (), False),
        ("I'm fine, thanks, just a normal day.", (), True),
        ("My grandfather did not die, he is in recovery now.", (), False),
    ],
)
def test_verbal_cues_name_adverse_events_and_hedges(words, events, hedged):
    from modalities.fusion.cues import verbal_cues

    cues = verbal_cues(words)
    assert set(cues.events) == set(events), cues
    assert bool(cues.hedges) is hedged, cues
    assert cues.adverse is bool(events)


def test_adverse_words_keep_the_estimate_negative_against_a_smile() -> None:
    flat = text(neutral=0.6, sadness=0.3)  # a flat statement: a modest top score
    words = "I'm fine, really, it's just that my father passed away."
    plain = fuse_affect(flat, None, face("happy"))
    read = fuse_affect(flat, None, face("happy"), words=words)
    assert plain is not None and read is not None
    assert read.valence < 0 and read.label != "joy"
    assert read.incongruent and read.incongruence > plain.incongruence
    assert read.cues == ["bereavement", "hedged"]
    # with a sad face the same words are congruent
    sad = fuse_affect(flat, None, face("sad"), words=words)
    assert sad is not None and not sad.incongruent and sad.label == "sadness"
