"""The ``onnx`` face backend: the shared BlazeFace + mesh pipeline with a local ONNX FER model.

The model (``settings.face.onnx.model_path``) is any image classifier over facial expressions with
one image input and one output of class scores. What it needs is read from the model:

* **input**: ``NCHW`` or ``NHWC`` by where the 1 or 3 channels are; 1 channel = gray, 3 = RGB;
  the side from the input shape (64 when it is dynamic);
* **labels**: ``labels`` in a JSON sidecar beside the model (``model.json`` for ``model.onnx``),
  else a ``labels`` entry in the model's metadata (a JSON list or comma-separated names);
* **scaling**: pixels go to ``[0, 1]``, then ``(x - mean) / std`` with ``mean`` and ``std``
  from the sidecar (default 0 and 1; e.g. ``mean 0.5, std 0.5`` for ``[-1, 1]``);
* **output**: probabilities when a row is non-negative and sums to 1, else logits (softmax).

Label names map onto :data:`FER_LABELS` through :data:`LABEL_ALIASES` (case-insensitive:
happiness -> happy, anger -> angry, sadness -> sad, surprised -> surprise, ...). Classes with no
FER counterpart (e.g. contempt) are dropped and the rest renormalised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ConfigError, ModelNotFoundError
from attune.types import FER_LABELS
from modalities.face.pipeline import MeshFaceAnalyzer

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

LABEL_ALIASES: dict[str, str] = {
    **{label: label for label in FER_LABELS},
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "calm": "neutral",
}
DEFAULT_SIDE = 64


def fer_label(name: str) -> str | None:
    """The :data:`FER_LABELS` name for a model's class name, ``None`` when it has none."""
    return LABEL_ALIASES.get(name.strip().lower())


def read_labels(model_path: Path, metadata: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
    """The class names and the sidecar settings of a model (see the module docstring)."""
    sidecar = model_path.with_suffix(".json")
    config: dict[str, Any] = {}
    if sidecar.is_file():
        try:
            config = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{sidecar} is not valid JSON: {exc}") from exc
        if not isinstance(config, dict):
            raise ConfigError(f"{sidecar} must hold a JSON object")
    labels: Any = config.get("labels")
    if labels is None and "labels" in metadata:
        raw = metadata["labels"]
        try:
            labels = json.loads(raw)
        except json.JSONDecodeError:
            labels = [part for part in raw.split(",") if part.strip()]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ConfigError(
            f"no class labels for {model_path.name}: put a 'labels' list in {sidecar.name} "
            "or in the model's metadata"
        )
    return labels, config


class ONNXFace(MeshFaceAnalyzer):
    """Expression from a local ONNX image classifier (see the module docstring)."""

    name = "onnx"

    def __init__(self, model_path: Path | str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_path = Path(model_path) if model_path is not None else None
        self._session: Any = None
        self._layout = "NCHW"
        self._channels = 1
        self._columns: np.ndarray = np.zeros(0, dtype=np.int64)
        self._targets: np.ndarray = np.zeros(0, dtype=np.int64)
        self._mean = np.zeros(1, dtype=np.float32)
        self._std = np.ones(1, dtype=np.float32)

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> ONNXFace:
        """Build from ``settings.face`` (``model_path`` is required when the model loads)."""
        options = {**cls.settings_kwargs(settings.face), **kwargs}
        return cls(options.pop("model_path", settings.face.onnx.model_path), **options)

    def _load_classifier(self) -> None:
        path = self.model_path
        if path is None or not path.is_file():
            raise ModelNotFoundError(
                f"ONNX expression model not found: {path}; set ATTUNE_FACE__ONNX__MODEL_PATH to a "
                "local .onnx image-classification FER model (with a labels sidecar)"
            )
        import onnxruntime as ort

        options = ort.SessionOptions()
        if self.num_threads:
            options.intra_op_num_threads = self.num_threads
        try:
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own error types
            raise ConfigError(f"could not load the ONNX model {path}: {exc}") from exc
        labels, config = read_labels(path, session.get_modelmeta().custom_metadata_map)
        self._configure_input(session.get_inputs()[0].shape)
        mapped = [(i, fer_label(name)) for i, name in enumerate(labels)]
        kept = [(i, FER_LABELS.index(fer)) for i, fer in mapped if fer is not None]
        if not kept:
            raise ConfigError(f"none of the labels of {path.name} is a FER expression: {labels}")
        self._columns = np.array([i for i, _ in kept])
        self._targets = np.array([t for _, t in kept])
        self._mean = np.asarray(config.get("mean", 0.0), dtype=np.float32).reshape(-1)
        self._std = np.asarray(config.get("std", 1.0), dtype=np.float32).reshape(-1)
        self._session = session

    def _configure_input(self, shape: list[Any]) -> None:
        if len(shape) != 4:
            raise ConfigError(f"the ONNX model's input must be an image batch, got shape {shape}")
        if shape[1] in (1, 3):
            self._layout, self._channels, side = "NCHW", int(shape[1]), shape[2]
        elif shape[3] in (1, 3):
            self._layout, self._channels, side = "NHWC", int(shape[3]), shape[1]
        else:
            raise ConfigError(f"cannot tell the channels of the ONNX model's input {shape}")
        self.crop_size = side if isinstance(side, int) and side > 0 else DEFAULT_SIDE

    def _classify(self, face: np.ndarray) -> np.ndarray:
        import cv2

        gray = self._channels == 1
        pixels = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)[:, :, None] if gray else face
        tensor = (pixels.astype(np.float32) / 255.0 - self._mean) / self._std
        if self._layout == "NCHW":
            tensor = tensor.transpose(2, 0, 1)
        session = self._session
        feed = {session.get_inputs()[0].name: tensor[np.newaxis].astype(np.float32)}
        row = np.asarray(session.run(None, feed)[0], dtype=np.float64).reshape(-1)
        if row.min() < 0 or abs(row.sum() - 1.0) > 1e-3:
            row = np.exp(row - row.max())
            row /= row.sum()
        probs = np.zeros(len(FER_LABELS))
        np.add.at(probs, self._targets, row[self._columns])
        if probs.sum() <= 0:
            return np.full(len(FER_LABELS), 1.0 / len(FER_LABELS))
        return probs / probs.sum()
