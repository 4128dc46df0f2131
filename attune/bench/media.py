"""Benchmarks of the voice and face paths (``attune bench --only voice,face``), as JSON.

Voice: ASR and TTS real-time factors, TTS time to first chunk, and the voice-turn latency from
the moment the user stops speaking to the moment the first reply audio is ready. The latency of
a voice turn has two parts, reported separately:

* ``endpoint_ms``: how long after the end of speech the segmenter declared the utterance over.
  Silence arrives in real time, so this is audio time (about ``speech.min_silence_ms``), measured
  by streaming the utterance plus trailing silence through :class:`SpeechSegmenter` in 20 ms
  chunks and reading the audio clock at the moment it emits.
* ``processing_ms``: wall time from handing the utterance to :meth:`Attune.stream_turn` (ASR,
  perception, safety, appraisal, planning, reply, first sentence of speech) to the first
  ``audio.chunk`` event.

``live_recognition`` measures the same turns as the server runs them with live transcripts: the
utterance is recognised once the person has paused 200 ms, during the rest of the silence the
segmenter waits out, and the turn starts with that transcript (when both are done) and skips its
own ASR.

Face: per-frame latency of the face backend (detection + mesh + expression) on a 640x480 frame
holding a real face (scikit-image's astronaut), and frames per second.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, cast

import numpy as np

from attune.bench.text import percentile
from attune.settings import AttuneSettings

#: What simulated users say in the voice benchmark (written by the project).
UTTERANCES = (
    "I lost my job today and I don't know how to tell my family.",
    "My sister is getting married next week and I am so happy for her.",
    "I've been feeling really lonely since I moved here.",
    "I can't stop worrying about my exams.",
    "My grandmother passed away last month.",
)


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 1),
        "p95": round(percentile(values, 0.95), 1),
        "mean": round(statistics.fmean(values), 1),
    }


def _speech_end(samples: np.ndarray, rate: int) -> float:
    """Seconds at which the last 10 ms frame louder than -40 dBFS ends."""
    frame = rate // 100
    n = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms) > -40)
    return float((loud[-1] + 1) * frame / rate) if loud.size else 0.0


def run_voice_bench(settings: AttuneSettings, turns: int = 10) -> dict[str, Any]:
    """Measure the voice path with the configured backends."""
    from agent.core import Attune
    from attune import registry
    from attune.types import Audio
    from modalities.audio import resample
    from modalities.speech.segmenter import SpeechSegmenter, Utterance
    from modalities.voice.base import SpeechChunk, join_chunks
    from modalities.voice.style import PRESETS

    tts = registry.create("tts", settings.backends.tts, settings)
    asr = registry.create("asr", settings.backends.asr, settings)
    t0 = time.perf_counter()
    tts.load()
    tts_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    asr.load()
    asr_load = time.perf_counter() - t0

    # the users' utterances, spoken by the project's own voice and resampled to 16 kHz
    clips: list[Audio] = []
    tts_rtf: list[float] = []
    first_chunk: list[float] = []
    for text in UTTERANCES:
        t0 = time.perf_counter()
        chunks: list[SpeechChunk] = []
        for chunk in tts.stream(text, PRESETS["neutral"]):
            if not chunks:
                first_chunk.append((time.perf_counter() - t0) * 1000)
            chunks.append(chunk)
        spoken = join_chunks(chunks)
        tts_rtf.append((time.perf_counter() - t0) / spoken.duration)
        clips.append(resample(spoken, 16000))

    asr_rtf = []
    for clip in clips:
        t0 = time.perf_counter()
        asr.transcribe(clip)
        asr_rtf.append((time.perf_counter() - t0) / clip.duration)

    endpoint: list[float] = []
    processing: list[float] = []
    stages: dict[str, list[float]] = {}
    # live recognition, as the server does it: the utterance is recognised once the person has
    # paused 200 ms, while the segmenter waits out the rest of the silence; the turn then
    # starts with that transcript (no ASR of its own)
    live_total: list[float] = []
    live_processing: list[float] = []
    live_wait: list[float] = []
    step = 320  # 20 ms at 16 kHz
    with Attune(settings, asr=asr, tts=tts) as bot:
        bot.load(("asr", "speech_emotion", "tts"))
        bot.turn("Hello.", "bench-voice-warmup", speak=True)
        for i in range(turns):
            clip = clips[i % len(clips)]
            stream = np.concatenate([clip.samples, np.zeros(16000 * 2, np.float32)])
            segmenter = SpeechSegmenter.from_settings(settings)
            utterance: Utterance | None = None
            emitted_at = 0.0
            for pos in range(0, len(stream), step):
                for event in segmenter.push(stream[pos : pos + step]):
                    if isinstance(event, Utterance) and utterance is None:
                        utterance, emitted_at = event, (pos + step) / 16000
                if utterance is not None:
                    break
            if utterance is None:
                continue
            endpoint.append((emitted_at - _speech_end(clip.samples, 16000)) * 1000)
            t0 = time.perf_counter()
            result: dict[str, Any] | None = None
            first: float | None = None
            for ev in bot.stream_turn(
                None, f"bench-voice-{i // 5}", audio=utterance.audio, speak=True
            ):
                if ev.type == "audio.chunk" and first is None:
                    first = (time.perf_counter() - t0) * 1000
                elif ev.type == "reply.done":
                    result = cast(dict[str, Any], ev.data["result"])
            if first is not None:
                processing.append(first)
            if result is not None:
                for stage, ms in result["timings_ms"].items():
                    stages.setdefault(stage, []).append(ms)

            # the same utterance with live recognition at the 200 ms pause
            live = SpeechSegmenter.from_settings(settings)
            partial_at, partial = None, None
            for pos in range(0, len(stream), step):
                done = any(isinstance(e, Utterance) for e in live.push(stream[pos : pos + step]))
                if partial is None and live.pause_seconds >= 0.2 and live.speech_seconds > 0.25:
                    partial_at = (pos + step) / 16000
                    t0 = time.perf_counter()
                    audio = live.current_audio()
                    partial = bot.transcribe(audio) if audio is not None else None
                    recognised_ms = (time.perf_counter() - t0) * 1000
                if done:
                    break
            if partial is None or partial_at is None:
                continue
            end = _speech_end(clip.samples, 16000)
            ready = max(emitted_at, partial_at + recognised_ms / 1000)  # turn can start
            live_wait.append((ready - end) * 1000)
            t0 = time.perf_counter()
            first = None
            for ev in bot.stream_turn(
                None,
                f"bench-voice-live-{i // 5}",
                audio=utterance.audio,
                speak=True,
                transcript=partial,
            ):
                if ev.type == "audio.chunk" and first is None:
                    first = (time.perf_counter() - t0) * 1000
            if first is not None:
                live_processing.append(first)
                live_total.append((ready - end) * 1000 + first)
    total = [e + p for e, p in zip(endpoint, processing, strict=False)]
    return {
        "asr": {
            "backend": settings.backends.asr,
            "load_s": round(asr_load, 2),
            "real_time_factor": round(statistics.fmean(asr_rtf), 3),
        },
        "tts": {
            "backend": settings.backends.tts,
            "load_s": round(tts_load, 2),
            "real_time_factor": round(statistics.fmean(tts_rtf), 4),
            "first_chunk_ms": _summary(first_chunk),
        },
        "voice_turn": {
            "turns": len(total),
            # low latency: no LLM appraisal, one streamed candidate, sentences spoken as written
            "low_latency": settings.voice.low_latency,
            "endpoint_ms": _summary(endpoint) if endpoint else None,
            "processing_ms": _summary(processing) if processing else None,
            "speech_end_to_first_audio_ms": _summary(total) if total else None,
            "live_recognition": {
                "speech_end_to_turn_start_ms": _summary(live_wait) if live_wait else None,
                "processing_ms": _summary(live_processing) if live_processing else None,
                "speech_end_to_first_audio_ms": _summary(live_total) if live_total else None,
            },
            "target_first_audio_p50_ms": 1500.0,
            "target_first_audio_p50_ms_issue_20": 1200.0,
            "stage_ms_p50": {k: round(percentile(v, 0.5), 1) for k, v in sorted(stages.items())},
        },
    }


def run_face_bench(settings: AttuneSettings, frames: int = 60) -> dict[str, Any]:
    """Per-frame latency of the face backend on a 640x480 frame with a real face."""
    import cv2
    from skimage import data

    from attune import registry

    face = registry.create("face", settings.backends.face, settings)
    t0 = time.perf_counter()
    face.load()
    load_s = time.perf_counter() - t0
    canvas = np.full((480, 640, 3), 90, np.uint8)
    portrait = cv2.resize(data.astronaut(), (300, 300))
    canvas[90:390, 170:470] = portrait
    face.analyze(canvas)  # warm-up
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        reading = face.analyze(canvas)
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "backend": settings.backends.face,
        "load_s": round(load_s, 2),
        "frame": "640x480",
        "detected": reading.detected,
        "frame_ms": _summary(times),
        "frames_per_s": round(1000 / statistics.fmean(times), 1),
    }
