"""Write the avatar contact sheet: the same sentence said with three faces, a few frames each.

Rows: the supporter's face for a user's sadness (warm concern), joy (a shared smile) and
anxiety (calm). Columns: four moments of the portrait renderer (resting, mid-word, an open
vowel, later on) and the cartoon renderer at the open vowel. Run it after changing a renderer and
look at the result::

    python demos/avatar_contact_sheet.py            # -> docs/images/avatar_contact_sheet.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from agent import load_settings
from attune import registry
from attune.types import TextEmotion
from modalities.avatar import build_cues, expression_for
from modalities.voice.style import style_for

SENTENCE = "I hear you. That sounds really hard, and I'm here with you."
ROWS = (("user sad: warm concern", "sadness"), ("user joyful: shared joy", "joy"),
        ("user anxious: calm", "fear"))  # fmt: skip
TILE = 176
OUT = Path(__file__).resolve().parent.parent / "docs" / "images" / "avatar_contact_sheet.png"


def _affect(label: str) -> TextEmotion:
    ekman = {k: (0.9 if k == label else 0.02) for k in ("anger", "fear", "joy", "sadness")}
    return TextEmotion(scores={}, labels=[], ekman=ekman, valence=0.0, arousal=0.5, intensity=0.8)


def contact_sheet() -> np.ndarray:
    """The sheet as an RGB array (see the module docstring)."""
    import cv2

    settings = load_settings()
    tts = registry.create("tts", "hibari", settings)
    portrait = registry.create("avatar", "portrait", settings)
    cartoon = registry.create("avatar", "cartoon", settings)
    rows = []
    for title, label in ROWS:
        affect = _affect(label)
        chunk = tts.synthesize(SENTENCE, style_for(None, affect))
        cues = build_cues(
            chunk.audio, phonemes=chunk.phonemes, expression=expression_for(None, affect)
        )
        opening = cues.column("mouth_open")
        widest = int(np.argmax(opening))
        picks = [0, widest // 2, widest, min(cues.frames - 1, widest + 25)]
        side = settings.avatar.size
        face = (slice(int(0.1 * side), int(0.72 * side)), slice(int(0.19 * side), int(0.81 * side)))
        tiles = [portrait.render_frame(cues, i)[face] for i in picks]  # close-up on the face
        tiles.append(cartoon.render_frame(cues, widest))
        row = np.concatenate(
            [cv2.resize(t, (TILE, TILE), interpolation=cv2.INTER_AREA) for t in tiles], 1
        )
        strip = np.full((26, row.shape[1], 3), 255, np.uint8)
        cv2.putText(
            strip, title, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (40, 40, 40), 1, cv2.LINE_AA
        )
        rows.append(np.concatenate([strip, row], 0))
    return np.concatenate(rows, 0)


def write_contact_sheet(path: Path) -> Path:
    """Render the sheet and save it as a palette PNG (small enough to commit)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(contact_sheet()).quantize(colors=256, dither=Image.Dither.NONE)
    image.save(path, optimize=True)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    print(f"wrote {write_contact_sheet(parser.parse_args().out)}")
