"""The ``strategy_planner`` contract: a distribution over the 8 ESConv strategies; ``choose`` is
its most probable one."""

from __future__ import annotations

import pytest

from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import PlanningContext, StrategyPlanner
from tests.conformance.backends import params

ROLE = "strategy_planner"
pytestmark = pytest.mark.parametrize("backend", params(ROLE), indirect=True)

CONTEXTS = [
    PlanningContext(dialogue=[("seeker", "Hi.")]),
    PlanningContext(
        dialogue=[
            ("seeker", "I lost my job today and I feel really sad about it."),
            ("supporter", "I'm so sorry. How long had you worked there?"),
            ("seeker", "Eight years. I don't know how I'll tell my wife."),
        ],
        previous_strategies=[Strategy.QUESTION],
        emotion="sadness",
        valence=-0.7,
        intensity=0.8,
        emotion_type="sadness",
        problem_type="job crisis",
    ),
]


@pytest.mark.parametrize("context", CONTEXTS, ids=["opening", "job-loss"])
def test_a_distribution_over_the_eight_strategies(
    backend: StrategyPlanner, context: PlanningContext
) -> None:
    assert isinstance(backend, StrategyPlanner)
    probs = backend.predict_proba(context)
    assert set(probs) == set(STRATEGIES)
    assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert backend.choose(context) in STRATEGIES


@pytest.mark.parametrize("context", CONTEXTS, ids=["opening", "job-loss"])
def test_the_same_turn_gets_the_same_choice(
    backend: StrategyPlanner, context: PlanningContext, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.params["backend"] == "llm":
        # Found by this suite: llama.cpp reuses the cached prompt prefix on the second call,
        # and greedy decoding over those slightly different logits can name another strategy.
        request.applymarker(pytest.mark.xfail(reason="llama.cpp's prompt cache", strict=False))
    probs = backend.predict_proba(context)
    assert backend.choose(context) is max(STRATEGIES, key=lambda s: probs[s])
    assert backend.predict_proba(context) == pytest.approx(probs)
