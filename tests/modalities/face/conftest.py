"""Shared fixtures of the face tests: one loaded backend and the test media from scikit-image."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")
pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")

from modalities.face.tflite import TFLiteFace  # noqa: E402


@pytest.fixture(scope="session")
def tflite_face() -> TFLiteFace:
    """The bundled backend, loaded once."""
    face = TFLiteFace()
    face.load()
    return face


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A smiling face, 512x512 RGB."""
    return np.asarray(skimage_data.astronaut())


@pytest.fixture(scope="session")
def lfw() -> np.ndarray:
    """200 gray 25x25 images as uint8: the first 100 are faces, the last 100 are not."""
    return (np.asarray(skimage_data.lfw_subset()) * 255 + 0.5).astype(np.uint8)
