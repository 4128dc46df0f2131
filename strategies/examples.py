"""In-context examples for the ``example`` method of the LLM planner: the supporter turns of a
training file whose seeker message is most like the current one, with their strategies.

Each indexed turn is a supporter turn that answers the seeker (the message before it is the
seeker's); its key is the seeker's last block of messages (what they said since the supporter
last spoke), embedded with the sentence embedder (MiniLM by default). A query embeds the same
block of the current dialogue and takes the ``k`` nearest by cosine similarity.

The vectors can be cached in an ``.npz`` file named after the training file's size and time, so
the ~12,000 turns of ESConv's train split are embedded once (about a minute on 2 CPU cores).
The examples are ESConv text (CC BY-NC 4.0), read from the data file at run time and never
shipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import PlanningContext
from strategies.data import Dialogue, dialogue_samples, load_dialogues

EmbedFn = Callable[[Sequence[str]], np.ndarray]


def seeker_block(dialogue: Sequence[tuple[str, str]]) -> str:
    """The seeker's messages since the supporter last spoke, joined (``""`` if none)."""
    block: list[str] = []
    for speaker, text in reversed(dialogue):
        if speaker == "seeker":
            block.append(text.strip())
        elif block:
            break
    return " ".join(reversed(block))


class ExampleIndex:
    """Supporter turns keyed by the seeker's preceding message (see the module docstring)."""

    def __init__(
        self,
        texts: Sequence[str],
        strategies: Sequence[Strategy],
        vectors: np.ndarray,
        embed: EmbedFn,
    ) -> None:
        if not (len(texts) == len(strategies) == len(vectors)):
            raise ValueError("texts, strategies and vectors differ in length")
        self.texts = list(texts)
        self.strategies = list(strategies)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self._embed = embed

    @staticmethod
    def turns(dialogues: Sequence[Dialogue]) -> tuple[list[str], list[Strategy]]:
        """The indexed turns of ``dialogues``: (seeker block, strategy) of each supporter turn
        that directly follows the seeker."""
        texts: list[str] = []
        strategies: list[Strategy] = []
        for index, dialogue in enumerate(dialogues):
            for sample in dialogue_samples(dialogue, index):
                history = sample.context.dialogue
                if history and history[-1][0] == "seeker":
                    block = seeker_block(history)
                    if block:
                        texts.append(block)
                        strategies.append(sample.gold)
        return texts, strategies

    @classmethod
    def build(
        cls, path: Path | str, embed: EmbedFn, *, cache_dir: Path | None = None
    ) -> ExampleIndex:
        """Index the ESConv file at ``path`` (vectors cached in ``cache_dir`` if given)."""
        path = Path(path)
        texts, strategies = cls.turns(load_dialogues(path))
        cached: Path | None = None
        if cache_dir is not None:
            stat = path.stat()
            tag = hashlib.sha256(
                f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{len(texts)}".encode()
            ).hexdigest()[:16]
            cached = Path(cache_dir) / f"examples-{tag}.npz"
            if cached.is_file():
                with np.load(cached) as data:
                    vectors = data["vectors"]
                if len(vectors) == len(texts):
                    return cls(texts, strategies, vectors, embed)
        vectors = (
            np.concatenate([embed(texts[i : i + 256]) for i in range(0, len(texts), 256)])
            if texts
            else np.zeros((0, 1), dtype=np.float32)
        )
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(cached, vectors=vectors.astype(np.float16))
        return cls(texts, strategies, vectors, embed)

    def __len__(self) -> int:
        return len(self.texts)

    def nearest(self, context: PlanningContext, k: int) -> list[tuple[str, Strategy]]:
        """The ``k`` indexed turns nearest to the current seeker block (most similar first;
        ties to the earlier turn). Empty when the dialogue has no seeker message yet."""
        query = seeker_block(context.dialogue)
        if not query or not self.texts or k <= 0:
            return []
        vector = np.asarray(self._embed([query]), dtype=np.float32)[0]
        scores = self.vectors.astype(np.float32) @ vector
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.texts[i], self.strategies[i]) for i in order]

    def strategy_counts(self) -> dict[Strategy, int]:
        """How many indexed turns used each strategy."""
        return {s: sum(1 for x in self.strategies if x is s) for s in STRATEGIES}
