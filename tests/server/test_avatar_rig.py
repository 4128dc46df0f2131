"""``GET /avatar/rig.json``: the avatar rig the kiosk page draws with, over a real server.

The portrait rig needs the real face model (the tflite mesh); the rest of the server is fake.
Applying the exported rig with numpy, from the JSON alone, must give the control points of
:meth:`PortraitRenderer.control_points`: that pins the contract the browser renderer follows.
"""

from __future__ import annotations

import base64
import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attune.settings import AttuneSettings
from modalities.avatar.cues import COLUMNS, AvatarCues
from modalities.avatar.portrait import PortraitRenderer
from tests.server.harness import ServerThread, fake_server

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)


def get(url: str) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(fake_server(tmp_path_factory.mktemp("rig") / "s.db")) as running:
        yield running


@pytest.fixture(scope="module")
def portrait_rig(server: ServerThread) -> dict[str, Any]:
    status, headers, rig = get(server.http + "/avatar/rig.json")
    assert status == 200, rig
    assert headers["Content-Type"] == "application/json"
    assert "max-age" in headers["Cache-Control"]
    return rig  # type: ignore[no-any-return]


def test_the_default_style_is_the_configured_portrait(portrait_rig: dict[str, Any]) -> None:
    rig = portrait_rig
    assert rig["style"] == "portrait" and rig["version"] == 1
    assert rig["size"] == 512 and rig["fps"] == 25
    n = rig["n_points"]
    assert len(rig["points"]) == 2 * n and len(rig["depth"]) == rig["n_face"] == 470
    assert len(rig["triangles"]) % 3 == 0 and max(rig["triangles"]) < n
    assert len(rig["fields"]) == len(rig["field_cues"]) == 9
    assert all(len(f) == 2 * n for f in rig["fields"])
    assert rig["mouth"]["upper_inner"][5] == 13 and rig["mouth"]["lower_inner"][4] == 14
    prefix = "data:image/jpeg;base64,"
    assert rig["image"].startswith(prefix)
    import cv2

    jpeg = np.frombuffer(base64.b64decode(rig["image"][len(prefix) :]), np.uint8)
    assert cv2.imdecode(jpeg, cv2.IMREAD_COLOR).shape == (512, 512, 3)


def test_the_rig_is_built_once_and_cached(
    server: ServerThread, portrait_rig: dict[str, Any]
) -> None:
    status, _, again = get(server.http + "/avatar/rig.json?style=portrait")
    assert status == 200 and again == portrait_rig
    assert server.server.http.rigs["portrait"].done()


def test_the_cartoon_style(server: ServerThread) -> None:
    status, _, rig = get(server.http + "/avatar/rig.json?style=cartoon")
    assert status == 200
    assert rig["style"] == "cartoon" and rig["size"] == 512 and rig["fps"] == 25
    assert rig["palette"]["skin"] == [246, 208, 178]


def test_an_unknown_style_is_a_json_error(server: ServerThread) -> None:
    status, _, body = get(server.http + "/avatar/rig.json?style=photoreal")
    assert status == 400 and body["code"] == "bad_style"


def test_other_paths_are_unchanged(server: ServerThread) -> None:
    status, _, body = get(server.http + "/healthz")
    assert status == 200 and body["status"] == "ok"


def test_a_portrait_without_a_face_is_a_422(tmp_path: Path) -> None:
    import cv2

    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((300, 300, 3), 140, np.uint8))
    app = fake_server(tmp_path / "s.db", avatar={"portrait_path": str(wall)})
    with ServerThread(app) as running:
        status, headers, body = get(running.http + "/avatar/rig.json")
    assert status == 422 and body["code"] == "no_face"
    assert headers["Cache-Control"] == "no-cache"


# --- the browser's contract --------------------------------------------------------------------


def control_points_from_json(rig: dict[str, Any], cue: dict[str, float]) -> np.ndarray:
    """The frame's control points, following only the rig JSON (as the browser does)."""
    points = np.asarray(rig["points"], np.float64).reshape(-1, 2)
    fields = np.asarray(rig["fields"], np.float64).reshape(len(rig["field_cues"]), -1, 2)
    closure = min(
        0.95,
        max(
            -0.25, cue["blink"] + 0.35 * max(0.0, -cue["eye_open"]) - 0.2 * max(0, cue["eye_open"])
        ),
    )
    weights = {**cue, "closure": closure}
    p = points + sum(weights[name] * fields[k] for k, name in enumerate(rig["field_cues"]))
    n = rig["n_face"]
    centre, axes = np.asarray(rig["centre"]), np.asarray(rig["axes"])
    local = (p[:n] - centre) @ axes.T
    x, y, z = local[:, 0], local[:, 1], np.asarray(rig["depth"])
    yaw, pitch, roll = (math.radians(cue[k]) for k in ("head_yaw", "head_pitch", "head_roll"))
    x, z = x * math.cos(yaw) - z * math.sin(yaw), x * math.sin(yaw) + z * math.cos(yaw)
    y = y * math.cos(pitch) - z * math.sin(pitch)
    x, y = x * math.cos(roll) - y * math.sin(roll), x * math.sin(roll) + y * math.cos(roll)
    p[:n] = centre + np.stack([x, y], 1) @ axes
    return p


def test_the_json_rig_reproduces_the_server_control_points(portrait_rig: dict[str, Any]) -> None:
    frames = [
        dict.fromkeys(COLUMNS, 0.0),
        {**dict.fromkeys(COLUMNS, 0.0), "mouth_open": 0.9, "mouth_width": 0.3, "smile": 0.5},
        {"mouth_open": 0.4, "mouth_width": -0.6, "mouth_round": 0.8, "smile": -0.4,
         "brow_raise": 0.5, "brow_inner": 0.9, "eye_open": -0.3, "blink": 0.2,
         "head_yaw": 3.0, "head_pitch": -2.0, "head_roll": 6.0, "gaze_x": 0.5, "gaze_y": -0.4},
        {**dict.fromkeys(COLUMNS, 0.0), "blink": 1.0, "eye_open": 0.8, "head_yaw": -4.5},
    ]  # fmt: skip
    cues = AvatarCues(
        fps=25,
        offset=0.0,
        frames=len(frames),
        **{c: [f[c] for f in frames] for c in COLUMNS},
    )
    renderer = PortraitRenderer.from_settings(AttuneSettings())
    for index, frame in enumerate(frames):
        expected = renderer.control_points(cues, index)
        got = control_points_from_json(portrait_rig, frame)
        assert np.abs(got - expected).max() < 0.02, index
