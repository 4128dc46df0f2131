"""The LangGraph state machine of one turn.

    START ─> [perceive_speech] ─> [perceive_text] ─> [perceive_face] ─> fuse_affect ─> check_safety
                                                                                          │
           ┌────────────────────────── (no crisis) ──────────────────────────────────────┤
           v                                                                              │
        appraise ─> plan_strategy ─> respond ─> END           (crisis) safe_reply ─> END <┘

A bracketed node runs only when its input is present (``PERCEPTION_ROUTES``: audio, text, an
image), so a text-only turn, a voice turn and a camera turn share one graph and none of them
needs the others' backends. Perception runs in a fixed order because the transcript of
``perceive_speech`` is the text that ``perceive_text`` reads. Every turn passes
``check_safety`` before any reasoning: a crisis goes to ``safe_reply`` and skips the chain of
empathy, the planner and the LLM.

The graph ends with the reply's text. Speaking it (and the avatar) is the speech stage's
(:mod:`agent.speech`), which runs beside the graph on its events: ``speech.style`` and
``reply.sentence`` from the reply nodes, so the first sentence is heard while the rest is being
written; the safe reply is spoken like any other.
"""

from __future__ import annotations

from collections.abc import Callable

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.context import AttuneContext
from agent.nodes.appraise import appraise
from agent.nodes.perceive import fuse_affect, perceive_face, perceive_speech, perceive_text
from agent.nodes.plan import plan_strategy
from agent.nodes.respond import respond
from agent.nodes.safety import check_safety, route_safety, safe_reply
from agent.state import AttuneState

#: perception node -> predicate saying whether its input is present, in the order they run
PERCEPTION_ROUTES: dict[str, Callable[[AttuneState], bool]] = {
    "perceive_speech": lambda state: "audio" in state.get("inputs", []),
    "perceive_text": lambda state: bool(state.get("user_text")),
    "perceive_face": lambda state: "image" in state.get("inputs", []),
}
_PERCEPTION = list(PERCEPTION_ROUTES)


def _next_perception(after: str | None) -> Callable[[AttuneState], str]:
    """Router to the next perception node whose input is present, else ``fuse_affect``."""
    rest = _PERCEPTION[_PERCEPTION.index(after) + 1 :] if after else _PERCEPTION

    def route(state: AttuneState) -> str:
        return next((node for node in rest if PERCEPTION_ROUTES[node](state)), "fuse_affect")

    route.__name__ = f"after_{after or 'start'}"
    return route


def route_perception(state: AttuneState) -> str:
    """The first perception node whose input this turn carries (``fuse_affect`` if none)."""
    return _next_perception(None)(state)


def build_graph(
    checkpointer: BaseCheckpointSaver[str] | None = None,
) -> CompiledStateGraph[AttuneState, AttuneContext, AttuneState, AttuneState]:
    """Compile the turn graph, optionally with a checkpointer keyed by session (thread) id."""
    graph = StateGraph(AttuneState, context_schema=AttuneContext)
    graph.add_node("perceive_speech", perceive_speech)
    graph.add_node("perceive_text", perceive_text)
    graph.add_node("perceive_face", perceive_face)
    graph.add_node("fuse_affect", fuse_affect)
    graph.add_node("check_safety", check_safety)
    graph.add_node("safe_reply", safe_reply)
    graph.add_node("appraise", appraise)
    graph.add_node("plan_strategy", plan_strategy)
    graph.add_node("respond", respond)
    graph.add_conditional_edges(START, route_perception, [*_PERCEPTION, "fuse_affect"])
    for i, node in enumerate(_PERCEPTION):
        graph.add_conditional_edges(
            node, _next_perception(node), [*_PERCEPTION[i + 1 :], "fuse_affect"]
        )
    graph.add_edge("fuse_affect", "check_safety")
    graph.add_conditional_edges("check_safety", route_safety, ["safe_reply", "appraise"])
    graph.add_edge("appraise", "plan_strategy")
    graph.add_edge("plan_strategy", "respond")
    graph.add_edge("respond", END)
    graph.add_edge("safe_reply", END)
    return graph.compile(checkpointer=checkpointer)
