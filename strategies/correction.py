"""Preference-bias correction: a per-strategy logit adjustment wrapped around any planner.

Method. A planner's probabilities ``p(s)`` are re-weighted as ``p'(s) ∝ p(s) · exp(b_s)``: one
offset ``b_s`` per strategy, added to the log-probabilities, so the ranking of the strategies
within one turn changes only where the planner was unsure. The 8 offsets are fitted on held-out
predictions (for the ``trained`` planner: 5-fold out-of-fold predictions on ``train.jsonl``; for
other planners: whatever file ``attune train correction`` is given) by coordinate ascent on a
grid, maximising ``Q / 100 - weight · B``: proficiency (macro-F1) up, preference bias down.
Offsets are stored centred (mean 0; a common shift changes nothing).

Trade-off. The correction balances the planner's *errors* across strategies (that is what B
measures), and its predicted shares move towards the true shares: rare strategies are predicted
more often, the frequent ones (Question, Others) less. On ESConv's valid split it lowered the
``trained`` planner's B five-fold (0.69 to 0.14) while Q and weighted-F1 rose slightly; the
``prior`` planner's B halved and its Q rose by 3 points at an unchanged weighted-F1. It
cannot add information: a planner that cannot tell two strategies apart still confuses them,
only more evenly. Offsets fitted on one planner and data
set do not transfer to another planner. Figures measured on the data the offsets were fitted on
are optimistic; ``attune eval strategies`` says so when it sees that.

Corrections live in a JSON file keyed by planner name (the shipped one is
``strategies/data/planner_corrections.json``, derived from ESConv, CC BY-NC 4.0).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import ConfigError, ModelNotFoundError
from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import PlanningContext, StrategyPlanner, normalise
from strategies.metrics import macro_f1, preference, preference_bias

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

logger = logging.getLogger(__name__)

SHIPPED_CORRECTIONS = "data/planner_corrections.json"
#: Default weight of B against Q/100 in the fitting objective.
DEFAULT_WEIGHT = 0.2
#: The offsets tried for each strategy.
DEFAULT_GRID: tuple[float, ...] = tuple(round(x, 2) for x in np.arange(-3.0, 3.0001, 0.1))
_FLOOR = 1e-9


@dataclass(frozen=True)
class LogitAdjustment:
    """Per-strategy offsets added to a planner's log-probabilities."""

    offsets: dict[Strategy, float]

    def vector(self) -> np.ndarray:
        """The offsets in :data:`STRATEGIES` order."""
        return np.array([self.offsets.get(s, 0.0) for s in STRATEGIES], dtype=np.float64)

    def apply(self, probs: dict[Strategy, float]) -> dict[Strategy, float]:
        """Re-weight one probability table: ``p'(s) ∝ p(s) · exp(b_s)``."""
        logits = np.log(np.maximum([probs.get(s, 0.0) for s in STRATEGIES], _FLOOR))
        adjusted = logits + self.vector()
        weights = np.exp(adjusted - adjusted.max())
        return normalise({s: float(w) for s, w in zip(STRATEGIES, weights, strict=True)})

    def apply_array(self, probs: np.ndarray) -> np.ndarray:
        """Re-weight an ``(n, 8)`` array of probabilities (rows sum to 1)."""
        logits = np.log(np.maximum(np.asarray(probs, dtype=np.float64), _FLOOR)) + self.vector()
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        result: np.ndarray = weights / weights.sum(axis=1, keepdims=True)
        return result

    def to_dict(self) -> dict[str, float]:
        """JSON-ready offsets keyed by strategy value."""
        return {s.value: round(float(v), 4) for s, v in zip(STRATEGIES, self.vector(), strict=True)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LogitAdjustment:
        """Read offsets keyed by any strategy spelling; missing strategies get 0."""
        from attune.taxonomy import normalize_strategy

        return cls({normalize_strategy(k): float(v) for k, v in raw.items()})


def _objective(logits: np.ndarray, gold: np.ndarray, offsets: np.ndarray, weight: float) -> float:
    pred = (logits + offsets).argmax(axis=1)
    counts = np.zeros((len(STRATEGIES), len(STRATEGIES)), dtype=np.int64)
    np.add.at(counts, (gold, pred), 1)
    return macro_f1(counts) - weight * preference_bias(preference(counts))


def fit_logit_adjustment(
    probs: np.ndarray,
    gold: Sequence[Strategy],
    *,
    weight: float = DEFAULT_WEIGHT,
    grid: Sequence[float] = DEFAULT_GRID,
    rounds: int = 4,
) -> LogitAdjustment:
    """Fit the 8 offsets on held-out ``probs`` (``(n, 8)``, :data:`STRATEGIES` order) and truths.

    Coordinate ascent: each round tries every grid value for each strategy in turn and keeps a
    change only if it raises ``macro-F1 - weight · B``. Deterministic; starts from no offset, so
    the result is never worse than no correction on the fitting data.
    """
    logits = np.log(np.maximum(np.asarray(probs, dtype=np.float64), _FLOOR))
    if logits.ndim != 2 or logits.shape[1] != len(STRATEGIES):
        raise ValueError(f"expected probabilities of shape (n, 8), got {logits.shape}")
    index = {s: i for i, s in enumerate(STRATEGIES)}
    truth = np.array([index[g] for g in gold], dtype=np.int64)
    if len(truth) != len(logits):
        raise ValueError(f"{len(truth)} true labels for {len(logits)} rows of probabilities")
    offsets = np.zeros(len(STRATEGIES))
    best = _objective(logits, truth, offsets, weight)
    for _ in range(rounds):
        improved = False
        for k in range(len(STRATEGIES)):
            for value in grid:
                trial = offsets.copy()
                trial[k] = value
                score = _objective(logits, truth, trial, weight)
                if score > best + 1e-12:
                    best, offsets, improved = score, trial, True
        if not improved:
            break
    offsets -= offsets.mean()
    return LogitAdjustment({s: float(v) for s, v in zip(STRATEGIES, offsets, strict=True)})


class BiasCorrectedPlanner(StrategyPlanner):
    """Any planner, with a :class:`LogitAdjustment` applied to its probabilities."""

    def __init__(self, base: StrategyPlanner, adjustment: LogitAdjustment) -> None:
        self.base = base
        self.adjustment = adjustment
        self.name = f"{base.name}+corrected"

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> StrategyPlanner:
        """Not a backend of its own: planners wrap themselves (see :func:`with_correction`)."""
        raise ConfigError("BiasCorrectedPlanner wraps another planner; see with_correction()")

    def _load(self) -> None:
        """The wrapped planner's model."""
        self.base.load()

    @property
    def unparsed(self) -> int | None:
        """The wrapped planner's count of unparsed answers, where it keeps one."""
        value = getattr(self.base, "unparsed", None)
        return int(value) if value is not None else None

    def predict_proba(self, context: PlanningContext) -> dict[Strategy, float]:
        """The wrapped planner's probabilities, adjusted."""
        return self.adjustment.apply(self.base.predict_proba(context))

    def predict_proba_batch(
        self, contexts: Sequence[PlanningContext]
    ) -> list[dict[Strategy, float]]:
        """Adjusted probabilities for many turns (batched by the wrapped planner)."""
        return [self.adjustment.apply(p) for p in self.base.predict_proba_batch(contexts)]


# --- the corrections file --------------------------------------------------------------------


def load_corrections(path: Path | None = None) -> dict[str, Any]:
    """The corrections table: ``{"planners": {name: {"offsets": {...}, ...}}, ...}``.

    ``path=None`` reads the shipped one (an empty table if it is missing). A missing explicit
    file is a ``ModelNotFoundError``.
    """
    if path is None:
        shipped = resources.files("strategies").joinpath(SHIPPED_CORRECTIONS)
        if not shipped.is_file():
            return {"planners": {}}
        text = shipped.read_text("utf-8")
    else:
        if not Path(path).is_file():
            raise ModelNotFoundError(
                f"planner corrections file not found: {path} (write one with "
                "`attune train correction`, or unset ATTUNE_PLANNER__CORRECTION_PATH)"
            )
        text = Path(path).read_text("utf-8")
    try:
        table: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"planner corrections file {path or SHIPPED_CORRECTIONS}: {exc}"
        ) from None
    table.setdefault("planners", {})
    return table


def correction_for(name: str, path: Path | None = None) -> LogitAdjustment | None:
    """The fitted correction of planner ``name``, or ``None`` if the table has none."""
    entry = load_corrections(path)["planners"].get(name)
    if entry is None:
        return None
    return LogitAdjustment.from_dict(entry["offsets"])


def save_correction(
    path: Path, name: str, adjustment: LogitAdjustment, details: dict[str, Any]
) -> None:
    """Add or replace planner ``name``'s entry in the corrections file at ``path``."""
    path = Path(path)
    table: dict[str, Any]
    if path.is_file():
        table = json.loads(path.read_text("utf-8"))
    else:
        table = {
            "licence": "derived from ESConv, CC BY-NC 4.0 (non-commercial research use)",
            "method": "per-strategy logit adjustment p'(s) ∝ p(s)·exp(b_s), "
            "fitted by coordinate ascent on Q/100 - weight·B (strategies/correction.py)",
        }
    table.setdefault("planners", {})[name] = {"offsets": adjustment.to_dict(), **details}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def with_correction(
    planner: StrategyPlanner, settings: AttuneSettings, *, required: bool = False
) -> StrategyPlanner:
    """Wrap ``planner`` in its fitted correction when ``settings.planner.correct`` is on.

    A planner with no fitted correction runs uncorrected (a warning is logged), unless
    ``required`` is set, which makes that a ``ConfigError``.
    """
    if not settings.planner.correct:
        return planner
    path = settings.planner.correction_path
    adjustment = correction_for(planner.name, path)
    if adjustment is None:
        where = path or f"strategies/{SHIPPED_CORRECTIONS}"
        message = (
            f"no bias correction fitted for planner {planner.name!r} in {where}; fit one with "
            f"`attune train correction --planner {planner.name} --data FILE`"
        )
        if required:
            raise ConfigError(message)
        logger.warning("%s; running it uncorrected", message)
        return planner
    return BiasCorrectedPlanner(planner, adjustment)
