"""ESConv emotional-support strategies: taxonomy, planners, and (later) bias metrics.

Plain domain code: no graph, transport or model-runtime imports at package import time.
"""

from strategies.taxonomy import STRATEGIES, Strategy, normalize_strategy

__all__ = ["STRATEGIES", "Strategy", "normalize_strategy"]
