"""07 · The face, fused with the words: one affect, and a flag when they disagree.

Reads the expression of a real photo (scikit-image's astronaut, a smiling face), fuses it with
a sad message and with a happy one, and shows the incongruence flag and the explanation that
clients display. Then a turn with the photo: the appraisal reflects the mixed feelings.

    python demos/07_face_and_fusion.py [IMAGE]
"""

import sys
from pathlib import Path

import numpy as np

from agent import Attune, load_settings, registry
from modalities.fusion import fuse_affect


def main() -> None:
    settings = load_settings()
    if len(sys.argv) > 1:
        image: bytes | np.ndarray = Path(sys.argv[1]).read_bytes()
    else:
        from skimage import data

        image = data.astronaut()
    face = registry.create("face", settings.backends.face, settings)
    reading = face.analyze(image)
    print(f"face: detected={reading.detected} label={reading.label} faces={reading.faces}")
    if reading.geometry is not None:
        print(f"  mouth corners {reading.geometry.mouth_corner:+.3f}")

    text_emotion = registry.create("text_emotion", settings.backends.text_emotion, settings)
    sad = "I'm fine, really. I just miss my dog so much since he died."
    for text in (sad, "I got the job I wanted, I'm so happy!"):
        affect = fuse_affect(text_emotion.analyze(text), None, reading, settings.fusion, words=text)
        assert affect is not None
        print(f"\n{text}")
        print(f"  fused {affect.label}, valence {affect.valence:+.2f}")
        print(f"  incongruent: {affect.incongruent} ({affect.incongruence:.2f})")
        print(f"  {affect.explanation}")

    with Attune(settings) as bot:
        result = bot.turn(sad, image=image)
        assert result.appraisal is not None
        print(f"\nappraisal goal: {result.appraisal.goal}")
        print(f"reply: {result.reply}")


if __name__ == "__main__":
    main()
