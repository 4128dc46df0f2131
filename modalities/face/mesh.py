"""MediaPipe's 468-point face mesh, rotated face crops, and geometric cues from the mesh.

**Region of interest** (MediaPipe's ``face_detection_front_detection_to_roi``): a square centred
on the detection box, 1.5 times its longer side, rotated so the line between the eyes is
horizontal. :class:`FaceFrame` holds that square; :meth:`FaceFrame.crop` samples it with one
affine warp, and :meth:`FaceFrame.to_image` maps crop coordinates back to image pixels.

**Mesh**: the ROI crop, 192x192 RGB in ``[0, 1]``, goes through ``face_landmark.tflite``; its
first output is 468 ``(x, y, z)`` points in crop pixels, its second a face-presence logit
(points are dropped below 0.5, as in MediaPipe). Points come back in image pixels (``z`` in the
same scale, smaller = nearer the camera).

**Geometry** (:func:`face_geometry`), using the standard mesh indices, measured in the face's
own upright frame so head roll does not change them: mouth corners 61/291, inner lips 13/14,
eyelids 159/145 (one eye) and 386/374 (the other) with eye corners 33/133 and 362/263, brows
105/334, face height 10 (forehead) - 152 (chin), face width 234-454 (cheek to cheek).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from attune.types import FaceGeometry
from modalities.face.blazeface import LEFT_EYE, RIGHT_EYE, Detection, load_interpreter

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter

MESH_MODEL = "face_landmark.tflite"
MESH_INPUT = 192
NUM_LANDMARKS = 468
#: The ROI is this many times the detection box's longer side (MediaPipe's value).
ROI_SCALE = 1.5
#: Minimum face-presence probability of the mesh model.
MESH_PRESENCE = 0.5

MOUTH_CORNERS = (61, 291)
INNER_LIPS = (13, 14)
EYES = ((159, 145, 33, 133), (386, 374, 362, 263))  # upper lid, lower lid, corner, corner
BROWS = ((105, 159), (334, 386))  # brow point, upper lid of the eye below it
FOREHEAD, CHIN = 10, 152
CHEEKS = (234, 454)


@dataclass(frozen=True)
class FaceFrame:
    """A square region of an image, ``side`` pixels, centred on ``centre`` and rotated by
    ``angle`` radians (the direction of its x axis in the image, y pointing down)."""

    centre: tuple[float, float]
    side: float
    angle: float

    @classmethod
    def from_detection(cls, detection: Detection, scale: float = ROI_SCALE) -> FaceFrame:
        """MediaPipe's mesh ROI: the box centre, ``scale`` x its longer side, eyes level."""
        box = detection.box
        left, right = detection.keypoints[LEFT_EYE], detection.keypoints[RIGHT_EYE]
        angle = math.atan2(float(right[1] - left[1]), float(right[0] - left[0]))
        centre = (float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2)
        return cls(centre, max(detection.width, detection.height) * scale, angle)

    def _axes(self) -> tuple[np.ndarray, np.ndarray]:
        u = np.array([math.cos(self.angle), math.sin(self.angle)])
        return u, np.array([-u[1], u[0]])

    def crop(self, image: np.ndarray, size: int) -> np.ndarray:
        """The region resampled to ``size`` x ``size`` (black outside the image)."""
        import cv2

        u, v = self._axes()
        step = self.side / size
        origin = np.asarray(self.centre) - (u + v) * self.side / 2
        # Maps crop pixel (i, j) to image point origin + step * (i * u + j * v).
        matrix = np.column_stack([u * step, v * step, origin])
        return cv2.warpAffine(
            image,
            matrix,
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )

    def to_image(self, points: np.ndarray, size: int) -> np.ndarray:
        """Points ``(n, 2 or 3)`` in crop pixels of a ``size`` crop -> image pixels (``z``
        scaled alike)."""
        u, v = self._axes()
        step = self.side / size
        origin = np.asarray(self.centre) - (u + v) * self.side / 2
        out = np.array(points, dtype=np.float64, copy=True)
        out[:, :2] = origin + step * (points[:, :1] * u + points[:, 1:2] * v)
        if out.shape[1] > 2:
            out[:, 2] *= step
        return out

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Image points ``(n, >=2)`` -> ``(n, 2)`` coordinates along this frame's axes (upright
        face frame, pixels, origin at the centre)."""
        u, v = self._axes()
        rel = points[:, :2] - np.asarray(self.centre)
        return np.stack([rel @ u, rel @ v], axis=1)

    def from_frame(self, point: np.ndarray) -> tuple[float, float]:
        """One point in this frame's coordinates (see :meth:`to_frame`) -> image pixels."""
        u, v = self._axes()
        x, y = np.asarray(self.centre) + point[0] * u + point[1] * v
        return float(x), float(y)


class FaceMeshModel:
    """The 468-point face mesh model. Not thread-safe on its own (callers hold a lock)."""

    def __init__(self, path: Path, num_threads: int | None = None) -> None:
        self.interpreter: Interpreter = load_interpreter(path, num_threads)
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: -d["shape"][-1])
        self.points_index, self.presence_index = outputs[0]["index"], outputs[1]["index"]

    def landmarks(self, image: np.ndarray, frame: FaceFrame) -> np.ndarray | None:
        """The mesh of the face in ``frame``: ``(468, 3)`` image pixels, or ``None`` when the
        model says there is no face there."""
        crop = frame.crop(image, MESH_INPUT).astype(np.float32) / 255.0
        self.interpreter.set_tensor(self.input_index, crop[np.newaxis])
        self.interpreter.invoke()
        logit = float(self.interpreter.get_tensor(self.presence_index).ravel()[-1])
        if 1.0 / (1.0 + math.exp(-max(min(logit, 80.0), -80.0))) < MESH_PRESENCE:
            return None
        raw = self.interpreter.get_tensor(self.points_index).reshape(-1, 3)[:NUM_LANDMARKS]
        return frame.to_image(raw, MESH_INPUT)


def mesh_frame(points: np.ndarray) -> FaceFrame:
    """The upright frame of a mesh: centred on its bounding box in the eye-line direction,
    ``side`` = the larger of face height (forehead-chin) and width (cheek-cheek)."""
    left = points[[EYES[0][2], EYES[0][3]], :2].mean(axis=0)
    right = points[[EYES[1][2], EYES[1][3]], :2].mean(axis=0)
    angle = math.atan2(float(right[1] - left[1]), float(right[0] - left[0]))
    probe = FaceFrame((0.0, 0.0), 1.0, angle)
    local = probe.to_frame(points)
    low, high = local.min(axis=0), local.max(axis=0)
    centre = probe.from_frame((low + high) / 2)
    height = float(np.linalg.norm(points[FOREHEAD, :2] - points[CHIN, :2]))
    width = float(np.linalg.norm(points[CHEEKS[0], :2] - points[CHEEKS[1], :2]))
    return FaceFrame(centre, max(height, width), angle)


def face_geometry(points: np.ndarray) -> FaceGeometry:
    """Geometric expression cues of a ``(468, 3)`` mesh (see :class:`FaceGeometry`)."""
    frame = mesh_frame(points)
    local = frame.to_frame(points)  # x along the eye line, y down the face

    def dist(a: int, b: int) -> float:
        return float(np.linalg.norm(local[a] - local[b]))

    height = max(dist(FOREHEAD, CHIN), 1e-6)
    width = max(dist(*CHEEKS), 1e-6)
    lip_centre_y = (local[INNER_LIPS[0], 1] + local[INNER_LIPS[1], 1]) / 2
    corners_y = (local[MOUTH_CORNERS[0], 1] + local[MOUTH_CORNERS[1], 1]) / 2
    eye_open = np.mean([dist(up, low) / max(dist(a, b), 1e-6) for up, low, a, b in EYES])
    brow = np.mean([local[eye, 1] - local[brow, 1] for brow, eye in BROWS])
    return FaceGeometry(
        mouth_corner=round(float(lip_centre_y - corners_y) / height, 4),
        mouth_open=round(dist(*INNER_LIPS) / height, 4),
        mouth_width=round(dist(*MOUTH_CORNERS) / width, 4),
        brow_raise=round(float(brow) / height, 4),
        eye_open=round(float(eye_open), 4),
    )
