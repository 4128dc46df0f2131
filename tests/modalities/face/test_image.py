"""Input checks and conversions of load_image: errors are clear values, never crashes."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attune.errors import InputError
from modalities.face.image import load_image

LIMITS = {"max_bytes": 20_000_000, "max_decoded_pixels": 60_000_000, "max_pixels": 1920 * 1080}


def encode(array: np.ndarray, fmt: str = "PNG", **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header is rewritten to claim ``width`` x ``height`` pixels."""
    data = bytearray(encode(np.zeros((1, 1), dtype=np.uint8)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize(
    ("source", "code"),
    [
        (b"", "empty_image"),
        (b"definitely not an image, just text", "bad_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "bad_image"),
        (np.zeros((0, 5, 3), dtype=np.uint8), "empty_image"),
        (np.zeros((4, 4, 2), dtype=np.uint8), "bad_image"),
    ],
)
def test_unusable_input_is_a_clear_error(source: bytes | np.ndarray, code: str) -> None:
    with pytest.raises(InputError) as info:
        load_image(source, **LIMITS)
    assert info.value.code == code


def test_too_many_bytes_is_refused() -> None:
    data = encode(np.zeros((64, 64), dtype=np.uint8))
    with pytest.raises(InputError) as info:
        load_image(data, **{**LIMITS, "max_bytes": len(data) - 1})
    assert info.value.code == "image_too_large"


def test_a_header_claiming_a_huge_image_is_refused_before_decoding() -> None:
    for width, height in ((10_000, 10_000), (100_000, 100_000)):
        with pytest.raises(InputError) as info:
            load_image(png_claiming(width, height), **LIMITS)
        assert info.value.code == "image_too_large"


def test_a_truncated_image_is_a_bad_image() -> None:
    data = encode(np.full((64, 64, 3), 120, dtype=np.uint8), "JPEG")
    with pytest.raises(InputError) as info:
        load_image(data[: len(data) // 3], **LIMITS)
    assert info.value.code == "bad_image"


def test_a_50_megapixel_jpeg_is_downscaled_with_its_aspect_kept() -> None:
    gray = np.full((5000, 10000), 128, dtype=np.uint8)
    data = encode(gray, "JPEG", quality=50)
    image = load_image(data, **LIMITS)
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= LIMITS["max_pixels"]
    assert image.shape[1] / image.shape[0] == pytest.approx(2.0, rel=0.01)
    with pytest.raises(InputError) as info:
        load_image(data, **{**LIMITS, "max_decoded_pixels": 40_000_000})
    assert info.value.code == "image_too_large"


def test_large_arrays_are_downscaled_and_huge_ones_refused() -> None:
    image = load_image(np.zeros((2000, 3000, 3), dtype=np.uint8), **LIMITS)
    assert image.shape[0] * image.shape[1] <= LIMITS["max_pixels"]
    assert image.shape[1] / image.shape[0] == pytest.approx(1.5, rel=0.01)
    with pytest.raises(InputError):
        load_image(np.zeros((100, 100), dtype=np.uint8), **{**LIMITS, "max_decoded_pixels": 5000})


def test_modes_become_8_bit_rgb() -> None:
    gray16 = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).astype(np.uint16)
    out = load_image(encode(gray16), **LIMITS)
    assert out.dtype == np.uint8 and out.shape == (64, 64, 3)
    assert out.max() > 200  # scaled down from 16 bits, not clipped
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)  # fully transparent: white
    assert (load_image(encode(rgba), **LIMITS) == 255).all()
    assert load_image(np.full((8, 8), 0.5), **LIMITS).shape == (8, 8, 3)
    assert load_image(np.zeros((8, 8, 1), dtype=np.uint8), **LIMITS).shape == (8, 8, 3)
    palette = Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).convert("P")
    buffer = io.BytesIO()
    palette.save(buffer, format="GIF")
    assert load_image(buffer.getvalue(), **LIMITS).shape == (8, 8, 3)


def test_exif_orientation_is_applied() -> None:
    img = Image.fromarray(np.zeros((20, 40, 3), dtype=np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", exif=exif)
    assert load_image(buffer.getvalue(), **LIMITS).shape == (40, 20, 3)


def test_paths_are_read(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(encode(np.zeros((10, 12, 3), dtype=np.uint8)))
    assert load_image(path, **LIMITS).shape == (10, 12, 3)
    assert load_image(str(path), **LIMITS).shape == (10, 12, 3)
    with pytest.raises(InputError):
        load_image(tmp_path / "missing.png", **LIMITS)
