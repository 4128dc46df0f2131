"""The runtime context: model handles and settings given to every node (never module globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.llm.base import LLM
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
