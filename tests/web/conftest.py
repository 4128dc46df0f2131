"""Browser tests of the web pages: a real ``attune serve`` and Debian's Chromium, by Playwright.

The server is the real one (``attune serve`` in a subprocess, the default models, a throwaway
state folder), started once for the test session. Each test launches its own headless Chromium
because the fake microphone and camera are launch flags: ``--use-file-for-fake-audio-capture``
plays a WAV as the microphone (looping) and ``--use-file-for-fake-video-capture`` a Y4M video as
the camera. Every page collects its console errors and uncaught exceptions; a test fails at
teardown when there was any that it did not declare as expected.

Screenshots go to ``$ATTUNE_SCREENSHOT_DIR`` (default ``build/screenshots``); ``make
screenshots`` points it at ``docs/images`` to refresh the pictures the README shows.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import REPO

SENTENCE = "I lost my job today and I feel really sad about it."
#: Where Debian puts Chromium; ``ATTUNE_CHROMIUM`` overrides.
CHROMIUM = os.environ.get("ATTUNE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--no-sandbox",  # the tests may run as root, where Chromium's sandbox cannot start
    "--use-fake-ui-for-media-stream",  # grant camera/microphone without a prompt
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--disable-domain-reliability",
    "--disable-breakpad",
)
SERVER_START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebServer:
    """A running ``attune serve``: its base URL and state folder."""

    url: str
    state_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="session")
def attune_server() -> Iterator[WebServer]:
    """``attune serve`` with the real default models on a free loopback port, for the session."""
    base = Path(tempfile.mkdtemp(prefix="attune-web-"))
    port = _free_port()
    env = {**os.environ, "ATTUNE_PATHS__STATE_DIR": str(base / "state")}
    env.pop("ATTUNE_CONFIG", None)
    log_path = base / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "attune.cli", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = WebServer(f"http://127.0.0.1:{port}", base / "state", log_path, process)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"attune serve exited: {server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"attune serve did not start: {server.log_tail()}")
        time.sleep(0.3)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(base, ignore_errors=True)


# --- fake media --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechFile:
    """A WAV for the fake microphone: the sentence, then silence."""

    path: Path
    speech_seconds: float
    total_seconds: float


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def _speech_file(folder: Path, name: str, silence_s: float, sentence: str = SENTENCE) -> SpeechFile:
    """espeak-ng (an independent voice, not our TTS) saying ``sentence`` at 48 kHz, after
    0.3 s of silence and before ``silence_s``."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make install adds it)")
    from modalities.audio import load_audio

    raw = folder / f"{name}-espeak.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), sentence],
        check=True,
        capture_output=True,
        timeout=60,
    )
    rate = 48000
    speech = load_audio(raw, target_rate=rate).samples
    samples = np.concatenate([np.zeros(int(0.3 * rate)), speech, np.zeros(int(silence_s * rate))])
    path = folder / f"{name}.wav"
    _write_wav(path, samples.astype(np.float32), rate)
    return SpeechFile(
        path, speech_seconds=0.3 + len(speech) / rate, total_seconds=len(samples) / rate
    )


@pytest.fixture(scope="session")
def media_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="attune-web-media-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def speech_wav(media_dir: Path) -> SpeechFile:
    """The sentence then 1.5 s of silence: one push-to-talk utterance."""
    return _speech_file(media_dir, "speech", silence_s=1.5)


@pytest.fixture(scope="session")
def kiosk_wav(media_dir: Path) -> SpeechFile:
    """The sentence then 30 s of silence: the looping fake microphone says it once per loop."""
    return _speech_file(media_dir, "kiosk", silence_s=30.0)


@pytest.fixture(scope="session")
def once_wav(media_dir: Path) -> SpeechFile:
    """The sentence then 150 s of silence: one utterance per test (the loop comes back late)."""
    return _speech_file(media_dir, "once", silence_s=150.0)


@pytest.fixture(scope="session")
def backchannel_wav(media_dir: Path) -> SpeechFile:
    """ "Okay." once (then 150 s of silence): a listener's backchannel."""
    return _speech_file(media_dir, "okay", silence_s=150.0, sentence="Okay.")


@pytest.fixture(scope="session")
def interruption_wav(media_dir: Path) -> SpeechFile:
    """A real interruption once (then 150 s of silence)."""
    sentence = "Wait, can I tell you something about my sister?"
    return _speech_file(media_dir, "wait", silence_s=150.0, sentence=sentence)


@pytest.fixture(scope="session")
def silent_wav(media_dir: Path) -> Path:
    """10 s of digital silence: a microphone that hears nothing."""
    path = media_dir / "silence.wav"
    _write_wav(path, np.zeros(16000 * 10, np.float32), 16000)
    return path


def write_y4m(path: Path, frames: Sequence[np.ndarray], fps: int = 10) -> Path:
    """Write RGB frames (same even size) as a 4:2:0 Y4M video, what Chromium's fake camera reads."""
    import cv2

    h, w = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="session")
def face_y4m(media_dir: Path) -> Path:
    """A 640x480 camera video of a clear frontal face (scikit-image's astronaut)."""
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[:, 80:560] = face
    return write_y4m(media_dir / "face.y4m", [frame] * 10)


@pytest.fixture(scope="session")
def empty_y4m(media_dir: Path) -> Path:
    """A 640x480 camera video of an empty grey wall (no face)."""
    frame = np.full((480, 640, 3), 150, np.uint8)
    return write_y4m(media_dir / "wall.y4m", [frame] * 10)


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (make install adds it)"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (make test installs it)")
    with sync_api.sync_playwright() as pw:
        yield pw


@dataclass
class ConsoleLog:
    """What a page printed: console errors and uncaught exceptions (text only)."""

    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]


@dataclass
class BrowserPage:
    """A page in its own Chromium, and what it logged."""

    page: Any
    console: ConsoleLog
    browser: Any


@pytest.fixture
def open_page(playwright: Any, attune_server: WebServer) -> Iterator[Callable[..., Any]]:
    """``open_page(path, *, audio=None, video=None, expect_errors=(), viewport=...,
    reduced_motion="no-preference")``: a Playwright
    ``Page`` of ``attune_server.url + path`` in a fresh headless Chromium whose fake microphone
    plays ``audio`` (a WAV path) and fake camera shows ``video`` (a Y4M path).

    Console errors and page errors are collected; the test fails at teardown on any that no
    regular expression of ``expect_errors`` matches.
    """
    opened: list[BrowserPage] = []

    def _open(
        path: str = "/",
        *,
        audio: Path | SpeechFile | None = None,
        video: Path | None = None,
        expect_errors: Sequence[str] = (),
        viewport: tuple[int, int] = (1280, 860),
        reduced_motion: str = "no-preference",
    ) -> Any:
        args = list(CHROMIUM_FLAGS)
        if isinstance(audio, SpeechFile):
            audio = audio.path
        if audio is not None:
            args.append(f"--use-file-for-fake-audio-capture={audio}")
        if video is not None:
            args.append(f"--use-file-for-fake-video-capture={video}")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            permissions=["microphone", "camera"],
            reduced_motion=reduced_motion,
        )
        page = context.new_page()
        console = ConsoleLog(expected=[re.compile(p) for p in expect_errors])

        def on_console(message: Any) -> None:
            if message.type == "error":
                console.errors.append(f"console: {message.text} ({message.location})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: console.errors.append(f"pageerror: {error}"))
        page.set_default_timeout(30_000)
        opened.append(BrowserPage(page, console, browser))
        page.goto(attune_server.url + path)
        return page

    yield _open
    problems = []
    for item in opened:
        problems += item.console.unexpected()
        with contextlib.suppress(Exception):  # a browser that already died is closed
            item.browser.close()
    assert not problems, "console errors on the page:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    folder = Path(os.environ.get("ATTUNE_SCREENSHOT_DIR") or REPO / "build" / "screenshots")
    folder = folder if folder.is_absolute() else REPO / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[Any, str], Path]:
    """``screenshot(page_or_locator, name)``: save ``name.png`` in the screenshot folder."""

    def _shot(target: Any, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        target.screenshot(path=str(path))
        return path

    return _shot
