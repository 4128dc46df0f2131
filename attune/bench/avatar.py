"""Benchmark of the avatar (``attune bench --only avatar``), as JSON.

For each renderer (``portrait``, ``cartoon``) at ``settings.avatar.size`` on the configured
device: ``first_frame_ms``, the time from constructing the renderer to its first frame (for the
portrait this includes reading the portrait and finding its face mesh, once per process and
portrait), ``fps`` over the frames of a spoken reply, and ``text_to_video_rtf``, the
real-time factor of the whole path (text -> TTS -> cues -> frames -> MP4 on disk) divided by the
length of the speech. ``cues_ms`` is the time to build the cue timeline of the reply.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from attune.settings import AttuneSettings

#: What the avatar says in the benchmark (written by the project).
REPLY = (
    "I'm really sorry you're going through this. It sounds exhausting, and it makes sense "
    "that you feel worn out. What has helped you get through hard weeks before?"
)


def run_avatar_bench(settings: AttuneSettings) -> dict[str, Any]:
    """Render speed, time to first frame and text -> video real-time factor per renderer."""
    from attune import registry
    from modalities.avatar.cues import build_cues, concat_cues
    from modalities.voice.base import join_chunks
    from modalities.voice.style import PRESETS

    a = settings.avatar
    tts = registry.create("tts", settings.backends.tts, settings)
    tts.load()
    chunks = list(tts.stream(REPLY, PRESETS["gentle"]))
    audio = join_chunks(chunks)
    started = time.perf_counter()
    cues = concat_cues([
        build_cues(c.audio, phonemes=c.phonemes, fps=a.fps, offset=c.offset) for c in chunks
    ])  # fmt: skip
    cues_ms = (time.perf_counter() - started) * 1000
    out: dict[str, Any] = {
        "size": a.size,
        "device": settings.resolved_device(),
        "speech_seconds": round(audio.duration, 2),
        "frames": cues.frames,
        "cues_ms": round(cues_ms, 1),
    }
    for name in registry.names("avatar"):
        started = time.perf_counter()
        renderer = registry.create("avatar", name, settings)
        renderer.render_frame(cues, 0)
        first = time.perf_counter() - started
        started = time.perf_counter()
        for _ in renderer.frames(cues):
            pass
        fps = cues.frames / (time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            parts = list(tts.stream(REPLY, PRESETS["gentle"]))
            speech = join_chunks(parts)
            timeline = concat_cues([
                build_cues(c.audio, phonemes=c.phonemes, fps=a.fps, offset=c.offset)
                for c in parts
            ])  # fmt: skip
            renderer.render_video(timeline, speech, Path(tmp) / "reply.mp4")
            total = time.perf_counter() - started
        out[name] = {
            "first_frame_ms": round(first * 1000, 1),
            "fps": round(fps, 1),
            "text_to_video_rtf": round(total / speech.duration, 3),
        }
    return out
