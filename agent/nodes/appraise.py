"""The chain-of-empathy node: scenario -> emotion -> cause -> goal of the reply."""

from __future__ import annotations

import logging
import time

from langgraph.runtime import Runtime

from agent.appraisal import (
    APPRAISAL_SCHEMA,
    apply_affect,
    build_appraisal,
    describe_emotion,
    mixed_signals,
)
from agent.context import AttuneContext
from agent.nodes.speak import low_latency_voice
from agent.prompting import render
from agent.state import AttuneState
from modalities.errors import AttuneError
from modalities.types import ChatMessage, GenerationParams

log = logging.getLogger(__name__)


def appraise(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Ask the LLM for the chain of empathy; invalid steps fall back to perception.

    The fused affect's explanation (voice, face) is given to the LLM as a hint; when the
    modalities disagree, the emotion and goal steps say so (:func:`apply_affect`). A
    low-latency voice turn skips the LLM call: its chain comes from perception.
    """
    ctx = runtime.context
    start = time.perf_counter()
    message = state.get("user_text") or ""
    emotion = state.get("text_emotion")
    affect = state.get("affect")
    llm_output: str | None = None
    if ctx.settings.llm.llm_appraisal and message and not low_latency_voice(state, ctx):
        history = state.get("history", [])[-4:]
        lines = [f"{'Them' if m.role == 'user' else 'You'}: {m.content}" for m in history]
        messages = [
            ChatMessage(role="system", content=render("appraisal_system.j2")),
            ChatMessage(
                role="user",
                content=render(
                    "appraisal_user.j2",
                    history=lines,
                    message=message,
                    emotion_hint=describe_emotion(emotion) if emotion else None,
                    mixed=mixed_signals(state.get("affect")),
                    affect_hint=affect.explanation if affect is not None else None,
                ),
            ),
        ]
        params = GenerationParams(
            max_tokens=120,
            temperature=0.2,
            seed=ctx.settings.seed,
            json_schema=APPRAISAL_SCHEMA if ctx.llm.capabilities.json_schema else None,
        )
        try:
            llm_output = ctx.llm.generate(messages, params)
        except AttuneError as exc:  # the deterministic chain still gives a full appraisal
            log.warning("appraisal LLM call failed (%s); using the perception fallback", exc.code)
    appraisal = apply_affect(build_appraisal(message, emotion, llm_output), affect)
    runtime.stream_writer({"type": "appraisal", "appraisal": appraisal})
    return {
        "appraisal": appraisal,
        "timings_ms": {"appraise": (time.perf_counter() - start) * 1000},
    }
