"""The speech node: say the reply in a voice that fits the user's affect and the strategy."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.state import AttuneState


def synthesize_speech(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Synthesise the reply sentence by sentence, emitting ``audio.chunk`` events as each is
    ready (the first sentence plays while the rest is synthesised).

    The voice style comes from :func:`modalities.voice.style.style_for` (fused affect, else the
    text emotion, and the strategy), scaled by ``voice.expressiveness``; a crisis reply is
    always spoken in the calm style. An interrupted turn stops between sentences.
    """
    from modalities.voice.style import PRESETS, style_for

    reply = state.get("reply")
    if not reply or not state.get("speak"):
        return {}
    ctx = runtime.context
    start = time.perf_counter()
    decision = state.get("strategy")
    safety = state.get("safety")
    if safety is not None and safety.crisis:
        style = PRESETS["calm"]
    else:
        style = style_for(
            decision.strategy if decision else None,
            state.get("affect") or state.get("text_emotion"),
            ctx.settings.voice.expressiveness,
        )
    first_ms: float | None = None
    for chunk in ctx.tts.stream(reply, style):
        if ctx.cancelled:  # barge-in: stop speaking
            break
        if first_ms is None:
            first_ms = (time.perf_counter() - start) * 1000
        runtime.stream_writer({"type": "audio.chunk", "chunk": chunk, "style": style})
    timings = {"synthesize_speech": (time.perf_counter() - start) * 1000}
    if first_ms is not None:
        timings["first_audio"] = first_ms
    return {"timings_ms": timings}
