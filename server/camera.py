"""One connection's camera: :class:`CameraInput`."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import AttuneError
from server import protocol as p
from server.limits import TokenBucket

if TYPE_CHECKING:
    from attune.settings import AttuneSettings
    from server.app import AttuneServer
    from server.outbox import Outbox


class CameraInput:
    """Camera frames of one connection: at most ``server.max_image_fps`` (over it, one
    ``image_rate`` warning a second), checked (size, base64), read one at a time off the event
    loop (a frame that arrives while one is being read is dropped: the camera's pace without a
    backlog), smoothed over a window (:class:`modalities.face.tracker.FaceTracker`) and sent
    back as ``face.reading``. The latest frame is what a turn shows (:meth:`fresh`)."""

    def __init__(self, server: AttuneServer, outbox: Outbox, settings: AttuneSettings) -> None:
        self.server = server
        self.outbox = outbox
        self.settings = settings
        self._frames = TokenBucket(settings.server.max_image_fps, 2.0)
        self._image: tuple[np.ndarray, float] | None = None
        self._tracker: Any = None
        self._task: asyncio.Task[None] | None = None

    async def on_image(self, message: p.UserImage) -> None:
        """A ``user.image`` message."""
        limit = self.settings.server.max_image_bytes
        if len(message.data) > limit * 4 // 3 + 4:
            await self.outbox.error("image_too_large", f"an image may have at most {limit} bytes")
            return
        if not self._frames.take():
            fps = self.settings.server.max_image_fps
            await self.outbox.warn("image_rate", f"more than {fps:g} camera frames per second")
            return
        try:
            data = base64.b64decode(message.data, validate=True)
        except (binascii.Error, ValueError):
            await self.outbox.error("bad_image", "the image data is not valid base64")
            return
        if self._task is not None and not self._task.done():
            return  # a frame is being read: keep the camera's pace without a backlog
        self._task = asyncio.create_task(self._read(data))

    async def _read(self, data: bytes) -> None:
        try:
            image, reading = await asyncio.to_thread(self.server.read_face, data)
        except AttuneError as exc:
            await self.outbox.error(exc.code, str(exc))
            return
        self._image = (image, time.monotonic())
        if self._tracker is None:
            from modalities.face.tracker import FaceTracker

            self._tracker = FaceTracker.from_settings(self.settings)
        smoothed = self._tracker.update(reading, time.monotonic())
        await self.outbox.send(p.FaceReadingMessage(face=smoothed))

    def fresh(self) -> np.ndarray | None:
        """The latest frame if it is recent enough to show the user now."""
        if self._image is None:
            return None
        image, at = self._image
        return image if time.monotonic() - at <= self.settings.face.window_seconds else None

    async def close(self) -> None:
        """Wait for the frame being read, if any."""
        if self._task is not None:
            await self._task
