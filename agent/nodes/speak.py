"""Speech output: say the reply in a voice that fits the user's affect and the strategy.

Two places speak. ``synthesize_speech`` (a node, after ``respond`` or ``safe_reply``) speaks the
reply sentence by sentence. In a low-latency voice turn (``voice.low_latency``, audio in and
speech out) ``respond`` already speaks each sentence as soon as the LLM has finished it, through
:class:`SentenceSpeaker`, so the first audio is ready while the rest is still being written;
``synthesize_speech`` then speaks only what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.state import AttuneState
from modalities.types import VoiceStyle


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


def low_latency_voice(state: AttuneState, ctx: AttuneContext) -> bool:
    """Whether this is a voice turn run for the shortest time to first audio: audio in, speech
    out, and ``voice.low_latency`` on (no LLM appraisal, one streamed candidate)."""
    return (
        ctx.settings.voice.low_latency
        and bool(state.get("speak"))
        and "audio" in state.get("inputs", [])
    )


class SentenceSpeaker:
    """Speaks a reply while it is being written: each sentence as soon as it is final.

    ``feed`` takes the raw reply so far; ``finished`` maps it to the sentences that can no
    longer change (cleaned; a sentence is final once more text follows it). ``spoken`` and
    ``seconds`` say what has been synthesised (the ``synthesize_speech`` node continues from
    there).
    """

    def __init__(
        self,
        ctx: AttuneContext,
        style: VoiceStyle,
        emit: Callable[[dict[str, object]], None],
        finished: Callable[[str], list[str]],
    ) -> None:
        self.ctx, self.style, self.emit, self.finished = ctx, style, emit, finished
        self.sentences: list[str] = []
        self.seconds = 0.0
        self.first_ms: float | None = None
        self._start = time.perf_counter()

    @property
    def spoken(self) -> str:
        return " ".join(self.sentences)

    def feed(self, raw_so_far: str) -> None:
        for sentence in self.finished(raw_so_far)[len(self.sentences) :]:
            if self.ctx.cancelled or sentence[-1:] not in ".!?":
                return
            chunk = self.ctx.tts.synthesize(sentence, self.style).shifted(self.seconds)
            if self.first_ms is None:
                self.first_ms = (time.perf_counter() - self._start) * 1000
            self.emit({"type": "audio.chunk", "chunk": chunk, "style": self.style})
            self.sentences.append(sentence)
            self.seconds = chunk.end


def synthesize_speech(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Synthesise the reply (what ``respond`` has not already spoken) sentence by sentence,
    emitting ``audio.chunk`` events as each is ready. An interrupted turn stops between
    sentences."""
    reply = state.get("reply")
    if not reply or not state.get("speak"):
        return {}
    ctx = runtime.context
    start = time.perf_counter()
    spoken = state.get("spoken_text") or ""
    offset = state.get("spoken_seconds") or 0.0
    rest = reply[len(spoken) :].strip() if spoken and reply.startswith(spoken) else reply
    if spoken and not reply.startswith(spoken):
        offset = 0.0  # the reply was replaced after streaming began: speak the final one whole
    timings: dict[str, float] = {}
    if rest:
        style = voice_style(state, ctx)
        for chunk in ctx.tts.stream(rest, style):
            if ctx.cancelled:  # barge-in: stop speaking
                break
            if not spoken:
                timings.setdefault("first_audio", (time.perf_counter() - start) * 1000)
            runtime.stream_writer(
                {"type": "audio.chunk", "chunk": chunk.shifted(offset), "style": style}
            )
    timings["synthesize_speech"] = (time.perf_counter() - start) * 1000
    return {"timings_ms": timings}
