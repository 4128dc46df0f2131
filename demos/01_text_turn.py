"""01 · One empathetic text turn, end to end, offline.

A person types; Attune reads the emotion, reasons through the chain of empathy, picks an ESConv
strategy and answers, with the bundled models on CPU (GPU when present).

    python demos/01_text_turn.py "My dog died yesterday."
"""

import sys

from agent import Attune, load_settings


def main() -> None:
    text = " ".join(sys.argv[1:]) or "My dog died yesterday and the house feels so empty."
    with Attune(load_settings()) as bot:
        result = bot.turn(text)
    emotion, appraisal, strategy = result.text_emotion, result.appraisal, result.strategy
    assert emotion is not None and appraisal is not None and strategy is not None
    print(f"reply:    {result.reply}")
    print(f"emotion:  {', '.join(emotion.labels)} (valence {emotion.valence:+.2f})")
    print(f"strategy: {strategy.strategy} (p={strategy.probabilities[strategy.strategy]:.2f})")
    for line in appraisal.as_lines():
        print(f"  {line}")


if __name__ == "__main__":
    main()
