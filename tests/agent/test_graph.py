"""The graph's routing, event order, state reducers and sessions, over fakes."""

from __future__ import annotations

import pytest

from agent.graph import build_graph, route_perception
from attune.errors import InputError
from tests.agent.helpers import APPRAISAL_JSON, fake_attune


def test_route_skips_absent_perception():
    assert route_perception({"user_text": "hello", "inputs": ["text"]}) == "perceive_text"
    assert route_perception({"user_text": None, "inputs": ["audio"]}) == "perceive_speech"
    assert route_perception({"user_text": None, "inputs": ["image"]}) == "perceive_face"
    assert route_perception({"user_text": None}) == "fuse_affect"
    assert route_perception({}) == "fuse_affect"


def test_graph_shape():
    graph = build_graph().get_graph()
    edges = {(e.source, e.target) for e in graph.edges}
    assert {
        ("__start__", "perceive_speech"),
        ("__start__", "perceive_text"),
        ("__start__", "perceive_face"),
        ("perceive_speech", "perceive_text"),
        ("perceive_text", "perceive_face"),
        ("perceive_text", "fuse_affect"),
        ("perceive_face", "fuse_affect"),
        ("fuse_affect", "check_safety"),
        ("check_safety", "appraise"),
        ("check_safety", "safe_reply"),
        ("safe_reply", "__end__"),
        ("appraise", "plan_strategy"),
        ("plan_strategy", "respond"),
        ("respond", "__end__"),
    } <= edges
    # speaking is the speech stage's, beside the graph (agent/speech.py)
    assert not {"synthesize_speech", "render_avatar"} & {e.source for e in graph.edges}


def test_turn_events_come_in_order():
    bot = fake_attune()
    types = [e.type for e in bot.stream_turn("My dog died and I am sad", "s1")]
    # text emotion, then the fused affect
    assert types[:5] == ["perception", "perception", "safety", "appraisal", "strategy"]
    assert set(types[5:-1]) == {"reply.delta"} and types[-1] == "reply.done"
    assert len({e.turn_id for e in bot.stream_turn("again", "s1")}) == 1


def test_full_turn_result():
    bot = fake_attune()
    result = bot.turn("My dog died and I am sad", "s1")
    assert result.reply == "I'm so sorry. That must hurt a lot."
    assert result.text_emotion is not None and result.text_emotion.primary_ekman == "sadness"
    assert result.appraisal is not None and result.appraisal.sources["event"] == "llm"
    assert result.strategy is not None and result.strategy.planner == "fake"
    assert {"perceive_text", "appraise", "plan_strategy", "respond", "total"} <= set(
        result.timings_ms
    )


def test_history_grows_and_per_turn_state_resets():
    bot = fake_attune([APPRAISAL_JSON, "First reply.", APPRAISAL_JSON, "Second reply."])
    first = bot.turn("My dog died and I am sad", "s1")
    second = bot.turn("ok", "s1")
    assert second.text_emotion is not None and second.text_emotion.primary == "neutral"
    assert set(second.timings_ms) >= {"respond"} and second.turn_id != first.turn_id
    history = bot.history("s1")
    assert [m.content for m in history] == [
        "My dog died and I am sad",
        "First reply.",
        "ok",
        "Second reply.",
    ]
    # the LLM saw the earlier exchange when writing the second reply
    messages, _ = bot.context.llm.calls[-1]  # type: ignore[attr-defined]
    assert [m.content for m in messages[-3:]] == ["My dog died and I am sad", "First reply.", "ok"]


def test_sessions_are_isolated():
    bot = fake_attune()
    bot.turn("hello", "alice")
    assert bot.history("bob") == []
    assert len(bot.history("alice")) == 2


def test_session_survives_a_restart(tmp_path):
    db = tmp_path / "sessions.sqlite"
    first = fake_attune(db=db)
    first.turn("My dog died", "persist-1")
    first.close()
    second = fake_attune(db=db)
    assert [m.role for m in second.history("persist-1")] == ["user", "assistant"]
    second.turn("I still miss him", "persist-1")
    assert len(second.history("persist-1")) == 4
    second.close()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty_text"),
        ("   \n\t ", "empty_text"),
        ("x" * 100_000, "text_too_long"),
        (None, "empty_turn"),
        (b"bytes", "bad_type"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(text, code):
    bot = fake_attune()
    bot.turn("hello", "s1")
    with pytest.raises(InputError) as err:
        bot.turn(text, "s1")
    assert err.value.code == code
    assert str(err.value)  # a message a person can read
    assert len(bot.history("s1")) == 2
    assert bot.turn("still there?", "s1").reply  # the session still works


def test_control_characters_are_removed():
    bot = fake_attune()
    bot.turn("hi\x00 there\x07", "s1")
    assert bot.history("s1")[0].content == "hi there"


@pytest.mark.parametrize("session_id", ["", "has space", "../etc", "x" * 200, "é"])
def test_bad_session_ids_are_rejected(session_id):
    with pytest.raises(InputError) as err:
        fake_attune().turn("hello", session_id)
    assert err.value.code == "bad_session_id"


def test_a_backend_failure_mid_turn_leaves_the_session_usable():
    bot = fake_attune()
    bot.turn("hello", "s1")

    def broken(*args, **kwargs):
        raise RuntimeError("model crashed")

    original = bot.context.planner.predict_proba
    bot.context.planner.predict_proba = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        bot.turn("this turn fails", "s1")
    bot.context.planner.predict_proba = original  # type: ignore[method-assign]
    assert bot.turn("and this one works", "s1").reply
    contents = [m.content for m in bot.history("s1")]
    assert "this turn fails" not in contents  # history records only turns that completed
