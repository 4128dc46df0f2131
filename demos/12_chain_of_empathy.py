"""12 · The chain of empathy, grounded in what the person said.

A short conversation; under each reply, the four steps Attune used (event -> emotion -> cause
-> goal) and where each came from: ``dialogue`` (the person's own words, in the third person)
or ``perception`` (the emotion readings). No LLM call is made for it: the event's kind of
problem comes from a small classifier over the person's first messages (trained on ESConv,
CC BY-NC 4.0). Then the same words with a smiling photo: the words carry what happened, and
the smile is reported as mixed signals.

    python demos/12_chain_of_empathy.py
"""

import tempfile
from pathlib import Path

from agent import Attune, load_settings

SAID = [
    "Hi.",
    "I lost my job last week after eight years there.",
    "I guess I'm fine, really. I just haven't told my wife yet.",
]
PORTRAIT = (
    Path(__file__).resolve().parent.parent / "modalities" / "avatar" / "assets" / "portrait.jpg"
)


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as state,
        Attune(load_settings(paths={"state_dir": state})) as bot,
    ):
        for text in SAID:
            result = bot.turn(text, "demo")
            print(f"\nperson: {text}\nattune: {result.reply}")
            chain = result.appraisal
            assert chain is not None
            for step in ("event", "emotion", "cause", "goal"):
                print(f"  {step} ({chain.sources[step]}): {getattr(chain, step)}")
            llm_calls = [k for k in result.timings_ms if k == "appraise_llm"]
            print(f"  LLM calls for the chain: {len(llm_calls)}")

        smiling = bot.turn(SAID[1], "demo-photo", image=PORTRAIT.read_bytes())
        affect = smiling.affect
        assert affect is not None
        print(f"\nwith a smiling photo: fused {affect.label}, valence {affect.valence:+.2f}, "
              f"incongruent {affect.incongruent}, cues {affect.cues}")  # fmt: skip
        print(f"  {affect.explanation}")


if __name__ == "__main__":
    main()
