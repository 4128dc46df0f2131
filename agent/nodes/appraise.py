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
    read_background,
)
from agent.context import AttuneContext
from agent.nodes.speak import low_latency_voice
from agent.prompting import render
from agent.state import AttuneState
from attune.errors import AttuneError
from attune.types import AppraisalEvent, ChatMessage, GenerationParams

log = logging.getLogger(__name__)


def appraise(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """The chain of empathy, grounded in what the person said (``fallback_appraisal``):
    event and cause from their messages (this one and earlier) in the third person, the event
    named by the background classifier's problem type when it is fairly sure, emotion and
    goal from perception. With ``llm.llm_appraisal`` (off by default: the bundled model's steps
    were about the supporter) the LLM proposes steps first and valid ones are kept; that call
    shows as ``timings_ms["appraise_llm"]``. When the modalities disagree, the emotion and goal
    steps say so (:func:`apply_affect`). A low-latency voice turn never calls the LLM here.
    """
    ctx = runtime.context
    start = time.perf_counter()
    message = state.get("user_text") or ""
    emotion = state.get("text_emotion")
    affect = state.get("affect")
    llm_output: str | None = None
    llm_ms: float | None = None
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
        llm_start = time.perf_counter()
        try:
            llm_output = ctx.llm.generate(messages, params)
        except AttuneError as exc:  # the deterministic chain still gives a full appraisal
            log.warning("appraisal LLM call failed (%s); using the perception fallback", exc.code)
        llm_ms = (time.perf_counter() - llm_start) * 1000
    earlier = [m.content for m in state.get("history", []) if m.role == "user"]
    background = read_background(ctx.embedder, [*earlier, message]) if message else None
    appraisal = apply_affect(
        build_appraisal(message, emotion, llm_output, earlier, background), affect
    )
    runtime.stream_writer(AppraisalEvent(appraisal=appraisal))
    timings = {"appraise": (time.perf_counter() - start) * 1000}
    if llm_ms is not None:  # the turn made an LLM call before the reply (llm.llm_appraisal)
        timings["appraise_llm"] = llm_ms
    return {"appraisal": appraisal, "timings_ms": timings}
