"""``attune eval turns``: does Attune wait while the person is mid-thought, and answer soon when
they have finished?

A set of spoken turns made here, in two voices (the project's TTS and espeak-ng, an independent
synthesiser): **unfinished** turns have a pause in the middle (after "and", after "um", after
"because", before the point) of 0.6-1.2 s, then the rest of the sentence; **finished** turns end
with the sentence. Each is streamed in 20 ms chunks through
:class:`~modalities.speech.segmenter.SpeechSegmenter` as configured (``speech.turn_detection``),
then with the other rule, and scored:

* **false cut-off**: an unfinished turn ended at its mid-turn pause (an utterance emitted
  before the rest was spoken);
* **end-of-turn delay**: on finished turns, the time from the end of speech (the last 10 ms
  frame above -40 dBFS) to the moment the segmenter emits the utterance (audio time: silence
  arrives in real time).

The sentences are written by the project; nothing is recorded from a person.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: (first part, pause in seconds, second part): turns with a pause mid-thought.
UNFINISHED: tuple[tuple[str, float, str], ...] = (
    ("I was going to call my sister and", 0.8, "then I just couldn't do it."),
    ("I think, um,", 1.0, "I just need some time on my own."),
    ("I lost my job last week, and", 0.9, "my wife doesn't know yet."),
    ("The thing is,", 0.7, "I never told anyone about it."),
    ("I can't sleep because", 1.1, "I keep thinking about the exam."),
    ("My dad has been sick, and", 1.2, "nobody in the family talks about it."),
    ("I wanted to say", 0.6, "that I'm sorry for how I acted."),
    ("It's just that, uh,", 0.9, "everyone else seems to be doing fine."),
    ("When I got home yesterday", 0.8, "the whole flat was empty."),
    ("I don't know if", 1.0, "I should move back in with my parents."),
)
#: Turns that are finished where they end.
FINISHED: tuple[str, ...] = (
    "I lost my job today and I feel really sad about it.",
    "My dog died yesterday and I miss him so much.",
    "I passed my driving test this morning.",
    "I've been feeling really lonely since I moved here.",
    "My sister is getting married next week.",
    "I can't stop worrying about my exams.",
    "My grandmother passed away last month.",
    "I had a fight with my best friend.",
    "Work has been so stressful lately.",
    "I just want someone to talk to.",
)
STEP = 320  # 20 ms at 16 kHz
RATE = 16000


@dataclass(frozen=True)
class SpokenTurn:
    """One test turn as 16 kHz audio, with where its speech ends and (unfinished) where the
    rest begins."""

    text: str
    voice: str
    finished: bool
    samples: np.ndarray
    speech_end: float
    rest_starts: float | None = None


def _speech_end(samples: np.ndarray) -> float:
    frame = RATE // 100
    n = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms) > -40)
    return float((loud[-1] + 1) * frame / RATE) if loud.size else 0.0


def _trim(samples: np.ndarray) -> np.ndarray:
    """Without leading and trailing near-silence (so that the pauses are the ones written)."""
    frame = RATE // 100
    n = len(samples) // frame
    if n == 0:
        return samples
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms) > -40)
    if not loud.size:
        return samples[:0]
    return samples[loud[0] * frame : (loud[-1] + 1) * frame]


def voices(settings: Any) -> dict[str, Callable[[str], np.ndarray]]:
    """The two voices: the configured TTS and, when installed, espeak-ng (16 kHz float)."""
    from attune import registry
    from modalities.audio import load_audio, resample

    tts = registry.create("tts", settings.backends.tts, settings)

    def project(text: str) -> np.ndarray:
        return resample(tts.synthesize(text).audio, RATE).samples.astype(np.float32)

    out: dict[str, Callable[[str], np.ndarray]] = {settings.backends.tts: project}
    if shutil.which("espeak-ng"):

        def espeak(text: str) -> np.ndarray:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "s.wav"
                subprocess.run(
                    ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text],
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
                return load_audio(path, target_rate=RATE).samples.astype(np.float32)

        out["espeak-ng"] = espeak
    return out


def make_turns(speak: dict[str, Callable[[str], np.ndarray]]) -> list[SpokenTurn]:
    """Every test turn in every voice, with 2 s of silence after it."""
    tail = np.zeros(2 * RATE, np.float32)
    lead = np.zeros(int(0.3 * RATE), np.float32)
    turns: list[SpokenTurn] = []
    for voice, say in speak.items():
        for first, pause, rest in UNFINISHED:
            a, b = _trim(say(first)), _trim(say(rest))
            gap = np.zeros(int(pause * RATE), np.float32)
            samples = np.concatenate([lead, a, gap, b, tail])
            starts = (len(lead) + len(a) + len(gap)) / RATE
            end = _speech_end(samples)
            turns.append(SpokenTurn(f"{first} … {rest}", voice, False, samples, end, starts))
        for text in FINISHED:
            samples = np.concatenate([lead, _trim(say(text)), tail])
            turns.append(SpokenTurn(text, voice, True, samples, _speech_end(samples)))
    return turns


def run_turn(segmenter: Any, turn: SpokenTurn) -> list[tuple[float, Any]]:
    """The utterances the segmenter emits for ``turn``, with the audio time of each emission."""
    from modalities.speech.segmenter import Utterance

    segmenter.reset()
    out: list[tuple[float, Any]] = []
    for pos in range(0, len(turn.samples), STEP):
        for event in segmenter.push(turn.samples[pos : pos + STEP]):
            if isinstance(event, Utterance):
                out.append(((pos + STEP) / RATE, event))
    return out


def _summary(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(p95, 1),
        "max": round(ordered[-1], 1),
    }


def score(segmenter: Any, turns: Sequence[SpokenTurn]) -> dict[str, Any]:
    """False cut-offs on unfinished turns, end-of-turn delay on finished ones, per voice."""
    cut = 0
    unfinished = 0
    delays: list[float] = []
    missed = 0
    by_voice: dict[str, dict[str, Any]] = {}
    for turn in turns:
        emitted = run_turn(segmenter, turn)
        entry = by_voice.setdefault(turn.voice, {"cut_off": 0, "unfinished": 0, "delays": []})
        if not turn.finished:
            unfinished += 1
            entry["unfinished"] += 1
            assert turn.rest_starts is not None
            if any(at < turn.rest_starts + 0.05 for at, _ in emitted):
                cut += 1
                entry["cut_off"] += 1
        else:
            after = [at for at, _ in emitted if at >= turn.speech_end - 0.05]
            if not after:
                missed += 1
                continue
            delay = (after[0] - turn.speech_end) * 1000
            delays.append(delay)
            entry["delays"].append(delay)
    return {
        "false_cut_off_rate": round(cut / unfinished, 3) if unfinished else None,
        "false_cut_offs": cut,
        "unfinished_turns": unfinished,
        "end_of_turn_delay_ms": _summary(delays),
        "within_300_ms": round(sum(d <= 300 for d in delays) / len(delays), 3) if delays else None,
        "finished_turns": len(delays) + missed,
        "finished_never_ended": missed,
        "by_voice": {
            v: {
                "false_cut_offs": e["cut_off"],
                "unfinished": e["unfinished"],
                "end_of_turn_delay_ms": _summary(e["delays"]),
            }
            for v, e in by_voice.items()
        },
    }


def evaluate_turns(settings: Any) -> dict[str, Any]:
    """Both rules (silence alone; Smart Turn when installed) over the spoken test turns."""
    from modalities.speech.segmenter import SpeechSegmenter
    from modalities.speech.turn import SmartTurn

    turns = make_turns(voices(settings))
    speech = settings.speech
    results: dict[str, Any] = {
        "turns": len(turns),
        "voices": sorted({t.voice for t in turns}),
        "configured": speech.turn_detection,
    }
    silence = SpeechSegmenter.from_settings(
        settings.model_copy(
            update={"speech": speech.model_copy(update={"turn_detection": "silence"})}
        )
    )
    results["silence"] = {"min_silence_ms": speech.min_silence_ms, **score(silence, turns)}
    if SmartTurn.available():
        smart = SpeechSegmenter.from_settings(
            settings.model_copy(
                update={"speech": speech.model_copy(update={"turn_detection": "smart_turn"})}
            )
        )
        results["smart_turn"] = {
            "turn_silence_ms": speech.turn_silence_ms,
            "turn_max_silence_ms": speech.turn_max_silence_ms,
            **score(smart, turns),
        }
    return results
