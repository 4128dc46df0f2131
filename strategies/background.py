"""What the conversation is about: ESConv's problem type and emotion type read from what the
seeker said so far.

Two softmax regressions over one feature vector: the mean of the MiniLM embeddings of the
seeker's messages so far, beside the embedding of the latest one. Trained on ESConv train with
each dialogue seen after its first 1 to 5 seeker messages (so that early turns are learnt as
early turns), shipped as ``strategies/data/background_minilm.npz``. Trained on ESConv: **CC BY-NC
4.0**. ``attune train background`` reproduces it; ``attune eval appraisal`` measures it.

The classes are ESConv's labels as written there (``"job crisis"``, ``"ongoing depression"``...);
:data:`PROBLEM_WORDS` puts them in words for the chain of empathy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modalities.text.base import Embedder
from strategies.data import Dialogue
from strategies.linear import fit_softmax, softmax
from strategies.metrics import macro_f1

BACKGROUND_PATH = Path(__file__).with_name("data") / "background_minilm.npz"
#: How many of a dialogue's first seeker messages make training rows.
TRAIN_PREFIXES = 5
#: Classes with fewer training dialogues than this are folded into ``"other"``.
MIN_DIALOGUES = 15

#: ESConv's problem types, put in words ("they are going through ...").
PROBLEM_WORDS: dict[str, str] = {
    "ongoing depression": "a long stretch of depression",
    "job crisis": "trouble with work",
    "breakup with partner": "a break-up",
    "problems with friends": "trouble with friends",
    "academic pressure": "pressure at school or university",
    "Sleep Problems": "trouble sleeping",
    "other": "a difficult time",
}


def seeker_messages(dialogue: Dialogue) -> list[str]:
    """The seeker's messages, in order (consecutive ones kept apart)."""
    return [t.text.strip() for t in dialogue.turns if t.speaker == "seeker" and t.text.strip()]


@dataclass(frozen=True)
class BackgroundGuess:
    """The classifier's reading of one conversation so far."""

    problem_type: str
    problem_p: float
    emotion_type: str
    emotion_p: float


class BackgroundClassifier:
    """``guess(messages)``: the problem and emotion types of a conversation so far."""

    def __init__(
        self,
        embedder: Embedder,
        heads: dict[str, tuple[np.ndarray, np.ndarray]],
        classes: dict[str, list[str]],
    ) -> None:
        self.embedder = embedder
        self.heads = heads
        self.classes = classes

    @classmethod
    def load(cls, embedder: Embedder, path: Path = BACKGROUND_PATH) -> BackgroundClassifier:
        """The shipped (or a given) classifier."""
        with np.load(path) as data:
            heads = {k: (data[f"{k}_weights"], data[f"{k}_bias"]) for k in ("problem", "emotion")}
            classes = {k: [str(c) for c in data[f"{k}_classes"]] for k in ("problem", "emotion")}
        return cls(embedder, heads, classes)

    def save(self, path: Path = BACKGROUND_PATH) -> None:
        """Write the heads (float32, a few KB)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for k, (w, b) in self.heads.items():
            arrays[f"{k}_weights"], arrays[f"{k}_bias"] = w, b
            arrays[f"{k}_classes"] = np.array(self.classes[k])
        np.savez(path, **arrays)  # type: ignore[arg-type]

    def features(self, conversations: Sequence[Sequence[str]]) -> np.ndarray:
        """One row per conversation: mean of its messages' embeddings, then the last one's."""
        unique = sorted({m for c in conversations for m in c})
        vectors = np.asarray(self.embedder.embed(unique)) if unique else np.zeros((0, 384))
        lookup = dict(zip(unique, vectors, strict=True))
        dim = vectors.shape[1] if len(unique) else 384
        rows = np.zeros((len(conversations), 2 * dim), dtype=np.float32)
        for r, messages in enumerate(conversations):
            if messages:
                stack = np.stack([lookup[m] for m in messages])
                rows[r, :dim], rows[r, dim:] = stack.mean(axis=0), stack[-1]
        return rows

    def proba(self, conversations: Sequence[Sequence[str]], head: str) -> np.ndarray:
        """Probabilities of ``head`` ("problem" or "emotion"), one row per conversation."""
        weights, bias = self.heads[head]
        return softmax(self.features(conversations) @ weights + bias)

    def guess(self, messages: Sequence[str]) -> BackgroundGuess:
        """The most likely problem and emotion types of one conversation so far."""
        features = self.features([list(messages)])
        if features.shape[1] != self.heads["problem"][0].shape[0]:
            raise ValueError(
                f"the embedder gives {features.shape[1] // 2} dimensions; this classifier "
                f"was trained on {self.heads['problem'][0].shape[0] // 2} (MiniLM)"
            )
        out: dict[str, tuple[str, float]] = {}
        for head, (weights, bias) in self.heads.items():
            p = softmax(features @ weights + bias)[0]
            out[head] = (self.classes[head][int(p.argmax())], float(p.max()))
        return BackgroundGuess(*out["problem"], *out["emotion"])

    @classmethod
    def fit(cls, embedder: Embedder, dialogues: Sequence[Dialogue]) -> BackgroundClassifier:
        """Train both heads on ``dialogues`` (ESConv train)."""
        rows: list[list[str]] = []
        labels: dict[str, list[str]] = {"problem": [], "emotion": []}
        for d in dialogues:
            messages = seeker_messages(d)
            for n in range(1, min(TRAIN_PREFIXES, len(messages)) + 1):
                rows.append(messages[:n])
                labels["problem"].append(d.problem_type or "other")
                labels["emotion"].append(d.emotion_type or "other")
        model = cls(embedder, {}, {})
        x = model.features(rows)
        for head, values in labels.items():
            counts: dict[str, int] = {}
            for d in dialogues:
                key = (d.problem_type if head == "problem" else d.emotion_type) or "other"
                counts[key] = counts.get(key, 0) + 1
            keep = sorted(k for k, n in counts.items() if n >= MIN_DIALOGUES)
            classes = [*keep, "other"] if "other" not in keep else keep
            y = [classes.index(v) if v in keep else classes.index("other") for v in values]
            model.heads[head] = fit_softmax(x, y, len(classes), epochs=800)
            model.classes[head] = classes
        return model


def _macro_f1(pred: Sequence[str], gold: Sequence[str], classes: Sequence[str]) -> float:
    """Macro-F1 over the classes true or predicted at least once (:func:`macro_f1`)."""
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for p, g in zip(pred, gold, strict=True):
        confusion[index[g], index[p]] += 1
    return macro_f1(confusion)


def _accuracy(pred: Sequence[str], gold: Sequence[str]) -> float:
    return round(float(np.mean([a == b for a, b in zip(pred, gold, strict=True)])), 4)


def evaluate_background(
    classifier: BackgroundClassifier,
    dialogues: Sequence[Dialogue],
    majority: dict[str, str],
    prefixes: Sequence[int] = (1, 2, 3),
) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 of both heads after the first ``n`` seeker messages of each
    dialogue, beside the majority class of training (``majority[head]``). Labels the classifier
    folded into ``other`` are compared as ``other``."""
    report: dict[str, dict[str, float]] = {}
    for n in prefixes:
        usable = [d for d in dialogues if len(seeker_messages(d)) >= n]
        rows = [seeker_messages(d)[:n] for d in usable]
        for head in ("problem", "emotion"):
            classes = classifier.classes[head]
            gold = [
                (v if v in classes else "other")
                for v in (
                    (d.problem_type if head == "problem" else d.emotion_type) or "other"
                    for d in usable
                )
            ]
            p = classifier.proba(rows, head)
            pred = [classes[i] for i in p.argmax(axis=1)]
            base = [majority[head]] * len(gold)
            report[f"{head}_after_{n}"] = {
                "accuracy": _accuracy(pred, gold),
                "macro_f1": round(_macro_f1(pred, gold, classes), 4),
                "majority_accuracy": _accuracy(base, gold),
                "majority_macro_f1": round(_macro_f1(base, gold, classes), 4),
                "n": len(gold),
            }
    return report


def majority_classes(dialogues: Sequence[Dialogue]) -> dict[str, str]:
    """The most frequent problem and emotion type of ``dialogues``."""
    out = {}
    for head in ("problem", "emotion"):
        counts: dict[str, int] = {}
        for d in dialogues:
            key = (d.problem_type if head == "problem" else d.emotion_type) or "other"
            counts[key] = counts.get(key, 0) + 1
        out[head] = max(counts, key=lambda k: counts[k])
    return out
