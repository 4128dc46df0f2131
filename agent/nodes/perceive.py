"""Perception nodes: read the user's emotion from each modality present in the turn, then fuse.

Order (each node runs only when its input is present, see ``agent.graph``):
``perceive_speech`` (ASR + prosody; the transcript becomes the turn's text) -> ``perceive_text``
-> ``perceive_face`` -> ``fuse_affect`` (always). Raw audio and images come from the per-turn
runtime context (:class:`agent.context.TurnMedia`) and never enter the checkpointed state.
"""

from __future__ import annotations

import logging
import time

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.state import AttuneState
from attune.errors import InputError
from attune.types import PerceptionEvent

log = logging.getLogger(__name__)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def perceive_speech(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Transcribe the utterance (unless the turn brings its transcript, recognised while the
    person spoke) and read its prosody; the transcript joins the typed text.

    Prosody is normalised against this speaker's earlier turns (``prosody_baseline``), which
    this node updates. A turn whose audio holds no recognisable speech and that has no typed
    text fails with ``InputError("no_speech")``, leaving the session as it was.
    """
    ctx = runtime.context
    audio = ctx.media.audio
    if audio is None:  # routed here only with audio; guard for direct calls
        return {}
    start = time.perf_counter()
    if ctx.media.transcript is not None:  # recognised live while the person spoke
        transcript = ctx.media.transcript
    else:
        transcript = ctx.asr.transcribe(audio)
    asr_ms = _ms(start)
    typed = state.get("user_text")
    heard = transcript.text.strip()
    if not heard and not typed:
        raise InputError("no_speech", "no speech was recognised in the audio; please try again")
    mark = time.perf_counter()
    baseline = state.get("prosody_baseline")
    emotion = ctx.speech_emotion.analyze(audio, transcript=transcript, baseline=baseline)
    baseline = ctx.speech_emotion.update_baseline(baseline, emotion)
    runtime.stream_writer(PerceptionEvent(transcript=transcript, speech_emotion=emotion))
    limit = ctx.settings.chat.max_input_chars
    user_text = " ".join(part for part in (typed, heard) if part)[:limit]
    log.debug("turn %s: %.1f s of audio heard", state.get("turn_id"), audio.duration)
    return {
        "user_text": user_text,
        "transcript": transcript,
        "speech_emotion": emotion,
        "prosody_baseline": baseline,
        "timings_ms": {"asr": asr_ms, "prosody": _ms(mark), "perceive_speech": _ms(start)},
    }


def perceive_text(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Text emotion of the user's message (typed, or transcribed)."""
    text = state.get("user_text")
    if not text:  # routed here only with text; guard for direct calls
        return {}
    start = time.perf_counter()
    emotion = runtime.context.text_emotion.analyze(text)
    runtime.stream_writer(PerceptionEvent(text_emotion=emotion))
    return {"text_emotion": emotion, "timings_ms": {"perceive_text": _ms(start)}}


def perceive_face(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Facial expression of the largest face in the turn's image (``detected`` false if none)."""
    image = runtime.context.media.image
    if image is None:
        return {}
    start = time.perf_counter()
    reading = runtime.context.face.analyze(image)
    runtime.stream_writer(PerceptionEvent(face=reading))
    return {"face": reading, "timings_ms": {"perceive_face": _ms(start)}}


def fuse_affect(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """One affect estimate from every modality present, with incongruence and an explanation
    (:func:`modalities.fusion.fuse_affect`)."""
    from modalities.fusion import fuse_affect as fuse

    start = time.perf_counter()
    affect = fuse(
        state.get("text_emotion"),
        state.get("speech_emotion"),
        state.get("face"),
        runtime.context.settings.fusion,
        words=state.get("user_text"),
    )
    if affect is not None:
        runtime.stream_writer(PerceptionEvent(affect=affect))
    return {"affect": affect, "timings_ms": {"fuse_affect": _ms(start)}}
