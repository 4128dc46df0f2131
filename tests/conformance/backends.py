"""Every backend of every role, and how the conformance suite builds it.

One line per backend: ``CASES[role][name]`` is a function of pytest's ``tmp_path_factory`` that
returns the backend, built the way a deployment builds it (``registry.create`` with settings),
or a fake. A backend added to :data:`attune.registry.REGISTRY` without a line here fails
``test_every_registered_backend_is_in_the_suite``; a line is all it takes to run the role's
contract on it. Real backends carry the ``slow`` mark, fakes do not (``make test-fast``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from attune import registry
from attune.settings import AttuneSettings
from tests.fakes.backends import FakeEmbedder, FakeLLM, FakePlanner, FakeTextEmotion
from tests.fakes.media import FakeASR, FakeAvatar, FakeFace, FakeSpeechEmotion, FakeTTS

Builder = Callable[[pytest.TempPathFactory], Any]


def real(role: str, name: str, **settings: Any) -> Builder:
    """The registered backend ``name`` of ``role``, created from settings (CPU)."""

    def build(tmp: pytest.TempPathFactory) -> Any:
        return registry.create(role, name, AttuneSettings(device="cpu", **settings))

    return build


def _tiny_text_classifier(tmp: pytest.TempPathFactory) -> Any:
    from modalities.text.labels import GOEMOTIONS_LABELS
    from tests.modalities.text.test_hf_classifier import build_tiny_model

    path = build_tiny_model(tmp.mktemp("bert"), list(GOEMOTIONS_LABELS), multi_label=True)
    return real(
        "text_emotion", "transformers", text_emotion={"transformers": {"model_path": path}}
    )(tmp)


def _tiny_speech_classifier(tmp: pytest.TempPathFactory) -> Any:
    from tests.modalities.speech.test_hf_audio import build_tiny_model

    path = build_tiny_model(tmp.mktemp("wav2vec2"))
    return real("speech_emotion", "transformers", speech={"transformers": {"model_path": path}})(
        tmp
    )


def _tiny_onnx_face(tmp: pytest.TempPathFactory) -> Any:
    from attune.types import FER_LABELS
    from tests.modalities.face.onnx_builder import write_tiny_classifier

    labels = json.dumps(list(FER_LABELS))
    path = write_tiny_classifier(
        tmp.mktemp("onnx-fer") / "fer.onnx", len(FER_LABELS), metadata={"labels": labels}
    )
    return real("face", "onnx", face={"onnx": {"model_path": path}})(tmp)


def _piper(tmp: pytest.TempPathFactory) -> Any:
    pytest.importorskip("piper", reason="the optional piper backend (GPL-3.0) is not installed")
    return real("tts", "piper")(tmp)


#: What the fake LLM says: long enough for the contract's max_tokens and stop-string checks.
STORY = (
    "Once upon a time a brave young dragon lived alone on a cold grey mountain, and every "
    "morning she flew down to the village to help the people carry water from the river."
)


def _fake(cls: type, **kwargs: Any) -> Builder:
    return lambda tmp: cls(**kwargs)


CASES: dict[str, dict[str, Builder]] = {
    "embedder": {
        "minilm": real("embedder", "minilm"),
        "fake": _fake(FakeEmbedder),
    },
    "text_emotion": {
        "goemotions-head": real("text_emotion", "goemotions-head"),
        "transformers": _tiny_text_classifier,
        "fake": _fake(FakeTextEmotion),
    },
    "strategy_planner": {
        "prior": real("strategy_planner", "prior"),
        "trained": real("strategy_planner", "trained"),
        "llm": real("strategy_planner", "llm"),
        "fake": _fake(FakePlanner),
    },
    "llm": {
        "llamacpp": real("llm", "llamacpp"),
        "transformers": real("llm", "transformers"),
        "openai": real("llm", "openai"),  # the LLM conformance tests give it a llama.cpp server
        "fake": _fake(FakeLLM, replies=(STORY,)),
    },
    "asr": {
        "faster-whisper": real("asr", "faster-whisper"),
        "fake": _fake(FakeASR),
    },
    "speech_emotion": {
        "prosody": real("speech_emotion", "prosody"),
        "transformers": _tiny_speech_classifier,
        "fake": _fake(FakeSpeechEmotion),
    },
    "tts": {
        "hibari": real("tts", "hibari"),
        "piper": _piper,
        "espeak": real("tts", "espeak"),
        "fake": _fake(FakeTTS),
    },
    "face": {
        "tflite": real("face", "tflite"),
        "onnx": _tiny_onnx_face,
        "fake": _fake(FakeFace),
    },
    "avatar": {
        "portrait": real("avatar", "portrait"),
        "cartoon": real("avatar", "cartoon"),
        "fake": _fake(FakeAvatar),
    },
}


def params(role: str, *, skip: tuple[str, ...] = ()) -> list[Any]:
    """The pytest params of a role's backends: real ones marked slow."""
    return [
        pytest.param(name, id=name, marks=() if name == "fake" else pytest.mark.slow)
        for name in CASES[role]
        if name not in skip
    ]


def build(role: str, name: str, tmp: pytest.TempPathFactory) -> Any:
    return CASES[role][name](tmp)
