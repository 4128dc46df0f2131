"""The ``goemotions-head`` text-emotion backend: a small classifier head over frozen MiniLM.

The head reads pooled MiniLM features (:meth:`MiniLMEmbedder.features`, the pooling named in the
head's metadata), standardises them, and maps them with a small MLP (or a linear layer) to 28
sigmoid outputs, one per GoEmotions label. Each label has its own threshold, tuned on the
GoEmotions dev split to maximise that label's F1 (see :mod:`modalities.text.training`).

Artifacts: ``emotion_head.safetensors`` (the weights, float16) and ``emotion_head.json``
beside it (labels, thresholds, architecture, metrics, how it was trained). Which head loads:
``settings.text_emotion.goemotions_head.head_path`` (the ``.safetensors`` file or a folder
holding both files), else ``settings.paths.artifacts_dir`` when it holds a head, else the one
shipped in ``modalities/text/artifacts/``.

Texts longer than MiniLM's maximum sequence length (256 word pieces) are truncated: only their
beginning is read. The head runs on the CPU (it is tiny); the embedder uses the configured device.

torch is imported only when the head loads.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ConfigError, ModelNotFoundError
from attune.types import TextEmotion
from modalities.text.base import Embedder, TextEmotionRecognizer, validate_texts
from modalities.text.labels import GOEMOTIONS_LABELS, build_text_emotion

if TYPE_CHECKING:
    import torch

    from attune.settings import AttuneSettings

logger = logging.getLogger(__name__)

HEAD_FILE = "emotion_head.safetensors"
META_FILE = "emotion_head.json"
#: Pooling value meaning "the embedder's own normalised sentence embedding" (:meth:`embed`).
EMBED_POOLING = "embed"
#: The metadata format this module reads and :mod:`modalities.text.training` writes.
FORMAT_VERSION = 1


def shipped_artifacts_dir() -> Path:
    """The folder of artifacts shipped inside the package."""
    return Path(__file__).resolve().parent / "artifacts"


def resolve_head_path(path: Path | str | None) -> Path:
    """The ``.safetensors`` file for ``path``: the file itself, or ``HEAD_FILE`` in a folder.

    ``None`` means the shipped head.
    """
    if path is None:
        return shipped_artifacts_dir() / HEAD_FILE
    p = Path(path)
    return p / HEAD_FILE if p.is_dir() else p


def meta_path_for(head_path: Path) -> Path:
    """The metadata file that belongs to a head file (same name, ``.json``)."""
    return head_path.with_suffix(".json")


def build_head_module(architecture: Mapping[str, Any]) -> torch.nn.Module:
    """The torch module described by ``architecture`` (as stored in the metadata).

    Keys: ``input_dim``, ``hidden`` (0 for a linear head), ``num_labels``, ``activation``
    (``gelu`` or ``relu``), ``dropout`` (training only). The module standardises its input
    with the ``feature_mean`` / ``feature_std`` buffers and returns logits.
    """
    import torch
    from torch import nn

    input_dim = int(architecture["input_dim"])
    hidden = int(architecture.get("hidden", 0))
    num_labels = int(architecture.get("num_labels", len(GOEMOTIONS_LABELS)))
    dropout = float(architecture.get("dropout", 0.0))
    input_dropout = float(architecture.get("input_dropout", 0.0))
    activation = str(architecture.get("activation", "gelu"))
    if activation not in ("gelu", "relu"):
        raise ConfigError(f"unknown head activation {activation!r}")

    class _Head(nn.Module):
        feature_mean: torch.Tensor
        feature_std: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("feature_mean", torch.zeros(input_dim))
            self.register_buffer("feature_std", torch.ones(input_dim))
            layers: list[nn.Module] = [nn.Dropout(input_dropout)]
            if hidden > 0:
                layers += [
                    nn.Linear(input_dim, hidden),
                    nn.GELU() if activation == "gelu" else nn.ReLU(),
                    nn.Dropout(dropout),
                    nn.Linear(hidden, num_labels),
                ]
            else:
                layers.append(nn.Linear(input_dim, num_labels))
            self.layers = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layers((x - self.feature_mean) / self.feature_std)

    return _Head()


def read_head_metadata(head_path: Path) -> dict[str, Any]:
    """Read and check the metadata beside a head file."""
    meta_path = meta_path_for(head_path)
    if not meta_path.is_file():
        raise ModelNotFoundError(
            f"head metadata not found: {meta_path} (it must sit beside {head_path.name}); "
            "retrain with `python -m modalities.text.training` or fix "
            "ATTUNE_TEXT_EMOTION__GOEMOTIONS_HEAD__HEAD_PATH"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"head metadata {meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise ConfigError(f"head metadata {meta_path} must be a JSON object")
    missing = [k for k in ("labels", "thresholds", "architecture", "pooling") if k not in meta]
    if missing:
        raise ConfigError(f"head metadata {meta_path} lacks {missing}")
    if list(meta["labels"]) != list(GOEMOTIONS_LABELS):
        raise ConfigError(
            f"head metadata {meta_path}: labels are not the 28 GoEmotions labels in order"
        )
    thresholds = meta["thresholds"]
    if not isinstance(thresholds, dict) or set(thresholds) != set(GOEMOTIONS_LABELS):
        raise ConfigError(f"head metadata {meta_path}: thresholds must name each of the 28 labels")
    return meta


class GoEmotionsHead(TextEmotionRecognizer):
    """GoEmotions' 28 labels from a small trained head over MiniLM features.

    Construction is cheap; the embedder and the head load on :meth:`load` or on first use
    (thread-safe).
    """

    name = "goemotions-head"

    def __init__(self, embedder: Embedder, head_path: Path | str | None = None) -> None:
        self.embedder = embedder
        self.head_path = resolve_head_path(head_path)
        self._module: Any = None
        self._meta: dict[str, Any] | None = None
        self._thresholds: dict[str, float] = {}

    @classmethod
    def from_settings(
        cls, settings: AttuneSettings, embedder: Embedder | None = None, **kwargs: Any
    ) -> GoEmotionsHead:
        """Build from settings, sharing ``embedder`` when given (else a new MiniLM embedder).

        The head file is ``settings.text_emotion.goemotions_head.head_path``, else the head in
        ``settings.paths.artifacts_dir`` when there is one, else the shipped head.
        """
        if embedder is None:
            from modalities.text.minilm import MiniLMEmbedder

            embedder = MiniLMEmbedder.from_settings(settings)
        head_path: Path | None = kwargs.get(
            "head_path", settings.text_emotion.goemotions_head.head_path
        )
        if head_path is None and settings.paths.artifacts_dir is not None:
            candidate = settings.paths.artifacts_dir / HEAD_FILE
            if candidate.is_file():
                head_path = candidate
        return cls(embedder, head_path)

    # --- loading ------------------------------------------------------------------------------

    @property
    def metadata(self) -> dict[str, Any]:
        """The head's metadata (labels, thresholds, architecture, metrics); loads the head."""
        self._ensure_loaded()
        assert self._meta is not None
        return self._meta

    @property
    def thresholds(self) -> dict[str, float]:
        """The tuned per-label thresholds; loads the head."""
        self._ensure_loaded()
        return dict(self._thresholds)

    def _load(self) -> None:
        """The head, then the embedder."""
        self._module = self._load_head()
        self.embedder.load()

    def _ensure_loaded(self) -> Any:
        self.load()
        return self._module

    def _load_head(self) -> Any:
        path = self.head_path
        if not path.is_file():
            raise ModelNotFoundError(
                f"GoEmotions head not found: {path}; set "
                "ATTUNE_TEXT_EMOTION__GOEMOTIONS_HEAD__HEAD_PATH to a "
                f"{HEAD_FILE} file (or its folder), or retrain it with "
                "`python -m modalities.text.training --out modalities/text/artifacts`"
            )
        meta = read_head_metadata(path)
        pooling = [str(p) for p in meta["pooling"]]
        if pooling != [EMBED_POOLING] and not callable(getattr(self.embedder, "features", None)):
            raise ConfigError(
                f"the head {path.name} needs pooled features {pooling}, but the embedder "
                f"{type(self.embedder).__name__} has no features() method; use the minilm embedder"
            )
        expected = int(getattr(self.embedder, "dim", 0)) * len(pooling)
        input_dim = int(meta["architecture"]["input_dim"])
        if expected and expected != input_dim:
            raise ConfigError(
                f"the head {path.name} expects {input_dim} input features, but the embedder "
                f"gives {expected}; retrain the head for this embedder"
            )

        import torch
        from safetensors.torch import load_file

        started = time.perf_counter()
        module = build_head_module(meta["architecture"])
        try:
            tensors = load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise ConfigError(f"could not read the head file {path}: {exc}") from exc
        state = {k: v.to(torch.float32) for k, v in tensors.items()}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ConfigError(
                f"the head file {path} does not match its metadata's architecture"
            ) from exc
        module.eval()
        self._meta = meta
        self._thresholds = {k: float(v) for k, v in meta["thresholds"].items()}
        logger.info(
            "goemotions head loaded from %s (%d params) in %.3f s",
            path,
            sum(p.numel() for p in module.parameters()),
            time.perf_counter() - started,
        )
        return module

    # --- inference ----------------------------------------------------------------------------

    def _features(self, texts: list[str]) -> np.ndarray:
        assert self._meta is not None
        pooling = [str(p) for p in self._meta["pooling"]]
        if pooling == [EMBED_POOLING]:
            return self.embedder.embed(texts)
        features = self.embedder.features  # type: ignore[attr-defined]
        result: np.ndarray = features(texts, pooling)
        return result

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Per-label probabilities, ``float32`` ``(len(texts), 28)`` in GoEmotions order."""
        items = validate_texts(texts)
        module = self._ensure_loaded()
        if not items:
            return np.zeros((0, len(GOEMOTIONS_LABELS)), dtype=np.float32)
        import torch

        started = time.perf_counter()
        feats = self._features(items)
        with torch.inference_mode():
            logits = module(torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)))
            probs = torch.sigmoid(logits).numpy().astype(np.float32)
        logger.debug(
            "goemotions head scored %d texts in %.3f s", len(items), time.perf_counter() - started
        )
        return probs

    def analyze_batch(self, texts: Sequence[str]) -> list[TextEmotion]:
        """One :class:`TextEmotion` per text (labels at or above their tuned thresholds).

        Raises :class:`InputError` (``empty_text``) for an empty or whitespace-only text and
        (``bad_text``) for a non-string.
        """
        probs = self.predict_proba(texts)
        return [
            build_text_emotion(
                dict(zip(GOEMOTIONS_LABELS, row.tolist(), strict=True)),
                self._thresholds,
                backend=self.name,
            )
            for row in probs
        ]
