"""The ``strategy_planner`` role: a probability for each of the 8 ESConv strategies."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from attune.lifecycle import Loadable
from attune.taxonomy import STRATEGIES, Strategy

if TYPE_CHECKING:
    from attune.settings import AttuneSettings


@dataclass(frozen=True)
class PlanningContext:
    """What a planner may look at for one supporter turn.

    Plain data so that planners can be used and evaluated without the graph.
    """

    #: (speaker, text) pairs before this turn, oldest first; speaker is "seeker" or "supporter".
    dialogue: Sequence[tuple[str, str]] = ()
    #: Strategies the supporter used so far, oldest first.
    previous_strategies: Sequence[Strategy] = ()
    #: Dominant emotion (an Ekman group or a GoEmotions label), if known.
    emotion: str | None = None
    valence: float | None = None
    intensity: float | None = None
    #: Background, when known (ESConv's emotion type, problem type, situation).
    situation: str | None = None
    emotion_type: str | None = None
    problem_type: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def background(self) -> str | None:
        """The background as one text (``"emotion; problem. situation"``), or ``None``."""
        head = "; ".join(x for x in (self.emotion_type, self.problem_type) if x)
        parts = [p for p in (head, self.situation) if p]
        return ". ".join(parts) if parts else None

    @property
    def seeker_turns(self) -> int:
        """How many times the seeker has spoken so far."""
        return sum(1 for speaker, _ in self.dialogue if speaker == "seeker")


class StrategyPlanner(Loadable, ABC):
    """Scores the 8 strategies for the next supporter turn."""

    name: str

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> StrategyPlanner:
        """Construct cheaply from settings."""

    @abstractmethod
    def predict_proba(self, context: PlanningContext) -> dict[Strategy, float]:
        """A probability for every strategy (all 8 keys, summing to 1)."""

    def predict_proba_batch(
        self, contexts: Sequence[PlanningContext]
    ) -> list[dict[Strategy, float]]:
        """Probabilities for many turns at once; planners that can batch override this."""
        return [self.predict_proba(context) for context in contexts]

    def choose(self, context: PlanningContext) -> Strategy:
        """The most probable strategy (ties broken in ESConv order)."""
        probs = self.predict_proba(context)
        return max(STRATEGIES, key=lambda s: probs[s])


def normalise(scores: dict[Strategy, float]) -> dict[Strategy, float]:
    """Scale non-negative scores over all 8 strategies to sum to 1 (uniform if all zero)."""
    values = {s: max(float(scores.get(s, 0.0)), 0.0) for s in STRATEGIES}
    total = sum(values.values())
    if total <= 0:
        return {s: 1.0 / len(STRATEGIES) for s in STRATEGIES}
    return {s: v / total for s, v in values.items()}
