"""The avatar rig as JSON for the browser renderer (``GET /avatar/rig.json``).

The kiosk page draws the avatar itself from the ``avatar.cues`` stream, with the same renderer
style as the server. :func:`rig_json` describes that renderer so the browser reproduces it.

**portrait** (all coordinates in pixels of the ``size`` x ``size`` cropped portrait; floats
rounded to 3 decimals; arrays flat, row-major)::

    style, version, size, fps, expressiveness,
    image            "data:image/jpeg;base64,..." the cropped portrait
    n_points         n control points: the mesh, 2 eye centres, the ring
    points           2n   rest control points x0, y0, x1, y1, ...
    triangles        3t   vertex indices of the warp mesh
    field_cues       the order of the displacement fields (FIELD_CUES)
    fields           one 2n array per field cue: displacement per unit cue
    n_face           the first n_face points turn with the head
    depth            n_face mesh depths (relative to the mean)
    centre           [x, y] the head rotation centre
    axes             [[ax, ay], [bx, by]] the face's x (eye line) and y (down) directions
    roi              [x0, y0, x1, y1] the warped region
    rest_gap, height the portrait's own inner-lip gap and its face height
    mouth            {upper_inner, lower_inner, colour, teeth_colour, teeth_alpha,
                      fade, teeth_depth: [of_gap, of_height]}

Control points of a frame (what :meth:`PortraitRenderer.control_points` computes)::

    closure = clamp(blink + 0.35 max(0, -eye_open) - 0.2 max(0, eye_open), -0.25, 0.95)
    w       = [mouth_open, mouth_width, mouth_round, smile, brow_raise, brow_inner,
               closure, gaze_x, gaze_y]                   (the order of field_cues)
    p       = points + sum_k w[k] fields[k]
    for the first n_face points:
        (x, y) = (p - centre) . axes^T ;  z = depth
        yaw:   x, z = x cos - z sin, x sin + z cos
        pitch: y    = y cos - z sin
        roll:  x, y = x cos - y sin, x sin + y cos
        p      = centre + (x, y) . axes

The frame is the portrait with the triangles drawn at the displaced points, textured from the
rest points; then the mouth: with ``gap`` = |p[13] - p[14]|, ``strength`` =
clamp((gap - rest_gap) / (fade * height), 0, 1); when positive, the polygon of the upper inner
lip then the lower inner lip reversed is filled with ``colour``, a band from the upper inner lip
down by ``min(teeth_depth[0] gap, teeth_depth[1] height)`` (image y) is painted inside it with
``teeth_colour`` at ``teeth_alpha``, and that layer is composited at ``strength``.

**cartoon**: ``style``, ``version``, ``size``, ``fps``, ``expressiveness`` and ``palette`` (the
RGB colours of :mod:`modalities.avatar.cartoon`); the drawing itself is ported to JavaScript.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import InputError

if TYPE_CHECKING:
    pass

#: Bumped when the format changes incompatibly.
RIG_VERSION = 1
#: The renderer styles the browser can draw.
STYLES = ("portrait", "cartoon")


def _flat(array: np.ndarray, digits: int = 3) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(array, dtype=np.float64).ravel()]


def portrait_rig_json(renderer: Any) -> dict[str, Any]:
    """The JSON description of a loaded :class:`~modalities.avatar.portrait.PortraitRenderer`'s
    rig (see the module docstring); loads the rig first (the face model, once)."""
    import cv2

    from modalities.avatar import portrait as pt

    renderer.load()
    rig = renderer.rig
    assert rig is not None
    ok, jpeg = cv2.imencode(
        ".jpg", cv2.cvtColor(rig.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    image = "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii")
    return {
        "style": "portrait",
        "version": RIG_VERSION,
        "size": renderer.size,
        "fps": renderer.fps,
        "image": image,
        "n_points": len(rig.points),
        "points": _flat(rig.points),
        "triangles": [int(i) for i in rig.triangles.ravel()],
        "field_cues": list(pt.FIELD_CUES),
        "fields": [_flat(field) for field in rig.fields],
        "n_face": int(rig.n_face),
        "depth": _flat(rig.depth),
        "centre": _flat(rig.centre),
        "axes": [_flat(row, 6) for row in rig.axes],
        "roi": [int(v) for v in rig.roi],
        "rest_gap": round(float(rig.rest_gap), 3),
        "height": round(float(rig.height), 3),
        "mouth": {
            "upper_inner": list(pt.UPPER_INNER_LIP),
            "lower_inner": list(pt.LOWER_INNER_LIP),
            "colour": [int(v) for v in pt.MOUTH_COLOUR],
            "teeth_colour": [int(v) for v in pt.TEETH_COLOUR],
            "teeth_alpha": pt.TEETH_ALPHA,
            "fade": pt.MOUTH_FADE,
            "teeth_depth": list(pt.TEETH_DEPTH),
        },
    }


def cartoon_rig_json(renderer: Any) -> dict[str, Any]:
    """The JSON description of a :class:`~modalities.avatar.cartoon.CartoonRenderer`."""
    from modalities.avatar import cartoon as ct

    names = (
        "BACKGROUND", "SKIN", "SKIN_SHADE", "HAIR", "EYE_WHITE", "IRIS", "PUPIL", "INK",
        "SHIRT", "LIPS", "MOUTH", "TEETH",
    )  # fmt: skip
    return {
        "style": "cartoon",
        "version": RIG_VERSION,
        "size": renderer.size,
        "fps": renderer.fps,
        "palette": {name.lower(): list(getattr(ct, name)) for name in names},
    }


def rig_json(renderer: Any, style: str, expressiveness: float) -> dict[str, Any]:
    """The rig of ``renderer`` (a renderer of ``style``) for the browser.

    Blocking (the portrait loads the face model and finds the face). ``InputError``:
    ``bad_style`` for a style the browser cannot draw, and the portrait's own (``no_face``,
    ``bad_image``, ``image_too_small``, ...).
    """
    if style not in STYLES:
        raise InputError("bad_style", f"the avatar style must be one of {', '.join(STYLES)}")
    out = portrait_rig_json(renderer) if style == "portrait" else cartoon_rig_json(renderer)
    out["expressiveness"] = expressiveness
    return out
