"""The trained planner: a softmax classifier over MiniLM embeddings of the conversation.

Features of one supporter turn (:func:`featurize`, 1,578 numbers):

* the embedding of the seeker's latest messages (the last run of consecutive seeker
  messages, embeddings summed and re-normalised), of the supporter's previous message, and of
  the last :data:`WINDOW` messages (same pooling);
* the embedding of the background (``"emotion type; problem type. situation"``), or zeros with
  a flag when none is known: live conversations have none, so training hides it from 30 % of
  the samples and the planner works with or without it;
* the previous and the one-before-previous strategy (one-hot, with a "none" slot), the share
  of each strategy used so far, the stage (seeker messages so far, one-hot up to 10), and a few
  counts (is the previous message the supporter's own, dialogue length).

The weights (``strategies/data/planner_head.npz``, about 50 KB) come from ``attune train
planner`` (:mod:`strategies.training`), trained on ESConv's ``train.jsonl`` and tuned on
``valid.jsonl``: derived from ESConv, CC BY-NC 4.0, non-commercial research use only.
``planner_head.json`` beside it records the command and the metrics.

numpy only at inference; the embedder (MiniLM by default) loads on first use.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ConfigError, ModelNotFoundError
from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import PlanningContext, StrategyPlanner

if TYPE_CHECKING:
    from attune.settings import AttuneSettings
    from modalities.text.base import Embedder

logger = logging.getLogger(__name__)

SHIPPED_HEAD = "data/planner_head.npz"
#: Bump when :func:`featurize` changes: a head trained on other features is refused.
FEATURE_VERSION = 1
#: Messages pooled into the "recent context" block.
WINDOW = 6
#: Stages (seeker messages so far) get their own slot up to this many.
MAX_STAGE = 10
EMBED_DIM = 384
_K = len(STRATEGIES)
_INDEX = {s: i for i, s in enumerate(STRATEGIES)}
#: 4 embedding blocks, previous and before-previous strategy (9 each), shares (8), stage (11),
#: counts (5).
FEATURE_DIM = 4 * EMBED_DIM + 9 + 9 + _K + (MAX_STAGE + 1) + 5

EmbedFn = Callable[[Sequence[str]], np.ndarray]


def _seeker_block(dialogue: Sequence[tuple[str, str]]) -> list[str]:
    block: list[str] = []
    for speaker, text in reversed(dialogue):
        if speaker == "seeker":
            block.append(text)
        elif block:
            break
    return block[::-1]


def _texts(context: PlanningContext) -> list[str]:
    dialogue = list(context.dialogue)
    texts = _seeker_block(dialogue) + [t for _, t in dialogue[-WINDOW:]]
    supporter = [t for s, t in dialogue if s == "supporter"]
    if supporter:
        texts.append(supporter[-1])
    background = context.background()
    if background:
        texts.append(background)
    return texts


def _pool(vectors: list[np.ndarray]) -> np.ndarray:
    if not vectors:
        return np.zeros(EMBED_DIM, dtype=np.float32)
    total = np.sum(vectors, axis=0)
    norm = float(np.linalg.norm(total))
    return (total / norm if norm > 0 else total).astype(np.float32)


def featurize(
    contexts: Sequence[PlanningContext],
    embed: EmbedFn,
    *,
    hide_background: Sequence[bool] | np.ndarray | None = None,
) -> np.ndarray:
    """The ``(len(contexts), FEATURE_DIM)`` feature matrix (see the module docstring).

    ``embed`` maps texts to unit vectors of size 384; each distinct text is embedded once.
    ``hide_background`` drops the background of the marked rows (training-time dropout).
    """
    unique = sorted({t for c in contexts for t in _texts(c)})
    vectors = embed(unique) if unique else np.zeros((0, EMBED_DIM), dtype=np.float32)
    if vectors.shape != (len(unique), EMBED_DIM):
        raise ConfigError(
            f"the embedder returned shape {vectors.shape} for {len(unique)} texts; the trained "
            f"planner needs {EMBED_DIM}-dimensional sentence embeddings (MiniLM)"
        )
    lookup = dict(zip(unique, vectors, strict=True))
    rows = np.zeros((len(contexts), FEATURE_DIM), dtype=np.float32)
    for r, context in enumerate(contexts):
        dialogue = list(context.dialogue)
        seeker = _seeker_block(dialogue)
        supporter = [t for s, t in dialogue if s == "supporter"]
        background = context.background()
        if hide_background is not None and hide_background[r]:
            background = None
        blocks = [
            _pool([lookup[t] for t in seeker]),
            lookup[supporter[-1]] if supporter else np.zeros(EMBED_DIM, dtype=np.float32),
            _pool([lookup[t] for _, t in dialogue[-WINDOW:]]),
            lookup[background] if background else np.zeros(EMBED_DIM, dtype=np.float32),
        ]
        previous = list(context.previous_strategies)
        prev = np.zeros(9, dtype=np.float32)
        prev[_INDEX[previous[-1]] if previous else _K] = 1
        prev2 = np.zeros(9, dtype=np.float32)
        prev2[_INDEX[previous[-2]] if len(previous) > 1 else _K] = 1
        shares = np.zeros(_K, dtype=np.float32)
        for s in previous:
            shares[_INDEX[s]] += 1
        shares /= max(1, len(previous))
        stage = np.zeros(MAX_STAGE + 1, dtype=np.float32)
        stage[min(context.seeker_turns, MAX_STAGE)] = 1
        counts = np.array(
            [
                1.0 if dialogue and dialogue[-1][0] == "supporter" else 0.0,
                np.log1p(len(dialogue)) / 5,
                np.log1p(context.seeker_turns) / 4,
                1.0 if background else 0.0,
                len(seeker) / 3,
            ],
            dtype=np.float32,
        )
        rows[r] = np.concatenate([*blocks, prev, prev2, shares, stage, counts])
    return rows


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return result


def shipped_head_path() -> Path:
    """Where the shipped weights are (the file may be missing in a broken install)."""
    return Path(str(resources.files("strategies").joinpath(SHIPPED_HEAD)))


def load_head(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read a head file: weights ``(FEATURE_DIM, 8)``, bias ``(8,)`` and its metadata."""
    if not Path(path).is_file():
        raise ModelNotFoundError(
            f"trained planner weights not found: {path}; reproduce them with `attune train "
            "planner`, set ATTUNE_PLANNER__MODEL_PATH, or choose another planner "
            "(ATTUNE_BACKENDS__STRATEGY_PLANNER=prior)"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            weights = np.asarray(data["weights"], dtype=np.float32)
            bias = np.asarray(data["bias"], dtype=np.float32)
            meta: dict[str, Any] = json.loads(str(data["meta"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ModelNotFoundError(f"{path} is not a trained planner head ({exc})") from None
    if meta.get("feature_version") != FEATURE_VERSION or weights.shape != (FEATURE_DIM, _K):
        raise ModelNotFoundError(
            f"{path} was trained for other features (version {meta.get('feature_version')}, "
            f"shape {weights.shape}); retrain it with `attune train planner`"
        )
    labels = meta.get("labels")
    if labels != [s.value for s in STRATEGIES]:
        raise ModelNotFoundError(f"{path} has another strategy order: {labels}")
    return weights, bias, meta


class TrainedPlanner(StrategyPlanner):
    """Softmax regression over MiniLM features of the conversation (see the module docstring)."""

    name = "trained"

    def __init__(
        self,
        head_path: Path | None = None,
        embedder: Embedder | EmbedFn | None = None,
        *,
        cache_size: int = 512,
    ) -> None:
        self.head_path = Path(head_path) if head_path is not None else shipped_head_path()
        self._embedder = embedder
        self._head: tuple[np.ndarray, np.ndarray, dict[str, Any]] | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> StrategyPlanner:
        """Cheap: checks that the weights exist; ``embedder=`` shares an existing embedder.

        Without ``embedder``, the ``settings.backends.embedder`` backend is created (it loads on
        first use). An explicit ``planner.model_path`` that does not exist is a
        ``ModelNotFoundError``; a missing *shipped* head (a broken install) falls back to the
        ``prior`` planner with a warning, so the agent still runs. With ``planner.correct`` the
        planner comes wrapped in its fitted bias correction.
        """
        from strategies.correction import with_correction

        embedder = kwargs.pop("embedder", None)
        kwargs.pop("llm", None)  # a shared handle this planner does not use
        path = settings.planner.model_path
        if path is not None and not Path(path).is_file():
            load_head(Path(path))  # raises the ModelNotFoundError with its message
        if path is None and not shipped_head_path().is_file():
            from strategies.planners.prior import PriorPlanner

            logger.warning(
                "trained planner weights not found at %s (reproduce them with `attune train "
                "planner`); using the prior planner instead",
                shipped_head_path(),
            )
            return with_correction(PriorPlanner(), settings)
        if embedder is None:
            raise ConfigError(
                "the trained planner is given its embedder: from_settings(settings, embedder=...), "
                "or attune.registry.create('strategy_planner', 'trained', settings)"
            )
        return with_correction(cls(path, embedder, **kwargs), settings)

    @property
    def meta(self) -> dict[str, Any]:
        """The head's metadata (training command, metrics); loads the head."""
        return self._ensure_head()[2]

    def _load(self) -> None:
        """The weights, then the embedder."""
        self._ensure_head()
        loader = getattr(self._embedder, "load", None)  # an Embedder, or a plain function
        if callable(loader):
            loader()

    def _ensure_head(self) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        if self._head is None:  # the head alone (the metadata), without the embedder
            with self._lock:
                if self._head is None:
                    self._head = load_head(self.head_path)
        return self._head

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._embedder is None:
            raise ConfigError("the trained planner needs an embedder (embedder=...)")
        embed: EmbedFn = getattr(self._embedder, "embed", self._embedder)  # type: ignore[arg-type]
        with self._lock:
            missing = [t for t in texts if t not in self._cache]
        fresh = embed(missing) if missing else np.zeros((0, EMBED_DIM), dtype=np.float32)
        with self._lock:
            for text, vector in zip(missing, fresh, strict=True):
                self._cache[text] = vector
            out = np.stack([self._cache[t] for t in texts]) if texts else fresh
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out

    def predict_proba_array(self, contexts: Sequence[PlanningContext]) -> np.ndarray:
        """``(n, 8)`` probabilities in :data:`STRATEGIES` order."""
        weights, bias, _ = self._ensure_head()
        features = featurize(contexts, self._embed)
        return softmax(features @ weights + bias)

    def predict_proba(self, context: PlanningContext) -> dict[Strategy, float]:
        """Probabilities of the 8 strategies for the next supporter turn."""
        return self.predict_proba_batch([context])[0]

    def predict_proba_batch(
        self, contexts: Sequence[PlanningContext]
    ) -> list[dict[Strategy, float]]:
        """Probabilities for many turns, embedding each distinct text once."""
        probs = self.predict_proba_array(contexts)
        return [{s: float(v) for s, v in zip(STRATEGIES, row, strict=True)} for row in probs]
