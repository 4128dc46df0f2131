"""Shared fixtures. Nothing here reaches the network: hubs are forced offline."""

from __future__ import annotations

import os
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
