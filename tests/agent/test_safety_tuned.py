"""The fine-tuned crisis classifier (``agent/safety/tuned.py``, opt-in: none ships). Trained
here on a slice of the bank: it saves and loads, reads text differently from the frozen network,
a stale adapter is not used, training resumes from its checkpoint, and the detector falls back
to the frozen classifier when no adapter is installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.safety.detector import CrisisDetector, bank_digest, load_bank
from agent.safety.tuned import (
    SHIPPED_TUNED,
    TunedClassifier,
    base_fingerprint,
    encoder_dir,
    train_tuned,
)

pytestmark = pytest.mark.slow

SAMPLE = [
    "I've been putting aside my sleeping pills for a few weeks now.",
    "My nephew swallowed something from the cleaning cupboard.",
    "I had a lovely walk by the river today.",
    "Work is stressful but I'm coping.",
]


def _slice() -> tuple[list[str], np.ndarray, np.ndarray]:
    texts, labels = load_bank()
    rows = np.concatenate([np.flatnonzero(labels == k)[:12] for k in range(7)])
    negatives = ["I made pasta for dinner.", "The bus was late again.", "I like my new desk."] * 20
    train_texts = [texts[i] for i in rows] + negatives
    train_labels = np.concatenate([labels[rows], np.zeros(len(negatives), dtype=np.int64)])
    corpus = np.concatenate([np.zeros(len(rows), bool), np.ones(len(negatives), bool)])
    return train_texts, train_labels, corpus


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels, corpus = _slice()
    tuned = train_tuned(texts, labels, corpus, epochs=1, train_negatives=40)
    path = tmp_path_factory.mktemp("tuned") / "adapter.npz"
    tuned.save(path, bank_sha256=bank_digest(), base_sha256=base_fingerprint(encoder_dir()))
    return path


def test_no_adapter_ships_and_the_detector_reads_with_the_frozen_classifier():
    from modalities.text.minilm import MiniLMEmbedder

    assert not SHIPPED_TUNED.is_file()
    detector = CrisisDetector(MiniLMEmbedder())
    assert detector.info()["classifier"] == detector.info()["crisis_classifier"] == "frozen"


def test_an_adapter_saves_loads_and_reads_text_its_own_way(adapter: Path):
    from agent.safety.patterns import literalise
    from modalities.text.minilm import MiniLMEmbedder

    assert adapter.stat().st_size < 2_000_000
    tuned = TunedClassifier.load(adapter)
    assert tuned is not None and tuned.kind == "tuned"
    frozen = CrisisDetector(MiniLMEmbedder(), tuned=False).classifier
    assert frozen is not None and frozen.kind == "frozen"
    segments = [literalise(t) for t in SAMPLE]
    a = tuned.scores(segments)
    b = frozen.scores(segments, MiniLMEmbedder())
    assert a.shape == b.shape == (4, 7) and np.allclose(a.sum(axis=1), 1.0, atol=1e-4)
    assert np.abs(a - b).max() > 0.05  # a different model, not the frozen one under a name


def test_a_stale_adapter_is_not_used(adapter: Path, tmp_path: Path):
    classifier = TunedClassifier.load(adapter)
    assert classifier is not None
    stale = tmp_path / "stale.npz"
    classifier.save(stale, bank_sha256="0" * 64, base_sha256="whatever")
    assert TunedClassifier.load(stale) is None
    wrong_base = tmp_path / "base.npz"
    classifier.save(wrong_base, bank_sha256=bank_digest(), base_sha256="0" * 64)
    assert TunedClassifier.load(wrong_base) is None


def test_training_checkpoints_each_epoch_and_resumes(tmp_path: Path):
    texts, labels, corpus = _slice()
    checkpoint = tmp_path / "ckpt.pt"
    said: list[str] = []
    train_tuned(
        texts, labels, corpus, checkpoint=checkpoint, epochs=1, train_negatives=40,
        progress=said.append,
    )  # fmt: skip
    assert checkpoint.is_file() and any(m.startswith("epoch 1/1") for m in said)
    said.clear()
    tuned = train_tuned(
        texts, labels, corpus, checkpoint=checkpoint, epochs=2, train_negatives=40,
        progress=said.append,
    )  # fmt: skip
    assert said[0] == "resumed after epoch 1" and any(m.startswith("epoch 2/2") for m in said)
    assert not any(m.startswith("epoch 1/") for m in said)
    assert 0 < tuned.concern_threshold <= 0.5 and set(tuned.crisis_thresholds) == {
        "suicidal_ideation", "self_harm", "harm_to_others", "abuse_violence", "medical_emergency",
    }  # fmt: skip
