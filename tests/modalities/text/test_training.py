"""Training the head on a small subset, and the GoEmotions TSV reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attune.errors import ConfigError, InputError
from attune.settings import AttuneSettings
from modalities.text.emotion_head import HEAD_FILE, META_FILE, GoEmotionsHead
from modalities.text.labels import GOEMOTIONS_LABELS
from modalities.text.minilm import MiniLMEmbedder
from modalities.text.training import (
    cross_fitted_macro_f1,
    f1_scores,
    read_goemotions_tsv,
    train_head,
    tune_thresholds,
)


def test_reader_parses_rows(tmp_path: Path) -> None:
    tsv = tmp_path / "ok.tsv"
    tsv.write_text("I love it\t18,17\tid1\n\nmeh\t27\tid2\nno id column\t3\n")
    assert read_goemotions_tsv(tsv) == [
        ("I love it", [18, 17]),
        ("meh", [27]),
        ("no id column", [3]),
    ]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("fine\t1\tid\nbroken line without tabs\n", ":2: expected 2 or 3"),
        ("fine\t1\tid\nbad\t1,x\tid\n", ":2: label ids"),
        ("fine\t28\tid\n", ":1: label ids"),
        ("\t1\tid\n", ":1: the text field is empty"),
        ("text\t\tid\n", ":1: the label field is empty"),
        ("a\tb\tc\td\n", ":1: expected 2 or 3"),
        ("\n\n", "no data rows"),
    ],
)
def test_reader_names_the_bad_line(tmp_path: Path, content: str, needle: str) -> None:
    tsv = tmp_path / "bad.tsv"
    tsv.write_text(content)
    with pytest.raises(InputError) as info:
        read_goemotions_tsv(tsv)
    assert needle in str(info.value)
    assert info.value.code == "bad_data"


def test_reader_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_goemotions_tsv(tmp_path / "absent.tsv")
    binary = tmp_path / "bin.tsv"
    binary.write_bytes(b"\xff\xfe\x00abc\t1\n")
    with pytest.raises(InputError, match="UTF-8"):
        read_goemotions_tsv(binary)


def test_threshold_tuning_and_metrics() -> None:
    rng = np.random.default_rng(0)
    gold = rng.random((400, 28)) < 0.1
    probs = np.clip(gold * 0.4 + rng.random((400, 28)) * 0.5, 0, 1)
    thresholds = tune_thresholds(probs, gold)
    assert thresholds.shape == (28,)
    tuned = f1_scores(probs >= thresholds, gold)
    assert tuned["macro_f1"] >= f1_scores(probs >= 0.5, gold)["macro_f1"]
    honest = cross_fitted_macro_f1(probs, gold, repeats=2)
    assert 0 < honest["macro_f1"] <= tuned["macro_f1"] + 0.05
    perfect = f1_scores(gold, gold)
    assert perfect["micro_f1"] == 1.0
    assert set(perfect["per_label"]) == set(GOEMOTIONS_LABELS)


@pytest.mark.slow
def test_train_small_subset_writes_loadable_artifacts(
    minilm: MiniLMEmbedder, data_dir: Path, tmp_path: Path
) -> None:
    goemotions = data_dir / "goemotions"
    out = tmp_path / "head"
    cache = tmp_path / "cache"
    metrics = train_head(
        goemotions / "train.tsv",
        goemotions / "dev.tsv",
        out,
        embedder=minilm,
        limit=300,
        epochs=2,
        progress=False,
        cache_dir=cache,
    )
    for key in ("macro_f1", "micro_f1", "per_label", "n", "cross_fitted"):
        assert key in metrics
    assert metrics["n"] == 300
    assert 0.0 <= metrics["macro_f1"] <= 1.0
    assert len(list(cache.glob("*.npy"))) == 2
    meta = json.loads((out / META_FILE).read_text())
    assert meta["labels"] == list(GOEMOTIONS_LABELS)
    assert meta["training"]["limit"] == 300

    settings = AttuneSettings(
        device="cpu", text_emotion={"goemotions_head": {"head_path": out / HEAD_FILE}}
    )
    head = GoEmotionsHead.from_settings(settings, embedder=minilm)
    emotions = head.analyze_batch(["That is hilarious", "I'm scared of the dark"])
    assert len(emotions) == 2
    assert all(e.labels and e.backend == "goemotions-head" for e in emotions)

    # A rerun reuses the cached features and is deterministic.
    again = train_head(
        goemotions / "train.tsv",
        goemotions / "dev.tsv",
        tmp_path / "again",
        embedder=minilm,
        limit=300,
        epochs=2,
        progress=False,
        cache_dir=cache,
    )
    assert again["macro_f1"] == metrics["macro_f1"]
    assert (tmp_path / "again" / HEAD_FILE).read_bytes() == (out / HEAD_FILE).read_bytes()
