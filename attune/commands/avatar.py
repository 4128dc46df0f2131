"""``attune render``: text or audio -> talking-head video (see the avatar issue).

Importing this module stays cheap (argparse only); handlers import what they need.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from attune import registry
from attune.errors import InputError


def register(groups: Any) -> None:
    """Add the commands to the ``attune`` parser (see ``attune.commands.CommandGroups``)."""
    render = groups.top.add_parser(
        "render", help="a talking-head video (MP4) or still (PNG) of Attune saying a text"
    )
    source = render.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="what the avatar says (synthesised with Attune's voice)")
    source.add_argument("--audio", type=Path, help="lip-sync this speech file instead")
    render.add_argument(
        "--emotion",
        default="neutral",
        help="voice and face preset (neutral, gentle, calm, joy, warm, sad...; see README)",
    )
    render.add_argument("--portrait", type=Path, help="a front-facing photo (portrait style)")
    render.add_argument(
        "--style", choices=registry.names("avatar"), help="the renderer (default: settings)"
    )
    render.add_argument("--out", type=Path, required=True, help="output file: .mp4 (or .png)")
    render.add_argument("--png", action="store_true", help="write a PNG still, not a video")
    render.add_argument("--json", action="store_true", help="print timings as JSON")
    render.set_defaults(handler=cmd_render)


def cmd_render(args: argparse.Namespace, settings: Any) -> int:
    """Synthesise (or load) the speech, build its cues, and render them to ``--out``."""
    from modalities.audio import load_audio
    from modalities.avatar.cues import EXPRESSIONS, build_cues, concat_cues, scaled_expression
    from modalities.avatar.video import check_duration
    from modalities.voice.base import join_chunks
    from modalities.voice.style import PRESETS

    if args.emotion not in EXPRESSIONS:
        raise InputError(
            "bad_emotion", f"unknown emotion {args.emotion!r}; choose from {sorted(EXPRESSIONS)}"
        )
    suffix = ".png" if args.png else ".mp4"
    if args.out.suffix.lower() != suffix:
        raise InputError("bad_format", f"the output file must end in {suffix}")
    style = args.style or settings.backends.avatar
    kwargs: dict[str, Any] = {}
    if args.portrait is not None:
        if style != "portrait":
            raise InputError("bad_argument", "--portrait needs --style portrait")
        if not args.portrait.is_file():
            raise InputError("not_found", f"file not found: {args.portrait}")
        kwargs["portrait"] = args.portrait
    a = settings.avatar
    expression = scaled_expression(EXPRESSIONS[args.emotion], a.expressiveness)
    renderer = registry.create("avatar", style, settings, **kwargs)
    renderer.load()

    started = time.perf_counter()
    if args.audio is not None:
        if not args.audio.is_file():
            raise InputError("not_found", f"file not found: {args.audio}")
        audio = load_audio(args.audio, target_rate=24000, max_seconds=a.max_seconds + 1.0)
        check_duration(audio, a.max_seconds)
        cues = build_cues(audio, expression=expression, fps=a.fps)
    else:
        tts = registry.create("tts", settings.backends.tts, settings)
        chunks = list(tts.stream(args.text, PRESETS[args.emotion]))
        audio = join_chunks(chunks)
        check_duration(audio, a.max_seconds)
        cues = concat_cues([
            build_cues(c.audio, phonemes=c.phonemes, words=c.words, expression=expression,
                       fps=a.fps, offset=c.offset)
            for c in chunks
        ])  # fmt: skip
    speech_s = time.perf_counter() - started
    if args.png:
        loudest = max(range(cues.frames), key=lambda i: cues.mouth_open[i], default=0)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(renderer.still(cues, loudest))
    else:
        renderer.render_video(cues, audio, args.out)
    total = time.perf_counter() - started
    summary = {
        "out": str(args.out),
        "style": style,
        "seconds": round(audio.duration, 3),
        "frames": cues.frames,
        "speech_ms": round(speech_s * 1000, 1),
        "total_ms": round(total * 1000, 1),
        "real_time_factor": round(total / max(audio.duration, 1e-6), 4),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {args.out} ({audio.duration:.2f} s, {style}, {args.emotion})")
    return 0
