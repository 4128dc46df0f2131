"""Backchannels ("mm-hmm", "okay", a cough) against real interruptions, as Whisper writes them."""

from __future__ import annotations

import pytest

from modalities.speech.backchannel import is_backchannel, words_of


@pytest.mark.parametrize(
    "heard",
    [
        "Mm-hmm.",
        "Mhm",
        "Uh-huh.",
        "Yeah.",
        "Okay.",
        " OK ",
        "Right, right.",
        "Oh, okay.",
        "Yeah, I see.",
        "Got it.",
        "Hmm.",
        "[laughs]",
        "(coughs)",
        "*cough*",
        "",
        "...",
        "Oh wow.",
    ],
)
def test_backchannels(heard):
    assert is_backchannel(heard)


@pytest.mark.parametrize(
    "heard",
    [
        "Wait.",
        "No.",
        "Stop.",
        "Okay, but wait.",
        "Yeah, but I don't think so.",
        "Can I say something?",
        "I",
        "It",
        "Yeah yeah yeah yeah.",  # four: more than a nod
        "Sorry, that's not what happened.",
        "Okay so my sister",
    ],
)
def test_interruptions(heard):
    assert not is_backchannel(heard)


def test_words_drop_noise_tags_and_hyphens():
    assert words_of("[laughs] Mm-hmm, yeah.") == ["mmhmm", "yeah"]
    assert words_of("Don't") == ["dont"]
