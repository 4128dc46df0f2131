"""The LangGraph state machine of one turn.

    START ─(text?)─> perceive_text ─> check_safety ─(no crisis)─> appraise ─> plan_strategy
          └─(no text)─────────────────────^         │                                  │
                                                    └─(crisis)─> safe_reply ─> END     v
                                                                      END <─ respond ──┘

Perception nodes run only when their input is present, so a turn with another modality (or
none) still reaches the reasoning and reply nodes. Later modalities add their perception nodes to
``PERCEPTION_ROUTES``. Every turn passes ``check_safety`` before any reasoning: a crisis goes to
``safe_reply`` and skips the chain of empathy, the planner and the LLM.
"""

from __future__ import annotations

from collections.abc import Callable

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.context import AttuneContext
from agent.nodes.appraise import appraise
from agent.nodes.perceive import perceive_text
from agent.nodes.plan import plan_strategy
from agent.nodes.respond import respond
from agent.nodes.safety import check_safety, route_safety, safe_reply
from agent.state import AttuneState

#: perception node -> predicate on the turn's state saying whether its input is present
PERCEPTION_ROUTES: dict[str, Callable[[AttuneState], bool]] = {
    "perceive_text": lambda state: bool(state.get("user_text")),
}


def route_perception(state: AttuneState) -> list[str]:
    """The perception nodes whose input this turn carries; straight to ``check_safety`` if none."""
    return [node for node, present in PERCEPTION_ROUTES.items() if present(state)] or [
        "check_safety"
    ]


def build_graph(
    checkpointer: BaseCheckpointSaver[str] | None = None,
) -> CompiledStateGraph[AttuneState, AttuneContext, AttuneState, AttuneState]:
    """Compile the turn graph, optionally with a checkpointer keyed by session (thread) id."""
    graph = StateGraph(AttuneState, context_schema=AttuneContext)
    graph.add_node("perceive_text", perceive_text)
    graph.add_node("check_safety", check_safety)
    graph.add_node("safe_reply", safe_reply)
    graph.add_node("appraise", appraise)
    graph.add_node("plan_strategy", plan_strategy)
    graph.add_node("respond", respond)
    graph.add_conditional_edges(START, route_perception, [*PERCEPTION_ROUTES, "check_safety"])
    for node in PERCEPTION_ROUTES:
        graph.add_edge(node, "check_safety")
    graph.add_conditional_edges("check_safety", route_safety, ["safe_reply", "appraise"])
    graph.add_edge("safe_reply", END)
    graph.add_edge("appraise", "plan_strategy")
    graph.add_edge("plan_strategy", "respond")
    graph.add_edge("respond", END)
    return graph.compile(checkpointer=checkpointer)
