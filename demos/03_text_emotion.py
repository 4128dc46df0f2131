"""03 · Text emotion on its own: GoEmotions labels, Ekman groups, valence, arousal, intensity.

python demos/03_text_emotion.py "I can't believe I got the job!"
"""

import sys

from agent import load_settings
from attune import registry


def main() -> None:
    texts = sys.argv[1:] or [
        "My dog died yesterday.",
        "I can't believe I got the job!",
        "Why does this keep happening to me, I'm furious.",
    ]
    settings = load_settings()
    recognizer = registry.create("text_emotion", settings.backends.text_emotion, settings)
    for text, emotion in zip(texts, recognizer.analyze_batch(texts), strict=True):
        ekman = max(emotion.ekman, key=lambda k: emotion.ekman[k])
        print(
            f"{text}\n  labels {emotion.labels}  ekman {ekman}  valence {emotion.valence:+.2f}"
            f"  arousal {emotion.arousal:.2f}  intensity {emotion.intensity:.2f}"
        )


if __name__ == "__main__":
    main()
