"""The fine-tuned crisis classifier (``agent/safety/tuned.py``): the shipped adapter is the
detector's default, it reads text differently from the frozen network, a stale adapter is not
used, and training resumes from its checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.safety.detector import CrisisDetector, bank_digest, load_bank
from agent.safety.tuned import SHIPPED_TUNED, TunedClassifier, train_tuned

pytestmark = pytest.mark.slow

SAMPLE = [
    "I've been putting aside my sleeping pills for a few weeks now.",
    "My nephew swallowed something from the cleaning cupboard.",
    "I had a lovely walk by the river today.",
    "Work is stressful but I'm coping.",
]


@pytest.fixture(scope="module")
def detectors():
    from modalities.text.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    return CrisisDetector(embedder), CrisisDetector(embedder, tuned=False)


def test_the_tuned_route_is_only_taken_over_the_bundled_minilm():
    from tests.fakes import FakeEmbedder

    assert CrisisDetector(FakeEmbedder()).info()["classifier"] == "frozen"


def test_the_shipped_adapter_is_the_default_and_fits_the_bank(detectors):
    tuned, frozen = detectors
    assert SHIPPED_TUNED.is_file() and SHIPPED_TUNED.stat().st_size < 2_000_000
    assert tuned.classifier is not None and tuned.classifier.kind == "tuned"
    assert frozen.classifier is not None and frozen.classifier.kind == "frozen"
    assert tuned.info()["classifier"] == "tuned"
    assert tuned.classifier.cv["licence"] == "CC BY-NC 4.0"


def test_the_adapter_changes_what_is_read(detectors):
    from agent.safety.patterns import literalise

    tuned, frozen = detectors
    segments = [literalise(t) for t in SAMPLE]
    assert tuned.classifier is not None and frozen.classifier is not None
    a = tuned.classifier.scores(segments, tuned.embedder)
    b = frozen.classifier.scores(segments, frozen.embedder)
    assert a.shape == b.shape == (4, 7) and np.allclose(a.sum(axis=1), 1.0, atol=1e-4)
    assert np.abs(a - b).max() > 0.05  # a different model, not the frozen one under a name
    for text in SAMPLE[2:]:  # ordinary days stay "none"
        assert tuned.assess(text).tier == "none", text


def test_a_stale_adapter_is_not_used(tmp_path: Path):
    classifier = TunedClassifier.load()
    assert classifier is not None
    stale = tmp_path / "stale.npz"
    classifier.save(stale, bank_sha256="0" * 64, base_sha256="whatever")
    assert TunedClassifier.load(stale) is None
    wrong_base = tmp_path / "base.npz"
    classifier.save(wrong_base, bank_sha256=bank_digest(), base_sha256="0" * 64)
    assert TunedClassifier.load(wrong_base) is None


def test_training_checkpoints_each_epoch_and_resumes(tmp_path: Path, capsys):
    texts, labels = load_bank()
    rows = np.concatenate([np.flatnonzero(labels == k)[:12] for k in range(7)])
    negatives = ["I made pasta for dinner.", "The bus was late again.", "I like my new desk."] * 20
    train_texts = [texts[i] for i in rows] + negatives
    train_labels = np.concatenate([labels[rows], np.zeros(len(negatives), dtype=np.int64)])
    corpus = np.concatenate([np.zeros(len(rows), bool), np.ones(len(negatives), bool)])
    checkpoint = tmp_path / "ckpt.pt"
    said: list[str] = []
    train_tuned(
        train_texts, train_labels, corpus, checkpoint=checkpoint, epochs=1,
        train_negatives=40, progress=said.append,
    )  # fmt: skip
    assert checkpoint.is_file() and any(m.startswith("epoch 1/1") for m in said)
    said.clear()
    tuned = train_tuned(
        train_texts, train_labels, corpus, checkpoint=checkpoint, epochs=2,
        train_negatives=40, progress=said.append,
    )  # fmt: skip
    assert said[0] == "resumed after epoch 1" and any(m.startswith("epoch 2/2") for m in said)
    assert not any(m.startswith("epoch 1/") for m in said)
    assert 0 < tuned.concern_threshold <= 0.5 and set(tuned.crisis_thresholds) == {
        "suicidal_ideation", "self_harm", "harm_to_others", "abuse_violence", "medical_emergency",
    }  # fmt: skip
