"""The bundled face backend on real images: the astronaut smiles, LFW faces are found."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from attune.errors import InputError
from attune.registry import backend_class
from attune.settings import AttuneSettings
from attune.types import FER_LABELS, FaceGeometry
from modalities.face.expression import refine_with_geometry
from modalities.face.tflite import TFLiteFace

from .conftest import skimage_data

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)


def test_registry_builds_the_backend_from_settings() -> None:
    assert backend_class("face", "tflite") is TFLiteFace
    face = TFLiteFace.from_settings(AttuneSettings())
    assert face.name == "tflite" and face.detector.min_confidence == 0.6


def test_astronaut_reads_happy(tflite_face: TFLiteFace, astronaut: np.ndarray) -> None:
    reading = tflite_face.analyze(astronaut)
    assert reading.detected and reading.faces == 1 and reading.label == "happy"
    assert set(reading.scores) == set(FER_LABELS)
    assert sum(reading.scores.values()) == pytest.approx(1.0, abs=1e-3)
    x, y, w, h = reading.box or (0, 0, 0, 0)
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200 and 60 < w < 160
    assert reading.valence > 0.5 and reading.confidence > 0.5
    assert reading.geometry is not None and reading.geometry.mouth_corner > 0.01


def test_encoded_bytes_read_the_same(tflite_face: TFLiteFace, astronaut: np.ndarray) -> None:
    import cv2

    ok, png = cv2.imencode(".png", astronaut[:, :, ::-1])
    assert ok
    assert tflite_face.analyze(png.tobytes()).label == "happy"


def test_a_tilted_face_is_read_upright(tflite_face: TFLiteFace, astronaut: np.ndarray) -> None:
    import cv2

    matrix = cv2.getRotationMatrix2D((225, 128), 25, 1.0)
    tilted = cv2.warpAffine(astronaut, matrix, (512, 512))
    reading = tflite_face.analyze(tilted)
    assert reading.detected and reading.label == "happy"


def test_lfw_faces_are_found_and_non_faces_are_not(
    tflite_face: TFLiteFace, lfw: np.ndarray
) -> None:
    found = [tflite_face.analyze(image).detected for image in lfw]
    recall, false_detections = sum(found[:100]) / 100, sum(found[100:])
    print(f"LFW subset: recall {recall:.2f} over 100 faces, {false_detections} false of 100")
    assert recall >= 0.85
    assert false_detections <= 2


def test_the_largest_of_two_faces_is_read(tflite_face: TFLiteFace, astronaut: np.ndarray) -> None:
    import cv2

    face = astronaut[40:240, 130:330]
    small = cv2.resize(face, (120, 120))
    canvas = np.full((300, 520, 3), 40, dtype=np.uint8)
    canvas[50:250, 10:210] = face
    canvas[90:210, 330:450] = small
    reading = tflite_face.analyze(canvas)
    assert reading.faces == 2 and reading.label == "happy"
    x, _, w, _ = reading.box or (0, 0, 0, 0)
    assert x + w / 2 < 210  # the big face, on the left


@pytest.mark.parametrize(
    "image",
    [
        np.asarray(skimage_data.coffee()),
        np.full((480, 640, 3), 128, dtype=np.uint8),
        np.zeros((1, 1, 3), dtype=np.uint8),
        np.zeros((10, 10), dtype=np.uint8),
    ],
    ids=["coffee", "blank", "1x1", "10x10"],
)
def test_no_face_is_a_valid_reading(tflite_face: TFLiteFace, image: np.ndarray) -> None:
    reading = tflite_face.analyze(image)
    assert not reading.detected and reading.faces == 0 and reading.label is None
    assert tflite_face.landmarks(image) is None


def test_garbage_is_a_clear_error(tflite_face: TFLiteFace) -> None:
    with pytest.raises(InputError) as info:
        tflite_face.analyze(b"\xff\xd8\xff garbage that claims to be a jpeg")
    assert info.value.code == "bad_image"


def test_landmarks_cover_the_face(tflite_face: TFLiteFace, astronaut: np.ndarray) -> None:
    mesh = tflite_face.landmarks(astronaut)
    assert mesh is not None and mesh.points.shape == (468, 3) and mesh.image_size == (512, 512)
    x, y, w, h = mesh.box
    inside = (
        (mesh.points[:, 0] > x - 0.2 * w)
        & (mesh.points[:, 0] < x + 1.2 * w)
        & (mesh.points[:, 1] > y - 0.3 * h)
        & (mesh.points[:, 1] < y + 1.3 * h)
    )
    assert inside.mean() > 0.95
    # The chin (152) lies below the forehead (10), the mouth corners (61, 291) on either side.
    assert mesh.points[152, 1] > mesh.points[10, 1]
    assert mesh.points[61, 0] < mesh.points[291, 0]


def test_concurrent_calls_agree(tflite_face: TFLiteFace, astronaut: np.ndarray) -> None:
    results: list[str | None] = []

    def work() -> None:
        results.append(tflite_face.analyze(astronaut).label)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["happy"] * 4


def geometry(**cues: float) -> FaceGeometry:
    relaxed = {"mouth_corner": 0.0, "mouth_open": 0.0, "mouth_width": 0.37, "brow_raise": 0.1}
    return FaceGeometry(**{**relaxed, "eye_open": 0.3, **cues})


def test_geometry_nudges_modestly() -> None:
    probs = np.full(len(FER_LABELS), 1 / len(FER_LABELS))
    happy, surprise = FER_LABELS.index("happy"), FER_LABELS.index("surprise")
    assert refine_with_geometry(probs, None) is probs
    relaxed = refine_with_geometry(probs, geometry())
    assert np.allclose(relaxed, probs)
    smiling = refine_with_geometry(probs, geometry(mouth_corner=0.05))
    assert probs[happy] < smiling[happy] < 2 * probs[happy]
    frowning = refine_with_geometry(probs, geometry(mouth_corner=-0.06))
    assert frowning[happy] < probs[happy]
    astonished = refine_with_geometry(probs, geometry(mouth_open=0.1, brow_raise=0.2))
    assert astonished[surprise] > probs[surprise]
    # A confident classifier stays in charge.
    sad = np.eye(len(FER_LABELS))[FER_LABELS.index("sad")] * 0.9 + 0.1 / len(FER_LABELS)
    assert (
        FER_LABELS[int(np.argmax(refine_with_geometry(sad, geometry(mouth_corner=0.05))))] == "sad"
    )
