"""Both renderers with real speech: the video file, lip sync and expression measured on the
rendered frames, bad input, the contact sheet."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import av
import numpy as np
import pytest

from attune.errors import InputError
from attune.types import Audio
from modalities.avatar.base import AvatarRenderer
from modalities.avatar.cartoon import CartoonRenderer
from modalities.avatar.cues import AvatarCues, build_cues, expression_for
from modalities.avatar.portrait import PortraitRenderer, remap_torch
from modalities.face.mesh import CHIN, FOREHEAD
from modalities.face.tflite import TFLiteFace
from modalities.voice.base import SpeechChunk

from .conftest import affect, loudness_db

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def face() -> TFLiteFace:
    analyzer = TFLiteFace(num_threads=1)
    analyzer.load()
    return analyzer


def _luma(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _mouth_box(
    name: str, renderer: AvatarRenderer, face: TFLiteFace, rest: np.ndarray
) -> tuple[slice, slice]:
    """Where the mouth is: from the mesh re-detected on a rendered frame (portrait), or the
    cartoon's fixed layout."""
    size = renderer.size
    if name == "cartoon":
        return slice(int(0.62 * size), int(0.82 * size)), slice(int(0.36 * size), int(0.64 * size))
    mesh = face.landmarks(rest)
    assert mesh is not None
    p = mesh.points
    height = float(np.linalg.norm(p[FOREHEAD, :2] - p[CHIN, :2]))
    x0, x1 = p[61, 0] - 0.05 * height, p[291, 0] + 0.05 * height
    y0, y1 = p[0, 1] - 0.03 * height, p[17, 1] + 0.15 * height
    return slice(int(y0), int(y1)), slice(int(x0), int(x1))


def _best_lag_pearson(a: np.ndarray, b: np.ndarray, max_lag: int = 2) -> float:
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b[: len(b) - lag]) if lag >= 0 else (a[:lag], b[-lag:])
        if np.std(x) > 0 and np.std(y) > 0:
            best = max(best, float(np.corrcoef(x, y)[0, 1]))
    return best


@pytest.mark.parametrize("name", ["portrait", "cartoon"])
def test_lip_sync_measured_on_frames(
    name: str, renderers: dict[str, AvatarRenderer], speech: list[SpeechChunk], face: TFLiteFace
) -> None:
    renderer = renderers[name]
    correlations = []
    for chunk in speech:
        cues = build_cues(
            chunk.audio, phonemes=chunk.phonemes, expression=expression_for(None, None)
        )
        frames = list(renderer.frames(cues))
        rows, cols = _mouth_box(name, renderer, face, frames[0])
        dark = np.array([(_luma(f[rows, cols]) < 90).sum() for f in frames], np.float64)
        loud = loudness_db(chunk.audio.samples, chunk.audio.sample_rate, cues.fps, cues.frames)
        correlations.append(_best_lag_pearson(dark, loud))
    print(f"{name} lip-sync Pearson per sentence: {np.round(correlations, 3).tolist()}")
    assert min(correlations) >= 0.5


def _vertical_shift(moved: np.ndarray, ref: np.ndarray, box: tuple[int, int, int, int]) -> int:
    """How many pixels the content of ``box`` (x0, y0, x1, y1) moved down from ``ref`` to
    ``moved``: the shift that best aligns the two strips (least squared difference)."""
    x0, y0, x1, y1 = box
    a, b = _luma(moved), _luma(ref)[y0:y1, x0:x1]
    errors = {s: float(((a[y0 + s : y1 + s, x0:x1] - b) ** 2).mean()) for s in range(-12, 13)}
    return min(errors, key=lambda s: errors[s])


def _regions(name: str, face: TFLiteFace, neutral: np.ndarray, size: int) -> dict[str, list]:
    """Boxes around the inner brows and each mouth corner: from the mesh re-detected on a
    neutral frame (portrait), or the cartoon's layout."""
    if name == "cartoon":
        k = size / 1000
        return {
            "brows": [
                (int(x * k), int(375 * k), int((x + 60) * k), int(470 * k)) for x in (420, 520)
            ],
            "corners": [
                (int(x * k), int(640 * k), int((x + 40) * k), int(740 * k)) for x in (400, 560)
            ],
        }
    mesh = face.landmarks(neutral)
    assert mesh is not None
    p = mesh.points.astype(int)

    def around(i: int, r: int) -> tuple[int, int, int, int]:
        return p[i, 0] - r, p[i, 1] - r, p[i, 0] + r, p[i, 1] + r

    return {
        "brows": [around(107, 12), around(336, 12)],
        "corners": [around(61, 14), around(291, 14)],
    }


@pytest.mark.parametrize("name", ["portrait", "cartoon"])
def test_sadness_and_joy_differ_at_corners_and_brows(
    name: str, renderers: dict[str, AvatarRenderer], speech: list[SpeechChunk], face: TFLiteFace
) -> None:
    renderer = renderers[name]
    chunk = speech[0]
    frames = {}
    for label in ("sadness", "joy", None):
        expression = expression_for(None, affect(label) if label else None)
        cues = build_cues(chunk.audio, phonemes=chunk.phonemes, expression=expression)
        assert cues.mouth_open[3] == 0.0  # the lead-in: lips at rest
        frames[label] = renderer.render_frame(cues, 3)
    regions = _regions(name, face, frames[None], renderer.size)
    brows = np.mean(
        [_vertical_shift(frames["sadness"], frames["joy"], b) for b in regions["brows"]]
    )
    corners = np.mean(
        [_vertical_shift(frames["sadness"], frames["joy"], b) for b in regions["corners"]]
    )
    print(f"{name}: sad vs joy, inner brows {brows:+.1f} px, mouth corners {corners:+.1f} px")
    assert brows <= -3  # concern lifts the inner brows
    assert corners >= 3  # joy lifts the mouth corners (sadness's are lower)


def _decoded(path: Path) -> tuple[int, float, float, tuple[int, int]]:
    with av.open(str(path)) as container:
        assert len(container.streams.video) == 1 and len(container.streams.audio) == 1
        v, a = container.streams.video[0], container.streams.audio[0]
        assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
        frames = list(container.decode(video=0))
        audio_s = float(a.duration * a.time_base)
    return (
        len(frames),
        len(frames) / float(v.average_rate),
        audio_s,
        (frames[0].width, frames[0].height),
    )


@pytest.mark.parametrize("name", ["portrait", "cartoon"])
def test_video_decodes_with_both_streams(
    name: str, renderers: dict[str, AvatarRenderer], speech: list[SpeechChunk], tmp_path: Path
) -> None:
    chunk = speech[1]
    cues = build_cues(chunk.audio, phonemes=chunk.phonemes)
    path = renderers[name].render_video(cues, chunk.audio, tmp_path / "reply.mp4")
    frames, video_s, audio_s, size = _decoded(path)
    assert frames == cues.frames and size == (512, 512)
    assert abs(video_s - chunk.audio.duration) <= 1 / 25
    assert abs(audio_s - chunk.audio.duration) <= 1 / 25


def test_silent_audio_gives_a_valid_video_with_a_closed_mouth(
    renderers: dict[str, AvatarRenderer], tmp_path: Path
) -> None:
    silence = Audio(np.zeros(24000, np.float32), 24000)
    cues = build_cues(silence)
    assert max(cues.mouth_open) == 0.0
    frames, video_s, _, _ = _decoded(
        renderers["portrait"].render_video(cues, silence, tmp_path / "s.mp4")
    )
    assert frames == 25 and abs(video_s - 1.0) < 1e-6


def test_two_minutes_of_audio(tmp_path: Path) -> None:
    rate = 16000
    t = np.arange(120 * rate) / rate
    audio = Audio(
        (0.2 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)).astype(np.float32),
        rate,
    )
    renderer = CartoonRenderer(size=128)
    cues = build_cues(audio)
    frames, _, audio_s, _ = _decoded(renderer.render_video(cues, audio, tmp_path / "long.mp4"))
    assert frames == 3000 and abs(audio_s - 120.0) <= 1 / 25
    longer = Audio(np.zeros(121 * rate, np.float32), rate)
    with pytest.raises(InputError) as err:
        renderer.render_video(build_cues(longer), longer, tmp_path / "too_long.mp4")
    assert err.value.code == "audio_too_long"


def test_bad_portraits() -> None:
    gradient = np.broadcast_to(
        np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], (256, 256, 3)
    )
    with pytest.raises(InputError) as err:
        PortraitRenderer(portrait=np.ascontiguousarray(gradient)).load()
    assert err.value.code == "no_face"
    with pytest.raises(InputError) as err:
        PortraitRenderer(portrait=np.zeros((32, 32, 3), np.uint8)).load()
    assert err.value.code == "image_too_small"
    with pytest.raises(InputError) as err:
        PortraitRenderer(portrait=Path("/nonexistent/face.jpg")).load()
    assert err.value.code == "bad_image"


def test_any_portrait_and_a_png_still(face: TFLiteFace) -> None:
    skimage_data = pytest.importorskip("skimage.data")
    photo = np.asarray(skimage_data.astronaut())[:, 60:420]  # not square, face off-centre
    renderer = PortraitRenderer(portrait=photo, size=256)
    cues = build_cues(Audio(np.zeros(2400, np.float32), 24000))
    png = renderer.still(cues)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert face.landmarks(renderer.render_frame(cues, 0)) is not None


def test_torch_warp_matches_opencv(renderers: dict[str, AvatarRenderer]) -> None:
    pytest.importorskip("torch")
    import cv2

    rig = renderers["portrait"].rig  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    map_x = (np.arange(200, dtype=np.float32)[None, :] + rng.uniform(-3, 3, (150, 200))).astype(
        np.float32
    )
    map_y = (np.arange(150, dtype=np.float32)[:, None] + rng.uniform(-3, 3, (150, 200))).astype(
        np.float32
    )
    ours = remap_torch(rig.image, map_x, map_y, "cpu").astype(int)
    ref = cv2.remap(rig.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.abs(ours - ref.astype(int)).mean() < 1.0


def test_contact_sheet(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "sheet", REPO / "demos" / "avatar_contact_sheet.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = module.write_contact_sheet(tmp_path / "sheet.png")
    assert 20_000 < path.stat().st_size < 500_000
    committed = REPO / "docs" / "images" / "avatar_contact_sheet.png"
    assert committed.is_file() and committed.stat().st_size < 500_000


def test_cues_type_is_shared(renderers: dict[str, AvatarRenderer]) -> None:
    cues = AvatarCues.model_validate_json(
        build_cues(Audio(np.zeros(4800, np.float32), 24000)).model_dump_json()
    )
    for renderer in renderers.values():
        frame = renderer.render_frame(cues, cues.frames - 1)
        assert frame.shape == (512, 512, 3) and frame.dtype == np.uint8
