"""Interface of the ``face`` role: read the expression of the largest face in an image."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.lifecycle import Loadable
from attune.types import FaceReading
from modalities.face.image import ImageSource

if TYPE_CHECKING:
    from attune.settings import AttuneSettings


@dataclass(frozen=True, eq=False)
class FaceMesh:
    """MediaPipe's 468-point face mesh of one face.

    ``points`` is ``float32`` ``(468, 3)``: ``x``, ``y`` in pixels of the image as read (after
    EXIF rotation and any downscaling to ``max_pixels``; ``image_size`` is its ``(width,
    height)``), ``z`` depth in the same scale (smaller = nearer). ``box`` is the face's
    ``(x, y, w, h)``; ``score`` the detection score.
    """

    points: np.ndarray
    box: tuple[int, int, int, int]
    image_size: tuple[int, int]
    score: float


class FaceAnalyzer(Loadable, ABC):
    """Reads a facial expression from an image (encoded bytes, a path or an RGB array)."""

    name: str
    #: Whether :meth:`landmarks` is available.
    has_landmarks: bool = False

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> FaceAnalyzer:
        """Construct cheaply from settings; models load in :meth:`load` or on first use."""

    @abstractmethod
    def analyze(self, image: ImageSource) -> FaceReading:
        """The expression of the largest face; ``detected=False`` when there is none.

        Raises :class:`~attune.errors.InputError` for unusable input (empty, corrupt,
        too large).
        """

    def landmarks(self, image: ImageSource) -> FaceMesh | None:
        """The mesh of the largest face, ``None`` when there is none (``has_landmarks``)."""
        raise NotImplementedError(f"the {self.name} face backend gives no landmarks")
