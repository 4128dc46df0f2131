"""The avatar kiosk (``/kiosk``) in a real browser against a real ``attune serve``.

The fake microphone says the sentence once per loop (``kiosk_wav``), hands-free: the kiosk
opens the microphone at once (``?autostart=1``), the server's VAD cuts the utterance and the
reply comes back with its audio and cue chunks. The avatar is drawn in the page; its mouth
region is read back from the canvas to check that the face really speaks.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from server.client import SyncAttuneClient
from tests.web.conftest import SpeechFile, WebServer

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

TURN_MS = 120_000

#: Mean absolute change of the mouth region's pixels between samples ~80 ms apart, one value
#: per consecutive pair (in the page, so only numbers come back).
SAMPLE_MOUTH = """async ([count, gapMs]) => {
  const avatar = window.attuneKiosk.avatar;
  const canvas = document.getElementById("avatar");
  const ctx = canvas.getContext("2d");
  const [x0, y0, x1, y1] = avatar.mouthBox();
  const grab = () => ctx.getImageData(x0, y0, x1 - x0, y1 - y0).data;
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  const out = [];
  let before = grab();
  for (let i = 0; i < count; i++) {
    await wait(gapMs);
    const now = grab();
    let sum = 0;
    for (let k = 0; k < now.length; k += 4) {
      sum += Math.abs(now[k] - before[k]) + Math.abs(now[k + 1] - before[k + 1])
        + Math.abs(now[k + 2] - before[k + 2]);
    }
    out.push(sum / (3 * now.length / 4));
    before = now;
  }
  return out;
}"""


def mouth_motion(page: Any, count: int = 12, gap_ms: int = 80) -> float:
    diffs = page.evaluate(SAMPLE_MOUTH, [count, gap_ms])
    return float(sum(diffs) / len(diffs))


def wait_for_style(page: Any, style: str) -> None:
    expect(page.locator("body")).to_have_attribute("data-avatar", style, timeout=60_000)


def caption(page: Any, which: str) -> str:
    return str(page.locator(f"#caption-{which}-text").text_content() or "")


def test_the_kiosk_speaks_a_reply_in_sync_with_its_audio(
    open_page: Any, kiosk_wav: SpeechFile, face_y4m: Path, screenshot: Any
) -> None:
    page = open_page("/kiosk?autostart=1", audio=kiosk_wav, video=face_y4m)
    body = page.locator("body")
    wait_for_style(page, "portrait")
    idle = mouth_motion(page)
    expect(body).to_have_attribute("data-playing", "true", timeout=TURN_MS)
    assert body.get_attribute("data-state") == "speaking"
    speaking = mouth_motion(page)
    screenshot(page, "kiosk")
    assert re.search(r"lost my job", caption(page, "user"), re.I)
    assert len(caption(page, "reply")) > 10
    assert page.locator("#mic-indicator").get_attribute("data-on") == "true"
    assert page.locator("#cam-indicator").get_attribute("data-on") == "true"
    assert speaking > 1.0 and speaking > 3 * idle, (speaking, idle)
    # the reply ends and the kiosk listens again
    expect(body).to_have_attribute("data-playing", "false", timeout=TURN_MS)
    expect(body).to_have_attribute("data-state", "listening")


def test_the_kiosk_forgets_the_conversation_after_the_idle_timeout(
    open_page: Any, kiosk_wav: SpeechFile, attune_server: WebServer
) -> None:
    page = open_page("/kiosk?autostart=1&idle=3", audio=kiosk_wav)
    body = page.locator("body")
    expect(body).to_have_attribute("data-session", re.compile(r"^[0-9a-f]{8,}$"))
    first = body.get_attribute("data-session")
    expect(page.locator("#caption-reply-text")).not_to_be_empty(timeout=TURN_MS)
    expect(body).to_have_attribute("data-playing", "true", timeout=TURN_MS)
    expect(body).to_have_attribute("data-playing", "false", timeout=TURN_MS)
    # back to attract with a new session (autostart listens again) and nothing shown
    expect(body).not_to_have_attribute("data-session", first, timeout=30_000)
    expect(body).to_have_attribute("data-state", "attract")
    expect(body).to_have_attribute("data-session", re.compile(r"^[0-9a-f]{8,}$"))
    assert caption(page, "user") == caption(page, "reply") == ""
    assert page.locator("#caption-user").is_hidden()
    assert page.locator("#caption-reply").is_hidden()
    assert page.locator("#cam-indicator").get_attribute("data-on") == "false"
    # the old conversation was deleted on the server (session.end with forget). The sync
    # client runs its own event loop, which cannot nest in Playwright's: it runs in a thread.
    assert first

    def resumed_history() -> Any:
        with SyncAttuneClient(attune_server.ws_url, session_id=first) as client:
            return (client.client.started or {}).get("history")

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(resumed_history).result(timeout=60) == []


def test_the_cartoon_style_speaks_too(
    open_page: Any, kiosk_wav: SpeechFile, screenshot: Any
) -> None:
    page = open_page("/kiosk?autostart=1&style=cartoon", audio=kiosk_wav)
    body = page.locator("body")
    wait_for_style(page, "cartoon")
    idle = mouth_motion(page)
    expect(body).to_have_attribute("data-playing", "true", timeout=TURN_MS)
    speaking = mouth_motion(page)
    screenshot(page, "kiosk-cartoon")
    assert speaking > 1.0 and speaking > 3 * idle, (speaking, idle)


def test_the_kiosk_recovers_from_a_dropped_connection(
    open_page: Any, kiosk_wav: SpeechFile
) -> None:
    page = open_page("/kiosk?autostart=1", audio=kiosk_wav)
    body = page.locator("body")
    expect(body).to_have_attribute("data-session", re.compile(r"^[0-9a-f]{8,}$"))
    session = body.get_attribute("data-session")
    page.evaluate(
        """() => {
          window.seenStates = [];
          new MutationObserver(() => window.seenStates.push(document.body.dataset.state))
            .observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
        }"""
    )
    assert page.evaluate("() => window.attuneKiosk.dropConnection()")
    expect(page.locator("#status")).to_have_text(re.compile("Reconnecting"), timeout=5_000)
    page.wait_for_function("() => window.attuneKiosk.connectionState === 'open'")
    assert "reconnecting" in page.evaluate("() => window.seenStates")
    assert body.get_attribute("data-session") == session
    # usable: the microphone stream was reopened on the new socket and a turn comes through
    expect(body).to_have_attribute("data-playing", "true", timeout=TURN_MS)
    assert body.get_attribute("data-session") == session
    assert len(caption(page, "reply")) > 10


def test_the_video_fallback_plays_the_server_rendered_mp4(
    open_page: Any, once_wav: SpeechFile
) -> None:
    page = open_page("/kiosk?autostart=1&video=1", audio=once_wav)
    body = page.locator("body")
    video = page.locator("#avatar-video")
    expect(video).to_have_attribute("src", re.compile(r"^/video/[\w-]+\.mp4$"), timeout=240_000)
    expect(body).to_have_attribute("data-playing", "true")
    assert video.is_visible() and page.locator("#avatar").is_hidden()
    page.wait_for_function(
        "() => { const v = document.getElementById('avatar-video');"
        " return !v.paused && v.currentTime > 0.3; }",
        timeout=30_000,
    )
    assert len(caption(page, "reply")) > 10


def test_the_kiosk_starts_from_the_keyboard_and_respects_reduced_motion(
    open_page: Any, silent_wav: Path
) -> None:
    """Without autostart the kiosk waits in its attract state with the devices off; any key
    starts it (microphone and camera on, listening). With prefers-reduced-motion the idle face
    keeps its blinks but its head does not drift, and the attract animation is off."""
    page = open_page("/kiosk", audio=silent_wav, reduced_motion="reduce")
    body = page.locator("body")
    wait_for_style(page, "portrait")
    expect(body).to_have_attribute("data-state", "attract")
    expect(page.locator("#start")).to_be_visible()
    assert page.locator("#mic-indicator").get_attribute("data-on") == "false"
    assert page.locator("#cam-indicator").get_attribute("data-on") == "false"
    animation = page.locator(".attract-title").evaluate(
        "(el) => getComputedStyle(el).animationName"
    )
    assert animation == "none"
    head = """() => {
      const a = window.attuneKiosk.avatar;
      let most = 0;
      for (let t = 0; t < 20; t += 0.37) {
        const c = a.neutralCue(t);
        most = Math.max(most, Math.abs(c.head_yaw), Math.abs(c.head_pitch), Math.abs(c.head_roll));
      }
      return most;
    }"""
    assert page.evaluate(head) == 0
    # the same face with motion allowed drifts by a few degrees
    page.evaluate("() => { window.attuneKiosk.avatar.reducedMotion = false; }")
    assert page.evaluate(head) > 0.5
    page.evaluate("() => { window.attuneKiosk.avatar.reducedMotion = true; }")

    page.keyboard.press("Enter")
    expect(body).to_have_attribute("data-state", "listening", timeout=30_000)
    expect(page.locator("#mic-indicator")).to_have_attribute("data-on", "true")
    expect(page.locator("#cam-indicator")).to_have_attribute("data-on", "true", timeout=10_000)
    expect(page.locator("#start")).to_be_hidden()
    expect(body).to_have_attribute("data-session", re.compile(r"^[0-9a-f]{8,}$"))


#: Cue frames for the parity check: at rest, speaking with a smile, and concern with head motion.
PARITY_FRAMES: list[dict[str, float]] = [
    {},
    {"mouth_open": 0.9, "mouth_width": 0.3, "smile": 0.5},
    {"mouth_open": 0.4, "mouth_round": 0.7, "smile": -0.4, "brow_inner": 0.9, "brow_raise": 0.3,
     "blink": 0.6, "head_yaw": 3.0, "head_pitch": -2.0, "head_roll": 4.0, "gaze_x": 0.4},
]  # fmt: skip

DRAW_AND_READ = """(frames) => {
  const avatar = window.attuneKiosk.avatar;
  const canvas = document.getElementById("avatar");
  const out = [];
  for (const frame of frames) {
    avatar.drawFrame(frame);
    out.push(canvas.toDataURL("image/png"));  // read back in the same task as the draw
  }
  return out;
}"""


@pytest.mark.parametrize("style", ["portrait", "cartoon"])
def test_the_browser_draws_the_face_the_server_renderer_draws(
    open_page: Any, silent_wav: Path, style: str
) -> None:
    """The kiosk's in-browser avatar is the server's renderer, not a look-alike: the same cue
    frames drawn in Chromium (WebGL warp / canvas drawing) and by the Python renderer agree
    pixel for pixel up to rasterisation (mean absolute difference a few grey levels), and each
    browser frame is far closer to its own server frame than to the others."""
    import base64

    import cv2
    import numpy as np

    from attune.settings import AttuneSettings
    from modalities.avatar.cartoon import CartoonRenderer
    from modalities.avatar.cues import COLUMNS, AvatarCues
    from modalities.avatar.portrait import PortraitRenderer

    page = open_page(f"/kiosk?style={style}", audio=silent_wav)
    wait_for_style(page, style)
    frames = [{**dict.fromkeys(COLUMNS, 0.0), **f} for f in PARITY_FRAMES]
    urls = page.evaluate(DRAW_AND_READ, frames)
    browser = []
    for url in urls:
        png = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
        browser.append(cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))

    cues = AvatarCues(
        fps=25, offset=0.0, frames=len(frames), **{c: [f[c] for f in frames] for c in COLUMNS}
    )
    settings = AttuneSettings()
    renderer = (
        PortraitRenderer.from_settings(settings)
        if style == "portrait"
        else CartoonRenderer.from_settings(settings)
    )
    server = [renderer.render_frame(cues, i) for i in range(len(frames))]
    assert browser[0].shape == server[0].shape == (512, 512, 3)

    def mad(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())

    table = [[mad(b, s) for s in server] for b in browser]
    print(f"{style}: browser x server frame MAD", [[round(v, 2) for v in row] for row in table])
    for i, row in enumerate(table):
        assert row[i] < 3.0, (style, i, table)
        others = [v for j, v in enumerate(row) if j != i]
        assert row[i] * 1.5 < min(others), (style, i, table)
