"""The ``face`` contract: a face gives a distribution over the FER labels and a box inside the
image; no face is a valid reading; unusable input is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from attune.errors import InputError
from attune.types import FER_LABELS, FaceReading
from modalities.face.base import FaceAnalyzer
from tests.conformance.backends import params

ROLE = "face"
pytestmark = pytest.mark.parametrize("backend", params(ROLE), indirect=True)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    return np.asarray(data.astronaut())


def test_a_face_gives_a_reading(backend: FaceAnalyzer, astronaut: np.ndarray) -> None:
    assert isinstance(backend, FaceAnalyzer)
    reading = backend.analyze(astronaut)
    assert isinstance(reading, FaceReading)
    assert reading.detected and reading.faces >= 1
    assert set(reading.scores) <= set(FER_LABELS)
    assert sum(reading.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert reading.box is not None
    x, y, w, h = reading.box
    assert x >= 0 and y >= 0 and w > 0 and h > 0
    assert x + w <= astronaut.shape[1] + 1 and y + h <= astronaut.shape[0] + 1


def test_no_face_is_a_valid_reading(backend: FaceAnalyzer) -> None:
    blank = np.full((240, 320, 3), 128, dtype=np.uint8)
    assert backend.analyze(blank).detected is False


@pytest.mark.parametrize(
    "bad", [b"", b"not an image", np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4, 7), np.uint8)]
)
def test_unusable_input_is_a_clear_error(backend: FaceAnalyzer, bad: object) -> None:
    with pytest.raises(InputError):
        backend.analyze(bad)  # type: ignore[arg-type]
