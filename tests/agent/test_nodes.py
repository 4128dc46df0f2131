"""Each node on its own, with fake backends and a recording stream writer."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agent.context import AttuneContext
from agent.nodes.appraise import appraise
from agent.nodes.perceive import perceive_text
from agent.nodes.plan import plan_strategy, planning_context
from agent.nodes.respond import FALLBACK_REPLY, respond
from attune.settings import AttuneSettings
from attune.taxonomy import Strategy
from attune.types import AppraisalEvent, ChatMessage, StrategyDecision
from tests.agent.helpers import APPRAISAL_JSON
from tests.fakes import FakeEmbedder, FakeLLM, FakePlanner, FakeTextEmotion


def runtime(llm: FakeLLM | None = None, **llm_settings: Any) -> tuple[Runtime, list[dict]]:
    events: list[dict] = []
    settings = AttuneSettings(llm={"candidates": 1, "llm_appraisal": True, **llm_settings})
    ctx = AttuneContext(
        settings=settings,
        embedder=FakeEmbedder(),
        text_emotion=FakeTextEmotion(),
        llm=llm or FakeLLM(),
        planner=FakePlanner(Strategy.QUESTION),
    )
    return Runtime(context=ctx, stream_writer=events.append), events


def test_perceive_text_reads_emotion_and_emits_perception():
    rt, events = runtime()
    update = perceive_text({"user_text": "I am so sad, my cat died"}, rt)
    assert update["text_emotion"].primary_ekman == "sadness"
    assert "perceive_text" in update["timings_ms"]
    assert events[0].type == "perception"


def test_perceive_text_without_text_does_nothing():
    rt, events = runtime()
    assert perceive_text({"user_text": None}, rt) == {}
    assert events == []


def test_appraise_uses_llm_with_schema_when_supported():
    llm = FakeLLM([APPRAISAL_JSON], json_schema=True)
    rt, events = runtime(llm)
    emotion = FakeTextEmotion().analyze("my dog died, I am sad")
    update = appraise({"user_text": "My dog died", "text_emotion": emotion}, rt)
    appraisal = update["appraisal"]
    assert appraisal.event == "their dog died" and appraisal.sources["event"] == "llm"
    _, params = llm.calls[0]
    assert params.json_schema is not None and params.temperature <= 0.3
    assert events == [AppraisalEvent(appraisal=appraisal)]


def test_appraise_without_llm_is_deterministic():
    llm = FakeLLM()
    rt, _ = runtime(llm, llm_appraisal=False)
    update = appraise({"user_text": "I lost my job because of cuts."}, rt)
    assert llm.calls == []
    assert update["appraisal"].cause == "They lost their job because of cuts"
    assert set(update["appraisal"].sources.values()) == {"perception", "dialogue"}


def test_plan_strategy_passes_history_and_picks_the_top():
    rt, events = runtime()
    history = [
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content="hello", strategy=Strategy.OTHERS),
    ]
    update = plan_strategy({"user_text": "I feel bad", "history": history}, rt)
    decision = update["strategy"]
    assert decision.strategy is Strategy.QUESTION and decision.planner == "fake"
    assert abs(sum(decision.probabilities.values()) - 1) < 1e-9
    seen = rt.context.planner.contexts[-1]
    assert seen.previous_strategies == [Strategy.OTHERS]
    assert seen.dialogue[-1] == ("seeker", "I feel bad") and seen.seeker_turns == 2
    assert events[0].type == "strategy"


def test_planning_context_carries_emotion():
    emotion = FakeTextEmotion().analyze("I'm scared")
    ctx = planning_context({"user_text": "I'm scared", "text_emotion": emotion})
    assert ctx.emotion == "fear" and ctx.valence is not None and ctx.valence < 0


def _decision(strategy: Strategy) -> StrategyDecision:
    return StrategyDecision(
        strategy=strategy, probabilities={s: 0.125 for s in Strategy}, planner="t"
    )


def test_respond_streams_and_appends_history():
    llm = FakeLLM(["Assistant: I'm here for you. That sounds so hard. Tell me more? Extra bit."])
    rt, events = runtime(llm)
    state = {"turn_id": "t1", "user_text": "rough day", "strategy": _decision(Strategy.QUESTION)}
    update = respond(state, rt)
    assert update["reply"] == "I'm here for you. That sounds so hard. Tell me more?"
    deltas = [e.text for e in events if e.type == "reply.delta"]
    assert len(deltas) > 3  # word by word
    assert "Extra" not in "".join(deltas)  # generation stopped after the third sentence
    assert llm.closed_streams == 1
    user, assistant = update["history"]
    assert (user.role, user.content, user.turn_id) == ("user", "rough day", "t1")
    assert assistant.strategy is Strategy.QUESTION


def test_respond_with_candidates_keeps_the_best():
    llm = FakeLLM(["As an AI I cannot help.", "That sounds so hard. What happened today?", ""])
    rt, events = runtime(llm, candidates=3)
    update = respond({"user_text": "rough day today", "strategy": _decision(Strategy.QUESTION)}, rt)
    assert update["reply"] == "That sounds so hard. What happened today?"
    assert [e.text for e in events] == [update["reply"]]
    seeds = [params.seed for _, params in llm.calls]
    assert len(set(seeds)) == 3  # three different samples


def test_respond_falls_back_when_the_model_says_nothing():
    rt, _ = runtime(FakeLLM(["   "]))
    update = respond({"user_text": "hm", "strategy": _decision(Strategy.OTHERS)}, rt)
    assert update["reply"] == FALLBACK_REPLY
