"""``attune eval turns`` on real synthetic speech: the silence rule cuts a mid-thought pause
longer than its silence, waits its silence after a finished sentence; Smart Turn waits."""

from __future__ import annotations

import pytest

from agent import load_settings, turn_eval
from modalities.speech.segmenter import SpeechSegmenter
from modalities.speech.turn import SmartTurn


@pytest.fixture(scope="module")
def turns():
    settings = load_settings()
    speak = {"hibari": turn_eval.voices(settings)[settings.backends.tts]}
    original = (turn_eval.UNFINISHED, turn_eval.FINISHED)
    turn_eval.UNFINISHED = (("I was going to call my sister and", 0.8, "then I couldn't."),)
    turn_eval.FINISHED = ("I lost my job today and I feel really sad about it.",)
    try:
        yield settings, turn_eval.make_turns(speak)
    finally:
        turn_eval.UNFINISHED, turn_eval.FINISHED = original


def test_the_silence_rule_cuts_a_long_pause_and_waits_its_silence(turns):
    settings, spoken = turns
    assert [t.finished for t in spoken] == [False, True]
    result = turn_eval.score(SpeechSegmenter.from_settings(settings), spoken)
    assert result["false_cut_offs"] == 1 and result["false_cut_off_rate"] == 1.0
    delay = result["end_of_turn_delay_ms"]["p50"]
    assert settings.speech.min_silence_ms <= delay <= settings.speech.min_silence_ms + 150


@pytest.mark.skipif(not SmartTurn.available(), reason="the Smart Turn model is not installed")
def test_smart_turn_waits_through_the_pause_after_and(turns):
    settings, spoken = turns
    smart = settings.model_copy(
        update={"speech": settings.speech.model_copy(update={"turn_detection": "smart_turn"})}
    )
    result = turn_eval.score(SpeechSegmenter.from_settings(smart), spoken)
    assert result["false_cut_offs"] == 0
    assert result["finished_never_ended"] == 0
