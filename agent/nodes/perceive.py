"""Perception nodes: read the user's emotion from each modality present in the turn."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.state import AttuneState


def perceive_text(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Text emotion of the user's message."""
    text = state.get("user_text")
    if not text:  # routed here only with text; guard for direct calls
        return {}
    start = time.perf_counter()
    emotion = runtime.context.text_emotion.analyze(text)
    runtime.stream_writer({"type": "perception", "text_emotion": emotion})
    return {
        "text_emotion": emotion,
        "timings_ms": {"perceive_text": (time.perf_counter() - start) * 1000},
    }
