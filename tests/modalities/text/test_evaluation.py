"""Evaluating a text-emotion backend on a GoEmotions TSV."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from attune.errors import InputError
from attune.settings import AttuneSettings
from attune.types import TextEmotion
from modalities.text.base import TextEmotionRecognizer
from modalities.text.emotion_head import HEAD_FILE, GoEmotionsHead, shipped_artifacts_dir
from modalities.text.evaluation import evaluate_text_emotion
from modalities.text.labels import GOEMOTIONS_LABELS, build_text_emotion
from modalities.text.minilm import MiniLMEmbedder

ROWS = [
    ("Thank you so much, that really helped!", "15"),
    ("My grandmother passed away last night.", "16,25"),
    ("This is absolutely disgusting behaviour.", "11"),
    ("Haha that is the funniest thing I've seen", "1"),
    ("I'm really scared about the surgery tomorrow", "14,19"),
    ("The meeting is at 3pm.", "27"),
]


def write_tsv(path: Path) -> Path:
    path.write_text("".join(f"{t}\t{labels}\tid{i}\n" for i, (t, labels) in enumerate(ROWS)))
    return path


class Oracle(TextEmotionRecognizer):
    """Answers each known text with its gold labels (or neutral)."""

    name = "oracle"

    def __init__(self) -> None:
        self.gold = {t: [GOEMOTIONS_LABELS[int(i)] for i in ids.split(",")] for t, ids in ROWS}

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> Oracle:
        return cls()

    def analyze_batch(self, texts: Sequence[str]) -> list[TextEmotion]:
        out = []
        for text in texts:
            labels = self.gold.get(text, ["neutral"])
            out.append(build_text_emotion(dict.fromkeys(labels, 0.9), 0.5, backend=self.name))
        return out


def test_perfect_recognizer_scores_one(tmp_path: Path) -> None:
    result = evaluate_text_emotion(Oracle(), write_tsv(tmp_path / "d.tsv"), progress=False)
    for key in ("macro_f1", "micro_f1", "weighted_f1", "per_label", "n", "backend", "seconds"):
        assert key in result
    assert result["n"] == len(ROWS)
    assert result["backend"] == "oracle"
    assert result["micro_f1"] == 1.0
    assert result["weighted_f1"] == 1.0
    assert result["ekman_macro_f1"] > 0.5
    assert result["per_label"]["gratitude"] == 1.0
    assert result["per_label"]["pride"] == 0.0  # absent from gold and predictions
    assert set(result["per_label"]) == set(GOEMOTIONS_LABELS)


def test_malformed_tsv_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("good\t1\tid\nbad line\n")
    with pytest.raises(InputError, match=r"bad.tsv:2"):
        evaluate_text_emotion(Oracle(), bad, progress=False)


@pytest.mark.slow
def test_shipped_head_on_a_small_file(
    minilm: MiniLMEmbedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (shipped_artifacts_dir() / HEAD_FILE).is_file():
        pytest.skip("no shipped head")
    head = GoEmotionsHead(minilm)
    result = evaluate_text_emotion(head, write_tsv(tmp_path / "d.tsv"), batch_size=4)
    assert result["backend"] == "goemotions-head"
    assert result["n"] == len(ROWS)
    assert 0.3 <= result["micro_f1"] <= 1.0
    assert result["seconds"] > 0
    assert "evaluating" in capsys.readouterr().err
