"""The ``transformers`` speech-emotion backend on a tiny randomly initialised model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attune.errors import ModelNotFoundError
from attune.settings import AttuneSettings
from attune.types import Audio
from modalities.speech.hf_audio import TransformersSpeechEmotion, label_affect

pytestmark = pytest.mark.slow  # real models (tests/conftest.py fails an unmarked one)

LABELS = ["ang", "Happy", "neutral", "sad", "something-else"]


def build_tiny_model(path: Path) -> Path:
    """Save a 1-layer, randomly initialised wav2vec2 classifier over :data:`LABELS` at ``path``."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16, 16),
        conv_kernel=(10, 3),
        conv_stride=(5, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        classifier_proj_size=8,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    transformers.Wav2Vec2ForSequenceClassification(config).save_pretrained(path)
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-ser"))


def test_label_table() -> None:
    assert label_affect("ANG") == label_affect("angry")
    assert label_affect("hap")[1] > 0.5 and label_affect("sadness")[1] < -0.5
    assert label_affect("angry")[0] > label_affect("sad")[0]
    assert label_affect("unheard-of") == label_affect("neutral")


def test_tiny_model_gives_a_speech_emotion(tiny_model: Path) -> None:
    settings = AttuneSettings(device="cpu", speech={"transformers": {"model_path": tiny_model}})
    backend = TransformersSpeechEmotion.from_settings(settings)
    rng = np.random.default_rng(0)
    audio = Audio((rng.standard_normal(24000) * 0.1).astype(np.float32), 24000)
    emotion = backend.analyze(audio)
    assert list(emotion.scores) == LABELS
    assert sum(emotion.scores.values()) == pytest.approx(1.0, abs=1e-5)
    expected_arousal = sum(p * label_affect(k)[0] for k, p in emotion.scores.items())
    assert emotion.arousal == pytest.approx(expected_arousal, abs=1e-6)
    assert emotion.confidence == pytest.approx(max(emotion.scores.values()))
    assert emotion.backend == "transformers" and emotion.features is not None


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    backend = TransformersSpeechEmotion.from_settings(AttuneSettings(device="cpu"))
    with pytest.raises(ModelNotFoundError, match="SPEECH__TRANSFORMERS__MODEL_PATH"):
        backend.load()
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        TransformersSpeechEmotion(tmp_path).load()
