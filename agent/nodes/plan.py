"""The strategy node: the planner scores the 8 ESConv strategies and the best is chosen."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.state import AttuneState
from modalities.types import StrategyDecision
from strategies.base import PlanningContext
from strategies.taxonomy import STRATEGIES


def planning_context(state: AttuneState) -> PlanningContext:
    """The planner's view of the conversation (plain data, no graph types)."""
    history = state.get("history", [])
    dialogue = [("seeker" if m.role == "user" else "supporter", m.content) for m in history]
    if state.get("user_text"):
        dialogue.append(("seeker", state["user_text"] or ""))
    emotion = state.get("text_emotion")
    return PlanningContext(
        dialogue=dialogue,
        previous_strategies=[m.strategy for m in history if m.strategy is not None],
        emotion=emotion.primary_ekman if emotion else None,
        valence=emotion.valence if emotion else None,
        intensity=emotion.intensity if emotion else None,
    )


def plan_strategy(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Choose the support strategy for this turn (the caller's, when the turn imposes one:
    the planner's probabilities are still recorded, ``overridden`` says the choice was not its)."""
    start = time.perf_counter()
    planner = runtime.context.planner
    probs = planner.predict_proba(planning_context(state))
    chosen = max(STRATEGIES, key=lambda s: probs[s])
    given = state.get("given_strategy")
    if given is not None:
        decision = StrategyDecision(
            strategy=given,
            probabilities=probs,
            planner=planner.name,
            overridden=given != chosen,
            reason="given by the caller",
        )
    else:
        decision = StrategyDecision(strategy=chosen, probabilities=probs, planner=planner.name)
    runtime.stream_writer({"type": "strategy", "strategy": decision})
    return {
        "strategy": decision,
        "timings_ms": {"plan_strategy": (time.perf_counter() - start) * 1000},
    }
