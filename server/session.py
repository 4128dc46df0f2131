"""One client connection: its session, its queue of turns, its audio and camera streams.

A :class:`Connection` runs three kinds of work:

* the **receive loop** reads frames, enforces the per-connection limits (rate, sizes, idle
  timeout) and turns each valid message into an action: a turn is *queued*, an interrupt is
  applied at once, audio goes to the microphone (:class:`server.microphone.MicInput`:
  buffered for push-to-talk, fed to the VAD for the open microphone), camera frames to the
  camera;
* the **turn worker** (:class:`server.turnqueue.TurnQueue`) takes queued turns one at a
  time, in order, and runs each through
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
from typing import TYPE_CHECKING

from websockets.exceptions import ConnectionClosed

from attune.errors import InputError
from server import protocol as p
from server.camera import CameraInput
from server.limits import ANONYMOUS, TokenBucket
from server.microphone import MicInput
from server.outbox import Outbox
from server.turnqueue import TurnQueue
from server.turns import TurnRequest

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from server.app import AttuneServer

log = logging.getLogger(__name__)


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
        self.turns = TurnQueue(self)
        self.mic = MicInput(self)
        self._rate = TokenBucket(limits.max_messages_per_s, 2 * limits.max_messages_per_s)
        self._dropped = 0
        self._last_drop = 0.0
        #: The session's generation when this connection attached (see ``forget_session``).
        self.generation = 0

    def _cancel_current(self) -> None:
        """The client is gone: the turn in flight stops at its next safe point."""
        self.turns.cancel_current()

    # --- the connection's life ----------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until the client leaves, ends the session, or breaks a rule."""
        worker = asyncio.create_task(self.turns.work(), name="attune-turns")
        try:
            await self._receive_loop()
        finally:
            self.outbox.gone()
            if self.session_id is not None:
                self.server.detach(self.session_id, self)
            self.turns.drop_queued()
            self.turns.close()
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
                if self.turns.busy:
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
            await self.turns.enqueue(TurnRequest(ref=message.ref, text=message.text))
        elif isinstance(message, p.UserAudioStart):
            await self.mic.on_start(message)
        elif isinstance(message, p.UserAudioEnd):
            await self.mic.on_end()
        elif isinstance(message, p.UserImage):
            await self.camera.on_image(message)
        elif isinstance(message, p.Interrupt):
            await self.turns.on_interrupt(message)
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
        self.generation = self.server.attach(session_id, self)
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
        self.turns.stop()
        forgotten = False
        if message.forget:
            forgotten = await self.server.forget_session(self.session_id, self)
        await self.outbox.send(p.SessionEnded(forgotten=forgotten))
        await self.ws.close(1000, "session ended")
        self.outbox.closed = True
