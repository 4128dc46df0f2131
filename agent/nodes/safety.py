"""Care and safety nodes: the graded safety check on every turn, and the safe reply on a crisis.

``check_safety`` runs after perception and before the chain of empathy and the planner. On a
crisis, :func:`route_safety` sends the turn to ``safe_reply``, which answers from the project's
templates with the locale's crisis resources and records the strategy as overridden, so neither
the planner nor the LLM is consulted on that turn. On concern the turn takes the normal path and
``respond`` ends the reply with the assessment's check-in question.
"""

from __future__ import annotations

import logging
import time

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.nodes.speak import speech_style_event
from agent.safety.replies import compose_safe_reply
from agent.safety.resources import locale_resources
from agent.state import AttuneState
from attune.taxonomy import STRATEGIES, Strategy
from attune.types import (
    ChatMessage,
    CrisisEvent,
    ReplyDeltaEvent,
    SafetyEvent,
    StrategyDecision,
    StrategyEvent,
)

log = logging.getLogger(__name__)

#: The ESConv strategy a safe reply is recorded under: it suggests reaching out for help.
SAFE_REPLY_STRATEGY = Strategy.SUGGESTIONS
#: The planner name recorded on an overridden decision.
SAFETY_PLANNER = "safety"


#: How many messages before this one the detector reads (the last assistant message is read
#: for a risk question whose answer this message may be).
CONTEXT_MESSAGES = 2


def check_safety(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Assess the user's text, in the light of the dialogue before it, and grade it none /
    concern / crisis; emit the ``safety`` event (the tier and why), and on a crisis the
    ``crisis`` event with the resources."""
    text = state.get("user_text")
    if not text:
        return {"safety": None}
    start = time.perf_counter()
    context = state.get("history", [])[-CONTEXT_MESSAGES:]
    assessment = runtime.context.crisis_detector.assess(text, state.get("last_crisis"), context)
    runtime.stream_writer(
        SafetyEvent(
            tier=assessment.tier,
            category=assessment.category,
            reason=assessment.reason,
            matched_by=list(assessment.matched_by),
        )
    )
    if assessment.crisis:
        # ids only: the category and the words stay out of the logs
        log.info("turn %s: crisis detected, safe reply follows", state.get("turn_id"))
        runtime.stream_writer(
            CrisisEvent(
                category=assessment.category,
                confidence=assessment.confidence,
                matched_by=list(assessment.matched_by),
                locale=assessment.locale,
                resources=list(assessment.resources),
            )
        )
    return {
        "safety": assessment,
        "last_crisis": assessment if assessment.crisis else None,
        "timings_ms": {"check_safety": (time.perf_counter() - start) * 1000},
    }


def route_safety(state: AttuneState) -> str:
    """``safe_reply`` on a crisis, else on to ``appraise``."""
    assessment = state.get("safety")
    return "safe_reply" if assessment is not None and assessment.crisis else "appraise"


def safe_reply(state: AttuneState, runtime: Runtime[AttuneContext]) -> AttuneState:
    """Answer a crisis with the safe-messaging template and the locale's resources."""
    start = time.perf_counter()
    assessment = state.get("safety")
    assert assessment is not None and assessment.category is not None  # routed on a crisis
    detector = runtime.context.crisis_detector
    table = locale_resources(detector.locale, detector.resources_path)
    reply = compose_safe_reply(assessment.category, table)
    decision = StrategyDecision(
        strategy=SAFE_REPLY_STRATEGY,
        probabilities={s: (1.0 if s is SAFE_REPLY_STRATEGY else 0.0) for s in STRATEGIES},
        planner=SAFETY_PLANNER,
        overridden=True,
        reason=f"crisis: {assessment.category} ({'+'.join(assessment.matched_by)})",
    )
    runtime.stream_writer(StrategyEvent(strategy=decision))
    style = speech_style_event(state, runtime.context)  # calm, whatever the affect
    if style is not None:
        runtime.stream_writer(style)
    runtime.stream_writer(ReplyDeltaEvent(text=reply))
    turn_id = state.get("turn_id")
    return {
        "strategy": decision,
        "reply": reply,
        "history": [
            ChatMessage(role="user", content=state.get("user_text") or "", turn_id=turn_id),
            ChatMessage(
                role="assistant", content=reply, strategy=SAFE_REPLY_STRATEGY, turn_id=turn_id
            ),
        ],
        "timings_ms": {"safe_reply": (time.perf_counter() - start) * 1000},
    }
