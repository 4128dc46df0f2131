"""The ``embedder`` contract: one finite, unit-length row per text, the same for the same text."""

from __future__ import annotations

import numpy as np
import pytest

from modalities.text.base import Embedder
from tests.conformance.backends import params

ROLE = "embedder"
pytestmark = pytest.mark.parametrize("backend", params(ROLE), indirect=True)

TEXTS = ["My dog died yesterday.", "I passed my exam!", "My dog died yesterday."]


def test_one_unit_row_per_text(backend: Embedder) -> None:
    assert isinstance(backend, Embedder)
    vectors = backend.embed(TEXTS)
    assert vectors.ndim == 2 and vectors.shape[0] == len(TEXTS) and vectors.shape[1] >= 8
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_the_same_text_gives_the_same_vector_and_others_differ(backend: Embedder) -> None:
    vectors = backend.embed(TEXTS)
    assert np.allclose(vectors[0], vectors[2], atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)
    alone = backend.embed(TEXTS[:1])
    assert np.allclose(alone[0], vectors[0], atol=1e-4)  # batching does not change a row
