import jinja2
import pytest

from agent.nodes.respond import build_reply_messages
from agent.prompting import render, strategy_guides, template_names
from attune.taxonomy import STRATEGIES
from attune.types import Appraisal, ChatMessage

APPRAISAL = Appraisal(event="e", emotion="sad", cause="c", goal="comfort them")
VARIABLES = {
    "respond_system.j2": {
        "appraisal": APPRAISAL,
        "instruction": "Ask a question.",
        "mixed": "their words and their expression",
    },
    "appraisal_system.j2": {},
    "appraisal_user.j2": {
        "history": ["Them: hi"],
        "message": "m",
        "emotion_hint": "sad",
        "mixed": None,
        "affect_hint": "your voice is quiet",
    },
}


def test_every_template_renders():
    assert sorted(VARIABLES) == template_names()
    for name in template_names():
        assert render(name, **VARIABLES[name])


def test_a_missing_variable_is_an_error():
    with pytest.raises(jinja2.UndefinedError):
        render("respond_system.j2", appraisal=None, mixed=None)


def test_every_strategy_has_a_guide_with_examples():
    guides = strategy_guides()
    for strategy in STRATEGIES:
        assert guides[strategy]["instruction"]
        assert len(guides[strategy]["examples"]) >= 2


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_reply_messages_shape(strategy):
    history = [ChatMessage(role="user", content="a"), ChatMessage(role="assistant", content="b")]
    msgs = build_reply_messages(strategy, APPRAISAL, history, "now", history_limit=6)
    assert msgs[0].role == "system" and "comfort them" in msgs[0].content
    assert msgs[-1] == ChatMessage(role="user", content="now")
    assert [m.role for m in msgs[1:5]] == ["user", "assistant", "user", "assistant"]
    assert msgs[-3].content == "a" and msgs[-2].content == "b"


def test_mixed_signals_reach_the_reply_prompt():
    plain = build_reply_messages(STRATEGIES[0], APPRAISAL, [], "I'm fine", history_limit=0)
    mixed = build_reply_messages(
        STRATEGIES[0], APPRAISAL, [], "I'm fine", 0, mixed="their words and their expression"
    )
    assert "do not match" not in plain[0].content
    assert "do not match" in mixed[0].content
