"""Speech output: say the reply in a voice that fits the user's affect and the strategy.

With each spoken sentence comes its ``avatar.cues`` timeline when the client wants the avatar
(:class:`Speaker`), and ``render_avatar`` (after ``synthesize_speech``) renders the video of
the whole reply when the client asks for one.

Two places speak. ``synthesize_speech`` (a node, after ``respond`` or ``safe_reply``) speaks the
reply sentence by sentence. In a low-latency voice turn (``voice.low_latency``, audio in and
speech out) ``respond`` already speaks each sentence as soon as the LLM has finished it, through
:class:`SentenceSpeaker`, so the first audio is ready while the rest is still being written;
``synthesize_speech`` then speaks only what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.state import AttuneState
from attune.types import AudioChunkEvent, AvatarCuesEvent, AvatarVideoEvent, VoiceStyle

if TYPE_CHECKING:
    from modalities.avatar.cues import Expression
    from modalities.voice.base import SpeechChunk


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


class Speaker:
    """Emits one spoken sentence: its ``audio.chunk``, then (when the client wants the avatar)
    the ``avatar.cues`` timeline of the same stretch of time, built from the chunk's phoneme
    timings (or its audio), so a live renderer can start each sentence with its audio."""

    def __init__(self, state: AttuneState, ctx: AttuneContext, emit: Callable[[Any], None]) -> None:
        self.ctx, self.emit = ctx, emit
        self.style = voice_style(state, ctx)
        self.expression = avatar_expression(state, ctx) if state.get("avatar") else None

    def __call__(self, chunk: SpeechChunk) -> None:
        self.emit(AudioChunkEvent(chunk=chunk, style=self.style))
        self.ctx.spoken.append(chunk)
        if self.expression is not None:
            from modalities.avatar.cues import build_cues

            cues = build_cues(
                chunk.audio,
                phonemes=chunk.phonemes,
                words=chunk.words,
                expression=self.expression,
                fps=self.ctx.settings.avatar.fps,
                offset=chunk.offset,
                seed=self.ctx.settings.seed,
            )
            self.emit(AvatarCuesEvent(cues=cues.model_dump(mode="json")))


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
        self, ctx: AttuneContext, speaker: Speaker, finished: Callable[[str], list[str]]
    ) -> None:
        self.ctx, self.speaker, self.finished = ctx, speaker, finished
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
            chunk = self.ctx.tts.synthesize(sentence, self.speaker.style).shifted(self.seconds)
            if self.first_ms is None:
                self.first_ms = (time.perf_counter() - self._start) * 1000
            self.speaker(chunk)
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
        speaker = Speaker(state, ctx, runtime.stream_writer)
        for chunk in ctx.tts.stream(rest, speaker.style):
            if ctx.cancelled:  # barge-in: stop speaking
                break
            if not spoken:
                timings.setdefault("first_audio", (time.perf_counter() - start) * 1000)
            speaker(chunk.shifted(offset))
    timings["synthesize_speech"] = (time.perf_counter() - start) * 1000
    return {"timings_ms": timings}


def render_avatar(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Render the spoken reply as a talking-head video (MP4 with the reply audio) when the
    client asked for one; emits ``avatar.video`` with the file's path. The cue timeline itself
    was already streamed with each sentence (``avatar.cues``)."""
    from modalities.avatar.cues import build_cues, concat_cues
    from modalities.voice.base import join_chunks

    ctx = runtime.context
    chunks = list(ctx.spoken)
    if not state.get("video") or not chunks or ctx.cancelled:
        return {}
    start = time.perf_counter()
    audio = join_chunks(chunks)
    expression = avatar_expression(state, ctx)
    fps = ctx.settings.avatar.fps
    cues = concat_cues(
        [
            build_cues(
                c.audio,
                phonemes=c.phonemes,
                words=c.words,
                expression=expression,
                fps=fps,
                offset=c.offset - chunks[0].offset,
                seed=ctx.settings.seed,
            )
            for c in chunks
        ]
    )
    folder = Path(ctx.settings.paths.state_dir) / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    path = ctx.avatar.render_video(cues, audio, folder / f"{state.get('turn_id')}.mp4")
    runtime.stream_writer(AvatarVideoEvent(path=str(path), seconds=round(audio.duration, 3)))
    return {
        "video_path": str(path),
        "timings_ms": {"render_avatar": (time.perf_counter() - start) * 1000},
    }
