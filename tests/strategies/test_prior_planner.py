import json

from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import PlanningContext
from strategies.planners.prior import PriorPlanner
from strategies.priors import compute_priors


def test_probabilities_cover_all_strategies_and_sum_to_one():
    planner = PriorPlanner()
    for turns in range(0, 15):
        probs = planner.predict_proba(PlanningContext(dialogue=[("seeker", "x")] * turns))
        assert set(probs) == set(STRATEGIES)
        assert abs(sum(probs.values()) - 1) < 1e-9


def test_stage_matters_questions_early_suggestions_later():
    planner = PriorPlanner()
    early = planner.predict_proba(PlanningContext(dialogue=[("seeker", "hi")]))
    late = planner.predict_proba(
        PlanningContext(dialogue=[("seeker", "x")] * 7, previous_strategies=[Strategy.AFFIRMATION])
    )
    assert max(early, key=early.get) is Strategy.QUESTION
    assert late[Strategy.SUGGESTIONS] > early[Strategy.SUGGESTIONS] * 5


def test_shipped_table_is_reproduced_from_the_data(data_dir):
    table = compute_priors(data_dir / "esconv" / "train.jsonl")
    shipped = json.loads(
        PriorPlanner.__module__
        and __import__("importlib.resources")
        .resources.files("strategies")
        .joinpath("data/strategy_priors.json")
        .read_text("utf-8")
    )
    assert table == shipped
    assert table["samples"] == 12235 and "CC BY-NC" in table["licence"]
