"""One connection's turns: :class:`TurnQueue` (see :mod:`server.session` for how turns,
interrupts and truncation work)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from attune.bridge import AsyncBridge
from attune.errors import AttuneError
from attune.types import Audio, TurnEvent
from server import protocol as p
from server.turns import SentChunk, TurnRecord, TurnRequest

if TYPE_CHECKING:
    from server.session import Connection

log = logging.getLogger(__name__)

#: Turn event types that are output to the user, dropped once the turn is interrupted.
_REPLY_OUTPUT = frozenset(
    {"reply.delta", "reply.sentence", "audio.chunk", "avatar.cues", "avatar.video"}
)
#: Capability a client must ask for to receive an event type (``speech.style`` and
#: ``reply.sentence`` come only with a spoken reply).
_NEEDS = {
    "speech.style": "audio",
    "reply.sentence": "audio",
    "audio.chunk": "audio",
    "avatar.cues": "avatar",
    "avatar.video": "video",
}


class TurnQueue:
    """The turns of one connection, one at a time and in order: queued (at most
    ``max_queued_turns``), run through the engine in the server's executor, forwarded as they
    stream, interrupted on request (what was heard is then kept)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._queue: asyncio.Queue[TurnRequest | None] = asyncio.Queue()
        self._queued = 0
        self._current: TurnRecord | None = None
        #: When the reply audio sent so far ends, played in real time (monotonic seconds).
        self._speaking_until = 0.0
        #: A finished reply still playing that the server judged interrupted: the page's
        #: ``interrupt`` for it is honoured even if the interruption is already a queued turn.
        self._barged: TurnRecord | None = None
        self._truncations: set[asyncio.Task[None]] = set()
        self._last: TurnRecord | None = None

    @property
    def busy(self) -> bool:
        """A turn is running or waiting (the client is not idle)."""
        return self._current is not None or self._queued > 0

    def cancel_current(self) -> None:
        """Stop the turn in flight at its next safe point (the client is gone)."""
        if self._current is not None:
            self._current.cancel.set()

    def close(self) -> None:
        """End :meth:`work` once the queue is drained."""
        self._queue.put_nowait(None)

    async def enqueue(self, request: TurnRequest) -> None:
        limit = self.conn.server.max_queued_turns
        if self._queued >= limit:
            await self.conn.outbox.error(
                "queue_full",
                f"{limit} turns are already waiting; wait for a reply",
                ref=request.ref,
            )
            return
        request.image = self.conn.camera.fresh()
        position = self._queued + (1 if self._current is not None else 0)
        self._queued += 1
        await self.conn.outbox.send(p.TurnQueued(ref=request.ref, position=position))
        self._queue.put_nowait(request)

    def stop(self) -> None:
        """Stop the running turn at its next safe point and drop the queued ones."""
        if self._current is not None:
            self._current.cancel.set()
        self.drop_queued()

    def drop_queued(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queued = 0

    async def work(self) -> None:
        while True:
            request = await self._queue.get()
            if request is None:
                return
            self._queued = max(0, self._queued - 1)
            if self.conn.outbox.closed:
                continue
            record = TurnRecord(ref=request.ref)
            self._current = record
            try:
                await self._run_turn(request, record)
            finally:
                self._current = None
                self._last = record

    async def _run_turn(self, request: TurnRequest, record: TurnRecord) -> None:
        assert self.conn.session_id is not None
        session_id = self.conn.session_id
        loop = asyncio.get_running_loop()
        bridge: AsyncBridge[TurnEvent] = AsyncBridge(loop)

        def produce(out: AsyncBridge[TurnEvent]) -> None:
            for event in self.conn.server.bot.stream_turn(
                request.text,
                session_id,
                audio=request.audio,
                image=request.image,
                transcript=request.transcript,
                speak=self.conn.capabilities.audio,
                avatar=self.conn.capabilities.avatar,
                video=self.conn.capabilities.video,
                cancel=record.cancel,
            ):
                out.put(event)

        async with self.conn.server.session_lock(session_id), self.conn.server.turn_slots:
            if not self.conn.server.is_current(session_id, self.conn.generation):
                await self.conn.outbox.error(
                    "session_forgotten",
                    "this session was forgotten; start a new one",
                    recoverable=False,
                    ref=request.ref,
                )
                return
            if record.cancel.is_set():
                return  # the client left while the turn waited
            started = time.perf_counter()
            future = loop.run_in_executor(self.conn.server.executor, bridge.run, produce)
            try:
                async for event in bridge.items():
                    await self._forward(event, record)
            except Exception as exc:  # the turn failed: reported to the client
                await self._turn_failed(exc, record)
            await future
            if record.interrupted and record.turn_id is not None:
                await self._truncate(session_id, record)
            log.info(
                "turn finished in %.0f ms (interrupted=%s)",
                (time.perf_counter() - started) * 1000,
                record.interrupted,
            )

    async def _turn_failed(self, exc: Exception, record: TurnRecord) -> None:
        if isinstance(exc, AttuneError):
            await self.conn.outbox.error(exc.code, str(exc), ref=record.ref, turn_id=record.turn_id)
            return
        log.error("turn failed: %s", type(exc).__name__, exc_info=exc)
        await self.conn.outbox.error(
            "internal_error",
            "the turn failed inside the server; the session is still usable",
            ref=record.ref,
            turn_id=record.turn_id,
        )

    async def _forward(self, event: TurnEvent, record: TurnRecord) -> None:
        """Send one engine event as its protocol message(s)."""
        record.turn_id = event.turn_id
        kind = event.type
        needed = _NEEDS.get(kind)
        if needed is not None and not getattr(self.conn.capabilities, needed):
            return
        if record.interrupted and kind in _REPLY_OUTPUT:
            return
        if kind == "audio.chunk":
            await self._send_audio(event, record)
        elif kind == "avatar.video":
            url = self.conn.server.videos.publish(str(event.data["path"]))
            await self.conn.outbox.send(
                p.AvatarVideo(
                    turn_id=event.turn_id,
                    ref=record.ref,
                    url=url,
                    expires_in_s=self.conn.settings.server.video_ttl_s,
                )
            )
        else:
            if kind == "reply.delta":
                record.deltas.append(str(event.data.get("text", "")))
            await self.conn.outbox.send(
                p.TurnEventMessage(
                    type=kind, turn_id=event.turn_id, ref=record.ref, data=event.data
                )
            )

    async def _send_audio(self, event: TurnEvent, record: TurnRecord) -> None:
        chunk: Any = event.data["chunk"]
        style = event.data.get("style")
        encoded, rate = await asyncio.to_thread(_encode_audio, chunk.audio, self.conn.audio_out)
        if record.interrupted:
            return
        record.chunks.append(
            SentChunk(chunk.offset, chunk.audio.duration, chunk.text, list(chunk.words))
        )
        now = time.monotonic()
        self._speaking_until = max(self._speaking_until, now) + chunk.audio.duration
        header = p.AudioChunkHeader(
            turn_id=event.turn_id,
            ref=record.ref,
            format=self.conn.audio_out,
            sample_rate=rate,
            bytes=len(encoded),
            offset=chunk.offset,
            duration=chunk.audio.duration,
            text=chunk.text,
            words=list(chunk.words),
            style=dict(style) if isinstance(style, dict) else {},
        )
        await self.conn.outbox.send(header, encoded)

    # --- interrupt ----------------------------------------------------------------------------

    async def on_interrupt(self, message: p.Interrupt) -> None:
        current = self._current
        if current is not None and message.turn_id in (None, current.turn_id):
            self._interrupt(current, message.played_seconds)
            return  # turn.interrupted follows once the turn has stopped
        last = self._last
        if (
            last is not None
            and last.turn_id is not None
            and message.turn_id in (None, last.turn_id)
            and self._queued == 0
            and current is None
            and not last.interrupted
        ):
            # the reply was complete but still playing: cut the history to what was heard
            self._interrupt(last, message.played_seconds)
            assert self.conn.session_id is not None
            async with self.conn.server.session_lock(self.conn.session_id):
                await self._truncate(self.conn.session_id, last)
            return
        barged = self._barged
        if (
            barged is not None
            and barged.turn_id is not None
            and message.turn_id == barged.turn_id
            and not barged.interrupted
        ):
            # a short interruption ("stop.") is already the next turn: cut the reply it cut,
            # once that turn has released the session (without blocking this receive loop)
            self._barged = None
            self._interrupt(barged, message.played_seconds)
            task = asyncio.create_task(self._truncate_later(barged))
            self._truncations.add(task)
            task.add_done_callback(self._truncations.discard)
            return
        await self.conn.outbox.error(
            "nothing_to_interrupt", "no turn of this session is running or playing"
        )

    async def _truncate_later(self, record: TurnRecord) -> None:
        session_id = self.conn.session_id
        if session_id is None:
            return
        async with self.conn.server.session_lock(session_id):
            await self._truncate(session_id, record)

    def _interrupt(self, record: TurnRecord, played_seconds: float | None) -> None:
        record.interrupted = True
        record.played_seconds = played_seconds
        record.cancel.set()
        log.info("turn %s interrupted", record.turn_id)

    def speaking(self) -> TurnRecord | None:
        """The turn Attune is answering or whose reply may still be playing, if any."""
        if self._current is not None:
            return self._current
        last = self._last
        if last is not None and not last.interrupted and time.monotonic() < self._speaking_until:
            return last
        return None

    def barge_in(self, record: TurnRecord) -> None:
        """The person interrupted ``record``'s reply: a turn in flight stops; a finished reply
        still playing is cut when the page reports what it played (``interrupt``)."""
        if record is self._current and not record.interrupted:
            self._interrupt(record, None)
        elif record is not self._current:
            self._barged = record

    async def _truncate(self, session_id: str, record: TurnRecord) -> None:
        said = record.said()
        assert record.turn_id is not None
        await asyncio.to_thread(
            self.conn.server.bot.truncate_reply, session_id, record.turn_id, said
        )
        await self.conn.outbox.send(
            p.TurnInterrupted(turn_id=record.turn_id, ref=record.ref, said=said)
        )


def _encode_audio(audio: Audio, wire_format: str) -> tuple[bytes, int]:
    """Reply audio in the session's wire format, and its sample rate."""
    from modalities import audio as codec

    if wire_format == "wav":
        return codec.to_wav(audio), audio.sample_rate
    if wire_format == "opus":
        return codec.to_ogg_opus(audio), codec.OPUS_RATE
    return codec.to_pcm16(audio), audio.sample_rate
