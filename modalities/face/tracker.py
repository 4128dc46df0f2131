"""Smooth per-frame face readings from a camera into a steadier reading.

The tracker keeps the last ``window_frames`` readings that are at most ``window_seconds`` old.
The smoothed distribution is their mean weighted by confidence and recency (a frame's weight
halves every ``window_seconds / 2``), so a single odd frame moves the reading only a little.
Frames without a face stay in the window but add no weight: a face lost for a frame or two
keeps its recent reading, and the reading turns to "no face" only when the window holds no
face at all (every face frame has aged out or been pushed out).

``stability`` is ``1 -`` the weighted mean total-variation distance between each face frame's
distribution and the smoothed one: 1 when the expression held steady, towards 0 when it
jumped between frames. ``confidence`` is the weighted mean frame confidence times
``(1 + stability) / 2``: an expression that keeps changing is read less surely. ``frames``
counts the face frames used.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from attune.types import FER_LABELS, FaceReading
from modalities.face.expression import valence_arousal

if TYPE_CHECKING:
    from attune.settings import AttuneSettings


class FaceTracker:
    """Smooths :class:`FaceReading` values over a window of camera frames (module docstring).

    Not thread-safe: keep one tracker per camera stream.
    """

    def __init__(self, window_frames: int = 8, window_seconds: float = 3.0) -> None:
        if window_frames < 1 or window_seconds <= 0:
            raise ValueError("window_frames must be >= 1 and window_seconds > 0")
        self.window_frames = window_frames
        self.window_seconds = window_seconds
        self._frames: deque[tuple[float, FaceReading]] = deque(maxlen=window_frames)

    @classmethod
    def from_settings(cls, settings: AttuneSettings) -> FaceTracker:
        """A tracker with the window of ``settings.face``."""
        return cls(settings.face.window_frames, settings.face.window_seconds)

    def reset(self) -> None:
        """Forget every frame (a new stream, or the camera was switched off)."""
        self._frames.clear()

    def update(self, reading: FaceReading, timestamp: float) -> FaceReading:
        """Add the frame read at ``timestamp`` (seconds, any monotonic clock) and return the
        smoothed reading over the window."""
        if self._frames and timestamp < self._frames[-1][0]:
            self.reset()  # the clock went backwards: a new stream
        self._frames.append((timestamp, reading))
        while self._frames and timestamp - self._frames[0][0] > self.window_seconds:
            self._frames.popleft()

        faces = [(t, r) for t, r in self._frames if r.detected and r.scores]
        if not faces:
            return FaceReading(detected=False, faces=0, frames=0, backend=reading.backend)
        half_life = self.window_seconds / 2
        weights = np.array(
            [max(r.confidence, 1e-3) * 0.5 ** ((timestamp - t) / half_life) for t, r in faces]
        )
        weights /= weights.sum()
        dists = np.array([[r.scores.get(k, 0.0) for k in FER_LABELS] for _, r in faces])
        dists /= np.maximum(dists.sum(axis=1, keepdims=True), 1e-9)
        mean = weights @ dists
        variation = 0.5 * np.abs(dists - mean).sum(axis=1)
        stability = float(np.clip(1.0 - weights @ variation, 0.0, 1.0))
        latest = faces[-1][1]
        valence, arousal = valence_arousal(mean)
        confidence = float(weights @ np.array([r.confidence for _, r in faces]))
        return FaceReading(
            detected=True,
            faces=latest.faces,
            box=latest.box,
            scores={k: round(float(p), 4) for k, p in zip(FER_LABELS, mean, strict=True)},
            label=FER_LABELS[int(np.argmax(mean))],
            valence=round(valence, 4),
            arousal=round(arousal, 4),
            confidence=round(float(np.clip(confidence * (0.5 + 0.5 * stability), 0.0, 1.0)), 4),
            geometry=latest.geometry,
            stability=round(stability, 4),
            frames=len(faces),
            backend=latest.backend,
        )
