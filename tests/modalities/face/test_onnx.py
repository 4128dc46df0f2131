"""The onnx face backend on a tiny ONNX classifier written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attune.errors import ConfigError, ModelNotFoundError
from attune.registry import backend_class
from attune.settings import AttuneSettings
from attune.types import FER_LABELS

from .onnx_builder import write_tiny_classifier

pytest.importorskip("onnxruntime")

from modalities.face.onnx_fer import ONNXFace, fer_label

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)

# A FER+-style label set: contempt has no FER counterpart and is dropped.
LABELS = ["Anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]


def test_label_aliases() -> None:
    assert [fer_label(x) for x in LABELS] == [
        "angry", None, "disgust", "fear", "happy", "neutral", "sad", "surprise"
    ]  # fmt: skip


def test_reads_labels_from_the_model_metadata(tmp_path: Path, astronaut: np.ndarray) -> None:
    path = write_tiny_classifier(
        tmp_path / "fer.onnx", len(LABELS), metadata={"labels": json.dumps(LABELS)}
    )
    face = ONNXFace(path)
    reading = face.analyze(astronaut)
    assert reading.detected and reading.backend == "onnx" and reading.faces == 1
    assert set(reading.scores) == set(FER_LABELS)
    assert sum(reading.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert face.crop_size == 48
    assert face.landmarks(astronaut) is not None


def test_reads_a_sidecar_for_an_rgb_model(tmp_path: Path, astronaut: np.ndarray) -> None:
    path = write_tiny_classifier(tmp_path / "rgb.onnx", 3, channels=3, side=32)
    (tmp_path / "rgb.json").write_text(
        json.dumps({"labels": ["happy", "sad", "neutral"], "mean": 0.5, "std": 0.5})
    )
    settings = AttuneSettings(face={"onnx": {"model_path": path}})  # type: ignore[arg-type]
    face = backend_class("face", "onnx").from_settings(settings)
    reading = face.analyze(astronaut)
    assert face.crop_size == 32
    assert {k for k, v in reading.scores.items() if v > 0} <= {"happy", "sad", "neutral"}


def test_a_missing_model_or_labels_are_clear_errors(tmp_path: Path, astronaut: np.ndarray) -> None:
    with pytest.raises(ModelNotFoundError):
        ONNXFace(tmp_path / "missing.onnx").load()
    with pytest.raises(ModelNotFoundError):
        ONNXFace(None).load()
    unlabeled = write_tiny_classifier(tmp_path / "unlabeled.onnx", 4)
    with pytest.raises(ConfigError, match="labels"):
        ONNXFace(unlabeled).load()
    (tmp_path / "unlabeled.json").write_text(json.dumps({"labels": ["a", "b", "c", "d"]}))
    with pytest.raises(ConfigError, match="FER"):
        ONNXFace(unlabeled).load()
