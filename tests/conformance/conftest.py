"""The conformance suite: one module per role, each test run over every backend of the role in
``backends.py`` (real ones once per module: loading is the slow part)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.backends import build


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The backend ``request.param`` of the module's ``ROLE``, loaded."""
    made = build(request.module.ROLE, request.param, tmp_path_factory)
    loader = getattr(made, "load", None)
    if callable(loader):
        loader()
    return made
