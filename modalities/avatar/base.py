"""The ``avatar`` role: draw a cue timeline (:class:`~modalities.avatar.cues.AvatarCues`) as
frames, and the shared ways to deliver them (an MP4 with the reply audio, a PNG still).

A backend implements one method, :meth:`AvatarRenderer.render_frame` (cues + frame index -> an
RGB ``uint8`` image of ``size`` x ``size``), and may override :meth:`AvatarRenderer.frames`
when drawing a whole timeline in order is faster. Construction is cheap; anything heavy (a
portrait's face mesh, the warp tables) is prepared in :meth:`load` or on first use, once,
thread-safely.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import InputError
from attune.lifecycle import Loadable
from attune.types import Audio
from modalities.avatar.cues import AvatarCues
from modalities.avatar.video import check_duration, write_mp4

if TYPE_CHECKING:
    from attune.settings import AttuneSettings


class AvatarRenderer(Loadable, ABC):
    """Renders avatar frames from cues. ``size`` is the square frame side in pixels; ``fps`` the
    frame rate to build cues at for it (``settings.avatar.fps``); ``max_seconds`` the longest
    audio :meth:`render_video` accepts."""

    name: str

    def __init__(self, *, size: int = 512, fps: int = 25, max_seconds: float = 120.0) -> None:
        if size < 64 or size % 2:
            raise InputError("bad_size", f"the frame size must be even and >= 64, got {size}")
        self.size = size
        self.fps = fps
        self.max_seconds = max_seconds

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> AvatarRenderer:
        """Construct cheaply from ``settings.avatar``; keyword arguments override."""

    @staticmethod
    def settings_kwargs(settings: AttuneSettings) -> dict[str, Any]:
        """Constructor arguments common to every renderer, from ``settings.avatar``."""
        a = settings.avatar
        return {"size": a.size, "fps": a.fps, "max_seconds": a.max_seconds}

    @abstractmethod
    def render_frame(self, cues: AvatarCues, index: int) -> np.ndarray:
        """Frame ``index`` of ``cues`` as RGB ``uint8`` ``(size, size, 3)``."""

    def frames(self, cues: AvatarCues) -> Iterator[np.ndarray]:
        """Every frame of ``cues``, in order."""
        self.load()
        for index in range(cues.frames):
            yield self.render_frame(cues, index)

    def render_video(self, cues: AvatarCues, audio: Audio, path: Path | str) -> Path:
        """Write ``cues`` with ``audio`` muxed in as an MP4 (H.264 + AAC) at ``path``.

        ``audio`` is the reply audio the cues were built from (same start). Audio longer than
        ``max_seconds`` is ``InputError("audio_too_long")``; cues that do not match the audio's
        length are ``InputError("cues_mismatch")``.
        """
        check_duration(audio, self.max_seconds)
        if abs(cues.frames - round(audio.duration * cues.fps)) > 1:
            raise InputError(
                "cues_mismatch",
                f"{cues.frames} cue frames do not cover {audio.duration:.2f} s at {cues.fps} fps",
            )
        return write_mp4(self.frames(cues), audio, path, cues.fps)

    def still(self, cues: AvatarCues, index: int = 0) -> bytes:
        """Frame ``index`` of ``cues`` as PNG bytes."""
        import cv2

        self.load()
        ok, data = cv2.imencode(
            ".png", cv2.cvtColor(self.render_frame(cues, index), cv2.COLOR_RGB2BGR)
        )
        if not ok:
            raise RuntimeError("PNG encoding failed")
        return bytes(data)
