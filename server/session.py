"""One client connection: its session, its queue of turns, its audio and camera streams.

A :class:`Connection` runs three kinds of work:

* the **receive loop** reads frames, enforces the per-connection limits (rate, sizes, idle
  timeout) and turns each valid message into an action: a turn is *queued*, an interrupt is
  applied at once, audio goes to the microphone (:class:`server.microphone.MicInput`:
  buffered for push-to-talk, fed to the VAD for the open microphone), camera frames to the
  camera;
* the **turn worker** takes queued turns one at a time, in order, and runs each through
  :meth:`agent.Attune.stream_turn` in the server's executor (blocking inference never runs on
  the event loop). A thread iterates the engine's events and hands them to the loop
  through an :class:`attune.bridge.AsyncBridge`; the worker forwards them as messages. A
  per-session lock keeps one turn at a time per session even when two connections resume the
  same session;
* the camera (:class:`server.camera.CameraInput`) reads frames in a side task, one at a
  time (frames arriving meanwhile are dropped), and keeps the latest for the next turn.

Everything sent goes through the connection's :class:`server.outbox.Outbox`, which stamps
``seq`` and keeps an ``audio.chunk`` header and its binary frame adjacent. If the client
vanishes, sends turn into no-ops, the turn in flight is cancelled at its next safe point, and
its history is still stored by the engine: nothing is lost and the server goes on.

Interrupts (barge-in) set the turn's cancel event (the engine stops between tokens or spoken
sentences) and stop forwarding its reply text, audio and avatar output at once. When the turn
has ended, the history is cut to what the user actually got (the audio the client says it
played, else what was sent) with :meth:`agent.Attune.truncate_reply`, and ``turn.interrupted``
says what was kept. With the open microphone, speech that begins while Attune is speaking (a
turn in flight, or reply audio that has not had time to play) interrupts only once it has lasted
``speech.barge_in_min_ms`` and its transcript is not a backchannel ("mm-hmm", "okay", a cough:
:mod:`modalities.speech.backchannel`): ``speech.barge_in`` then tells the page to stop playing
(it answers with ``interrupt`` and what it played), while ``speech.backchannel`` says the person
is following, and no turn is made of it. Nothing the user said, showed or was told is logged,
nor session ids (not even a fragment): codes, sizes and timings only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from attune.bridge import AsyncBridge
from attune.errors import AttuneError, InputError
from attune.types import Audio, TurnEvent
from server import protocol as p
from server.camera import CameraInput
from server.limits import ANONYMOUS, TokenBucket
from server.microphone import MicInput
from server.outbox import Outbox
from server.turns import SentChunk, TurnRecord, TurnRequest

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from server.app import AttuneServer

log = logging.getLogger(__name__)

#: Turn event types that are output to the user, dropped once the turn is interrupted.
_REPLY_OUTPUT = frozenset({"reply.delta", "audio.chunk", "avatar.cues", "avatar.video"})
#: Capability a client must ask for to receive an event type.
_NEEDS = {"audio.chunk": "audio", "avatar.cues": "avatar", "avatar.video": "video"}


#: A session id the server made (:func:`agent.core.new_session_id`): 32 hex digits.
_GENERATED = re.compile(r"[0-9a-f]{32}")
#: The longest session id a client may choose (its owner's namespace is added to it).
MAX_CHOSEN_ID = 100


def stored_session_id(public: str, owner: str) -> str | None:
    """The id a session is stored under, for the id a client uses and its owner; ``None``
    when this client may not use that id.

    Ids the server made (32 random hex digits) are stored as they are. A client with a token
    may choose its own ids (``alice-session``); they live in its owner's namespace
    (``alice-session.o<16 hex of the owner id>``), so that another token choosing the same
    name gets a different session instead of finding this one taken. Without a token (the
    owner ``anonymous``, loopback only) a client cannot choose an id: it resumes only ids the
    server gave out.
    """
    if _GENERATED.fullmatch(public):
        return public
    if owner == ANONYMOUS:
        return None
    if len(public) > MAX_CHOSEN_ID:
        raise InputError(
            "bad_session_id",
            f"a session id chosen by a client has at most {MAX_CHOSEN_ID} characters",
        )
    return f"{public}.o{owner[:16]}"


class Connection:
    """The server side of one websocket connection (see the module docstring)."""

    def __init__(self, server: AttuneServer, ws: ServerConnection, owner: str) -> None:
        self.server = server
        self.ws = ws
        self.owner = owner
        self.settings = server.settings
        limits = server.settings.server
        self.session_id: str | None = None
        self.capabilities = p.Capabilities()
        self.audio_in = p.AudioFormat()
        self.audio_out: p.WireFormat = server.settings.voice.wire_format
        self.outbox = Outbox(ws, on_gone=self._cancel_current)
        self.camera = CameraInput(server, self.outbox, server.settings)
        self._turns: asyncio.Queue[TurnRequest | None] = asyncio.Queue()
        self._queued = 0
        self._current: TurnRecord | None = None
        #: When the reply audio sent so far ends, played in real time (monotonic seconds).
        self._speaking_until = 0.0
        #: A finished reply still playing that the server judged interrupted: the page's
        #: ``interrupt`` for it is honoured even if the interruption is already a queued turn.
        self._barged: TurnRecord | None = None
        self._truncations: set[asyncio.Task[None]] = set()
        self._last: TurnRecord | None = None
        self.mic = MicInput(self)
        self._rate = TokenBucket(limits.max_messages_per_s, 2 * limits.max_messages_per_s)
        self._dropped = 0
        self._last_drop = 0.0
        #: The session's generation when this connection attached (see ``forget_session``).
        self._generation = 0

    def _cancel_current(self) -> None:
        """The client is gone: the turn in flight stops at its next safe point."""
        if self._current is not None:
            self._current.cancel.set()

    # --- the connection's life ----------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until the client leaves, ends the session, or breaks a rule."""
        worker = asyncio.create_task(self._turn_worker(), name="attune-turns")
        try:
            await self._receive_loop()
        finally:
            self.outbox.gone()
            if self.session_id is not None:
                self.server.detach(self.session_id, self)
            self._drop_queued()
            self._turns.put_nowait(None)
            await worker  # the turn in flight stops at its next safe point and is stored
            await self.camera.close()
            if self.outbox.close_task is not None:
                await self.outbox.close_task

    async def _receive_loop(self) -> None:
        limits = self.settings.server
        while not self.outbox.closed:
            try:
                frame = await asyncio.wait_for(self.ws.recv(), timeout=limits.idle_timeout_s)
            except TimeoutError:
                if self._current is not None or self._queued:
                    continue  # the client waits for a turn: not idle
                if self.outbox.closing:
                    return
                await self.outbox.error(
                    "idle_timeout",
                    f"no message for {limits.idle_timeout_s:g} s; the connection is closed",
                    recoverable=False,
                )
                continue
            except ConnectionClosed:
                return
            if self.outbox.closing:
                continue
            if not self._rate.take():
                await self._flooded()
                continue
            if isinstance(frame, bytes):
                await self.mic.on_binary(frame)
            else:
                await self._on_text(frame)

    async def _flooded(self) -> None:
        """Drop a message over the rate; a flood that goes on (no calm second) is closed."""
        now = time.monotonic()
        if now - self._last_drop > 1.0:
            self._dropped = 0
        self._last_drop = now
        self._dropped += 1
        limit = self.settings.server.max_messages_per_s
        if self._dropped > 10 * limit:
            await self.outbox.error(
                "rate_limited", "too many messages; the connection is closed", recoverable=False
            )
            return
        await self.outbox.warn(
            "rate_limited", f"more than {limit:g} messages per second; messages were dropped"
        )

    async def _on_text(self, frame: str) -> None:
        try:
            message = p.parse_client_message(frame)
        except p.ProtocolError as exc:
            await self.outbox.error(
                exc.code,
                str(exc),
                recoverable=exc.code != "unsupported_version" or self.session_id is not None,
            )
            return
        if isinstance(message, p.SessionStart):
            await self._start(message)
            return
        if self.session_id is None:
            await self.outbox.error("no_session", "send session.start first")
            return
        if isinstance(message, p.UserText):
            await self._enqueue(TurnRequest(ref=message.ref, text=message.text))
        elif isinstance(message, p.UserAudioStart):
            await self.mic.on_start(message)
        elif isinstance(message, p.UserAudioEnd):
            await self.mic.on_end()
        elif isinstance(message, p.UserImage):
            await self.camera.on_image(message)
        elif isinstance(message, p.Interrupt):
            await self._on_interrupt(message)
        else:
            await self._on_session_end(message)

    # --- session ------------------------------------------------------------------------------

    async def _start(self, message: p.SessionStart) -> None:
        from agent.core import new_session_id, validate_session_id

        if self.session_id is not None:
            await self.outbox.error("session_already_started", "this connection has a session")
            return
        try:
            public = validate_session_id(message.session_id or new_session_id())
            session_id = stored_session_id(public, self.owner)
        except InputError as exc:
            await self.outbox.error(exc.code, str(exc))
            return
        allowed, history = (
            await asyncio.to_thread(self.server.claim, session_id, self.owner)
            if session_id is not None
            else (False, [])
        )
        if not allowed:
            log.info("session refused: not owned by this token")
            await self.outbox.error(
                "session_forbidden", "this session does not exist for your token; start a new one"
            )
            return
        assert session_id is not None
        self.session_id = session_id
        self._generation = self.server.attach(session_id, self)
        self.capabilities = message.capabilities
        self.audio_in = message.audio_in
        self.audio_out = message.audio_out or self.settings.voice.wire_format
        log.info("session started (resumed=%s)", bool(history))
        await self.outbox.send(
            p.SessionStarted(
                session_id=public,
                resumed=bool(history),
                history=history,
                capabilities=self.capabilities,
                audio_out=self.audio_out,
                limits=self.server.limits,
            )
        )

    async def _on_session_end(self, message: p.SessionEnd) -> None:
        assert self.session_id is not None
        self.stop_turns()
        forgotten = False
        if message.forget:
            forgotten = await self.server.forget_session(self.session_id, self)
        await self.outbox.send(p.SessionEnded(forgotten=forgotten))
        await self.ws.close(1000, "session ended")
        self.outbox.closed = True

    # --- turns --------------------------------------------------------------------------------

    async def _enqueue(self, request: TurnRequest) -> None:
        limit = self.server.max_queued_turns
        if self._queued >= limit:
            await self.outbox.error(
                "queue_full",
                f"{limit} turns are already waiting; wait for a reply",
                ref=request.ref,
            )
            return
        request.image = self.camera.fresh()
        position = self._queued + (1 if self._current is not None else 0)
        self._queued += 1
        await self.outbox.send(p.TurnQueued(ref=request.ref, position=position))
        self._turns.put_nowait(request)

    def stop_turns(self) -> None:
        """Stop the running turn at its next safe point and drop the queued ones."""
        if self._current is not None:
            self._current.cancel.set()
        self._drop_queued()

    def _drop_queued(self) -> None:
        while not self._turns.empty():
            self._turns.get_nowait()
        self._queued = 0

    async def _turn_worker(self) -> None:
        while True:
            request = await self._turns.get()
            if request is None:
                return
            self._queued = max(0, self._queued - 1)
            if self.outbox.closed:
                continue
            record = TurnRecord(ref=request.ref)
            self._current = record
            try:
                await self._run_turn(request, record)
            finally:
                self._current = None
                self._last = record

    async def _run_turn(self, request: TurnRequest, record: TurnRecord) -> None:
        assert self.session_id is not None
        session_id = self.session_id
        loop = asyncio.get_running_loop()
        bridge: AsyncBridge[TurnEvent] = AsyncBridge(loop)

        def produce(out: AsyncBridge[TurnEvent]) -> None:
            for event in self.server.bot.stream_turn(
                request.text,
                session_id,
                audio=request.audio,
                image=request.image,
                transcript=request.transcript,
                speak=self.capabilities.audio,
                avatar=self.capabilities.avatar,
                video=self.capabilities.video,
                cancel=record.cancel,
            ):
                out.put(event)

        async with self.server.session_lock(session_id), self.server.turn_slots:
            if not self.server.is_current(session_id, self._generation):
                await self.outbox.error(
                    "session_forgotten",
                    "this session was forgotten; start a new one",
                    recoverable=False,
                    ref=request.ref,
                )
                return
            if record.cancel.is_set():
                return  # the client left while the turn waited
            started = time.perf_counter()
            future = loop.run_in_executor(self.server.executor, bridge.run, produce)
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
            await self.outbox.error(exc.code, str(exc), ref=record.ref, turn_id=record.turn_id)
            return
        log.error("turn failed: %s", type(exc).__name__, exc_info=exc)
        await self.outbox.error(
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
        if needed is not None and not getattr(self.capabilities, needed):
            return
        if record.interrupted and kind in _REPLY_OUTPUT:
            return
        if kind == "audio.chunk":
            await self._send_audio(event, record)
        elif kind == "avatar.video":
            url = self.server.videos.publish(str(event.data["path"]))
            await self.outbox.send(
                p.AvatarVideo(
                    turn_id=event.turn_id,
                    ref=record.ref,
                    url=url,
                    expires_in_s=self.settings.server.video_ttl_s,
                )
            )
        else:
            if kind == "reply.delta":
                record.deltas.append(str(event.data.get("text", "")))
            await self.outbox.send(
                p.TurnEventMessage(
                    type=kind, turn_id=event.turn_id, ref=record.ref, data=event.data
                )
            )

    async def _send_audio(self, event: TurnEvent, record: TurnRecord) -> None:
        chunk: Any = event.data["chunk"]
        style = event.data.get("style")
        encoded, rate = await asyncio.to_thread(_encode_audio, chunk.audio, self.audio_out)
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
            format=self.audio_out,
            sample_rate=rate,
            bytes=len(encoded),
            offset=chunk.offset,
            duration=chunk.audio.duration,
            text=chunk.text,
            words=list(chunk.words),
            style=dict(style) if isinstance(style, dict) else {},
        )
        await self.outbox.send(header, encoded)

    # --- interrupt ----------------------------------------------------------------------------

    async def _on_interrupt(self, message: p.Interrupt) -> None:
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
            assert self.session_id is not None
            async with self.server.session_lock(self.session_id):
                await self._truncate(self.session_id, last)
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
        await self.outbox.error(
            "nothing_to_interrupt", "no turn of this session is running or playing"
        )

    async def _truncate_later(self, record: TurnRecord) -> None:
        session_id = self.session_id
        if session_id is None:
            return
        async with self.server.session_lock(session_id):
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

    async def enqueue(self, request: TurnRequest) -> None:
        """Queue a turn (from the microphone)."""
        await self._enqueue(request)

    async def _truncate(self, session_id: str, record: TurnRecord) -> None:
        said = record.said()
        assert record.turn_id is not None
        await asyncio.to_thread(self.server.bot.truncate_reply, session_id, record.turn_id, said)
        await self.outbox.send(p.TurnInterrupted(turn_id=record.turn_id, ref=record.ref, said=said))


def _encode_audio(audio: Audio, wire_format: str) -> tuple[bytes, int]:
    """Reply audio in the session's wire format, and its sample rate."""
    from modalities import audio as codec

    if wire_format == "wav":
        return codec.to_wav(audio), audio.sample_rate
    if wire_format == "opus":
        return codec.to_ogg_opus(audio), codec.OPUS_RATE
    return codec.to_pcm16(audio), audio.sample_rate
