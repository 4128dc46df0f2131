"""Softmax regression over sentence embeddings: the small heads that read ESConv text (the
reply-strategy classifier, the background classifier). Deterministic full-batch gradient
descent on the cross-entropy with L2, from zeros."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fit_softmax(
    vectors: np.ndarray,
    labels: Sequence[int],
    classes: int,
    *,
    l2: float = 1e-4,
    epochs: int = 1500,
    lr: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(dim, classes)`` and bias ``(classes,)`` (float32)."""
    y = np.asarray(labels)
    sample_w = np.full(len(y), 1.0 / max(1, len(y)))
    x = vectors.astype(np.float64)
    weights = np.zeros((x.shape[1], classes))
    bias = np.zeros(classes)
    onehot = np.eye(classes)[y]
    for _ in range(epochs):
        p = softmax(x @ weights + bias)
        grad = (p - onehot) * sample_w[:, None]
        weights -= lr * (x.T @ grad + l2 * weights)
        bias -= lr * grad.sum(axis=0)
    return weights.astype(np.float32), bias.astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))
