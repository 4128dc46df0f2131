"""``attune render``: text -> video, audio file -> video, a PNG still, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from attune.cli import main
from modalities.audio import to_wav
from modalities.voice.base import SpeechChunk

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)


def test_render_text_to_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reply.mp4"
    code = main(["render", "--text", "I'm here. Take your time.", "--emotion", "gentle",
                 "--style", "cartoon", "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == summary["frames"] and abs(frames / 25 - summary["seconds"]) <= 1 / 25


def test_render_existing_audio_and_a_still(
    tmp_path: Path, speech: list[SpeechChunk], capsys: pytest.CaptureFixture[str]
) -> None:
    wav = tmp_path / "speech.wav"
    wav.write_bytes(to_wav(speech[1].audio))
    out = tmp_path / "still.png"
    assert main(["render", "--audio", str(wav), "--png", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["render", "--text", "hi", "--emotion", "furious", "--out", str(out)]) == 2
    assert main(["render", "--text", "hi", "--style", "cartoon", "--portrait", str(out),
                 "--out", str(tmp_path / "x.mp4")]) == 2  # fmt: skip
    assert "error:" in capsys.readouterr().err
