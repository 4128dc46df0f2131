"""The study's methods of the LLM planner: what each sends, in which steps, and what it parses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from attune.errors import ConfigError
from attune.taxonomy import Strategy
from strategies.base import PlanningContext
from strategies.cache import AnswerCache, CachedAsker
from strategies.examples import ExampleIndex, seeker_block
from strategies.planners.llm import (
    METHODS,
    LLMPlanner,
    build_messages,
    parse_final_strategy,
)
from tests.fakes import FakeLLM, FakePlanner
from tests.strategies.test_llm_planner import CONTEXT as BASE_CONTEXT

#: The LLM planner tests' context, with the seeker's last block two messages long.
CONTEXT = dataclasses.replace(
    BASE_CONTEXT, dialogue=[*BASE_CONTEXT.dialogue, ("seeker", "And still failed.")]
)


def test_every_method_builds_a_prompt_and_direct_is_the_agents():
    direct = build_messages(CONTEXT)
    assert direct == build_messages(CONTEXT, method="direct")
    assert "Answer with the name of exactly one strategy" in direct[0].content
    for method in METHODS:
        messages = build_messages(CONTEXT, method=method)
        assert [m.role for m in messages] == ["system", "user"]
        assert "I studied for weeks." in messages[1].content
    cot = build_messages(CONTEXT, method="cot")
    assert "Do not name a strategy yet" in cot[0].content
    assert "how does the seeker feel" in cot[1].content


def test_examples_hint_and_notes_are_shown_where_given():
    user = build_messages(
        CONTEXT,
        examples=[("I failed my driving test.", Strategy.REFLECTION)],
        hint=[(Strategy.QUESTION, 0.412), (Strategy.AFFIRMATION, 0.2)],
        notes="They feel defeated.",
    )[1].content
    assert "- Seeker: I failed my driving test. -> Reflection of feelings" in user
    assert (
        "suggests (with its probabilities): Question (0.41), Affirmation and Reassurance (0.20)"
        in user
    )
    assert "Notes on the seeker: They feel defeated." in user
    # examples come before the conversation, the hint after it
    assert (
        user.index("Seeker: I failed") < user.index("Conversation so far") < user.index("suggests")
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Question would explore it. Strategy: Reflection of feelings", Strategy.REFLECTION),
        ("I first thought Question.\nFinal strategy: Providing Suggestions.", Strategy.SUGGESTIONS),
        ("They need comfort.\nAffirmation and Reassurance", Strategy.AFFIRMATION),
        ("Strategy: none of these", None),
        ("They feel sad and alone.", None),
    ],
)
def test_parse_final_strategy_reads_the_last_choice(answer, expected):
    assert parse_final_strategy(answer) is expected


def test_cot_reasons_then_asks_the_direct_question_with_the_reasoning_as_notes():
    llm = FakeLLM(["The seeker feels defeated; we are still exploring.", "Question"])
    planner = LLMPlanner(llm, method="cot")
    decision = planner.decide(CONTEXT)
    assert decision.strategy is Strategy.QUESTION
    assert decision.answers == ("The seeker feels defeated; we are still exploring.", "Question")
    (first, p1), (second, p2) = llm.calls
    assert "how does the seeker feel" in first[1].content and p1.max_tokens == 64
    assert "Notes on the seeker: The seeker feels defeated" in second[1].content
    assert "Which strategy should the supporter use next?" in second[1].content
    assert p2.max_tokens == 24 and p2.temperature == 0.0


def test_self_refine_revises_and_keeps_the_first_answer_when_the_revision_names_none():
    llm = FakeLLM(["Question", "They need comfort first. Final strategy: Reflection of feelings"])
    planner = LLMPlanner(llm, method="self-refine")
    assert planner.decide(CONTEXT).strategy is Strategy.REFLECTION
    revise = llm.calls[1][0]
    assert [m.role for m in revise] == ["system", "user", "assistant", "user"]
    assert revise[2].content == "Question"
    assert 'Check your choice "Question"' in revise[3].content
    # the revision names nothing: the first answer stands
    llm2 = FakeLLM(["Question", "Hard to say."])
    assert LLMPlanner(llm2, method="self-refine").decide(CONTEXT).strategy is Strategy.QUESTION
    # neither names one: unparsed, counted, scored as Others
    llm3 = FakeLLM(["Hmm.", "Hard to say."])
    planner3 = LLMPlanner(llm3, method="self-refine")
    assert planner3.predict_proba(CONTEXT)[Strategy.OTHERS] > 0.8
    assert planner3.unparsed == 1


def test_planner_method_shows_the_advisors_top_three():
    llm = FakeLLM(["Reflection of feelings"])
    planner = LLMPlanner(llm, method="planner", advisor=FakePlanner(Strategy.INFORMATION))
    assert planner.decide(CONTEXT).strategy is Strategy.REFLECTION
    user = llm.calls[0][0][1].content
    assert "suggests (with its probabilities): Information (0.65)" in user
    assert user.count("(0.05)") == 2  # the next two, ties broken in strategy order


def test_stimulus_methods_and_misconfigurations():
    llm = FakeLLM(["Question"])
    LLMPlanner(llm, method="positive").decide(CONTEXT)
    assert "you are good at this" in llm.calls[0][0][1].content
    with pytest.raises(ConfigError, match="needs an example index"):
        LLMPlanner(llm, method="example")
    with pytest.raises(ConfigError, match="needs an advisor"):
        LLMPlanner(llm, method="planner")
    with pytest.raises(ConfigError, match="disagree"):
        LLMPlanner(llm, method="positive", stimulus="negative")
    with pytest.raises(ConfigError, match="unknown method"):
        LLMPlanner(llm, method="tree-of-thought")  # type: ignore[arg-type]


def _toy_embed(texts):
    """Bag of three words, L2-normalised: enough to check which example is nearest."""
    words = ("exam", "job", "partner")
    rows = np.array([[t.lower().count(w) + 1e-3 for w in words] for t in texts], dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_example_method_shows_the_nearest_turns():
    index = ExampleIndex(
        ["I lost my job.", "My exam was a disaster, the exam was unfair.", "My partner left."],
        [Strategy.SUGGESTIONS, Strategy.REFLECTION, Strategy.QUESTION],
        _toy_embed(["I lost my job.", "My exam was a disaster, the exam was unfair.", "x partner"]),
        _toy_embed,
    )
    ctx = PlanningContext(dialogue=[("seeker", "The exam went badly.")])
    assert index.nearest(ctx, 1) == [
        ("My exam was a disaster, the exam was unfair.", Strategy.REFLECTION)
    ]
    assert index.nearest(PlanningContext(), 2) == []
    llm = FakeLLM(["Reflection of feelings"])
    LLMPlanner(llm, method="example", examples=index).decide(ctx)
    assert "- Seeker: My exam was a disaster" in llm.calls[0][0][1].content
    assert seeker_block(CONTEXT.dialogue) == "I studied for weeks. And still failed."


def test_answers_go_through_the_cache_by_method_and_sample(tmp_path):
    llm = FakeLLM(["Question", "Final strategy: Question"])
    with AnswerCache(tmp_path / "c.sqlite") as cache:
        asker = CachedAsker(llm, "fake|model", cache)
        direct = LLMPlanner(llm, asker=asker)
        refine = LLMPlanner(llm, method="self-refine", asker=asker)
        direct.decide(CONTEXT, "valid.jsonl:0:3")
        assert (asker.asked, asker.cached) == (1, 0)
        # self-refine's first step is the direct request: taken from the cache
        refine.decide(CONTEXT, "valid.jsonl:0:3")
        assert (asker.asked, asker.cached) == (2, 1)
        assert cache.count("fake|model", "direct") == 1
        assert cache.count("fake|model", "self-refine") == 1
        # another sample key is another answer; no key: never cached
        direct.decide(CONTEXT, "valid.jsonl:0:5")
        direct.decide(CONTEXT)
        assert (asker.asked, asker.cached) == (4, 1)
    assert len(llm.calls) == 4
