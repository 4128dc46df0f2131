"""Turn what a user sends (encoded bytes, a file, an array) into an RGB ``uint8`` array, safely.

Checks, in order, each a clear :class:`~attune.errors.InputError`: empty input
(``empty_image``), more than ``max_bytes`` encoded (``image_too_large``), bytes no decoder reads
(``bad_image``), and more than ``max_decoded_pixels`` pixels (``image_too_large``). The pixel
count is read from the header before anything is decoded, so a small file that claims a huge
image (a decompression bomb) is refused without allocating it. Images above ``max_pixels`` are
downscaled with their aspect ratio kept (JPEGs are decoded at a reduced scale directly); EXIF
orientation is applied; grayscale, palette, alpha (composited on white) and 16-bit or float
images become 8-bit RGB. A tiny image (even 1x1) is returned as is: finding no face in it is
a valid reading, not an error.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from attune.errors import InputError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

ImageSource = bytes | bytearray | memoryview | str | Path | np.ndarray


def load_image(
    source: ImageSource,
    *,
    max_bytes: int,
    max_decoded_pixels: int,
    max_pixels: int,
) -> np.ndarray:
    """Decode and normalise ``source`` to an RGB ``uint8`` array of at most ``max_pixels``."""
    if isinstance(source, np.ndarray):
        image = _from_array(source, max_decoded_pixels)
    else:
        data = _read_bytes(source, max_bytes)
        image = _decode(data, max_decoded_pixels, max_pixels)
    return _downscale(image, max_pixels)


def _read_bytes(source: bytes | bytearray | memoryview | str | Path, max_bytes: int) -> bytes:
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise InputError("bad_image", f"no image file at {path}")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError("image_too_large", f"the image file is {size} bytes (max {max_bytes})")
        data = path.read_bytes()
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        raise InputError(
            "bad_image", f"expected image bytes, a path or an array, got {type(source).__name__}"
        )
    if not data:
        raise InputError("empty_image", "the image is empty")
    if len(data) > max_bytes:
        raise InputError("image_too_large", f"the image is {len(data)} bytes (max {max_bytes})")
    return data


def _decode(data: bytes, max_decoded_pixels: int, max_pixels: int) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # our own pixel limit applies below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as exc:
        raise InputError("image_too_large", "the image claims too many pixels") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError("bad_image", "the data is not an image format that can be read") from exc
    width, height = img.size
    if width * height > max_decoded_pixels:
        raise InputError(
            "image_too_large",
            f"the image is {width}x{height} pixels (max {max_decoded_pixels} pixels)",
        )
    if width * height > max_pixels and img.format == "JPEG":
        # Decode a JPEG at 1/2, 1/4 or 1/8 scale, no smaller than needed: cheap downscaling.
        shrink = math.sqrt(max_pixels / (width * height))
        img.draft("RGB", (math.ceil(width * shrink), math.ceil(height * shrink)))
    try:
        img.load()
        return _to_rgb(ImageOps.exif_transpose(img) or img)
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError("bad_image", "the image data is truncated or corrupt") from exc


def _to_rgb(img: PILImage) -> np.ndarray:
    """An RGB uint8 array from a decoded PIL image of any mode."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _from_array(np.asarray(img), max_decoded_pixels=img.width * img.height)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _from_array(array: np.ndarray, max_decoded_pixels: int) -> np.ndarray:
    """An RGB uint8 array from a gray ``(h, w)``, ``(h, w, 1)``, RGB or RGBA array; 16-bit
    integers are scaled down, floats are read as ``[0, 1]``."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InputError(
            "bad_image", f"an image array must be (h, w) or (h, w, 3|4), got {array.shape}"
        )
    if array.size == 0:
        raise InputError("empty_image", "the image array is empty")
    pixels = array.shape[0] * array.shape[1]
    if pixels > max_decoded_pixels:
        raise InputError(
            "image_too_large", f"the image has {pixels} pixels (max {max_decoded_pixels})"
        )
    if array.dtype == np.uint8:
        out = array
    elif np.issubdtype(array.dtype, np.floating):
        out = (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif array.dtype == np.bool_:
        out = array.astype(np.uint8) * np.uint8(255)
    elif np.issubdtype(array.dtype, np.integer):
        # integer arithmetic in at most 4 bytes a pixel: a 16-bit frame never goes through float64
        peak = 65535 if array.max(initial=0) > 255 else 255
        clipped = np.clip(array, 0, peak)
        if peak == 255:
            out = clipped.astype(np.uint8)
        else:
            wide = clipped.astype(np.uint32)
            wide *= 255
            wide += 32767
            wide //= 65535
            out = wide.astype(np.uint8)
    else:
        raise InputError("bad_image", f"unsupported image array type {array.dtype}")
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    elif out.shape[2] == 4:
        alpha = out[:, :, 3:4].astype(np.float32) / 255.0
        out = (out[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(out)


def _downscale(image: np.ndarray, max_pixels: int) -> np.ndarray:
    height, width = image.shape[:2]
    if height * width <= max_pixels:
        return image
    import cv2

    factor = math.sqrt(max_pixels / (height * width))
    size = (max(1, int(width * factor)), max(1, int(height * factor)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
