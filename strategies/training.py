"""Training of the ``trained`` planner and its bias correction (``attune train planner``).

Reproduce the shipped files (``strategies/data/planner_head.npz``, ``planner_head.json`` and the
``trained`` entry of ``planner_corrections.json``)::

    attune train planner --out strategies/data

Steps: the evaluation samples of ``train.jsonl`` and ``valid.jsonl`` are featurised
(:func:`strategies.planners.trained.featurize`, MiniLM embeddings cached on disk); a softmax
regression with class-balanced weights is fitted on train for each L2 strength of a small grid,
and the one with the best macro-F1 on valid is kept; the bias correction is fitted on 5-fold
out-of-fold predictions on train (folds by dialogue), so valid stays held out for it; the final
model is refitted on all of train and measured on valid, with and without the correction.

torch (for the optimiser) is imported only here, never at inference.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from attune.taxonomy import STRATEGIES, Strategy
from strategies.correction import (
    DEFAULT_WEIGHT,
    LogitAdjustment,
    fit_logit_adjustment,
    save_correction,
)
from strategies.data import Sample, load_samples
from strategies.metrics import evaluate
from strategies.planners.trained import (
    EMBED_DIM,
    FEATURE_DIM,
    FEATURE_VERSION,
    EmbedFn,
    featurize,
    softmax,
)

logger = logging.getLogger(__name__)

#: L2 strengths tried (per-sample mean loss + l2/2 * ||W||^2).
DEFAULT_L2_GRID: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
#: Share of training samples whose background is hidden (live chats have none).
BACKGROUND_DROPOUT = 0.3
LICENCE = "derived from ESConv (Liu et al., 2021), CC BY-NC 4.0: non-commercial research use only"


class CachedEmbedder:
    """Wraps an embed function with a persistent on-disk cache keyed by the text's SHA-1."""

    def __init__(self, embed: EmbedFn, path: Path | None, *, progress: bool = False) -> None:
        self._embed = embed
        self.path = path
        self.progress = progress
        self._vectors: dict[str, np.ndarray] = {}
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            self._vectors = {str(k): v for k, v in zip(keys, vectors, strict=True)}

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``: cached ones read back, the others embedded and saved."""
        keys = [self._key(t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}.items()
        )
        if missing:
            started = time.perf_counter()
            chunk = 512
            bar: Any = None
            if self.progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(missing), desc="embedding", unit="text")
            for i in range(0, len(missing), chunk):
                part = missing[i : i + chunk]
                vectors = self._embed([t for _, t in part])
                for (key, _), vector in zip(part, vectors, strict=True):
                    self._vectors[key] = np.asarray(vector, dtype=np.float32)
                if bar is not None:
                    bar.update(len(part))
            if bar is not None:
                bar.close()
            logger.info("embedded %d texts in %.1f s", len(missing), time.perf_counter() - started)
            self.save()
        if not keys:
            return np.zeros((0, EMBED_DIM), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys])

    def save(self) -> None:
        """Write the cache file (if one was given)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(sorted(self._vectors))
        vectors = np.stack([self._vectors[k] for k in keys]) if len(keys) else np.zeros((0, 0))
        np.savez(self.path, keys=keys, vectors=vectors)


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like ``np.savez_compressed``, but byte-for-byte reproducible (fixed zip timestamps)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def _labels(samples: Sequence[Sample]) -> np.ndarray:
    index = {s: i for i, s in enumerate(STRATEGIES)}
    return np.array([index[s.gold] for s in samples], dtype=np.int64)


def fit_softmax(
    features: np.ndarray, labels: np.ndarray, *, l2: float, max_iter: int = 300, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced multinomial logistic regression (L-BFGS): weights ``(d, 8)``, bias ``(8,)``.

    Loss: the mean of the class-weighted cross-entropy (weights ``n / (8 · count)``) plus
    ``l2 / 2 · ||W||²`` (the bias is not penalised).
    """
    import torch

    threads = torch.get_num_threads()
    # one thread: these small matrix products are far faster without OpenMP hand-offs
    torch.set_num_threads(1)
    try:
        return _lbfgs(torch, features, labels, l2=l2, max_iter=max_iter, seed=seed)
    finally:
        torch.set_num_threads(threads)


def _lbfgs(
    torch: Any, features: np.ndarray, labels: np.ndarray, *, l2: float, max_iter: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    torch.manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float64))
    y = torch.from_numpy(labels)
    counts = np.bincount(labels, minlength=len(STRATEGIES)).astype(np.float64)
    class_weight = torch.from_numpy(len(labels) / (len(STRATEGIES) * np.maximum(counts, 1.0)))
    w = torch.zeros((features.shape[1], len(STRATEGIES)), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(STRATEGIES), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-7, tolerance_change=1e-10,
        history_size=20, line_search_fn="strong_wolfe",
    )  # fmt: skip
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weight, reduction="sum")
    total_weight = float(class_weight[y].sum())

    def closure() -> Any:
        optimiser.zero_grad()
        loss = loss_fn(x @ w + b, y) / total_weight + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return w.detach().numpy().astype(np.float32), b.detach().numpy().astype(np.float32)


def _predict(weights: np.ndarray, bias: np.ndarray, features: np.ndarray) -> np.ndarray:
    return softmax(features @ weights + bias)


def _report(samples: Sequence[Sample], probs: np.ndarray) -> dict[str, Any]:
    pred = [STRATEGIES[i] for i in probs.argmax(axis=1)]
    report = evaluate([s.gold for s in samples], pred, [s.stage for s in samples])
    out = report.to_dict()
    out.pop("confusion", None)
    return out


def train_planner(
    train_path: Path,
    valid_path: Path,
    out_dir: Path,
    *,
    embed: EmbedFn,
    cache_dir: Path | None = None,
    l2_grid: Sequence[float] = DEFAULT_L2_GRID,
    weight: float = DEFAULT_WEIGHT,
    folds: int = 5,
    seed: int = 0,
    limit: int | None = None,
    progress: bool = True,
    command: str = "attune train planner",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the head and fit its correction; write them under ``out_dir``; return the metrics.

    Writes ``planner_head.npz`` (weights), ``planner_head.json`` (command, data, metrics,
    licence) and the ``trained`` entry of ``planner_corrections.json``. ``limit`` uses only the
    first N training samples (a quick check, not for shipping).
    """
    started = time.perf_counter()
    train = load_samples(train_path, limit)
    valid = load_samples(valid_path)
    cache = CachedEmbedder(
        embed, cache_dir / "planner_minilm_cache.npz" if cache_dir else None, progress=progress
    )
    rng = np.random.default_rng(seed)
    hide = rng.random(len(train)) < BACKGROUND_DROPOUT
    log(f"featurising {len(train)} train and {len(valid)} valid samples")
    x_train = featurize([s.context for s in train], cache, hide_background=hide)
    x_valid = featurize([s.context for s in valid], cache)
    y_train = _labels(train)

    # 1. the L2 strength with the best macro-F1 on valid
    tuning: dict[str, float] = {}
    best_l2, best_q = l2_grid[0], -1.0
    for l2 in l2_grid:
        w, b = fit_softmax(x_train, y_train, l2=l2, seed=seed)
        q = float(_report(valid, _predict(w, b, x_valid))["Q"])
        tuning[f"{l2:g}"] = round(q, 4)
        log(f"l2={l2:g}: valid Q={q:.2f}")
        if q > best_q:
            best_l2, best_q = l2, q

    # 2. the correction, on out-of-fold predictions over train (folds by dialogue)
    dialogue_ids = np.array([s.dialogue_index for s in train])
    fold_of = dialogue_ids % folds
    oof = np.zeros((len(train), len(STRATEGIES)))
    for k in range(folds):
        held = fold_of == k
        if held.all() or not held.any():
            continue
        w, b = fit_softmax(x_train[~held], y_train[~held], l2=best_l2, seed=seed)
        oof[held] = _predict(w, b, x_train[held])
    adjustment = fit_logit_adjustment(oof, [s.gold for s in train], weight=weight)

    # 3. the final model on all of train, measured on valid
    weights, bias = fit_softmax(x_train, y_train, l2=best_l2, seed=seed)
    p_valid = _predict(weights, bias, x_valid)
    metrics = {
        "valid": _report(valid, p_valid),
        "valid_corrected": _report(valid, adjustment.apply_array(p_valid)),
        "train_out_of_fold": _report(train, oof),
        "train_out_of_fold_corrected": _report(train, adjustment.apply_array(oof)),
        "l2_tuning_valid_Q": tuning,
    }
    meta = {
        "feature_version": FEATURE_VERSION,
        "labels": [s.value for s in STRATEGIES],
        "feature_dim": FEATURE_DIM,
        "embedder": "all-MiniLM-L6-v2 (sentence embeddings, 384)",
        "l2": best_l2,
        "background_dropout": BACKGROUND_DROPOUT,
        "seed": seed,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    head_path = out_dir / "planner_head.npz"
    write_npz(
        head_path, weights=weights, bias=bias, meta=np.array(json.dumps(meta, sort_keys=True))
    )
    card: dict[str, Any] = {
        "model": "trained strategy planner: class-balanced softmax regression over MiniLM features",
        "licence": LICENCE,
        "command": command,
        "train": {"file": Path(train_path).name, "samples": len(train), "limit": limit},
        "valid": {"file": Path(valid_path).name, "samples": len(valid)},
        **meta,
        "sha256": hashlib.sha256(head_path.read_bytes()).hexdigest(),
        "correction": {
            "fitted_on": f"{Path(train_path).name}: {folds}-fold out-of-fold predictions",
            "weight": weight,
            "offsets": adjustment.to_dict(),
        },
        "metrics": metrics,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out_dir / "planner_head.json").write_text(
        json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    save_correction(
        out_dir / "planner_corrections.json",
        "trained",
        adjustment,
        {
            "fitted_on": card["correction"]["fitted_on"],
            "weight": weight,
            "command": command,
            "valid_before": {k: metrics["valid"][k] for k in ("Q", "weighted_f1", "B")},
            "valid_after": {k: metrics["valid_corrected"][k] for k in ("Q", "weighted_f1", "B")},
        },
    )
    return card


def fit_planner_correction(
    gold: Sequence[Strategy],
    probs: np.ndarray,
    out: Path,
    name: str,
    *,
    fitted_on: str,
    weight: float = DEFAULT_WEIGHT,
    command: str = "attune train correction",
) -> tuple[LogitAdjustment, dict[str, Any]]:
    """Fit a correction for planner ``name`` from its probabilities on some samples; save it."""
    adjustment = fit_logit_adjustment(probs, gold, weight=weight)
    before = evaluate(gold, [STRATEGIES[i] for i in np.asarray(probs).argmax(axis=1)])
    after_probs = adjustment.apply_array(probs)
    after = evaluate(gold, [STRATEGIES[i] for i in after_probs.argmax(axis=1)])
    details = {
        "fitted_on": fitted_on,
        "weight": weight,
        "command": command,
        "samples": len(gold),
        "fit_before": {"Q": round(before.q, 4), "B": round(before.bias, 4)},
        "fit_after": {"Q": round(after.q, 4), "B": round(after.bias, 4)},
    }
    save_correction(out, name, adjustment, details)
    return adjustment, details
