"""Evaluate any text-emotion backend on a GoEmotions-format TSV (multi-label F1).

The predicted set of a text is :attr:`TextEmotion.labels` (the labels at or above the backend's
thresholds, or its single top label when none is); the gold set is the TSV's label ids. Scores
cover all 28 labels (a label absent from both gold and predictions scores 0, as in
scikit-learn's ``zero_division=0``), plus an Ekman-level macro-F1 (6 emotions + neutral, each
gold/predicted label mapped to its group).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from attune.errors import ConfigError
from modalities.text.base import TextEmotionRecognizer
from modalities.text.labels import EKMAN_GROUPS, GOEMOTIONS_LABELS, LABEL_TO_EKMAN
from modalities.text.training import f1_scores, read_goemotions_tsv

logger = logging.getLogger(__name__)

_INDEX = {label: i for i, label in enumerate(GOEMOTIONS_LABELS)}
_EKMAN = list(EKMAN_GROUPS)


def _ekman_matrix(multi_hot: np.ndarray) -> np.ndarray:
    out = np.zeros((len(multi_hot), len(_EKMAN)), dtype=bool)
    for j, label in enumerate(GOEMOTIONS_LABELS):
        out[:, _EKMAN.index(LABEL_TO_EKMAN[label])] |= multi_hot[:, j].astype(bool)
    return out


def evaluate_text_emotion(
    recognizer: TextEmotionRecognizer,
    tsv: Path,
    *,
    batch_size: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Score ``recognizer`` on a GoEmotions TSV (``text<TAB>label ids[<TAB>id]`` per line).

    Returns ``macro_f1``, ``micro_f1``, ``weighted_f1``, ``per_label`` (name -> F1),
    ``support`` (name -> gold count), ``ekman_macro_f1``, ``n``, ``backend``, ``seconds`` and
    ``texts_per_second``. A tqdm bar is shown on stderr when ``progress`` is true. A malformed
    file raises :class:`~attune.errors.InputError` naming the line; a missing one
    :class:`~attune.errors.ConfigError`.
    """
    if batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    rows = read_goemotions_tsv(Path(tsv))
    gold = np.zeros((len(rows), len(GOEMOTIONS_LABELS)), dtype=bool)
    pred = np.zeros_like(gold)
    for i, (_, ids) in enumerate(rows):
        gold[i, ids] = True

    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(rows), desc=f"evaluating {recognizer.name}", unit="text")
    started = time.perf_counter()
    try:
        for start in range(0, len(rows), batch_size):
            chunk = [text for text, _ in rows[start : start + batch_size]]
            for offset, emotion in enumerate(recognizer.analyze_batch(chunk)):
                for label in emotion.labels:
                    pred[start + offset, _INDEX[label]] = True
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started

    scores = f1_scores(pred, gold)
    ekman_macro = _macro_f1(_ekman_matrix(pred), _ekman_matrix(gold))
    result: dict[str, Any] = {
        "backend": recognizer.name,
        "n": len(rows),
        "macro_f1": round(scores["macro_f1"], 4),
        "micro_f1": round(scores["micro_f1"], 4),
        "weighted_f1": round(scores["weighted_f1"], 4),
        "ekman_macro_f1": round(ekman_macro, 4),
        "per_label": scores["per_label"],
        "support": scores["support"],
        "seconds": round(seconds, 2),
        "texts_per_second": round(len(rows) / seconds, 1) if seconds > 0 else None,
    }
    logger.info(
        "evaluated %s on %d rows: macro-F1 %.4f in %.1f s",
        recognizer.name,
        len(rows),
        result["macro_f1"],
        seconds,
    )
    return result


def _macro_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    tp = (pred & gold).sum(0).astype(np.float64)
    fp = (pred & ~gold).sum(0).astype(np.float64)
    fn = (~pred & gold).sum(0).astype(np.float64)
    denom = 2 * tp + fp + fn
    per = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(per.mean())
