"""Strategy openers (agent/openers.py): the reply begins with the strategy's words and the model
continues them, only when asked (``llm.openers``) and when the backend can continue a reply."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.nodes.respond import respond
from agent.openers import OPENERS, opener_for
from agent.safety import CrisisDetector
from attune.settings import AttuneSettings
from attune.taxonomy import Strategy
from attune.types import ChatMessage, StrategyDecision
from modalities.llm.base import LLMCapabilities
from tests.fakes import FakeEmbedder, FakeLLM, FakePlanner, FakeTextEmotion


class ContinuingLLM(FakeLLM):
    """A fake that says it continues a reply ending the conversation (as llama.cpp does)."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.capabilities = LLMCapabilities(seeded=True, continues=True)


def _respond(llm: FakeLLM, strategy: Strategy, *, openers: bool) -> tuple[dict, list]:
    events: list = []
    ctx = AttuneContext(
        settings=AttuneSettings(llm={"openers": openers, "reply_prompt": "tuned"}),
        embedder=FakeEmbedder(),
        text_emotion=FakeTextEmotion(),
        llm=llm,
        planner=FakePlanner(),
        safety=CrisisDetector(None),
    )
    decision = StrategyDecision(
        strategy=strategy, probabilities={s: 0.125 for s in Strategy}, planner="t"
    )
    state = {"user_text": "My sister stopped talking to me.", "strategy": decision, "turn_id": "t"}
    return respond(state, Runtime(context=ctx, stream_writer=events.append)), events


def test_an_opener_is_chosen_by_the_message_and_not_repeated():
    first = opener_for(Strategy.RESTATEMENT, "My sister stopped talking to me.")
    assert first in OPENERS[Strategy.RESTATEMENT]
    assert opener_for(Strategy.RESTATEMENT, "my  sister stopped talking to me.") == first
    other = opener_for(Strategy.RESTATEMENT, "My sister stopped talking to me.", [f"{first} x."])
    assert other != first and other in OPENERS[Strategy.RESTATEMENT]
    # Attune invents no experiences; the model already asks and chats
    for strategy in (Strategy.SELF_DISCLOSURE, Strategy.QUESTION, Strategy.OTHERS):
        assert opener_for(strategy, "anything") == ""


def test_the_reply_begins_with_the_opener_which_the_model_continues():
    llm = ContinuingLLM(["feel like she shut you out without a word."])
    update, events = _respond(llm, Strategy.RESTATEMENT, openers=True)
    opener = opener_for(Strategy.RESTATEMENT, "My sister stopped talking to me.")
    assert update["reply"] == f"{opener} feel like she shut you out without a word."
    sent, _ = llm.calls[0]
    assert sent[-1] == ChatMessage(role="assistant", content=opener)  # continued, not restarted
    assert "".join(e.text for e in events if e.type == "reply.delta") == update["reply"]


def test_no_opener_unless_asked_or_when_the_backend_cannot_continue():
    for llm, openers in ((ContinuingLLM(["That hurts."]), False), (FakeLLM(["That hurts."]), True)):
        update, _ = _respond(llm, Strategy.RESTATEMENT, openers=openers)
        assert update["reply"] == "That hurts." and llm.calls[0][0][-1].role == "user"
