"""How the reply is to be spoken and shown: decided in the graph, carried by an event.

The reply nodes (``respond``, ``safe_reply``) emit :func:`speech_style_event` before the
reply's first word when the client asked to hear it: the voice style from the fused affect (else
the text emotion) and the strategy, and, when the avatar was asked for, the supporter's
expression; both calm on a crisis. The speech stage (:mod:`agent.speech`) speaks with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.context import AttuneContext
from agent.state import AttuneState
from attune.types import SpeechStyleEvent, VoiceStyle

if TYPE_CHECKING:
    from modalities.avatar.cues import Expression


def voice_style(state: AttuneState, ctx: AttuneContext) -> VoiceStyle:
    """The style of this turn's voice: from the fused affect (else the text emotion) and the
    strategy (:func:`modalities.voice.style.style_for`), scaled by ``voice.expressiveness``;
    always ``calm`` on a crisis."""
    from modalities.voice.style import PRESETS, style_for

    safety = state.get("safety")
    if safety is not None and safety.crisis:
        return PRESETS["calm"]
    decision = state.get("strategy")
    return style_for(
        decision.strategy if decision else None,
        state.get("affect") or state.get("text_emotion"),
        ctx.settings.voice.expressiveness,
    )


def avatar_expression(state: AttuneState, ctx: AttuneContext) -> Expression:
    """The supporter's face for this turn (:func:`modalities.avatar.cues.expression_for`);
    the calm face on a crisis."""
    from modalities.avatar.cues import EXPRESSIONS, expression_for, scaled_expression

    safety = state.get("safety")
    scale = ctx.settings.avatar.expressiveness
    if safety is not None and safety.crisis:
        return scaled_expression(EXPRESSIONS["calm"], scale)
    decision = state.get("strategy")
    return expression_for(
        decision.strategy if decision else None,
        state.get("affect") or state.get("text_emotion"),
        scale,
    )


def speech_style_event(state: AttuneState, ctx: AttuneContext) -> SpeechStyleEvent | None:
    """The ``speech.style`` event of this turn's reply; ``None`` when it is not spoken."""
    if not state.get("speak"):
        return None
    expression = avatar_expression(state, ctx) if state.get("avatar") else None
    return SpeechStyleEvent(
        voice=voice_style(state, ctx),
        expression=expression.model_dump(mode="json") if expression is not None else None,
    )


def low_latency_voice(state: AttuneState, ctx: AttuneContext) -> bool:
    """Whether this is a voice turn run for the shortest time to first audio: audio in, speech
    out, and ``voice.low_latency`` on (no LLM appraisal, one streamed candidate)."""
    return (
        ctx.settings.voice.low_latency
        and bool(state.get("speak"))
        and "audio" in state.get("inputs", [])
    )
