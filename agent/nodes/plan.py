"""The strategy node: the planner scores the 8 ESConv strategies and the best is chosen."""

from __future__ import annotations

import re
import time

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.state import AttuneState
from attune.taxonomy import STRATEGIES, Strategy
from attune.types import StrategyDecision, StrategyEvent
from strategies.base import PlanningContext

_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|howdy|good (?:morning|afternoon|evening|night|day)|how are you|"
    r"i'm (?:good|fine|ok|okay|well)|i am (?:good|fine|ok|okay|well)|not bad)\b"
)
_ACKNOWLEDGEMENT = re.compile(
    r"^(?:ok|okay|sure|yes|yeah|yep|no|nope|cool|great|nice|alright|you too|same to you|"
    r"and you)\b"
)


_THANKS_BYE = re.compile(
    r"\b(?:thanks?(?: you)?(?: so much| very much| a lot)?(?: for [a-z' ]+?(?=[.!,]|$))?|"
    r"bye|goodbye|good night|take care|have a (?:good|nice|great) (?:day|night|evening|one)|"
    r"you too|see you|talk (?:to you )?(?:later|soon)|i appreciate (?:it|you|this)|"
    r"it (?:helped|helps)|that helped|you(?:'ve| have) been (?:so |very |really )?helpful)\b"
)


def is_phatic(text: str) -> bool:
    """Whether a message is a greeting, thanks, goodbye or a short acknowledgement: what
    ESConv's "Others" strategy answers (small talk rather than support)."""
    norm = " ".join(text.lower().replace("\u2019", "'").split())
    words = re.findall(r"[a-z']+", norm)
    if not words:
        return True
    if "thank" in norm or re.search(r"\b(?:bye|goodbye|good night)\b", norm):
        # thanks or goodbye, unless something else is said beside them ("Thanks. Maybe I
        # should update my CV this weekend.")
        rest = _THANKS_BYE.sub(" ", norm)
        return len(re.findall(r"[a-z']+", rest)) < 5
    joined = " ".join(words)
    if _ACKNOWLEDGEMENT.match(joined):
        return len(words) <= 3
    return len(words) <= 8 and bool(_GREETING.match(joined))


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
    reason = None
    if given is None and chosen is Strategy.OTHERS and not is_phatic(state.get("user_text") or ""):
        # "Others" is ESConv's greetings, thanks and goodbyes: answering "I lost my job" with
        # "Hi there" fails the person. The planner's best other strategy is used instead.
        chosen = max((s for s in STRATEGIES if s is not Strategy.OTHERS), key=lambda s: probs[s])
        reason = "Others is kept for greetings, thanks and goodbyes"
    if given is not None:
        decision = StrategyDecision(
            strategy=given,
            probabilities=probs,
            planner=planner.name,
            overridden=given != chosen,
            reason="given by the caller",
        )
    else:
        decision = StrategyDecision(
            strategy=chosen, probabilities=probs, planner=planner.name, reason=reason
        )
    runtime.stream_writer(StrategyEvent(strategy=decision))
    return {
        "strategy": decision,
        "timings_ms": {"plan_strategy": (time.perf_counter() - start) * 1000},
    }
