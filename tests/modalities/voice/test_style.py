"""The affect-to-voice table: the voice responds to the user's affect, scaled by expressiveness."""

from __future__ import annotations

import pytest

from attune.taxonomy import Strategy
from attune.types import AFFECT_LABELS, FusedAffect, TextEmotion, VoiceStyle
from modalities.voice.style import PRESETS, RESPONSE_ROWS, scaled, style_for


def affect(label: str, p: float = 1.0) -> FusedAffect:
    scores = {k: (p if k == label else (1 - p) / (len(AFFECT_LABELS) - 1)) for k in AFFECT_LABELS}
    return FusedAffect(scores=scores, label=label, valence=0.0, arousal=0.5, intensity=p)


def test_every_affect_label_has_a_row_and_say_names_exist() -> None:
    assert set(RESPONSE_ROWS) == set(AFFECT_LABELS)
    assert {"neutral", "sad", "calm", "warm", "joy", "excited", "anxious"} <= set(PRESETS)
    assert all(name == style.name for name, style in PRESETS.items())


def test_no_affect_and_no_strategy_is_neutral() -> None:
    assert style_for(None, None) == VoiceStyle(name="neutral")
    assert style_for(None, affect("neutral")) == VoiceStyle(name="neutral")


def test_sadness_is_met_slower_lower_softer() -> None:
    style = style_for(None, affect("sadness"))
    assert style.name == "gentle"
    assert style.speed < 1.0 and style.pitch < 0.0 and style.gain_db < 0.0


def test_joy_is_shared_brighter() -> None:
    style = style_for(None, affect("joy"))
    assert style.name == "joy" and style.pitch > 0.0 and style.speed > 1.0


def test_fear_is_met_calm_and_slow() -> None:
    style = style_for(None, affect("fear"))
    assert style.name == "calm" and style.speed < 1.0 and style.pitch <= 0.0


@pytest.mark.parametrize("expressiveness", [0.5, 1.0, 2.0])
def test_anger_is_met_low_and_never_louder(expressiveness: float) -> None:
    style = style_for(None, affect("anger"), expressiveness)
    assert style.pitch < 0.0 and style.gain_db <= 0.0 and style.speed < 1.0


def test_mixed_affect_moves_only_part_of_the_way() -> None:
    full, mixed = style_for(None, affect("sadness")), style_for(None, affect("sadness", 0.5))
    assert full.pitch < mixed.pitch < 0.0 and full.speed < mixed.speed < 1.0


def test_text_emotion_uses_its_ekman_groups() -> None:
    emotion = TextEmotion(
        scores={"grief": 0.9},
        labels=["grief"],
        ekman={"sadness": 0.9, "neutral": 0.1},
        valence=-0.8,
        arousal=0.3,
        intensity=0.9,
    )
    assert style_for(None, emotion).name == "gentle"


def test_affirmation_is_warmer_and_information_is_clearer() -> None:
    sad = style_for(None, affect("sadness"))
    warm = style_for(Strategy.AFFIRMATION, affect("sadness"))
    assert warm.name == "gentle+warm" and warm.pitch > sad.pitch
    for strategy in (Strategy.INFORMATION, Strategy.SUGGESTIONS):
        clear = style_for(strategy, affect("sadness"))
        assert clear.name == "gentle+clear"
        assert abs(clear.pitch) < abs(sad.pitch) and clear.speed >= 0.95
    assert style_for(Strategy.QUESTION, affect("sadness")) == sad


def test_expressiveness_scales_deviations() -> None:
    assert style_for(Strategy.AFFIRMATION, affect("joy"), 0.0).model_dump(
        exclude={"name"}
    ) == VoiceStyle().model_dump(exclude={"name"})
    one, two = style_for(None, affect("sadness"), 1.0), style_for(None, affect("sadness"), 2.0)
    assert two.pitch == pytest.approx(2 * one.pitch)
    assert two.speed - 1 == pytest.approx(2 * (one.speed - 1))


def test_scaled_stays_within_voice_style_bounds() -> None:
    extreme = scaled(PRESETS["excited"], 10.0)
    assert extreme.pitch <= 12.0 and extreme.gain_db <= 12.0 and extreme.speed <= 4.0
    assert scaled(PRESETS["sad"], 10.0).speed > 0.25
