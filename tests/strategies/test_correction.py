"""The bias correction: the logit adjustment, its fitting, the wrapper and the corrections file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from attune import registry
from attune.errors import ConfigError, ModelNotFoundError
from attune.settings import AttuneSettings
from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import PlanningContext
from strategies.correction import (
    BiasCorrectedPlanner,
    LogitAdjustment,
    correction_for,
    fit_logit_adjustment,
    load_corrections,
    save_correction,
    with_correction,
)
from strategies.metrics import evaluate
from strategies.planners.prior import PriorPlanner
from tests.fakes import FakePlanner


def test_adjustment_reweights_and_keeps_a_distribution():
    adjustment = LogitAdjustment({Strategy.QUESTION: -np.log(4.0)})
    probs = {s: 1 / 8 for s in STRATEGIES}
    out = adjustment.apply(probs)
    # p'(Q) ∝ 1/8 * 1/4, the others ∝ 1/8: p'(Q) = (1/4) / (1/4 + 7) = 1/29
    assert out[Strategy.QUESTION] == pytest.approx(1 / 29)
    assert sum(out.values()) == pytest.approx(1.0)
    array = adjustment.apply_array(np.full((3, 8), 1 / 8))
    assert array[:, 0] == pytest.approx([1 / 29] * 3)
    assert LogitAdjustment.from_dict(adjustment.to_dict()).vector() == pytest.approx(
        adjustment.vector(), abs=1e-4
    )


def biased_probabilities(n: int = 800, seed: int = 0) -> tuple[np.ndarray, list[Strategy]]:
    """A planner that knows the truth a little but leans heavily towards Question."""
    rng = np.random.default_rng(seed)
    gold_idx = rng.integers(0, 8, size=n)
    logits = rng.normal(size=(n, 8))
    logits[np.arange(n), gold_idx] += 1.5
    logits[:, 0] += 1.5  # the preference
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs, [STRATEGIES[i] for i in gold_idx]


def test_fitting_lowers_the_bias_without_losing_proficiency():
    probs, gold = biased_probabilities()
    before = evaluate(gold, [STRATEGIES[i] for i in probs.argmax(axis=1)])
    adjustment = fit_logit_adjustment(probs, gold)
    fixed = adjustment.apply_array(probs)
    after = evaluate(gold, [STRATEGIES[i] for i in fixed.argmax(axis=1)])
    assert after.bias < before.bias / 2
    assert after.q >= before.q
    assert adjustment.offsets[Strategy.QUESTION] < 0  # the preferred strategy is pushed down
    assert sum(adjustment.offsets.values()) == pytest.approx(0.0, abs=1e-9)
    # held-out data from the same planner benefits too
    probs2, gold2 = biased_probabilities(seed=1)
    held = evaluate(gold2, [STRATEGIES[i] for i in adjustment.apply_array(probs2).argmax(axis=1)])
    assert held.bias < evaluate(gold2, [STRATEGIES[i] for i in probs2.argmax(axis=1)]).bias


def test_fitting_checks_shapes():
    with pytest.raises(ValueError):
        fit_logit_adjustment(np.ones((3, 7)) / 7, [Strategy.QUESTION] * 3)
    with pytest.raises(ValueError):
        fit_logit_adjustment(np.ones((3, 8)) / 8, [Strategy.QUESTION] * 2)


def test_wrapper_adjusts_any_planner():
    base = FakePlanner(Strategy.REFLECTION)
    wrapped = BiasCorrectedPlanner(base, LogitAdjustment({Strategy.REFLECTION: -5.0}))
    context = PlanningContext(dialogue=[("seeker", "hi")])
    assert base.choose(context) is Strategy.REFLECTION
    assert wrapped.choose(context) is not Strategy.REFLECTION
    assert wrapped.name == "fake+corrected"
    batch = wrapped.predict_proba_batch([context, context])
    assert batch[0] == pytest.approx(wrapped.predict_proba(context))


def test_corrections_file_roundtrip(tmp_path: Path):
    path = tmp_path / "c.json"
    save_correction(path, "fake", LogitAdjustment({Strategy.OTHERS: 0.5}), {"fitted_on": "x"})
    save_correction(path, "prior", LogitAdjustment({Strategy.QUESTION: -0.5}), {})
    table = load_corrections(path)
    assert set(table["planners"]) == {"fake", "prior"} and "CC BY-NC" in table["licence"]
    fitted = correction_for("fake", path)
    assert fitted is not None and fitted.offsets[Strategy.OTHERS] == 0.5
    assert correction_for("nobody", path) is None
    with pytest.raises(ModelNotFoundError):
        load_corrections(tmp_path / "missing.json")


def test_with_correction_follows_the_settings(tmp_path: Path, caplog):
    path = tmp_path / "c.json"
    save_correction(path, "fake", LogitAdjustment({Strategy.OTHERS: 0.5}), {})
    on = AttuneSettings(planner={"correct": True, "correction_path": str(path)})
    off = AttuneSettings(planner={"correct": False, "correction_path": str(path)})
    assert isinstance(with_correction(FakePlanner(), on), BiasCorrectedPlanner)
    assert isinstance(with_correction(FakePlanner(), off), FakePlanner)
    with caplog.at_level(logging.WARNING):
        plain = with_correction(PriorPlanner(), on)  # no entry for "prior" in that file
    assert isinstance(plain, PriorPlanner) and "no bias correction" in caplog.text
    with pytest.raises(ConfigError, match="attune train correction"):
        with_correction(PriorPlanner(), on, required=True)


def test_shipped_corrections_cover_trained_and_prior():
    table = load_corrections()
    assert {"trained", "prior"} <= set(table["planners"])
    entry = table["planners"]["trained"]
    assert "out-of-fold" in entry["fitted_on"]  # valid.jsonl stays held out for it
    assert entry["valid_after"]["B"] < entry["valid_before"]["B"]
    prior = registry.create("strategy_planner", "prior", AttuneSettings())
    assert prior.name == "prior+corrected"


def test_shipped_file_is_valid_json():
    from importlib import resources

    raw = resources.files("strategies").joinpath("data/planner_corrections.json").read_text()
    assert json.loads(raw)["planners"]["trained"]["offsets"].keys() == {s.value for s in STRATEGIES}
