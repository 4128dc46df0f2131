"""The ``cartoon`` avatar: a clean, stylised 2-D face drawn with OpenCV from the cues.

Everything is drawn in a face frame of 1000 units (scaled to ``size``) with antialiased
polygons at 4 bits of sub-pixel precision: a head ellipse and hair on a soft background, eyes
(white, iris following the gaze, an upper lid that lowers with blinks and soft eyes), brows
(lifted by ``brow_raise``, inner ends raised by ``brow_inner``), a nose, and a mouth whose
outline is two curves: corners moved by ``smile`` and ``mouth_width``/``mouth_round``, the lip
gap by ``mouth_open``. The open mouth is dark with a band of upper teeth. Head yaw and pitch
shift the features (a cheap 2.5-D parallax), roll rotates the whole face.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from modalities.avatar.base import AvatarRenderer
from modalities.avatar.cues import AvatarCues, FrameCue

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

BACKGROUND = (232, 238, 244)
SKIN = (246, 208, 178)
SKIN_SHADE = (226, 180, 150)
HAIR = (92, 62, 48)
EYE_WHITE = (252, 252, 250)
IRIS = (70, 110, 140)
PUPIL = (25, 25, 30)
INK = (70, 45, 40)
SHIRT = (110, 140, 180)
LIPS = (196, 104, 104)
MOUTH = (70, 26, 32)
TEETH = (250, 248, 240)

#: The point the head rolls around (face units).
_PIVOT = np.array([500.0, 520.0])
_SHIFT = 4
_ONE = 1 << _SHIFT


class CartoonRenderer(AvatarRenderer):
    """Draws a stylised face from the cues (see the module docstring)."""

    name = "cartoon"

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> CartoonRenderer:
        """From ``settings.avatar`` (size, fps); keyword arguments override."""
        return cls(**{**cls.settings_kwargs(settings), **kwargs})

    def _load(self) -> None:
        s = self.size
        y = np.linspace(0.0, 1.0, s, dtype=np.float32)[:, None, None]
        top, bottom = np.array(BACKGROUND, np.float32), np.array((205, 216, 228), np.float32)
        self._background = np.broadcast_to(top * (1 - y) + bottom * y, (s, s, 3)).astype(np.uint8)

    def render_frame(self, cues: AvatarCues, index: int) -> np.ndarray:
        """Frame ``index`` of ``cues``, drawn from scratch."""
        self.load()
        return self._draw(cues.frame(index))

    def _draw(self, f: FrameCue) -> np.ndarray:
        import cv2

        img = self._background.copy()
        scale = self.size / 1000.0
        roll = math.radians(f.head_roll)
        cos, sin = math.cos(roll), math.sin(roll)
        # parallax: features move with yaw/pitch more than the head outline does
        fx, fy = -f.head_yaw * 6.0, f.head_pitch * 6.0

        def pts(xy: np.ndarray, parallax: float = 1.0) -> np.ndarray:
            p = np.asarray(xy, np.float64) + np.array([fx, fy]) * parallax - _PIVOT
            rot = np.stack([p[:, 0] * cos - p[:, 1] * sin, p[:, 0] * sin + p[:, 1] * cos], 1)
            return np.round((rot + _PIVOT) * scale * _ONE).astype(np.int32)

        def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 48) -> np.ndarray:
            t = np.linspace(0, 2 * math.pi, n, endpoint=False)
            return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)

        def fill(poly: np.ndarray, colour: tuple[int, int, int]) -> None:
            cv2.fillPoly(img, [poly], colour, cv2.LINE_AA, _SHIFT)

        def line(poly: np.ndarray, colour: tuple[int, int, int], width: float) -> None:
            cv2.polylines(
                img, [poly], False, colour, max(1, round(width * scale)), cv2.LINE_AA, _SHIFT
            )

        # neck, hair back, head, hair front
        fill(pts(np.array([[420, 700], [580, 700], [600, 1000], [400, 1000]]), 0.2), SKIN_SHADE)
        fill(pts(ellipse(500, 1060, 400, 190), 0.1), SHIRT)
        fill(pts(ellipse(500, 470, 300, 330), 0.3), HAIR)
        fill(pts(ellipse(500, 520, 235, 290), 0.6), SKIN)
        hair = ellipse(500, 330, 250, 140, 64)
        fill(pts(hair[(hair[:, 1] < 360) | (np.abs(hair[:, 0] - 500) > 200)], 0.5), HAIR)

        # eyes: white, iris following the gaze, lids lowered by blinks and soft eyes
        closure = min(
            1.0, max(-0.3, f.blink + 0.35 * max(0.0, -f.eye_open) - 0.25 * max(0.0, f.eye_open))
        )
        for side in (-1, 1):
            cx, cy = 500 + side * 95, 500
            white = ellipse(cx, cy, 52, 30)
            if closure < 0.97:
                fill(pts(white), EYE_WHITE)
                iris_c = (cx + f.gaze_x * 18, cy + f.gaze_y * 8)
                fill(pts(ellipse(*iris_c, 22, 22)), IRIS)
                fill(pts(ellipse(*iris_c, 10, 10)), PUPIL)
                fill(pts(ellipse(iris_c[0] + 7, iris_c[1] - 8, 5, 5, 12)), EYE_WHITE)
            lid_y = cy - 30 + 60 * max(0.0, closure) - 8 * max(0.0, -closure)
            lid = np.array(
                [[cx - 60, cy - 50], [cx + 60, cy - 50], [cx + 60, lid_y], [cx - 60, lid_y]]
            )
            fill(pts(lid), SKIN)
            t = np.linspace(math.pi, 2 * math.pi, 16)
            upper = np.stack(
                [
                    cx + 52 * np.cos(t),
                    np.minimum(cy + 30 * np.sin(t) + 60 * max(0.0, closure), cy + 30),
                ],
                1,
            )
            line(pts(upper), INK, 6)

            # brows: raised by brow_raise, the inner end by brow_inner (concern)
            by = cy - 70 - 28 * f.brow_raise
            inner = by - 30 * f.brow_inner
            outer = by + 8 * f.brow_inner
            brow = np.array([[cx + side * 60, outer + 6], [cx, by - 8], [cx - side * 55, inner]])
            line(pts(brow), HAIR, 14)

        # nose
        line(pts(np.array([[500, 540], [488, 610], [506, 616]]), 0.9), SKIN_SHADE, 7)

        # mouth: corners from smile/width/round, the gap from mouth_open
        half = 80 * (1 + 0.25 * f.mouth_width - 0.35 * f.mouth_round)
        mouth_y = 690.0
        corner_y = mouth_y - 22 * f.smile
        gap = 75 * f.mouth_open + 10 * f.mouth_round * (f.mouth_open > 0.05)
        t = np.linspace(-1, 1, 21)
        curve = mouth_y + 10 * f.smile * (1 - t**2) * 0.6
        upper_lip = np.stack(
            [500 + half * t, corner_y + (curve - corner_y) * (1 - t**2) - gap * 0.25 * (1 - t**2)],
            1,
        )
        lower_lip = np.stack(
            [500 + half * t, corner_y + (curve - corner_y) * (1 - t**2) + gap * (1 - t**2) ** 0.8],
            1,
        )
        if gap > 2:
            mouth = np.concatenate([upper_lip, lower_lip[::-1]])
            fill(pts(mouth, 0.9), MOUTH)
            teeth_depth = np.array([0.0, min(16.0, 0.3 * gap)])
            teeth = np.concatenate([upper_lip, (upper_lip + teeth_depth)[::-1]])
            fill(pts(teeth, 0.9), TEETH)
            line(pts(lower_lip, 0.9), LIPS, 10)
        line(pts(upper_lip, 0.9), LIPS, 10)
        return img
