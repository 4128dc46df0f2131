"""The ``transformers`` backend on tiny, randomly initialised BERT models built here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from attune import registry
from attune.errors import ConfigError, InputError, ModelNotFoundError
from attune.settings import AttuneSettings
from attune.types import TextEmotion
from modalities.text.hf_classifier import TransformersTextEmotion, map_labels
from modalities.text.labels import GOEMOTIONS_LABELS

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)

WORDS = "i am so happy sad angry my dog died today this is great terrible ok thanks the a"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS.split(" ")]


def build_tiny_model(
    root: Path, labels: list[str], *, multi_label: bool, **config_extra: Any
) -> Path:
    """Save a 1-layer BERT classifier with ``labels`` and a 25-word tokenizer under ``root``."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    root.mkdir(parents=True, exist_ok=True)
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    tokenizer = BertTokenizer(vocab_file=str(vocab), do_lower_case=True)
    config = BertConfig(  # type: ignore[call-arg]  # num_labels is a PretrainedConfig kwarg
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
        **config_extra,
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.save_pretrained(str(root))
    tokenizer.save_pretrained(str(root))
    return root


@pytest.fixture(scope="module")
def goemotions_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(
        tmp_path_factory.mktemp("goemotions-bert"), list(GOEMOTIONS_LABELS), multi_label=True
    )


def make(path: Path | None, **kwargs: Any) -> TransformersTextEmotion:
    settings = AttuneSettings(
        device="cpu", text_emotion={"transformers": {"model_path": path, **kwargs}}
    )
    recognizer = registry.create("text_emotion", "transformers", settings)
    assert isinstance(recognizer, TransformersTextEmotion)
    return recognizer


def test_goemotions_labels_multi_label(goemotions_dir: Path) -> None:
    recognizer = make(goemotions_dir)
    emotions = recognizer.analyze_batch(["I am so happy today", "my dog died " * 100])
    assert len(emotions) == 2
    for emotion in emotions:
        assert isinstance(emotion, TextEmotion)
        assert emotion.backend == "transformers"
        assert set(emotion.scores) == set(GOEMOTIONS_LABELS)
        assert emotion.labels
        assert -1 <= emotion.valence <= 1
    assert recognizer.multi_label
    assert recognizer.labels == list(GOEMOTIONS_LABELS)
    assert recognizer.thresholds["joy"] == 0.5
    single = recognizer.analyze("I am so happy today")
    assert single.scores["joy"] == pytest.approx(emotions[0].scores["joy"], abs=1e-5)


def test_default_threshold_from_settings(goemotions_dir: Path) -> None:
    recognizer = make(goemotions_dir, default_threshold=0.05)
    assert set(recognizer.thresholds.values()) == {0.05}
    # With a tiny threshold nearly every sigmoid passes.
    assert len(recognizer.analyze("this is great").labels) > 5


def test_ekman_labels_are_mapped_softmax(tmp_path: Path) -> None:
    ekman = ["Anger", "disgust", "fear", "happiness", "Sadness", "surprise", "neutral"]
    path = build_tiny_model(
        tmp_path / "ekman", ekman, multi_label=False, thresholds={"happiness": 0.3}
    )
    recognizer = make(path)
    assert not recognizer.multi_label
    assert recognizer.labels == [
        "anger",
        "disgust",
        "fear",
        "joy",
        "sadness",
        "surprise",
        "neutral",
    ]
    assert recognizer.thresholds["joy"] == 0.3
    emotion = recognizer.analyze("this is terrible")
    mapped = {"anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"}
    assert sum(emotion.scores[k] for k in mapped) == pytest.approx(1.0, abs=1e-4)
    assert emotion.scores["grief"] == 0.0


def test_threshold_list_from_config(tmp_path: Path) -> None:
    path = build_tiny_model(
        tmp_path / "m", ["joy", "sadness"], multi_label=True, thresholds=[0.2, 0.7]
    )
    recognizer = make(path)
    assert recognizer.thresholds["joy"] == 0.2
    assert recognizer.thresholds["sadness"] == 0.7


def test_unknown_labels_are_a_clear_error(tmp_path: Path) -> None:
    path = build_tiny_model(tmp_path / "sentiment", ["positive", "negative"], multi_label=False)
    with pytest.raises(ConfigError, match="'positive', 'negative'"):
        make(path).load()
    with pytest.raises(ConfigError):
        map_labels({0: "LABEL_0", 1: "joy"})


def test_missing_or_unset_dir(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="ATTUNE_TEXT_EMOTION__TRANSFORMERS__MODEL_PATH"):
        make(None).load()
    with pytest.raises(ModelNotFoundError, match="not found"):
        make(tmp_path / "absent").analyze("hello")
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        make(tmp_path).load()


def test_bad_input(goemotions_dir: Path) -> None:
    recognizer = make(goemotions_dir)
    with pytest.raises(InputError) as info:
        recognizer.analyze("  ")
    assert info.value.code == "empty_text"
    with pytest.raises(InputError):
        recognizer.analyze_batch([1])  # type: ignore[list-item]
