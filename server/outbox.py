"""What one connection sends: :class:`Outbox`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from attune.errors import ErrorCode, error_code
from server import protocol as p

log = logging.getLogger(__name__)


class Outbox:
    """The server's messages to one client, numbered (``seq``) in the order they go out, each
    with the binary frame that belongs to it; errors with their typed code (an unrecoverable one
    then closes the connection); warnings at most once a second per code. Once the client is
    gone, sending is a no-op and ``on_gone`` has been called (once)."""

    def __init__(self, ws: ServerConnection, on_gone: Callable[[], None]) -> None:
        self.ws = ws
        self._on_gone = on_gone
        self._seq = 0
        self._lock = asyncio.Lock()
        self._warned: dict[str, float] = {}
        #: The client is gone (or the session ended): nothing more is sent.
        self.closed = False
        #: An unrecoverable error was sent: the connection is closing.
        self.closing = False
        self.close_task: asyncio.Task[None] | None = None

    async def send(self, message: p._ServerMessage, binary: bytes | None = None) -> bool:
        """Send one message (and its binary frame); ``False`` once the client is gone."""
        if self.closed:
            return False
        async with self._lock:
            self._seq += 1
            frame = p.dump(message.model_copy(update={"seq": self._seq}))
            try:
                await self.ws.send(frame)
                if binary is not None:
                    await self.ws.send(binary)
            except ConnectionClosed:
                self.gone()
                return False
        return True

    async def error(
        self,
        code: str,
        message: str,
        *,
        recoverable: bool = True,
        ref: str | None = None,
        turn_id: str | None = None,
    ) -> None:
        """Send an ``error``; an unrecoverable one then closes the connection."""
        try:
            code = error_code(code)
        except ValueError:  # a code missing from ErrorCode: still tell the client
            log.exception("error code %s is not in ErrorCode", code)
            code = ErrorCode.INTERNAL_ERROR
        log.info("error %s", code)
        await self.send(
            p.ErrorMessage(
                code=code, message=message, recoverable=recoverable, ref=ref, turn_id=turn_id
            )
        )
        if not recoverable:
            # close without waiting: the receive loop keeps draining frames until the client's
            # close frame arrives (a flooding client's frames would otherwise hide it)
            self.closing = True
            self.close_task = asyncio.create_task(
                self.ws.close(1008 if code == "rate_limited" else 1000, code)
            )

    async def warn(self, code: str, message: str) -> None:
        """A recoverable error sent at most once a second per code (floods stay quiet)."""
        now = time.monotonic()
        if now - self._warned.get(code, -1e9) >= 1.0:
            self._warned[code] = now
            await self.error(code, message)

    def gone(self) -> None:
        """The client is gone: stop sending, and tell the connection (once)."""
        if not self.closed:
            self.closed = True
            self._on_gone()
