"""The chain-of-empathy node: scenario -> emotion -> cause -> goal of the reply."""

from __future__ import annotations

import logging
import time

from langgraph.runtime import Runtime

from agent.appraisal import APPRAISAL_SCHEMA, build_appraisal, describe_emotion
from agent.context import AttuneContext
from agent.prompting import render
from agent.state import AttuneState
from modalities.errors import AttuneError
from modalities.types import ChatMessage, GenerationParams

log = logging.getLogger(__name__)


def appraise(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Ask the LLM for the chain of empathy; invalid steps fall back to perception."""
    ctx = runtime.context
    start = time.perf_counter()
    message = state.get("user_text") or ""
    emotion = state.get("text_emotion")
    llm_output: str | None = None
    if ctx.settings.llm.llm_appraisal and message:
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
    appraisal = build_appraisal(message, emotion, llm_output)
    runtime.stream_writer({"type": "appraisal", "appraisal": appraisal})
    return {
        "appraisal": appraisal,
        "timings_ms": {"appraise": (time.perf_counter() - start) * 1000},
    }
