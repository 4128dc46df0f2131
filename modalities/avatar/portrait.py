"""The ``portrait`` avatar: one photo, its face mesh moved by the cues, the image warped along.

**Once per portrait** (cached by content and size, so renderers share it): the image is read
with :func:`~modalities.face.image.load_image`, the largest face's 468-point mesh is found with
the ``tflite`` face backend, the image is cropped to a square around the face (the face about
0.4 of the side) and scaled to ``size``. Control points are the mesh, one point at each eye's
centre (it carries the gaze) and a fixed ellipse of ``RING_POINTS`` around the head; their
Delaunay triangulation is the warp's mesh. Each cue (mouth open / width / round, smile, brow
raise, inner brows, eye closure, gaze x / y) gets a precomputed displacement field over the
control points, built in the face's upright frame from the standard MediaPipe indices: the lower
lip and chin drop with the jaw, the mouth widens or purses around its centre, the corners rise
for a smile, brows lift (inner ends for concern), upper lids slide to the lower lid's line.

**Per frame**: displacement = sum of cue x field, then the face points are rotated in 3-D by the
head yaw / pitch / roll (orthographic, using the mesh depth), the ring staying put. Each
triangle's affine map (displaced -> rest) is solved in one batched call; the triangles are
rasterised into a triangle-index image over the ring's bounding box; the index picks each
pixel's affine, giving dense source coordinates, and one ``cv2.remap`` (or ``torch``
``grid_sample`` when the device is cuda) samples the portrait. Outside the ring the portrait is
unchanged. Finally the open mouth (the displaced inner-lip polygon) is filled: a dark interior,
a band of upper teeth, its edge softened.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import InputError
from modalities.avatar.base import AvatarRenderer
from modalities.avatar.cues import AvatarCues
from modalities.face.image import ImageSource, load_image
from modalities.face.mesh import CHIN, FOREHEAD, mesh_frame

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

#: Fixed control points on an ellipse around the head; the warp stays inside it.
RING_POINTS = 32
#: Portraits whose shorter side is below this many pixels are refused (no usable face).
MIN_PORTRAIT_SIDE = 64
#: The crop's side as a multiple of the face height (forehead to chin).
CROP_FACE_HEIGHTS = 2.4
_CACHE_SIZE = 8

# Standard MediaPipe face-mesh indices.
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324)
UPPER_OUTER_LIP = (185, 40, 39, 37, 0, 267, 269, 270, 409)
LOWER_OUTER_LIP = (146, 91, 181, 84, 17, 314, 405, 321, 375)
MOUTH_CORNERS = (61, 291)
#: Per eye: upper lid, lower lid (each from the outer to the inner corner), lid crease.
EYES = (
    ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133),
     (247, 30, 29, 27, 28, 56, 190)),
    ((263, 466, 388, 387, 386, 385, 384, 398, 362), (263, 249, 390, 373, 374, 380, 381, 382, 362),
     (467, 260, 259, 257, 258, 286, 414)),
)  # fmt: skip
BROWS = (
    (70, 63, 105, 66, 107, 46, 53, 52, 65, 55),
    (300, 293, 334, 296, 336, 276, 283, 282, 295, 285),
)
INNER_BROWS = ((107, 55), (336, 285))
OUTER_BROWS = ((70, 46), (300, 276))
#: The cue columns that drive a displacement field, in the order of the fields.
FIELD_CUES = (
    "mouth_open", "mouth_width", "mouth_round", "smile", "brow_raise", "brow_inner",
    "closure", "gaze_x", "gaze_y",
)  # fmt: skip

MOUTH_COLOUR = np.array([78, 32, 36], dtype=np.float32)
TEETH_COLOUR = np.array([232, 226, 214], dtype=np.float32)
#: The mouth paint fades in over this many face heights of jaw opening beyond the portrait's own.
MOUTH_FADE = 0.03
#: Opacity of the upper-teeth band, and its depth: min(of the lip gap, of the face height).
TEETH_ALPHA = 0.85
TEETH_DEPTH = (0.3, 0.025)


def default_portrait() -> bytes:
    """The shipped portrait (public domain; see ``modalities/avatar/assets/README.md``)."""
    return resources.files("modalities.avatar").joinpath("assets/portrait.jpg").read_bytes()


@dataclass(frozen=True, eq=False)
class Rig:
    """Everything prepared once per portrait (see the module docstring)."""

    image: np.ndarray  # (size, size, 3) uint8, the cropped portrait
    points: np.ndarray  # (n, 2) float32 rest control points: mesh, 2 eye centres, ring
    depth: np.ndarray  # (n_face,) mesh depth of the moving points, relative to its mean
    n_face: int  # the first n_face points move with the head
    triangles: np.ndarray  # (t, 3) int32 indices into points
    fields: np.ndarray  # (len(FIELD_CUES), n, 2) displacement per unit cue, image pixels
    centre: np.ndarray  # (2,) head rotation centre
    axes: np.ndarray  # (2, 2) rows: the face's x (eye line) and y (down) directions
    roi: tuple[int, int, int, int]  # x0, y0, x1, y1 of the warped region
    rest_gap: float  # the portrait's own inner-lip gap (pixels)
    height: float  # face height (forehead to chin, pixels)


def _crop(image: np.ndarray, points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` square around the face (``CROP_FACE_HEIGHTS`` face heights, clamped to the
    image) and the mesh in its pixels."""
    import cv2

    height = float(np.linalg.norm(points[FOREHEAD, :2] - points[CHIN, :2]))
    h, w = image.shape[:2]
    side = int(min(max(h, w), max(16.0, CROP_FACE_HEIGHTS * height)))
    cx, cy = points[:, 0].mean(), points[:, 1].mean() + 0.1 * height
    x0 = int(np.clip(round(cx - side / 2), 0, max(0, w - side)))
    y0 = int(np.clip(round(cy - side / 2), 0, max(0, h - side)))
    patch = image[y0 : y0 + side, x0 : x0 + side]
    if patch.shape[0] != patch.shape[1]:  # the image is narrower than the crop: pad it
        s = max(patch.shape[:2])
        patch = cv2.copyMakeBorder(
            patch, 0, s - patch.shape[0], 0, s - patch.shape[1], cv2.BORDER_REPLICATE
        )
    scale = size / patch.shape[0]
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.resize(patch, (size, size), interpolation=interp)
    mesh = points.astype(np.float64).copy()
    mesh[:, 0] = (mesh[:, 0] - x0) * scale
    mesh[:, 1] = (mesh[:, 1] - y0) * scale
    mesh[:, 2] *= scale
    return out, mesh


def _delaunay(points: np.ndarray, size: int) -> np.ndarray:
    """Delaunay triangles (indices) of ``points`` with OpenCV's subdivision."""
    import cv2

    margin = size
    subdiv = cv2.Subdiv2D((-margin, -margin, size + 3 * margin, size + 3 * margin))
    lookup: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(points):
        key = (float(np.float32(x)), float(np.float32(y)))
        if key not in lookup:
            lookup[key] = i
            subdiv.insert(key)
    triangles = []
    for t in subdiv.getTriangleList():
        keys = [(float(np.float32(t[k])), float(np.float32(t[k + 1]))) for k in (0, 2, 4)]
        if all(k in lookup for k in keys):
            triangles.append([lookup[k] for k in keys])
    return np.asarray(triangles, dtype=np.int32)


def _gauss(d2: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(np.exp(-d2 / (2 * sigma * sigma)))


def _fields(local: np.ndarray, mesh_local: np.ndarray, height: float, n: int) -> np.ndarray:
    """Displacement per unit of each cue in :data:`FIELD_CUES`, in face-frame pixels.

    ``local`` holds every control point in the upright face frame (x along the eyes, y down);
    ``n`` is the number of moving points (ring points get no displacement).
    """
    fields = np.zeros((len(FIELD_CUES), len(local), 2))
    mouth = (mesh_local[13] + mesh_local[14]) / 2
    q = (local[:n] - mouth) / height  # mouth-centred, in face heights
    r2 = (q**2).sum(1)
    sign = np.sign(q[:, 0])

    # mouth_open: the jaw drops the lower lip and chin, the upper lip lifts a little.
    jaw = 0.75 * _gauss(q[:, 0] ** 2, 0.22) * np.clip(q[:, 1] / 0.08, 0, 1)
    weight = np.where(q[:, 1] > 0.0, jaw, 0.0)
    weight[list(LOWER_INNER_LIP)] = 1.0
    weight[list(LOWER_OUTER_LIP)] = 0.95
    weight[[78, 308]] = 0.45
    weight[list(MOUTH_CORNERS)] = 0.35
    weight[[i for i in UPPER_INNER_LIP + UPPER_OUTER_LIP if i not in (78, 308)]] = -0.12
    fields[0, :n, 1] = 0.095 * height * weight

    near_mouth = _gauss(r2, 0.17)
    # mouth_width: spread (+) or narrow (-) around the mouth centre.
    fields[1, :n, 0] = 0.3 * height * q[:, 0] * near_mouth
    # mouth_round: purse (narrow) with a small round opening.
    fields[2, :n, 0] = -0.45 * height * q[:, 0] * near_mouth
    fields[2, list(LOWER_INNER_LIP), 1] += 0.02 * height
    fields[2, list(UPPER_INNER_LIP), 1] -= 0.01 * height

    # smile: corners up and out, cheeks up a little (negative: corners down).
    corners = q[list(MOUTH_CORNERS)]
    to_corner = np.min(((q[:, None, :] - corners[None]) ** 2).sum(-1), axis=1)
    at_corner = _gauss(to_corner, 0.06)
    cheek = _gauss(((np.abs(q[:, 0]) - 0.25) ** 2 + (q[:, 1] + 0.12) ** 2), 0.08)
    fields[3, :n, 1] = -height * (0.07 * at_corner + 0.02 * cheek)
    fields[3, :n, 0] = 0.022 * height * sign * at_corner

    # brows: the brow band lifts (brow_raise); inner ends up and together (brow_inner).
    brow_pts = [i for b in BROWS for i in b]
    eye_y = np.mean([mesh_local[e[0][4], 1] for e in EYES])
    brow_y = float(mesh_local[brow_pts, 1].mean())
    above_eyes = local[:n, 1] < eye_y - 0.02 * height
    band = _gauss(((local[:n, 1] - brow_y) / height) ** 2, 0.07) * above_eyes
    band *= _gauss((local[:n, 0] - mesh_local[[FOREHEAD], 0]) ** 2 / height**2, 0.3)
    fields[4, :n, 1] = -0.045 * height * band
    inner = np.zeros(n)
    outer = np.zeros(n)
    for pair in INNER_BROWS:
        c = mesh_local[list(pair)].mean(0)
        inner = np.maximum(inner, _gauss(((local[:n] - c) ** 2).sum(1) / height**2, 0.06))
    for pair in OUTER_BROWS:
        c = mesh_local[list(pair)].mean(0)
        outer = np.maximum(outer, _gauss(((local[:n] - c) ** 2).sum(1) / height**2, 0.06))
    inner *= above_eyes
    outer *= above_eyes
    centre_x = float(mesh_local[FOREHEAD, 0])
    fields[5, :n, 1] = height * (-0.07 * inner + 0.012 * outer)
    fields[5, :n, 0] = -0.015 * height * np.sign(local[:n, 0] - centre_x) * inner

    # closure (blink, soft eyes): upper lids slide to the lower lid's line, creases follow.
    for k, (upper, lower, crease) in enumerate(EYES):
        lx = mesh_local[list(lower), 0]
        order = np.argsort(lx)
        lower_y = np.interp(
            mesh_local[list(upper), 0], lx[order], mesh_local[list(lower), 1][order]
        )
        drop = (lower_y - mesh_local[list(upper), 1]) * 0.92
        fields[6, list(upper), 1] = drop
        cx = mesh_local[list(crease), 0]
        fields[6, list(crease), 1] = 0.45 * np.interp(
            cx,
            mesh_local[list(upper), 0][np.argsort(mesh_local[list(upper), 0])],
            drop[np.argsort(mesh_local[list(upper), 0])],
        )
        centre = 468 + k  # the eye-centre point: half way down with the lid, and the gaze
        fields[6, centre, 1] = 0.5 * float(drop.max())
        width = abs(float(mesh_local[upper[0], 0] - mesh_local[upper[-1], 0]))
        fields[7, centre, 0] = 0.16 * width
        fields[8, centre, 1] = 0.07 * width
    return fields


def build_rig(image: np.ndarray, mesh: np.ndarray) -> Rig:
    """Prepare the warp of a cropped ``size`` x ``size`` portrait with its ``(468, 3)`` mesh."""
    size = image.shape[0]
    frame = mesh_frame(mesh)
    axes = np.array(
        [
            [math.cos(frame.angle), math.sin(frame.angle)],
            [-math.sin(frame.angle), math.cos(frame.angle)],
        ]
    )
    eye_centres = np.array(
        [mesh[list(upper) + list(lower), :2].mean(0) for upper, lower, _ in EYES]
    )
    height = float(np.linalg.norm(mesh[FOREHEAD, :2] - mesh[CHIN, :2]))
    centre = mesh[:, :2].mean(0)
    angles = np.linspace(0, 2 * math.pi, RING_POINTS, endpoint=False)
    radii = np.array([0.95, 1.05]) * height
    ring_local = np.stack([radii[0] * np.cos(angles), radii[1] * np.sin(angles) - 0.1 * height], 1)
    ring = np.clip(centre + ring_local @ axes, 0, size - 1)
    points = np.concatenate([mesh[:, :2], eye_centres, ring]).astype(np.float32)
    n_face = len(mesh) + 2
    local = (points - centre) @ axes.T
    mesh_local = local[: len(mesh)]
    fields = _fields(local, mesh_local, height, n_face) @ axes  # back to image directions
    depth = np.concatenate([mesh[:, 2], mesh[[159, 386], 2]]) - mesh[:, 2].mean()
    x0, y0 = np.floor(ring.min(0)).astype(int)
    x1, y1 = np.ceil(ring.max(0)).astype(int) + 1
    return Rig(
        image=image,
        points=points,
        depth=depth.astype(np.float32),
        n_face=n_face,
        triangles=_delaunay(points, size),
        fields=fields.astype(np.float32),
        centre=centre,
        axes=axes,
        roi=(int(x0), int(y0), int(min(x1, size)), int(min(y1, size))),
        rest_gap=float(np.linalg.norm(mesh[13, :2] - mesh[14, :2])),
        height=height,
    )


_rigs: dict[tuple[str, int], Rig] = {}
_rigs_lock = threading.Lock()


class PortraitRenderer(AvatarRenderer):
    """Animates a portrait photo along its face mesh (see the module docstring)."""

    name = "portrait"

    def __init__(
        self,
        *,
        portrait: ImageSource | None = None,
        device: str = "cpu",
        max_bytes: int = 20_000_000,
        max_decoded_pixels: int = 60_000_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.portrait = portrait
        self.device = device
        self.limits = {"max_bytes": max_bytes, "max_decoded_pixels": max_decoded_pixels}
        self.rig: Rig | None = None

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> PortraitRenderer:
        """From ``settings.avatar`` (portrait, size, fps) and the device; kwargs override."""
        base: dict[str, Any] = {
            **cls.settings_kwargs(settings),
            "portrait": settings.avatar.portrait_path,
            "device": settings.resolved_device(),
            "max_bytes": settings.face.max_bytes,
            "max_decoded_pixels": settings.face.max_decoded_pixels,
        }
        return cls(**{**base, **kwargs})

    def _load(self) -> None:
        source = self.portrait if self.portrait is not None else default_portrait()
        if isinstance(source, str | Path):
            source = load_image_bytes(source, self.limits["max_bytes"])
        if isinstance(source, np.ndarray):
            key = hashlib.sha1(np.ascontiguousarray(source).tobytes()).hexdigest()
        else:
            key = hashlib.sha1(bytes(source)).hexdigest()
        with _rigs_lock:
            rig = _rigs.get((key, self.size))
        if rig is None:
            rig = self._build(source)
            with _rigs_lock:
                if len(_rigs) >= _CACHE_SIZE:
                    _rigs.pop(next(iter(_rigs)))
                _rigs[(key, self.size)] = rig
        self.rig = rig

    def _build(self, source: ImageSource) -> Rig:
        from modalities.face.tflite import TFLiteFace

        image = load_image(source, max_pixels=4096 * 4096, **self.limits)
        if min(image.shape[:2]) < MIN_PORTRAIT_SIDE:
            raise InputError(
                "image_too_small",
                f"the portrait is {image.shape[1]}x{image.shape[0]} pixels; "
                f"it needs at least {MIN_PORTRAIT_SIDE} on each side",
            )
        mesh = TFLiteFace(num_threads=1).landmarks(image)
        if mesh is None:
            raise InputError(
                "no_face", "no face was found in the portrait; use a front-facing photo"
            )
        cropped, points = _crop(image, mesh.points, self.size)
        return build_rig(cropped, points)

    # --- drawing -------------------------------------------------------------------------------

    def control_points(self, cues: AvatarCues, index: int) -> np.ndarray:
        """The displaced control points of frame ``index`` (image pixels)."""
        self.load()
        rig = self.rig
        assert rig is not None
        f = cues.frame(index)
        closure = min(
            0.95, max(-0.25, f.blink + 0.35 * max(0.0, -f.eye_open) - 0.2 * max(0.0, f.eye_open))
        )
        weights = np.array(
            [f.mouth_open, f.mouth_width, f.mouth_round, f.smile, f.brow_raise, f.brow_inner,
             closure, f.gaze_x, f.gaze_y],
            dtype=np.float32,
        )  # fmt: skip
        points = rig.points + np.tensordot(weights, rig.fields, axes=1)
        n = rig.n_face
        local = (points[:n] - rig.centre) @ rig.axes.T
        yaw, pitch, roll = (math.radians(a) for a in (f.head_yaw, f.head_pitch, f.head_roll))
        x, y, z = local[:, 0], local[:, 1], rig.depth
        x, z = x * math.cos(yaw) - z * math.sin(yaw), x * math.sin(yaw) + z * math.cos(yaw)
        y = y * math.cos(pitch) - z * math.sin(pitch)
        x, y = x * math.cos(roll) - y * math.sin(roll), x * math.sin(roll) + y * math.cos(roll)
        points[:n] = rig.centre + np.stack([x, y], 1) @ rig.axes
        return points

    def _source_maps(self, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dense source coordinates (map_x, map_y) over the ROI for displaced points ``dst``."""
        import cv2

        rig = self.rig
        assert rig is not None
        tri = rig.triangles
        d = np.concatenate([dst[tri], np.ones((len(tri), 3, 1), np.float32)], axis=2)
        s = rig.points[tri]
        det = np.linalg.det(d)
        ok = np.abs(det) > 1e-3
        d[~ok] = np.concatenate([s[~ok], np.ones((int((~ok).sum()), 3, 1), np.float32)], axis=2)
        coef = np.linalg.solve(d.astype(np.float64), s.astype(np.float64))  # (t, 3, 2)
        x0, y0, x1, y1 = rig.roi
        ids = np.full((y1 - y0, x1 - x0), len(tri), np.int32)
        fixed = np.round((dst[tri] - (x0, y0)) * 16).astype(np.int32)
        for k in range(len(tri)):
            cv2.fillConvexPoly(ids, fixed[k], k, cv2.LINE_8, 4)
        table = np.concatenate([coef, np.array([[[1, 0], [0, 1], [0, 0]]])]).astype(np.float32)
        gx = np.arange(x0, x1, dtype=np.float32)[None, :]
        gy = np.arange(y0, y1, dtype=np.float32)[:, None]
        c = table[ids]  # (h, w, 3, 2)
        map_x = c[..., 0, 0] * gx + c[..., 1, 0] * gy + c[..., 2, 0]
        map_y = c[..., 0, 1] * gx + c[..., 1, 1] * gy + c[..., 2, 1]
        return map_x, map_y

    def _warp(self, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        """The portrait sampled at the ROI's source coordinates, pasted into a copy of it."""
        rig = self.rig
        assert rig is not None
        x0, y0, x1, y1 = rig.roi
        out = rig.image.copy()
        if self.device.startswith("cuda"):
            out[y0:y1, x0:x1] = remap_torch(rig.image, map_x, map_y, self.device)
        else:
            import cv2

            out[y0:y1, x0:x1] = cv2.remap(
                rig.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        return out

    def render_frame(self, cues: AvatarCues, index: int) -> np.ndarray:
        """Frame ``index``: the warped portrait with the open mouth filled."""
        dst = self.control_points(cues, index)
        frame = self._warp(*self._source_maps(dst))
        _fill_mouth(frame, dst, self.rig)
        return frame


def load_image_bytes(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of an image file (``InputError("bad_image")`` when there is none or too big)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("bad_image", f"no image file at {p}")
    if p.stat().st_size > max_bytes:
        raise InputError("image_too_large", f"the image file is over {max_bytes} bytes")
    return p.read_bytes()


def remap_torch(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, device: str) -> np.ndarray:
    """``cv2.remap`` (bilinear, edges replicated) with ``torch.nn.functional.grid_sample``."""
    import torch
    import torch.nn.functional as F

    h, w = image.shape[:2]
    src = torch.from_numpy(image).to(device).permute(2, 0, 1)[None].float()
    gx = torch.from_numpy(map_x).to(device) * (2.0 / (w - 1)) - 1.0
    gy = torch.from_numpy(map_y).to(device) * (2.0 / (h - 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)[None]
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def _fill_mouth(frame: np.ndarray, dst: np.ndarray, rig: Rig | None) -> None:
    """Paint the inside of the displaced inner-lip contour as the jaw opens beyond the
    portrait's own pose: a dark interior with a band of upper teeth, antialiased. At rest the
    portrait's own mouth shows; the paint fades in over the first :data:`MOUTH_FADE` face
    heights."""
    import cv2

    assert rig is not None
    gap = float(np.linalg.norm(dst[13] - dst[14]))
    strength = float(np.clip((gap - rig.rest_gap) / (MOUTH_FADE * rig.height), 0.0, 1.0))
    if strength <= 0.0:
        return
    contour = np.concatenate([dst[list(UPPER_INNER_LIP)], dst[list(LOWER_INNER_LIP)][::-1]])
    h, w = frame.shape[:2]
    x0, y0 = np.maximum(np.floor(contour.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(contour.max(0)).astype(int) + 3, (w, h))
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((contour - (x0, y0)) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    upper = dst[list(UPPER_INNER_LIP)] - (x0, y0)
    depth = np.array([0.0, min(TEETH_DEPTH[0] * gap, TEETH_DEPTH[1] * rig.height)])
    band = np.concatenate([upper, (upper + depth)[::-1]])
    teeth = np.zeros_like(mask)
    cv2.fillPoly(teeth, [np.round(band * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    alpha = (mask.astype(np.float32) / 255.0)[..., None] * strength
    teeth_a = (np.minimum(mask, teeth).astype(np.float32) / 255.0)[..., None] * TEETH_ALPHA
    colour = MOUTH_COLOUR * (1 - teeth_a) + TEETH_COLOUR * teeth_a
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (patch * (1 - alpha) + colour * alpha).astype(np.uint8)
