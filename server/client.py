"""A Python client of the Attune protocol, for programs, scripts, tests and ``attune client``.

:class:`AttuneClient` is asyncio-based::

    async with AttuneClient("ws://127.0.0.1:8765/ws", token=...) as client:
        outcome = await client.turn("I had a rough day")
        print(outcome.reply)

:meth:`AttuneClient.turn` sends one turn (text, audio streamed in real-time-sized chunks, an
optional camera frame) and collects its events until ``reply.done`` (or an error). Lower down,
:meth:`~AttuneClient.send` and :meth:`~AttuneClient.receive` speak single messages; every
received message is also kept in :attr:`~AttuneClient.received`. ``audio.chunk`` headers come
with their binary frame attached (:attr:`ServerEvent.audio`).

:class:`SyncAttuneClient` is the same for code without an event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect

from server import protocol as p

#: Audio frames sent per second when streaming a recording (like a microphone: 50 ms each).
CHUNK_SECONDS = 0.05


@dataclass
class ServerEvent:
    """One message from the server; ``audio`` holds the binary frame of an ``audio.chunk``."""

    message: dict[str, Any]
    audio: bytes | None = None
    #: When it arrived (``time.perf_counter()``), for latency measurements.
    received_at: float = field(default_factory=time.perf_counter)

    @property
    def type(self) -> str:
        return str(self.message.get("type"))


@dataclass
class TurnOutcome:
    """Everything a turn produced, in the order received."""

    ref: str
    events: list[ServerEvent] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    @property
    def result(self) -> dict[str, Any] | None:
        """The ``reply.done`` result (``None`` if the turn failed)."""
        for event in self.events:
            if event.type == "reply.done":
                return dict(event.message["data"]["result"])
        return None

    @property
    def reply(self) -> str:
        result = self.result
        return str(result["reply"]) if result else ""

    @property
    def error(self) -> dict[str, Any] | None:
        return next((e.message for e in self.events if e.type == "error"), None)

    @property
    def audio(self) -> list[ServerEvent]:
        """The ``audio.chunk`` events, each with its encoded audio."""
        return [e for e in self.events if e.type == "audio.chunk"]


def pcm16_from_file(path: str | Path) -> bytes:
    """A recording as 16 kHz mono PCM16 (what a session's ``audio_in`` declares by default)."""
    from modalities.audio import load_audio, to_pcm16

    return to_pcm16(load_audio(Path(path).read_bytes(), target_rate=16000))


class AttuneClient:
    """An asyncio client of one Attune session (see the module docstring)."""

    def __init__(
        self,
        url: str = "ws://127.0.0.1:8765/ws",
        *,
        token: str | None = None,
        session_id: str | None = None,
        capabilities: p.Capabilities | None = None,
        audio_out: p.WireFormat | None = None,
        origin: str | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.session_id = session_id
        self.capabilities = capabilities or p.Capabilities()
        self.audio_out = audio_out
        self.origin = origin
        self.started: dict[str, Any] | None = None
        self.received: list[ServerEvent] = []
        self._ws: ClientConnection | None = None

    async def __aenter__(self) -> AttuneClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def ws(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("not connected: call connect() first")
        return self._ws

    async def connect(self, *, start: bool = True) -> dict[str, Any] | None:
        """Open the websocket and (``start``) the session; the ``session.started`` message."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        self._ws = await connect(
            self.url,
            additional_headers=headers,
            origin=self.origin,  # type: ignore[arg-type]
            max_size=64 * 1024 * 1024,
            open_timeout=30,
        )
        if not start:
            return None
        await self.send(
            p.SessionStart(
                type="session.start",
                v=p.PROTOCOL_VERSION,
                session_id=self.session_id,
                capabilities=self.capabilities,
                audio_out=self.audio_out,
            )
        )
        event = await self.receive(timeout=30)
        if event.type != "session.started":
            await self.close()
            raise ConnectionError(f"session refused: {event.message.get('message', event.type)}")
        self.started = event.message
        self.session_id = str(event.message["session_id"])
        return event.message

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    # --- single messages ----------------------------------------------------------------------

    async def send(self, message: BaseModel | dict[str, Any] | str | bytes) -> None:
        """Send a protocol message (a model, a dict, raw JSON text or a binary frame)."""
        if isinstance(message, BaseModel):
            message = message.model_dump_json(exclude_none=True)
        elif isinstance(message, dict):
            message = json.dumps(message)
        await self.ws.send(message)

    async def receive(self, timeout: float | None = 60) -> ServerEvent:
        """The next message (an ``audio.chunk`` header comes with its binary frame)."""
        async with asyncio.timeout(timeout):
            frame = await self.ws.recv()
            if isinstance(frame, bytes):
                raise ConnectionError("the server sent a binary frame without a header")
            event = ServerEvent(json.loads(frame))
            if event.type == "audio.chunk":
                audio = await self.ws.recv()
                if not isinstance(audio, bytes):
                    raise ConnectionError("an audio.chunk header was not followed by audio")
                event.audio = audio
        self.received.append(event)
        return event

    async def send_text(self, text: str, ref: str | None = None) -> str:
        """Send a typed message; its ``ref``."""
        ref = ref or _new_ref()
        await self.send(p.UserText(type="user.text", text=text, ref=ref))
        return ref

    async def send_audio(
        self,
        pcm16: bytes,
        *,
        ref: str | None = None,
        mode: str = "push",
        realtime: bool = True,
        end: bool = True,
        sample_rate: int = 16000,
        barge_in: bool = False,
    ) -> str:
        """Stream PCM16 audio in 50 ms frames (paced like a microphone with ``realtime``);
        ``end`` closes the stream; ``barge_in`` (open mode) lets speech interrupt a reply. Its
        ``ref``."""
        ref = ref or _new_ref()
        opening = {"type": "user.audio.start", "mode": mode, "ref": ref, "barge_in": barge_in}
        await self.send(opening)
        step = int(sample_rate * CHUNK_SECONDS) * 2
        for start in range(0, len(pcm16), step):
            await self.ws.send(pcm16[start : start + step])
            if realtime:
                await asyncio.sleep(CHUNK_SECONDS)
        if end:
            await self.send({"type": "user.audio.end"})
        return ref

    async def send_image(self, data: bytes) -> None:
        """Send a camera frame (JPEG or PNG bytes)."""
        await self.send({"type": "user.image", "data": base64.b64encode(data).decode()})

    async def interrupt(
        self, turn_id: str | None = None, played_seconds: float | None = None
    ) -> None:
        """Barge in on the turn in flight (or the reply still playing)."""
        await self.send(
            p.Interrupt(type="interrupt", turn_id=turn_id, played_seconds=played_seconds)
        )

    async def end(self, *, forget: bool = False) -> dict[str, Any]:
        """End the session (``forget``: delete its conversation); the ``session.ended``."""
        await self.send(p.SessionEnd(type="session.end", forget=forget))
        while True:
            event = await self.receive()
            if event.type == "session.ended":
                return event.message

    # --- whole turns --------------------------------------------------------------------------

    async def turn(
        self,
        text: str | None = None,
        *,
        audio: bytes | str | Path | None = None,
        image: bytes | None = None,
        realtime: bool = True,
        timeout: float = 300,
    ) -> TurnOutcome:
        """Run one turn: an optional camera frame, then ``text`` or ``audio`` (PCM16 bytes or
        an audio file); collects the turn's events until ``reply.done`` or an error."""
        if image is not None:
            await self.send_image(image)
        if text is not None:
            ref = await self.send_text(text)
        elif audio is not None:
            pcm = audio if isinstance(audio, bytes) else pcm16_from_file(audio)
            ref = await self.send_audio(pcm, realtime=realtime)
        else:
            raise ValueError("a turn needs text or audio")
        return await self.collect(ref, timeout=timeout)

    async def collect(self, ref: str, *, timeout: float = 300) -> TurnOutcome:
        """The events of the turn ``ref`` until it is done (messages of other turns and
        connection-wide ones, like ``face.reading``, stay only in :attr:`received`)."""
        outcome = TurnOutcome(ref)
        async with asyncio.timeout(timeout):
            while True:
                event = await self.receive(timeout=None)
                if event.message.get("ref") != ref:
                    continue
                outcome.events.append(event)
                if event.type == "reply.done":
                    return outcome
                if event.type == "error":
                    return outcome  # a turn's error ends it


class SyncAttuneClient:
    """:class:`AttuneClient` for code without an event loop (each call runs to completion)."""

    def __init__(self, url: str = "ws://127.0.0.1:8765/ws", **kwargs: Any) -> None:
        self._runner = asyncio.Runner()
        self.client = AttuneClient(url, **kwargs)

    def __enter__(self) -> SyncAttuneClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def session_id(self) -> str | None:
        return self.client.session_id

    def connect(self) -> dict[str, Any] | None:
        return self._runner.run(self.client.connect())

    def turn(self, text: str | None = None, **kwargs: Any) -> TurnOutcome:
        """See :meth:`AttuneClient.turn`."""
        return self._runner.run(self.client.turn(text, **kwargs))

    def end(self, *, forget: bool = False) -> dict[str, Any]:
        return self._runner.run(self.client.end(forget=forget))

    def close(self) -> None:
        self._runner.run(self.client.close())
        self._runner.close()


def _new_ref() -> str:
    return uuid.uuid4().hex[:12]
