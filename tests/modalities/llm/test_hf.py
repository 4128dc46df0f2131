"""The transformers backend: stop strings, model-source errors, and the bundled GGUF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from attune.errors import ModelNotFoundError
from attune.settings import AttuneSettings, LLMSettings
from attune.types import ChatMessage, GenerationParams
from modalities.llm.hf import StopScanner, TransformersLLM


def _scan(pieces: list[str], stops: tuple[str, ...]) -> str:
    scanner = StopScanner(stops)
    return "".join(scanner.feed(p) for p in pieces) + scanner.flush()


@pytest.mark.parametrize(
    ("pieces", "stops", "expected"),
    [
        (["Hello", " wor", "ld"], (), "Hello world"),
        (["Hello", "\nUs", "er: hi"], ("\nUser:",), "Hello"),
        (["Hello", "\nUs", "ually"], ("\nUser:",), "Hello\nUsually"),
        (["a", "b", "STOP", "c"], ("STOP", "b"), "a"),
        (["x<|im", "_end|>y"], ("<|im_end|>",), "x"),
        (["tail<"], ("<|im_end|>",), "tail<"),
    ],
)
def test_stop_scanner(pieces: list[str], stops: tuple[str, ...], expected: str) -> None:
    assert _scan(pieces, stops) == expected


def test_stop_scanner_holds_back_only_possible_stop_prefixes() -> None:
    scanner = StopScanner(["\nUser:"])
    assert scanner.feed("Hi there\n") == "Hi there"
    assert scanner.feed("Use") == ""
    assert scanner.feed("ful") == "\nUseful"
    assert not scanner.stopped


def test_from_settings_takes_the_llm_settings(tmp_path: Path) -> None:
    settings = AttuneSettings(device="cpu", llm=LLMSettings(model_path=tmp_path, threads=2))
    llm = TransformersLLM.from_settings(settings)
    assert (llm.model_path, llm.device, llm.threads) == (tmp_path, "cpu", 2)
    assert not llm.loaded and not llm.capabilities.json_schema


def test_a_directory_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        TransformersLLM(tmp_path, device="cpu").load()
    with pytest.raises(ModelNotFoundError, match="not found"):
        TransformersLLM(tmp_path / "absent", device="cpu").load()


@pytest.mark.slow
def test_bundled_gguf_loads_and_streams(transformers_llm: Any) -> None:
    assert transformers_llm.loaded
    messages = [ChatMessage(role="user", content="Say something kind to a sad friend.")]
    pieces = list(transformers_llm.stream(messages, GenerationParams(max_tokens=12, seed=3)))
    assert len(pieces) >= 2 and "".join(pieces).strip()
    assert "<|im_end|>" not in "".join(pieces)
