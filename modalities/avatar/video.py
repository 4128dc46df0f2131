"""Frames + reply audio -> an MP4 file (H.264 video, AAC audio) with PyAV.

The video is ``yuv420p`` H.264 (``libx264``, preset ``veryfast``, CRF 23: plays everywhere,
encodes far faster than real time at 512x512); the audio is the reply, AAC at its own sample
rate (mono). ``frames`` should hold ``round(audio.duration * fps)`` frames so the two streams end
within one frame of each other; audio that is silence still gives a valid file.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from attune.errors import InputError
from attune.types import Audio

#: AAC frame size in samples (the encoder takes exactly this many per frame).
_AAC_FRAME = 1024


def check_duration(audio: Audio, max_seconds: float) -> None:
    """``InputError("audio_too_long")`` past ``max_seconds``; ``("no_audio")`` for empty audio."""
    if audio.duration <= 0:
        raise InputError("no_audio", "the audio is empty")
    if audio.duration > max_seconds:
        raise InputError(
            "audio_too_long",
            f"the audio is {audio.duration:.1f} s; the avatar renders at most {max_seconds:g} s",
        )


def write_mp4(frames: Iterable[np.ndarray], audio: Audio, path: Path | str, fps: int) -> Path:
    """Encode RGB ``uint8`` frames (all the same even-sided size) and ``audio`` into ``path``.

    Returns the path. Frames are consumed as they come (a generator keeps memory flat).
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast", "crf": "23"}
        sound = container.add_stream("aac", rate=audio.sample_rate)
        sound.layout = "mono"
        sized = False
        for frame in frames:
            if not sized:
                video.height, video.width = frame.shape[:2]
                sized = True
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            container.mux(video.encode(vf))
        if sized:
            container.mux(video.encode())
        samples = np.clip(audio.samples, -1.0, 1.0).astype(np.float32)
        for start in range(0, len(samples), _AAC_FRAME):
            block = samples[start : start + _AAC_FRAME]
            af = av.AudioFrame.from_ndarray(block[np.newaxis, :], format="flt", layout="mono")
            af.sample_rate = audio.sample_rate
            af.pts = start
            af.time_base = Fraction(1, audio.sample_rate)
            container.mux(sound.encode(af))
        container.mux(sound.encode())
    return path
