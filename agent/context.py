"""The runtime context: model handles and settings given to every node (never module globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.llm.base import LLM
    from agent.safety.detector import CrisisDetector
    from agent.settings import AttuneSettings
    from modalities.text.base import Embedder, TextEmotionRecognizer
    from strategies.base import StrategyPlanner


@dataclass
class AttuneContext:
    """The backends one graph run uses. Built by :class:`agent.Attune` from the registry."""

    settings: AttuneSettings
    embedder: Embedder
    text_emotion: TextEmotionRecognizer
    llm: LLM
    planner: StrategyPlanner
    #: The crisis detector; ``None`` builds the configured one over ``embedder`` (it is never
    #: absent: every turn is checked).
    safety: CrisisDetector | None = None

    def __post_init__(self) -> None:
        if self.safety is None:
            from agent.safety.detector import CrisisDetector

            self.safety = CrisisDetector.from_settings(self.settings, self.embedder)

    @property
    def crisis_detector(self) -> CrisisDetector:
        """The crisis detector (always set after construction)."""
        assert self.safety is not None
        return self.safety
