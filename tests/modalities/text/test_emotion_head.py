"""The shipped ``goemotions-head`` backend over the real MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attune import registry
from attune.errors import ConfigError, InputError, ModelNotFoundError
from attune.settings import AttuneSettings
from attune.types import TextEmotion
from modalities.text.emotion_head import (
    HEAD_FILE,
    META_FILE,
    GoEmotionsHead,
    resolve_head_path,
    shipped_artifacts_dir,
)
from modalities.text.labels import GOEMOTIONS_LABELS
from modalities.text.minilm import MiniLMEmbedder

SHIPPED = shipped_artifacts_dir() / HEAD_FILE


@pytest.fixture(scope="module")
def head(minilm: MiniLMEmbedder) -> GoEmotionsHead:
    if not SHIPPED.is_file():
        pytest.skip("no shipped head: run python -m modalities.text.training")
    recognizer = GoEmotionsHead(minilm)
    recognizer.load()
    return recognizer


def test_shipped_artifacts_are_small_and_described() -> None:
    assert SHIPPED.is_file()
    assert SHIPPED.stat().st_size <= 420_000
    meta = json.loads((shipped_artifacts_dir() / META_FILE).read_text())
    assert meta["labels"] == list(GOEMOTIONS_LABELS)
    assert set(meta["thresholds"]) == set(GOEMOTIONS_LABELS)
    assert 0 < meta["metrics"]["cross_fitted"]["macro_f1"] <= meta["metrics"]["macro_f1"]
    assert "Apache-2.0" in meta["licence"]
    assert "modalities.text.training" in meta["training"]["command"]


def test_from_settings_is_lazy_and_shares_the_embedder(tmp_path: Path) -> None:
    settings = AttuneSettings(device="cpu")
    embedder = MiniLMEmbedder(device="cpu")
    recognizer = registry.create("text_emotion", "goemotions-head", settings, embedder=embedder)
    assert isinstance(recognizer, GoEmotionsHead)
    assert recognizer.embedder is embedder
    assert not embedder.loaded
    assert recognizer.head_path == SHIPPED

    own = GoEmotionsHead.from_settings(settings)
    assert isinstance(own.embedder, MiniLMEmbedder)

    custom = AttuneSettings(device="cpu", text_emotion={"goemotions_head": {"head_path": tmp_path}})
    assert GoEmotionsHead.from_settings(custom).head_path == tmp_path / HEAD_FILE
    assert resolve_head_path(tmp_path / "x.safetensors") == tmp_path / "x.safetensors"


def test_missing_head_is_a_clear_error(tmp_path: Path) -> None:
    recognizer = GoEmotionsHead(MiniLMEmbedder(device="cpu"), tmp_path / "nope.safetensors")
    with pytest.raises(ModelNotFoundError, match=r"nope\.safetensors"):
        recognizer.analyze("hello there")


def test_head_without_metadata_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / HEAD_FILE).write_bytes(b"not really")
    recognizer = GoEmotionsHead(MiniLMEmbedder(device="cpu"), tmp_path)
    with pytest.raises(ModelNotFoundError, match=META_FILE):
        recognizer.load()
    (tmp_path / META_FILE).write_text("{broken")
    with pytest.raises(ConfigError, match="JSON"):
        recognizer.load()


@pytest.mark.slow
def test_grief_reads_as_sad_and_negative(head: GoEmotionsHead) -> None:
    emotion = head.analyze("My dog died yesterday")
    assert isinstance(emotion, TextEmotion)
    assert emotion.backend == "goemotions-head"
    top = sorted(emotion.scores, key=lambda k: emotion.scores[k], reverse=True)[:3]
    assert {"sadness", "grief"} & set(top), top
    assert emotion.valence < 0
    assert emotion.primary_ekman == "sadness"


@pytest.mark.slow
def test_joy_reads_positive(head: GoEmotionsHead) -> None:
    emotion = head.analyze("I got the job!! I'm so happy, this is the best day ever!")
    assert emotion.valence > 0.2
    assert emotion.primary_ekman == "joy"
    assert set(emotion.labels) & {"joy", "excitement", "admiration", "amusement"}


@pytest.mark.slow
def test_batch_equals_single(head: GoEmotionsHead) -> None:
    texts = ["Thank you so much for your help!", "Why would anyone do that?", "ok " * 600]
    batch = head.analyze_batch(texts)
    for text, together in zip(texts, batch, strict=True):
        alone = head.analyze(text)
        assert alone.labels == together.labels
        for label in GOEMOTIONS_LABELS:
            assert alone.scores[label] == pytest.approx(together.scores[label], abs=1e-4)
    assert head.analyze_batch([]) == []


@pytest.mark.slow
def test_bad_input_is_an_input_error(head: GoEmotionsHead) -> None:
    for bad in ("", "   \n\t"):
        with pytest.raises(InputError) as info:
            head.analyze(bad)
        assert info.value.code == "empty_text"
    with pytest.raises(InputError):
        head.analyze_batch(["fine", None])  # type: ignore[list-item]


@pytest.mark.slow
def test_probabilities_and_thresholds(head: GoEmotionsHead) -> None:
    probs = head.predict_proba(["This is disgusting.", "Cool, thanks."])
    assert probs.shape == (2, 28)
    assert probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()
    assert all(0 < t < 1 for t in head.thresholds.values())
