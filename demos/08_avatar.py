"""08 · The talking head: a spoken reply rendered as a lip-synced, expressive avatar video.

A turn asks for video: the reply is spoken, each sentence brings its cue timeline (mouth shapes
from the voice's phoneme timings, the supporter's expression, blinks, head motion), and the
whole reply is rendered as an MP4 with its audio. The same cues drive the cartoon renderer.

    python demos/08_avatar.py [OUT_DIR]
"""

import sys
import tempfile
from pathlib import Path

from agent import Attune, load_settings, registry
from modalities.avatar.cues import build_cues, expression_for
from modalities.voice.style import PRESETS


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    settings = load_settings(paths={"state_dir": out})
    with Attune(settings) as bot:
        cue_chunks = 0
        for event in bot.stream_turn("My grandmother passed away last week.", video=True):
            if event.type == "avatar.cues":
                cue_chunks += 1
                cues = event.data["cues"]
                print(f"[avatar.cues] {cues['frames']} frames at {cues['fps']} fps")
            elif event.type == "avatar.video":
                print(f"[avatar.video] {event.data['path']} ({event.data['seconds']} s)")
            elif event.type == "reply.done":
                print(f"reply: {event.data['text']}")
        print(f"{cue_chunks} cue chunks")

    # the same pieces by hand: speech -> cues -> a still of the cartoon face
    tts = registry.create("tts", settings.backends.tts, settings)
    chunk = tts.synthesize("That sounds wonderful, congratulations!", PRESETS["joy"])
    cues = build_cues(
        chunk.audio, phonemes=chunk.phonemes, expression=expression_for(None, None), fps=25
    )
    cartoon = registry.create("avatar", "cartoon", settings)
    still = out / "cartoon.png"
    still.write_bytes(cartoon.still(cues, index=cues.frames // 2))
    print(f"cartoon still: {still}")


if __name__ == "__main__":
    main()
