"""The speech stage: the reply spoken (and shown on the avatar) beside the graph.

The graph writes the reply; this stage, run by :meth:`agent.Attune.stream_turn` on the
graph's events as they come, makes it heard. It takes everything it needs from events:

- ``speech.style`` (:class:`~attune.types.SpeechStyleEvent`, emitted by ``respond`` or
  ``safe_reply`` before the reply's first word): the voice style and, when the avatar was asked
  for, the supporter's expression;
- ``reply.sentence`` (emitted by ``respond`` while the reply streams): a sentence that can no
  longer change, spoken at once, so the first audio is ready while the rest is being written;
- at the end, the reply as the graph kept it (:meth:`SpeechStage.finish`): what is left of it
  is spoken; a reply replaced after streaming began (the output guard) is spoken whole.

Each sentence is one ``audio.chunk`` and, with the avatar, its ``avatar.cues`` timeline (from
the chunk's phoneme timings or its audio). With ``video`` the stage renders the talking-head MP4
of the chunks it spoke (``avatar.video``). An interrupted turn (barge-in) stops between
sentences and renders no video.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.types import (
    AudioChunkEvent,
    AvatarCuesEvent,
    AvatarVideoEvent,
    ReplySentenceEvent,
    SpeechStyleEvent,
    TurnEvent,
    VoiceStyle,
)

if TYPE_CHECKING:
    from agent.context import AttuneContext
    from modalities.avatar.cues import Expression
    from modalities.voice.base import SpeechChunk


class SpeechStage:
    """Speaks one turn's reply from its events (see the module docstring).

    ``avatar`` adds the cue timeline to each sentence, ``video`` renders the video at the end.
    After :meth:`finish`, ``timings_ms`` holds ``synthesize_speech`` (the time spent
    synthesising), ``first_audio`` (from ``speech.style`` to the first audio) and
    ``render_avatar``; ``video_path`` the video's file.
    """

    def __init__(
        self, ctx: AttuneContext, turn_id: str, *, avatar: bool = False, video: bool = False
    ) -> None:
        self.ctx, self.turn_id, self.avatar, self.video = ctx, turn_id, avatar or video, video
        self.style: VoiceStyle | None = None
        self.expression: Expression | None = None
        #: The sentences spoken so far, in order, and the audio that spoke them.
        self.sentences: list[str] = []
        self.chunks: list[SpeechChunk] = []
        self.video_path: str | None = None
        self.timings_ms: dict[str, float] = {}
        self._began: float | None = None
        self._synthesis_s = 0.0

    @property
    def spoken(self) -> str:
        """The text spoken so far."""
        return " ".join(self.sentences)

    @property
    def seconds(self) -> float:
        """Where the audio spoken so far ends."""
        return self.chunks[-1].end if self.chunks else 0.0

    def feed(self, event: TurnEvent) -> list[TurnEvent]:
        """Take one event of the graph; what it makes this stage emit: the audio (and cues) of
        a final sentence, synthesised now; nothing for the rest."""
        if isinstance(event, SpeechStyleEvent):
            self._set_style(event)
        elif isinstance(event, ReplySentenceEvent):
            sentence = event.text.strip()
            if not sentence or self.ctx.cancelled:
                return []
            start = time.perf_counter()
            chunk = self.ctx.tts.synthesize(sentence, self._style()).shifted(self.seconds)
            self._synthesis_s += time.perf_counter() - start
            self.sentences.append(sentence)
            return self._emit(chunk)
        return []

    def finish(self, reply: str) -> Iterator[TurnEvent]:
        """Speak what is left of ``reply`` (the reply as kept), then render the video when one
        was asked for."""
        start = time.perf_counter()
        spoken = self.spoken
        offset = self.seconds
        if spoken and not reply.startswith(spoken):
            rest, offset = reply, 0.0  # replaced after streaming began: speak the final one whole
        else:
            rest = reply[len(spoken) :].strip()
        if rest and not self.ctx.cancelled:
            for chunk in self.ctx.tts.stream(rest, self._style()):
                if self.ctx.cancelled:  # barge-in: stop speaking
                    break
                yield from self._emit(chunk.shifted(offset))  # each chunk as it is ready
        self._synthesis_s += time.perf_counter() - start
        if self.chunks or spoken:
            self.timings_ms["synthesize_speech"] = self._synthesis_s * 1000
        if self.video and self.chunks and not self.ctx.cancelled:
            yield self._render()

    # --- internals ------------------------------------------------------------------------

    def _set_style(self, event: SpeechStyleEvent) -> None:
        self.style = event.voice
        self._began = time.perf_counter()
        if self.avatar:
            from modalities.avatar.cues import EXPRESSIONS, Expression

            self.expression = (
                Expression.model_validate(event.expression)
                if event.expression is not None
                else EXPRESSIONS["neutral"]
            )

    def _style(self) -> VoiceStyle:
        return self.style if self.style is not None else VoiceStyle()

    def _emit(self, chunk: SpeechChunk) -> list[TurnEvent]:
        if not self.chunks and self._began is not None:
            self.timings_ms["first_audio"] = (time.perf_counter() - self._began) * 1000
        self.chunks.append(chunk)
        events: list[TurnEvent] = [AudioChunkEvent(chunk=chunk, style=self._style())]
        if self.avatar:
            cues = self._cues(chunk, chunk.offset).model_dump(mode="json")
            events.append(AvatarCuesEvent(cues=cues))
        return events

    def _cues(self, chunk: SpeechChunk, offset: float) -> Any:
        from modalities.avatar.cues import EXPRESSIONS, build_cues

        return build_cues(
            chunk.audio,
            phonemes=chunk.phonemes,
            words=chunk.words,
            expression=self.expression or EXPRESSIONS["neutral"],
            fps=self.ctx.settings.avatar.fps,
            offset=offset,
            seed=self.ctx.settings.seed,
        )

    def _render(self) -> AvatarVideoEvent:
        """The talking-head video of the chunks spoken (MP4 with their audio)."""
        from modalities.avatar.cues import concat_cues
        from modalities.voice.base import join_chunks

        start = time.perf_counter()
        first = self.chunks[0].offset
        audio = join_chunks(self.chunks)
        cues = concat_cues([self._cues(c, c.offset - first) for c in self.chunks])
        folder = Path(self.ctx.settings.paths.state_dir) / "videos"
        folder.mkdir(parents=True, exist_ok=True)
        path = self.ctx.avatar.render_video(cues, audio, folder / f"{self.turn_id}.mp4")
        self.video_path = str(path)
        self.timings_ms["render_avatar"] = (time.perf_counter() - start) * 1000
        return AvatarVideoEvent(path=str(path), seconds=round(audio.duration, 3))
