"""One connection's microphone: :class:`MicInput`.

Push-to-talk buffers the utterance until ``user.audio.end``; the open microphone feeds the
voice-activity segmenter as audio arrives, recognises the utterance in progress for live
transcripts (``transcript.partial``) and, when the person speaks while Attune does, judges
whether it is an interruption or a backchannel (see :mod:`server.session`). Utterances become
turns of the connection's queue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from attune.errors import AttuneError, InputError
from attune.types import Audio
from server import protocol as p
from server.turns import TurnRecord, TurnRequest

if TYPE_CHECKING:
    from server.session import Connection

log = logging.getLogger(__name__)


class _AudioStream:
    """The client's audio between ``user.audio.start`` and ``user.audio.end``."""

    def __init__(self, start: p.UserAudioStart, max_bytes: int, segmenter: Any) -> None:
        self.start = start
        self.max_bytes = max_bytes
        self.buffer = bytearray()
        self.segmenter = segmenter
        #: Set once the push buffer overflowed: frames are dropped until ``user.audio.end``.
        self.discarding = False
        #: Speech heard while Attune was speaking, until it is judged (see ``_judge``).
        self.overlap: _Overlap | None = None
        #: Live recognition of the utterance in progress: the task running (one at a time),
        #: the speech length when it was started, and the last result with the stream time
        #: up to which it covers the speech.
        self.partial_task: asyncio.Task[None] | None = None
        self.partial_from = 0.0
        self.partial: tuple[float, Any] | None = None
        self.partial_sent = ""
        #: Utterances finished in this stream: a recognition started for an earlier one is
        #: not shown or used once its utterance is over.
        self.utterances = 0
        self.partial_end = -1.0


def _judgement(text: str) -> str:
    """``backchannel`` or ``barge_in`` for what was heard while Attune spoke."""
    from modalities.speech.backchannel import is_backchannel

    return "backchannel" if is_backchannel(text) else "barge_in"


class _Overlap:
    """Speech that began while Attune was speaking: the reply it overlaps, what it was judged
    to be (``None`` not yet, ``"backchannel"``, ``"barge_in"``) and at how many seconds of
    speech it was last judged."""

    def __init__(self, record: TurnRecord) -> None:
        self.record = record
        self.decision: str | None = None
        self.judged_at = 0.0


class MicInput:
    """The audio of one connection, between ``user.audio.start`` and ``user.audio.end``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._stream: _AudioStream | None = None
        #: Backchannels heard while Attune spoke, in this connection (a signal; no text kept).
        self.backchannels = 0

    async def on_start(self, message: p.UserAudioStart) -> None:
        if self._stream is not None:
            await self.conn.outbox.error("audio_already_started", "send user.audio.end first")
            return
        fmt = self.conn.audio_in
        seconds = self.conn.settings.speech.max_turn_seconds
        max_bytes = int(seconds * fmt.sample_rate * fmt.channels * 2)
        segmenter = None
        if message.mode == "open":
            try:
                segmenter = await asyncio.to_thread(self.conn.server.new_segmenter)
            except AttuneError as exc:
                await self.conn.outbox.error(exc.code, f"open microphone unavailable: {exc}")
                return
        self._stream = _AudioStream(message, max_bytes, segmenter)

    async def on_binary(self, frame: bytes) -> None:
        stream = self._stream
        if stream is None:
            await self.conn.outbox.warn(
                "audio_not_started", "binary frames are audio: send user.audio.start first"
            )
            return
        if stream.discarding:
            return
        if stream.segmenter is not None:
            await self._listen(stream, frame)
            return
        if len(stream.buffer) + len(frame) > stream.max_bytes:
            stream.discarding = True
            stream.buffer.clear()
            await self.conn.outbox.error(
                "audio_too_long",
                f"the utterance is longer than {self.conn.settings.speech.max_turn_seconds:g} s; "
                "it was dropped",
                ref=stream.start.ref,
            )
            return
        stream.buffer.extend(frame)

    async def _listen(self, stream: _AudioStream, frame: bytes) -> None:
        """Open microphone: feed the VAD; speech start may barge in, utterances become turns."""
        try:
            events = await asyncio.to_thread(self._segment, stream, frame, False)
        except InputError as exc:
            await self.conn.outbox.error(exc.code, str(exc), ref=stream.start.ref)
            return
        await self._on_segments(stream, events)

    def _segment(self, stream: _AudioStream, frame: bytes, flush: bool) -> list[Any]:
        fmt = self.conn.audio_in
        events: list[Any] = []
        if frame:
            if fmt.sample_rate == 16000 and fmt.channels == 1:
                events += stream.segmenter.push(frame)
            else:
                from modalities.audio import from_pcm16

                audio = from_pcm16(frame, fmt.sample_rate, fmt.channels)
                events += stream.segmenter.push(audio.samples)
        if flush:
            events += stream.segmenter.flush()
        return events

    async def _on_segments(self, stream: _AudioStream, events: list[Any]) -> None:
        from modalities.speech.segmenter import SpeechStarted

        for event in events:
            if isinstance(event, SpeechStarted):
                await self.conn.outbox.send(p.SpeechStartedMessage(at=event.at))
                speaking = self.conn.turns.speaking() if stream.start.barge_in else None
                if speaking is not None:
                    stream.overlap = _Overlap(speaking)
                    if self.conn.settings.speech.barge_in_min_ms == 0:
                        await self._decide(stream.overlap, "barge_in")
                continue
            overlap, stream.overlap = stream.overlap, None
            transcript = await self._final_partial(stream, event)
            if overlap is not None and overlap.decision != "barge_in":
                # the whole utterance decides (a backchannel can turn into a real interruption)
                if transcript is not None:
                    decision = _judgement(transcript.text)
                else:
                    decision = await self._judge(event.audio)
                await self._decide(overlap, decision)
                if overlap.decision == "backchannel":
                    continue  # a signal, not a turn
            await self.conn.turns.enqueue(
                TurnRequest(ref=stream.start.ref, audio=event.audio, transcript=transcript)
            )
        self._maybe_partial(stream)
        overlap = stream.overlap
        if overlap is None or overlap.decision == "barge_in" or stream.segmenter is None:
            return
        spoken = float(stream.segmenter.speech_seconds)
        step = self.conn.settings.speech.barge_in_min_ms / 1000
        if spoken >= step and spoken >= overlap.judged_at + step:
            audio = stream.segmenter.current_audio()
            if audio is not None:
                overlap.judged_at = spoken
                await self._decide(overlap, await self._judge(audio))

    def _maybe_partial(self, stream: _AudioStream) -> None:
        """Recognise the utterance in progress again when it has grown by
        ``partial_interval_ms`` of speech, or once the person pauses (so that the result is
        ready when the pause ends the utterance). One recognition at a time per stream."""
        segmenter = stream.segmenter
        speech = self.conn.settings.speech
        if not speech.partial_transcripts or segmenter is None or stream.partial_task is not None:
            return
        spoken = float(segmenter.speech_seconds)
        if spoken < speech.min_speech_ms / 1000:
            return
        end = float(segmenter.speech_end_seconds)
        covered = stream.partial[0] if stream.partial is not None else -1.0
        grew = spoken - stream.partial_from >= speech.partial_interval_ms / 1000
        paused = float(segmenter.pause_seconds) >= 0.2 and covered < end
        if not (grew or paused):
            return
        audio = segmenter.current_audio()
        if audio is None:
            return
        stream.partial_from = spoken
        stream.partial_end = end
        stream.partial_task = asyncio.create_task(
            self._partial(stream, audio, end, stream.utterances)
        )

    async def _partial(self, stream: _AudioStream, audio: Audio, end: float, index: int) -> None:
        try:
            heard = await asyncio.to_thread(self.conn.server.bot.transcribe, audio)
        except Exception:  # a failed live recognition costs only the live text
            log.warning("live recognition failed; the turn transcribes the utterance itself")
            return
        finally:
            stream.partial_task = None
        if index != stream.utterances:
            return  # its utterance is over (the turn transcribed it)
        stream.partial = (end, heard)
        text = heard.text.strip()
        if text and text != stream.partial_sent and stream is self._stream:
            stream.partial_sent = text
            await self.conn.outbox.send(p.TranscriptPartialMessage(ref=stream.start.ref, text=text))

    async def _final_partial(self, stream: _AudioStream, utterance: Any) -> Any:
        """The transcript of a finished utterance, if live recognition covered all its speech
        (waiting for a recognition of it still running); else ``None`` (the turn transcribes)."""
        end = float(getattr(utterance, "speech_end", 0.0))
        task = stream.partial_task
        if task is not None and abs(stream.partial_end - end) <= 1e-6:
            await asyncio.shield(task)  # it recognises all of this utterance: nearly done
        partial, stream.partial = stream.partial, None
        stream.utterances += 1
        stream.partial_from = 0.0
        stream.partial_sent = ""
        if partial is None or utterance.ended_by == "max_length" or abs(partial[0] - end) > 1e-6:
            return None
        return partial[1]

    async def _judge(self, audio: Any) -> str:
        """``backchannel`` or ``barge_in`` for speech heard while Attune spoke. Nothing of what
        was said is kept or logged; a recogniser failure counts as an interruption (yield to
        the person)."""
        try:
            heard = await asyncio.to_thread(self.conn.server.bot.transcribe, audio)
        except Exception:
            log.warning(
                "could not transcribe speech heard during a reply; treating it as an interruption"
            )
            return "barge_in"
        return _judgement(heard.text)

    async def _decide(self, overlap: _Overlap, decision: str) -> None:
        """Act on a judgement: an interruption stops the reply (the page stops playing it and
        reports how much was heard); a backchannel is signalled once and changes nothing."""
        if decision == overlap.decision:
            return
        overlap.decision = decision
        record = overlap.record
        if decision == "barge_in":
            self.conn.turns.barge_in(record)
            await self.conn.outbox.send(p.SpeechBargeInMessage(turn_id=record.turn_id))
        else:
            self.backchannels += 1
            await self.conn.outbox.send(p.SpeechBackchannelMessage(turn_id=record.turn_id))

    async def on_end(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            await self.conn.outbox.error("audio_not_started", "no audio stream to end")
            return
        if stream.discarding:
            return
        if stream.segmenter is not None:
            events = await asyncio.to_thread(self._segment, stream, b"", True)
            await self._on_segments(stream, events)
            return
        from modalities.audio import from_pcm16

        fmt = self.conn.audio_in
        try:
            audio = await asyncio.to_thread(
                from_pcm16, bytes(stream.buffer), fmt.sample_rate, fmt.channels
            )
        except InputError as exc:
            await self.conn.outbox.error(exc.code, str(exc), ref=stream.start.ref)
            return
        await self.conn.turns.enqueue(TurnRequest(ref=stream.start.ref, audio=audio))
