"""How the supporter's voice answers the user's affect: a small, documented table.

The voice does not mirror the user; it responds. Grief is met with a slower, lower, softer voice;
shared joy with a brighter one; fear and anxiety with a calm, slow, steady one; anger with a
calm, low voice that never gets louder. Each row is a deviation from the voice's neutral
delivery (speed factor, pitch in semitones, gain in dB):

============  ======  ===========  =========  ==================================================
row           speed   pitch (st)   gain (dB)  chosen for
============  ======  ===========  =========  ==================================================
neutral       1.00     0.0          0.0       neutral affect, no affect, ``say --emotion neutral``
gentle        0.88    -1.5         -2.5       the user's sadness (grief): slower, lower, softer
calm          0.90    -1.0         -1.0       the user's fear (anxiety): slow and steady
steady        0.93    -1.5         -1.0       the user's anger or disgust: calm, low, not louder
bright        1.04    +1.0          0.0       the user's surprise: engaged
joy           1.06    +2.0         +1.0       the user's joy: shared, brighter
warm          0.96    +0.5         -0.5       ``say`` only; Affirmation blends toward it
sad           0.85    -2.5         -3.0       ``say`` only (the voice itself sounding sad)
excited       1.12    +3.0         +1.5       ``say`` only
anxious       1.10    +1.5          0.0       ``say`` only (sounding tense; never for a reply)
============  ======  ===========  =========  ==================================================

:func:`style_for` mixes the affect rows by the affect's probabilities (``FusedAffect.scores``
or ``TextEmotion.ekman``, normalised to sum to 1; neutral counts as no deviation), so a mixed or
uncertain reading moves the voice only part of the way. Then the strategy adjusts it:

- *Affirmation and Reassurance*: warmer: the mix moves halfway toward the ``warm`` row.
- *Information* and *Providing Suggestions*: neutral and clear: deviations are halved and the
  speed is kept at 0.95 or faster.
- every other strategy: no change.

Finally ``expressiveness`` multiplies every deviation (0 = always neutral, 1 = the table,
2 = twice as marked), and the result is clamped to :class:`VoiceStyle`'s bounds. The style's
``name`` is the row of the strongest affect label, with ``+warm`` or ``+clear`` when a strategy
adjusted it (e.g. ``gentle+warm``).
"""

from __future__ import annotations

from collections.abc import Mapping

from attune.taxonomy import Strategy
from attune.types import FusedAffect, TextEmotion, VoiceStyle

#: Named voice styles (the table in the module docstring), for ``attune say --emotion NAME``.
PRESETS: dict[str, VoiceStyle] = {
    style.name: style
    for style in (
        VoiceStyle(name="neutral", speed=1.00, pitch=0.0, gain_db=0.0),
        VoiceStyle(name="gentle", speed=0.88, pitch=-1.5, gain_db=-2.5),
        VoiceStyle(name="calm", speed=0.90, pitch=-1.0, gain_db=-1.0),
        VoiceStyle(name="steady", speed=0.93, pitch=-1.5, gain_db=-1.0),
        VoiceStyle(name="bright", speed=1.04, pitch=1.0, gain_db=0.0),
        VoiceStyle(name="joy", speed=1.06, pitch=2.0, gain_db=1.0),
        VoiceStyle(name="warm", speed=0.96, pitch=0.5, gain_db=-0.5),
        VoiceStyle(name="sad", speed=0.85, pitch=-2.5, gain_db=-3.0),
        VoiceStyle(name="excited", speed=1.12, pitch=3.0, gain_db=1.5),
        VoiceStyle(name="anxious", speed=1.10, pitch=1.5, gain_db=0.0),
    )
}

#: The row that answers each affect label (:data:`attune.types.AFFECT_LABELS`).
RESPONSE_ROWS: dict[str, str] = {
    "sadness": "gentle",
    "fear": "calm",
    "anger": "steady",
    "disgust": "steady",
    "surprise": "bright",
    "joy": "joy",
    "neutral": "neutral",
}

#: Strategies that make the voice warmer, and those that keep it neutral and clear.
WARM_STRATEGIES = frozenset({Strategy.AFFIRMATION})
CLEAR_STRATEGIES = frozenset({Strategy.INFORMATION, Strategy.SUGGESTIONS})
#: The slowest speed a "clear" strategy allows.
CLEAR_MIN_SPEED = 0.95

_Deviation = tuple[float, float, float]


def _deviation(style: VoiceStyle) -> _Deviation:
    """(speed - 1, pitch, gain): how far a style is from the neutral voice."""
    return style.speed - 1.0, style.pitch, style.gain_db


def _affect_distribution(affect: FusedAffect | TextEmotion | None) -> Mapping[str, float]:
    """The affect's probabilities over the response rows' labels, summing to 1 (empty if none)."""
    if affect is None:
        return {}
    scores = affect.scores if isinstance(affect, FusedAffect) else affect.ekman
    known = {k: max(0.0, float(v)) for k, v in scores.items() if k in RESPONSE_ROWS}
    total = sum(known.values())
    return {k: v / total for k, v in known.items()} if total > 0 else {}


def scaled(style: VoiceStyle, expressiveness: float, name: str | None = None) -> VoiceStyle:
    """``style`` with its deviations from neutral multiplied by ``expressiveness``, clamped to the
    bounds of :class:`VoiceStyle` (0 gives the neutral voice)."""
    speed, pitch, gain = (d * expressiveness for d in _deviation(style))
    return VoiceStyle(
        name=name or style.name,
        speed=round(min(4.0, max(0.3, 1.0 + speed)), 4),
        pitch=round(min(12.0, max(-12.0, pitch)), 4),
        gain_db=round(min(12.0, max(-24.0, gain)), 4),
    )


def style_for(
    strategy: Strategy | None,
    affect: FusedAffect | TextEmotion | None,
    expressiveness: float = 1.0,
) -> VoiceStyle:
    """The voice style for a reply given the chosen strategy and the user's affect.

    See the module docstring for the table and how rows are mixed and adjusted.
    """
    weights = _affect_distribution(affect)
    speed = pitch = gain = 0.0
    for label, weight in weights.items():
        d_speed, d_pitch, d_gain = _deviation(PRESETS[RESPONSE_ROWS[label]])
        speed, pitch, gain = (
            speed + weight * d_speed,
            pitch + weight * d_pitch,
            gain + weight * d_gain,
        )
    name = RESPONSE_ROWS[max(weights, key=lambda k: weights[k])] if weights else "neutral"

    if strategy in WARM_STRATEGIES:
        w_speed, w_pitch, w_gain = _deviation(PRESETS["warm"])
        speed, pitch, gain = (speed + w_speed) / 2, (pitch + w_pitch) / 2, (gain + w_gain) / 2
        name += "+warm"
    elif strategy in CLEAR_STRATEGIES:
        speed, pitch, gain = max(speed / 2, CLEAR_MIN_SPEED - 1.0), pitch / 2, gain / 2
        name += "+clear"

    mixed = VoiceStyle(name=name, speed=1.0 + speed, pitch=pitch, gain_db=gain)
    return scaled(mixed, expressiveness)
