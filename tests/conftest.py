"""Shared fixtures. Nothing here reaches the network: hubs are forced offline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("ATTUNE_TEST_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own state dir, so no session file leaks between tests."""
    monkeypatch.setenv("ATTUNE_PATHS__STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("ATTUNE_CONFIG", raising=False)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "goemotions").is_dir():
        pytest.skip(f"shared data not found at {DATA_DIR} (set ATTUNE_TEST_DATA)")
    return DATA_DIR


@pytest.fixture(autouse=True)
def _real_models_only_in_slow_tests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The fast tier (``make test-fast``: not ``slow``) runs on fakes and pure logic: a test
    there that loads a real backend (through :meth:`Loadable.load`, where every backend
    loads) fails, saying to mark it slow."""
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    from attune.lifecycle import Loadable

    original = Loadable.load
    loaded: list[str] = []

    def guarded(self: Loadable) -> None:
        was_loaded = self.loaded
        original(self)  # a load that fails (a missing model's clear error) loads nothing
        cls = type(self)
        real = cls.loads_weights and cls._load is not Loadable._load
        if real and not was_loaded and not cls.__module__.startswith("tests."):
            loaded.append(cls.__name__)

    monkeypatch.setattr(Loadable, "load", guarded)
    yield
    if loaded:
        pytest.fail(f"loads real models ({', '.join(sorted(set(loaded)))}): mark it slow")
