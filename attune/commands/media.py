"""Voice and face commands: ``attune say``, ``attune transcribe``, ``attune perceive``,
``attune eval turns``.

Importing this module stays cheap (argparse only); handlers import what they need.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from attune.errors import InputError


def register(groups: Any) -> None:
    """Add the commands to the ``attune`` parser (see ``attune.commands.CommandGroups``)."""
    say = groups.top.add_parser("say", help="speak a text with Attune's voice into an audio file")
    say.add_argument("text", help="what to say")
    say.add_argument(
        "--emotion",
        default="neutral",
        help="a voice preset (neutral, calm, sad, warm, joy, excited, anxious...; see README)",
    )
    say.add_argument("--out", type=Path, required=True, help="output file: .wav, .ogg (Opus)")
    say.add_argument("--json", action="store_true", help="print timings and word timings")
    say.set_defaults(handler=cmd_say)

    tr = groups.top.add_parser("transcribe", help="speech to text, with timestamps and prosody")
    tr.add_argument("file", type=Path, help="an audio file (WAV, FLAC, OGG, MP3...)")
    tr.add_argument("--json", action="store_true", help="transcript, words and prosody as JSON")
    tr.set_defaults(handler=cmd_transcribe)

    pe = groups.top.add_parser(
        "perceive", help="read emotion from an image, a text and/or audio, and fuse them"
    )
    pe.add_argument("--image", type=Path, help="a photo with a face (JPEG, PNG)")
    pe.add_argument("--text", help="what the person wrote")
    pe.add_argument("--audio", type=Path, help="what the person said (audio file)")
    pe.add_argument("--json", action="store_true", help="every reading as one JSON object")
    pe.set_defaults(handler=cmd_perceive)

    turns = groups.eval.add_parser(
        "turns",
        help="end of turn: false cut-offs at mid-thought pauses, delay after finished turns",
    )
    turns.add_argument("--json", type=Path, dest="json_out", help="write the figures here")
    turns.set_defaults(handler=cmd_eval_turns)


def cmd_eval_turns(args: argparse.Namespace, settings: Any) -> int:
    """Both end-of-turn rules over the project's spoken test turns (``agent/turn_eval.py``)."""
    from agent.turn_eval import evaluate_turns
    from attune.commands import write_json

    results = evaluate_turns(settings)
    for rule in ("silence", "smart_turn"):
        r = results.get(rule)
        if r is None:
            print(f"{rule}: not installed")
            continue
        delay = r["end_of_turn_delay_ms"] or {}
        print(
            f"{rule:<10} false cut-offs {r['false_cut_offs']}/{r['unfinished_turns']} "
            f"({r['false_cut_off_rate']:.0%}); end-of-turn delay p50 {delay.get('p50')} ms, "
            f"p95 {delay.get('p95')} ms; within 300 ms {r['within_300_ms']:.0%}; "
            f"finished turns never ended {r['finished_never_ended']}"
        )
    if args.json_out:
        write_json(args.json_out, results)
        print(f"wrote {args.json_out}")
    return 0


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise InputError("not_found", f"file not found: {path}")
    return path.read_bytes()


def cmd_say(args: argparse.Namespace, settings: Any) -> int:
    """Synthesise ``text`` in a preset style and write it (WAV or Ogg Opus by extension)."""
    import time

    from attune import registry
    from modalities.audio import to_ogg_opus, to_wav
    from modalities.voice.base import join_chunks
    from modalities.voice.style import PRESETS

    if args.emotion not in PRESETS:
        raise InputError(
            "bad_emotion", f"unknown voice preset {args.emotion!r}; choose from {sorted(PRESETS)}"
        )
    suffix = args.out.suffix.lower()
    if suffix not in {".wav", ".ogg", ".opus"}:
        raise InputError("bad_format", "the output file must end in .wav, .ogg or .opus")
    tts = registry.create("tts", settings.backends.tts, settings)
    tts.load()
    start = time.perf_counter()
    chunks = []
    first = None
    for chunk in tts.stream(args.text, PRESETS[args.emotion]):
        first = first if first is not None else time.perf_counter() - start
        chunks.append(chunk)
    total = time.perf_counter() - start
    audio = join_chunks(chunks)
    data = to_wav(audio) if suffix == ".wav" else to_ogg_opus(audio)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    summary: dict[str, Any] = {
        "out": str(args.out),
        "seconds": round(audio.duration, 3),
        "sample_rate": audio.sample_rate,
        "style": PRESETS[args.emotion].model_dump(),
        "first_chunk_ms": round((first or 0.0) * 1000, 1),
        "synthesis_ms": round(total * 1000, 1),
        "real_time_factor": round(total / max(audio.duration, 1e-6), 4),
    }
    if args.json:
        summary["words"] = [w.model_dump() for c in chunks for w in c.words]
        print(json.dumps(summary))
    else:
        print(f"wrote {args.out} ({audio.duration:.2f} s, {args.emotion} voice)")
    return 0


def cmd_transcribe(args: argparse.Namespace, settings: Any) -> int:
    """Transcribe a file; with --json also word timestamps, confidences and prosody."""
    from attune import registry
    from modalities.audio import load_audio

    audio = load_audio(
        _read(args.file), target_rate=16000, max_seconds=settings.speech.max_turn_seconds
    )
    asr = registry.create("asr", settings.backends.asr, settings)
    prosody = registry.create("speech_emotion", settings.backends.speech_emotion, settings)
    transcript = asr.transcribe(audio)
    emotion = prosody.analyze(audio, transcript=transcript)
    if args.json:
        out = {
            "transcript": transcript.model_dump(mode="json"),
            "speech_emotion": emotion.model_dump(mode="json"),
        }
        print(json.dumps(out, ensure_ascii=False))
    else:
        for seg in transcript.segments:
            print(f"[{seg.start:6.2f} -> {seg.end:6.2f}] {seg.text.strip()}")
        print(
            f"prosody: arousal {emotion.arousal:.2f}, valence {emotion.valence:+.2f}"
            + (f" ({', '.join(emotion.cues)})" if emotion.cues else ""),
            file=sys.stderr,
        )
    return 0


def cmd_perceive(args: argparse.Namespace, settings: Any) -> int:
    """Read every modality given, fuse them, and print the readings."""
    from attune import registry
    from modalities.audio import load_audio
    from modalities.face.image import load_image
    from modalities.fusion import fuse_affect

    if args.image is None and args.text is None and args.audio is None:
        raise InputError("empty_input", "give at least one of --image, --text, --audio")
    out: dict[str, Any] = {}
    text = args.text
    text_emotion = speech = face = None
    if args.audio is not None:
        audio = load_audio(
            _read(args.audio), target_rate=16000, max_seconds=settings.speech.max_turn_seconds
        )
        transcript = registry.create("asr", settings.backends.asr, settings).transcribe(audio)
        speech = registry.create(
            "speech_emotion", settings.backends.speech_emotion, settings
        ).analyze(audio, transcript=transcript)
        out["transcript"] = transcript.model_dump(mode="json")
        out["speech_emotion"] = speech.model_dump(mode="json")
        text = " ".join(p for p in (text, transcript.text.strip()) if p) or None
    if text:
        recognizer = registry.create("text_emotion", settings.backends.text_emotion, settings)
        text_emotion = recognizer.analyze(text)
        out["text_emotion"] = text_emotion.model_dump(mode="json")
    if args.image is not None:
        f = settings.face
        image = load_image(
            _read(args.image),
            max_bytes=f.max_bytes,
            max_decoded_pixels=f.max_decoded_pixels,
            max_pixels=f.max_pixels,
        )
        face = registry.create("face", settings.backends.face, settings).analyze(image)
        out["face"] = face.model_dump(mode="json")
    affect = fuse_affect(text_emotion, speech, face, settings.fusion, words=text)
    out["affect"] = affect.model_dump(mode="json") if affect else None
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    if face is not None:
        label = face.label if face.detected else "no face found"
        print(f"face: {label} ({face.faces} face(s))")
    if text_emotion is not None:
        print(f"text: {text_emotion.primary} (valence {text_emotion.valence:+.2f})")
    if speech is not None:
        print(f"voice: arousal {speech.arousal:.2f} ({', '.join(speech.cues) or 'no cues'})")
    if affect is not None:
        flag = " [mixed signals]" if affect.incongruent else ""
        print(f"fused: {affect.label} (valence {affect.valence:+.2f}){flag}")
        print(affect.explanation)
    return 0
