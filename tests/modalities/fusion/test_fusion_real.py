"""Fusion over the real models: the bundled text-emotion head and face backend, the default
portrait (a smiling face) as the camera frame. The four rows of issue 17's table, and the
cases that must stay as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from attune import registry
from attune.settings import load_settings
from attune.types import FaceReading
from modalities.fusion import fuse_affect

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)

PORTRAIT = Path(__file__).resolve().parents[3] / "modalities" / "avatar" / "assets" / "portrait.jpg"

NEGATIVE = [
    ("My father passed away last week.", False),
    ("I am fine, really, it is just that my father passed away last week.", True),
    ("Honestly I'm okay. I just haven't slept since the funeral.", True),
    ("I failed my exam and my parents will be furious.", False),
]
CONGRUENT = [
    "I got the job I wanted, I'm so happy!",
    "I'm fine, thanks. Just a normal day at work.",
]


@pytest.fixture(scope="module")
def stack():
    pytest.importorskip("ai_edge_litert")
    settings = load_settings()
    text = registry.create("text_emotion", settings.backends.text_emotion, settings)
    face = registry.create("face", settings.backends.face, settings)
    reading = face.analyze(PORTRAIT.read_bytes())
    return settings, text, reading


def test_the_portrait_smiles(stack):
    _, _, reading = stack
    assert isinstance(reading, FaceReading) and reading.detected and reading.label == "happy"


@pytest.mark.parametrize(("words", "hedged"), NEGATIVE)
def test_a_smile_does_not_overrule_what_happened(stack, words, hedged):
    settings, text, reading = stack
    emotion = text.analyze(words)
    before = fuse_affect(emotion, None, reading, settings.fusion)  # the words' scores alone
    after = fuse_affect(emotion, None, reading, settings.fusion, words=words)
    assert before is not None and after is not None
    assert after.valence < 0 and after.label != "joy", after
    assert after.incongruent and "text~face" in after.disagreements, after
    assert ("hedged" in after.cues) is hedged
    assert after.incongruence >= before.incongruence
    assert after.explanation.startswith("Your words tell of")


def test_the_hedged_statement_is_flagged_more_than_the_plain_one(stack):
    settings, text, reading = stack
    plain, hedged = (
        fuse_affect(text.analyze(w), None, reading, settings.fusion, words=w)
        for w, _ in NEGATIVE[:2]
    )
    assert plain is not None and hedged is not None
    assert hedged.incongruence > plain.incongruence


@pytest.mark.parametrize("words", CONGRUENT)
def test_happy_or_plain_words_with_a_smile_stay_congruent(stack, words):
    settings, text, reading = stack
    affect = fuse_affect(text.analyze(words), None, reading, settings.fusion, words=words)
    assert affect is not None and affect.label == "joy" and affect.valence > 0
    assert not affect.incongruent and affect.cues == [], affect
