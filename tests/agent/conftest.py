"""Fixtures shared by the agent tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder():
    """The configured (bundled MiniLM) embedder, loaded once."""
    from agent import load_settings
    from attune import registry

    settings = load_settings()
    emb = registry.create("embedder", settings.backends.embedder, settings)
    emb.load()
    return emb
