"""Which strategy a reply's wording carries: a classifier over the reply text alone.

Used to measure **strategy adherence** (did the reply do what the planner asked?). A softmax
regression over MiniLM sentence embeddings, trained on every ESConv train supporter utterance
with its annotated strategy (cross-entropy, L2; class-balanced weighting was tried and lost 5
points of accuracy on valid), shipped as ``strategies/data/adherence_minilm.npz``. Accuracy on
ESConv valid: 0.504 over 8 classes (TF-IDF bigrams with logistic regression reached 0.545 but
would ship a vocabulary; the majority class is 0.2). Trained on ESConv: CC BY-NC 4.0.
``attune train adherence`` reproduces it and prints its accuracy on valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from attune.taxonomy import STRATEGIES, Strategy
from modalities.text.base import Embedder
from strategies.data import Dialogue, load_dialogues
from strategies.linear import fit_softmax, softmax

ADHERENCE_PATH = Path(__file__).with_name("data") / "adherence_minilm.npz"


def supporter_utterances(dialogues: Sequence[Dialogue]) -> tuple[list[str], list[Strategy]]:
    """Every annotated supporter utterance and its strategy."""
    texts, labels = [], []
    for dialogue in dialogues:
        for turn in dialogue.turns:
            if turn.speaker == "supporter" and turn.strategy is not None and turn.text.strip():
                texts.append(turn.text.strip())
                labels.append(turn.strategy)
    return texts, labels


class StrategyClassifier:
    """``predict_proba(texts)`` -> (n, 8) probabilities in :data:`STRATEGIES` order."""

    def __init__(self, embedder: Embedder, weights: np.ndarray, bias: np.ndarray) -> None:
        if weights.shape[1] != len(STRATEGIES):
            raise ValueError("one weight column per strategy")
        self.embedder = embedder
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)

    @classmethod
    def load(cls, embedder: Embedder, path: Path = ADHERENCE_PATH) -> StrategyClassifier:
        """The shipped (or a given) classifier."""
        with np.load(path) as data:
            return cls(embedder, data["weights"], data["bias"])

    def save(self, path: Path = ADHERENCE_PATH) -> None:
        """Write the weights (float32, a few KB)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, weights=self.weights, bias=self.bias)

    def proba_of_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """Probabilities from sentence embeddings already computed."""
        return softmax(vectors @ self.weights + self.bias)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities for each text."""
        return self.proba_of_vectors(np.asarray(self.embedder.embed(list(texts))))

    def predict(self, texts: Sequence[str]) -> list[Strategy]:
        """The most likely strategy of each text."""
        return [STRATEGIES[i] for i in self.predict_proba(texts).argmax(axis=1)]

    @classmethod
    def fit(
        cls,
        embedder: Embedder,
        vectors: np.ndarray,
        labels: Sequence[Strategy],
        *,
        l2: float = 1e-4,
        epochs: int = 1500,
        lr: float = 2.0,
    ) -> StrategyClassifier:
        """Full-batch gradient descent on the cross-entropy (deterministic: zeros to start)."""
        y = [STRATEGIES.index(s) for s in labels]
        weights, bias = fit_softmax(vectors, y, len(STRATEGIES), l2=l2, epochs=epochs, lr=lr)
        return cls(embedder, weights, bias)


def accuracy(
    classifier: StrategyClassifier, texts: Sequence[str], labels: Sequence[Strategy]
) -> dict[str, float]:
    """Accuracy and macro-F1 on labelled utterances."""
    pred = classifier.predict(texts)
    acc = float(np.mean([p == g for p, g in zip(pred, labels, strict=True)]))
    f1s = []
    for s in STRATEGIES:
        tp = sum(p == s and g == s for p, g in zip(pred, labels, strict=True))
        fp = sum(p == s and g != s for p, g in zip(pred, labels, strict=True))
        fn = sum(p != s and g == s for p, g in zip(pred, labels, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": round(acc, 4), "macro_f1": round(float(np.mean(f1s)), 4), "n": len(labels)}


def train_adherence(
    embedder: Embedder, train_path: Path, valid_path: Path | None = None
) -> tuple[StrategyClassifier, dict[str, float]]:
    """Fit on ``train_path`` (ESConv, either format); the figures on ``valid_path`` if given."""
    texts, labels = supporter_utterances(load_dialogues(train_path))
    classifier = StrategyClassifier.fit(embedder, np.asarray(embedder.embed(texts)), labels)
    report: dict[str, float] = {"train_n": len(texts)}
    if valid_path is not None:
        v_texts, v_labels = supporter_utterances(load_dialogues(valid_path))
        report.update({f"valid_{k}": v for k, v in accuracy(classifier, v_texts, v_labels).items()})
    return classifier, report
