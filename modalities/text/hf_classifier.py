"""The ``transformers`` text-emotion backend: any local sequence-classification model directory.

``settings.text_emotion.transformers.model_path``
(``ATTUNE_TEXT_EMOTION__TRANSFORMERS__MODEL_PATH``) names a folder that
``AutoModelForSequenceClassification`` and ``AutoTokenizer`` can load (``config.json``, weights,
tokenizer files). Nothing is downloaded (``local_files_only=True``). The model runs on
``settings.resolved_device()``.

Labels. The model's ``config.id2label`` names decide how its outputs become GoEmotions scores:

* Names that are GoEmotions labels (case, spaces and hyphens ignored) are used as they are.
* Other names are mapped through :data:`LABEL_ALIASES`, e.g. Ekman's ``happiness`` -> ``joy``,
  ``sad`` -> ``sadness``, ``angry`` -> ``anger``, ``scared`` -> ``fear``, ``surprised`` ->
  ``surprise``, ``disgusted`` -> ``disgust``, ``none``/``no emotion`` -> ``neutral``, ``shame``
  -> ``embarrassment``, ``guilt`` -> ``remorse``, ``anxiety``/``worry`` -> ``nervousness``,
  ``frustration``/``irritation`` -> ``annoyance``, ``contempt`` -> ``disapproval``,
  ``thankfulness`` -> ``gratitude``, ``hope`` -> ``optimism``. Several model labels mapped to one
  GoEmotions label combine by maximum (sigmoid) or sum (softmax).
* If any label cannot be mapped (``LABEL_0``, ``positive``, ...) loading fails with a
  :class:`ConfigError` that lists them: a partial mapping would silently misreport emotions.

Scores are sigmoids when ``config.problem_type == "multi_label_classification"``, else a softmax.
Thresholds come from ``config.thresholds`` when present (one number, a list in id order, or a
mapping from label name, model or GoEmotions), else
``settings.text_emotion.transformers.default_threshold``.

Texts longer than the model's maximum length are truncated. transformers and torch are imported
only when the model loads.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.errors import BackendUnavailableError, ConfigError, ModelNotFoundError
from attune.types import TextEmotion
from modalities.text.base import TextEmotionRecognizer, validate_texts
from modalities.text.labels import GOEMOTIONS_LABELS, build_text_emotion

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

logger = logging.getLogger(__name__)

#: Label names from other schemes (Ekman, Plutchik-like, common emotion datasets) and the
#: GoEmotions label each stands for. Keys are normalised (lower case, ``_`` for separators).
LABEL_ALIASES: dict[str, str] = {
    "happy": "joy",
    "happiness": "joy",
    "joyful": "joy",
    "sad": "sadness",
    "sorrow": "sadness",
    "angry": "anger",
    "rage": "anger",
    "scared": "fear",
    "afraid": "fear",
    "fearful": "fear",
    "surprised": "surprise",
    "disgusted": "disgust",
    "none": "neutral",
    "no_emotion": "neutral",
    "neutrality": "neutral",
    "shame": "embarrassment",
    "ashamed": "embarrassment",
    "embarrassed": "embarrassment",
    "guilt": "remorse",
    "guilty": "remorse",
    "anxiety": "nervousness",
    "anxious": "nervousness",
    "worry": "nervousness",
    "nervous": "nervousness",
    "frustration": "annoyance",
    "frustrated": "annoyance",
    "irritation": "annoyance",
    "annoyed": "annoyance",
    "contempt": "disapproval",
    "thankfulness": "gratitude",
    "thankful": "gratitude",
    "grateful": "gratitude",
    "hope": "optimism",
    "hopeful": "optimism",
    "excited": "excitement",
    "proud": "pride",
    "relieved": "relief",
    "confused": "confusion",
    "curious": "curiosity",
    "loving": "love",
    "disappointed": "disappointment",
}


def normalise_label(name: str) -> str:
    """Lower case, separators (space, ``-``, ``_``) collapsed to ``_``."""
    return re.sub(r"[\s\-_]+", "_", str(name).strip().lower())


def map_labels(id2label: Mapping[int, str]) -> list[str]:
    """The GoEmotions label for each model output, in id order, or :class:`ConfigError`."""
    if not id2label:
        raise ConfigError("the model config has no id2label: its outputs cannot be named")
    ids = sorted(int(i) for i in id2label)
    if ids != list(range(len(ids))):
        raise ConfigError(f"the model's id2label ids are not 0..{len(ids) - 1}")
    known = set(GOEMOTIONS_LABELS)
    mapped: list[str] = []
    unmapped: list[str] = []
    for i in ids:
        raw = id2label[i]
        key = normalise_label(raw)
        target = key if key in known else LABEL_ALIASES.get(key)
        if target is None:
            unmapped.append(str(raw))
        else:
            mapped.append(target)
    if unmapped:
        shown = ", ".join(repr(u) for u in unmapped[:10])
        more = f" (+{len(unmapped) - 10} more)" if len(unmapped) > 10 else ""
        raise ConfigError(
            f"the model's labels {shown}{more} are neither GoEmotions labels nor known aliases "
            "(see modalities.text.hf_classifier.LABEL_ALIASES); use a model trained on "
            "GoEmotions or Ekman-style emotion labels, or rename its id2label in config.json"
        )
    return mapped


class TransformersTextEmotion(TextEmotionRecognizer):
    """GoEmotions scores from a local transformers sequence-classification model.

    Construction is cheap; the model loads on :meth:`load` or on first use (thread-safe).
    """

    name = "transformers"

    def __init__(
        self,
        model_path: Path | str | None,
        *,
        device: str = "cpu",
        default_threshold: float = 0.5,
        batch_size: int = 32,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.device = device
        self.default_threshold = float(default_threshold)
        self.batch_size = max(1, int(batch_size))
        self._bundle: tuple[Any, Any] | None = None
        self._targets: list[str] = []
        self._multi_label = False
        self._thresholds: dict[str, float] = {}
        self._max_length = 512

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> TransformersTextEmotion:
        """Build from ``settings.text_emotion`` on ``settings.resolved_device()``."""
        return cls(
            kwargs.get("model_path", settings.text_emotion.transformers.model_path),
            device=kwargs.get("device", settings.resolved_device()),
            default_threshold=kwargs.get(
                "default_threshold", settings.text_emotion.transformers.default_threshold
            ),
            batch_size=kwargs.get("batch_size", 32),
        )

    # --- loading ------------------------------------------------------------------------------

    @property
    def labels(self) -> list[str]:
        """The GoEmotions label of each model output, in id order; loads the model."""
        self._ensure_loaded()
        return list(self._targets)

    @property
    def multi_label(self) -> bool:
        """Whether outputs are independent sigmoids (else a softmax); loads the model."""
        self._ensure_loaded()
        return self._multi_label

    @property
    def thresholds(self) -> dict[str, float]:
        """Per-GoEmotions-label thresholds in use; loads the model."""
        self._ensure_loaded()
        return dict(self._thresholds)

    def _load(self) -> None:
        self._bundle = self._read_model()

    def _ensure_loaded(self) -> tuple[Any, Any]:
        self.load()
        assert self._bundle is not None
        return self._bundle

    def _check_dir(self) -> Path:
        path = self.model_path
        if path is None:
            raise ModelNotFoundError(
                "the transformers text-emotion backend needs a model directory: set "
                "ATTUNE_TEXT_EMOTION__TRANSFORMERS__MODEL_PATH "
                "(text_emotion.transformers.model_path) to a local sequence-classification model "
                "folder"
            )
        if not path.is_dir():
            raise ModelNotFoundError(
                f"text-emotion model directory not found: {path}; fix "
                "ATTUNE_TEXT_EMOTION__TRANSFORMERS__MODEL_PATH "
                "(text_emotion.transformers.model_path)"
            )
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"text-emotion model directory {path} has no config.json: it is not a "
                "transformers model folder"
            )
        return path

    def _read_model(self) -> tuple[Any, Any]:
        path = self._check_dir()
        try:
            from transformers import (
                AutoConfig,
                AutoModelForSequenceClassification,
                AutoTokenizer,
            )
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise BackendUnavailableError(
                "the transformers text-emotion backend needs transformers and torch: "
                "pip install transformers torch"
            ) from exc

        started = time.perf_counter()
        try:
            config = AutoConfig.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"could not read the model config in {path}: {type(exc).__name__}"
            ) from exc
        targets = map_labels({int(k): v for k, v in (config.id2label or {}).items()})
        multi_label = getattr(config, "problem_type", None) == "multi_label_classification"
        thresholds = self._thresholds_from(config, targets)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                str(path), local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"could not load the model or tokenizer from {path}: {type(exc).__name__}: "
                "the folder is incomplete or not a sequence-classification model"
            ) from exc
        model.to(self.device)
        model.eval()

        limits = [int(getattr(tokenizer, "model_max_length", 0) or 0)]
        limits.append(int(getattr(config, "max_position_embeddings", 0) or 0))
        usable = [n for n in limits if 0 < n < 100_000]
        self._max_length = min(usable) if usable else 512
        self._targets = targets
        self._multi_label = multi_label
        self._thresholds = thresholds
        logger.info(
            "transformers text-emotion model loaded from %s on %s (%d labels, %s) in %.2f s",
            path,
            self.device,
            len(targets),
            "sigmoid" if multi_label else "softmax",
            time.perf_counter() - started,
        )
        return tokenizer, model

    def _thresholds_from(self, config: Any, targets: list[str]) -> dict[str, float]:
        """Per-GoEmotions-label thresholds from ``config.thresholds`` or the default."""
        raw = getattr(config, "thresholds", None)
        default = self.default_threshold
        out: dict[str, float] = dict.fromkeys(GOEMOTIONS_LABELS, default)
        if raw is None:
            return out

        def valid(value: Any) -> float:
            number = float(value)
            if not 0.0 < number < 1.0:
                raise ConfigError(f"model threshold {number} is outside (0, 1)")
            return number

        try:
            if isinstance(raw, int | float):
                return dict.fromkeys(GOEMOTIONS_LABELS, valid(raw))
            if isinstance(raw, list | tuple):
                if len(raw) != len(targets):
                    raise ConfigError(
                        f"config.thresholds has {len(raw)} values for {len(targets)} labels"
                    )
                for label, value in zip(targets, raw, strict=True):
                    out[label] = valid(value)
                return out
            if isinstance(raw, dict):
                id2label = getattr(config, "id2label", {}) or {}
                by_model_name = {normalise_label(v): targets[int(k)] for k, v in id2label.items()}
                for name, value in raw.items():
                    key = normalise_label(name)
                    mapped = key if key in out else by_model_name.get(key)
                    if mapped is None:
                        raise ConfigError(f"config.thresholds names an unknown label {name!r}")
                    out[mapped] = valid(value)
                return out
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"config.thresholds is malformed: {exc}") from exc
        raise ConfigError("config.thresholds must be a number, a list or a mapping")

    # --- inference ----------------------------------------------------------------------------

    def predict_scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """GoEmotions scores per text (labels the model does not cover are absent)."""
        items = validate_texts(texts)
        tokenizer, model = self._ensure_loaded()
        if not items:
            return []
        import torch

        started = time.perf_counter()
        results: list[dict[str, float]] = []
        with torch.inference_mode():
            for start in range(0, len(items), self.batch_size):
                chunk = items[start : start + self.batch_size]
                enc = tokenizer(
                    chunk,
                    padding=True,
                    truncation=True,
                    max_length=self._max_length,
                    return_tensors="pt",
                ).to(model.device)
                logits = model(**enc).logits.float()
                probs = torch.sigmoid(logits) if self._multi_label else logits.softmax(-1)
                for row in probs.cpu().tolist():
                    scores: dict[str, float] = {}
                    for target, p in zip(self._targets, row, strict=True):
                        if self._multi_label:
                            scores[target] = max(scores.get(target, 0.0), p)
                        else:
                            scores[target] = min(scores.get(target, 0.0) + p, 1.0)
                    results.append(scores)
        logger.debug(
            "transformers text-emotion scored %d texts in %.3f s",
            len(items),
            time.perf_counter() - started,
        )
        return results

    def analyze_batch(self, texts: Sequence[str]) -> list[TextEmotion]:
        """One :class:`TextEmotion` per text; :class:`InputError` for empty or non-str texts."""
        return [
            build_text_emotion(scores, self._thresholds, backend=self.name)
            for scores in self.predict_scores(texts)
        ]
