"""ESConv emotional-support strategies: taxonomy, planners, preference-bias metrics and study.

Plain domain code: no graph, transport or model-runtime imports at package import time.
"""

from attune.taxonomy import STRATEGIES, Strategy, normalize_strategy

__all__ = ["STRATEGIES", "Strategy", "normalize_strategy"]
