"""The prior planner: what ESConv supporters did at this point of a conversation.

``p(s) ∝ p(s | stage) · p(s | previous strategy) / p(s)`` (the two tables combined as
independent evidence), with both tables from ``strategies/data/strategy_priors.json``. It ignores
the content of the conversation; the learned planners of ``strategies/`` do better.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import PlanningContext, StrategyPlanner, normalise
from strategies.priors import MAX_STAGE, START

if TYPE_CHECKING:
    from attune.settings import AttuneSettings


@cache
def _shipped_table() -> dict[str, Any]:
    text = resources.files("strategies").joinpath("data/strategy_priors.json").read_text("utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


class PriorPlanner(StrategyPlanner):
    """Stage- and history-conditioned ESConv strategy frequencies."""

    name = "prior"

    def __init__(self, table: dict[str, Any] | None = None) -> None:
        self.table = table if table is not None else _shipped_table()

    @classmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> StrategyPlanner:
        """The shipped table; wrapped in its fitted bias correction when ``planner.correct``."""
        from strategies.correction import with_correction

        kwargs.pop("embedder", None)  # shared handles, accepted for a uniform call; not used
        kwargs.pop("llm", None)
        return with_correction(cls(**kwargs), settings)

    @classmethod
    def from_file(cls, path: Path) -> PriorPlanner:
        """A planner over a table written by ``python -m strategies.priors``."""
        return cls(json.loads(Path(path).read_text("utf-8")))

    def predict_proba(self, context: PlanningContext) -> dict[Strategy, float]:
        stage = str(min(max(context.seeker_turns, 1), MAX_STAGE))
        previous = context.previous_strategies[-1].value if context.previous_strategies else START
        overall = self.table["overall"]
        by_stage = self.table["by_stage"].get(stage, overall)
        by_previous = self.table["by_previous"].get(previous, overall)
        scores = {
            s: by_stage[s.value] * by_previous[s.value] / overall[s.value] for s in STRATEGIES
        }
        return normalise(scores)
