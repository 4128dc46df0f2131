"""Evaluate a crisis detector on a labelled JSONL set (``attune eval safety``).

Each line: ``{"text": ..., "crisis": true|false, "category": ...}`` (``category`` one of the
crisis categories for crisis lines, anything or null otherwise; an optional ``kind`` such as
``direct``, ``indirect``, ``idiom`` breaks the figures down further). The report names misses
and false alarms by line index, never by text.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from agent.safety.detector import CrisisDetector
from modalities.errors import InputError
from modalities.types import CRISIS_CATEGORIES


def load_labelled(path: Path | str) -> list[dict[str, Any]]:
    """The set's rows, checked: each has a text, a boolean ``crisis`` and a valid category."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise InputError("bad_data", f"line {number} of {path} is not JSON") from None
        if not isinstance(row.get("text"), str) or not isinstance(row.get("crisis"), bool):
            raise InputError("bad_data", f"line {number} needs a text and a boolean crisis")
        if row["crisis"] and row.get("category") not in CRISIS_CATEGORIES:
            raise InputError(
                "bad_data",
                f"line {number}: a crisis line needs a category in {', '.join(CRISIS_CATEGORIES)}",
            )
        rows.append(row)
    if not rows:
        raise InputError("bad_data", f"no rows in {path}")
    return rows


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def evaluate_safety(
    detector: CrisisDetector, path: Path | str, *, batch_size: int = 64
) -> dict[str, Any]:
    """Precision, recall, F1, false-positive rate, per-category recall and per-kind figures.

    ``misses`` and ``false_alarms`` list 0-based line indices (blank lines not counted);
    ``category_accuracy`` is the share of detected crisis lines given their own category.
    """
    rows = load_labelled(path)
    texts = [r["text"] for r in rows]
    predictions = []
    for start in range(0, len(texts), batch_size):
        predictions.extend(detector.assess_batch(texts[start : start + batch_size]))
    tp = fp = fn = tn = 0
    misses, false_alarms = [], []
    hit_by_cat: Counter[str] = Counter()
    n_by_cat: Counter[str] = Counter()
    right_cat = 0
    kinds: dict[str, Counter[str]] = {}
    matched: Counter[str] = Counter()
    for i, (row, pred) in enumerate(zip(rows, predictions, strict=True)):
        kind = kinds.setdefault(
            str(row.get("kind", "crisis" if row["crisis"] else "none")), Counter()
        )
        kind["n"] += 1
        if row["crisis"]:
            n_by_cat[row["category"]] += 1
            if pred.crisis:
                tp += 1
                hit_by_cat[row["category"]] += 1
                right_cat += pred.category == row["category"]
                kind["detected"] += 1
                for part in pred.matched_by:
                    matched[part] += 1
            else:
                fn += 1
                misses.append(i)
        elif pred.crisis:
            fp += 1
            false_alarms.append(i)
            kind["detected"] += 1
        else:
            tn += 1
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return {
        "n": len(rows),
        "n_crisis": tp + fn,
        "n_non_crisis": fp + tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positive_rate": _ratio(fp, fp + tn),
        "false_negative_rate": _ratio(fn, tp + fn),
        "per_category_recall": {c: _ratio(hit_by_cat[c], n_by_cat[c]) for c in CRISIS_CATEGORIES},
        "per_category_n": {c: n_by_cat[c] for c in CRISIS_CATEGORIES},
        "category_accuracy": _ratio(right_cat, tp),
        "per_kind_detection_rate": {k: _ratio(v["detected"], v["n"]) for k, v in kinds.items()},
        "detected_by": dict(matched),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "misses": misses,
        "false_alarms": false_alarms,
        "detector": detector.info(),
    }
