"""The LLM planner: answer parsing, the prompt, unparsed answers counted; one real-model run."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from attune import registry
from attune.errors import ConfigError
from attune.settings import AttuneSettings
from attune.taxonomy import Strategy
from strategies.base import PlanningContext
from strategies.data import load_samples
from strategies.evaluation import run_planner
from strategies.planners import llm as llm_planner
from strategies.planners.llm import LLMPlanner, build_messages, parse_strategy, stimulus_text
from tests.fakes import FakeLLM

CONTEXT = PlanningContext(
    dialogue=[
        ("supporter", "Hi, how can I help?"),
        ("seeker", "My exam went badly."),
        ("supporter", "That must be hard."),
        ("seeker", "I studied for weeks."),
    ],
    previous_strategies=[Strategy.QUESTION, Strategy.REFLECTION],
    situation="failed an exam",
    emotion_type="sadness",
    problem_type="academic pressure",
)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Question", Strategy.QUESTION),
        ("  providing suggestions.", Strategy.SUGGESTIONS),
        ('{"strategy": "Reflection of Feelings"}', Strategy.REFLECTION),
        ('{"strategy": "Self-disclosure"} trailing', Strategy.SELF_DISCLOSURE),
        ("**Affirmation and Reassurance**", Strategy.AFFIRMATION),
        ("The supporter should use the Restatement or Paraphrasing strategy", Strategy.RESTATEMENT),
        ("3. Reflection of feelings", Strategy.REFLECTION),
        ("6", Strategy.SUGGESTIONS),
        ("Strategy 7", Strategy.INFORMATION),
        ("I pick option #2", Strategy.RESTATEMENT),
        ("I would go with self disclosure here", Strategy.SELF_DISCLOSURE),
        ("Approval and Reassurance", Strategy.AFFIRMATION),
        ("Reassure them that it gets easier", Strategy.AFFIRMATION),
        ("Suggest a walk", Strategy.SUGGESTIONS),
        ("Information, then a Question", Strategy.INFORMATION),  # the earliest mention wins
        ("Other", Strategy.OTHERS),
        ("providing_suggestions", Strategy.SUGGESTIONS),
    ],
)
def test_parse_strategy(answer, expected):
    assert parse_strategy(answer) is expected


@pytest.mark.parametrize("answer", ["", "   ", "I am not sure.", "Be kind.", "12", "{broken"])
def test_unparseable_answers(answer):
    assert parse_strategy(answer) is None


def test_prompt_lists_definitions_context_and_stimulus():
    system, user = build_messages(CONTEXT, stimulus="positive", context_messages=3)
    assert system.role == "system" and user.role == "user"
    for strategy in Strategy:
        assert strategy.value in system.content and strategy.definition in system.content
    assert "Background: sadness; academic pressure. failed an exam" in user.content
    assert "Supporter (Reflection of feelings): That must be hard." in user.content
    assert "Hi, how can I help?" not in user.content  # only the last 3 messages
    assert stimulus_text("positive") in user.content
    _, plain = build_messages(CONTEXT)
    assert stimulus_text("negative") not in plain.content and stimulus_text("none") == ""
    assert stimulus_text("positive") != stimulus_text("negative")
    with pytest.raises(ConfigError):
        stimulus_text("angry")  # type: ignore[arg-type]


def test_prompt_templates_are_strict():
    system, _ = llm_planner._templates()
    with pytest.raises(jinja2.UndefinedError):
        system.render()


def test_unparsed_answers_are_counted_and_scored_as_others():
    fake = FakeLLM(["Reflection of feelings", "hmm, hard to say", "Question"])
    planner = LLMPlanner(fake)
    probs = [planner.predict_proba(CONTEXT) for _ in range(3)]
    assert [max(p, key=p.__getitem__) for p in probs] == [
        Strategy.REFLECTION,
        Strategy.OTHERS,
        Strategy.QUESTION,
    ]
    assert (planner.calls, planner.unparsed) == (3, 1)
    assert sum(probs[0].values()) == pytest.approx(1.0)
    messages, params = fake.calls[0]
    assert params.temperature == 0.0 and params.json_schema is None
    assert messages[0].role == "system"


def test_constrained_decoding_when_the_backend_supports_it():
    fake = FakeLLM(['{"strategy": "Information"}'], json_schema=True)
    planner = LLMPlanner(fake, constrained=True)
    assert planner.choose(CONTEXT) is Strategy.INFORMATION
    schema = fake.calls[0][1].json_schema
    assert schema is not None and len(schema["properties"]["strategy"]["enum"]) == 8  # type: ignore[index]
    plain = LLMPlanner(FakeLLM(["Others"], json_schema=False), constrained=True)
    assert plain.params().json_schema is None


def test_from_settings_shares_the_llm_and_reads_the_options():
    fake = FakeLLM(["Question"])
    settings = AttuneSettings(planner={"stimulus": "negative", "context_messages": 2})
    planner = registry.create("strategy_planner", "llm", settings, llm=fake)
    assert planner.name == "llm"  # no correction is shipped for the llm planner
    assert isinstance(planner, LLMPlanner) and planner.llm is fake
    assert planner.stimulus == "negative" and planner.context_messages == 2


def test_evaluation_reports_unparsed(data_dir: Path):
    samples = load_samples(data_dir / "esconv" / "valid.jsonl", limit=10)
    planner = LLMPlanner(FakeLLM(["Question", "no idea"]))
    report = run_planner(planner, samples).report()
    assert report.unparsed == 5 and report.n == 10
    assert report.to_dict()["unparsed"] == 5


@pytest.mark.slow
def test_bundled_llm_on_a_few_samples(data_dir: Path):
    settings = AttuneSettings(device="cpu")
    llm = registry.create("llm", "llamacpp", settings)
    try:
        planner = LLMPlanner(llm)
        samples = load_samples(data_dir / "esconv" / "valid.jsonl", limit=4)
        run = run_planner(planner, samples)
        assert run.unparsed is not None and 0 <= run.unparsed <= 4
        assert planner.calls == 4 and len(run.predictions) == 4
        assert run.report().n == 4
    finally:
        llm.close()
