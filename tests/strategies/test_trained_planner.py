"""The trained planner: wiring over a fake embedder, the shipped artifact, and the real model."""

from __future__ import annotations

import hashlib
import json
import logging
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from attune import registry
from attune.errors import ConfigError, ModelNotFoundError
from attune.settings import AttuneSettings
from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import PlanningContext
from strategies.correction import BiasCorrectedPlanner
from strategies.data import load_samples
from strategies.evaluation import run_planner
from strategies.planners import trained
from strategies.planners.prior import PriorPlanner
from strategies.planners.trained import FEATURE_DIM, TrainedPlanner, featurize, load_head
from tests.fakes import FakeEmbedder


class Fake384(FakeEmbedder):
    """The fake hashing embedder at MiniLM's width."""

    dim = 384


CONTEXT = PlanningContext(
    dialogue=[("seeker", "I lost my job"), ("supporter", "I'm sorry."), ("seeker", "Thanks")],
    previous_strategies=[Strategy.REFLECTION],
    situation="lost job",
    emotion_type="sadness",
)


def test_features_have_the_documented_layout():
    rows = featurize([CONTEXT, PlanningContext()], Fake384().embed)
    assert rows.shape == (2, FEATURE_DIM) and rows.dtype == np.float32
    assert np.linalg.norm(rows[0, :384]) == pytest.approx(1.0, abs=1e-5)  # the seeker block
    assert not rows[1, :1536].any()  # an empty conversation has no text at all
    hidden = featurize([CONTEXT], Fake384().embed, hide_background=[True])
    assert not hidden[0, 1152:1536].any() and rows[0, 1152:1536].any()
    with pytest.raises(ConfigError, match="384"):
        featurize([CONTEXT], FakeEmbedder().embed)


def test_shipped_artifact_is_small_and_documented():
    head = trained.shipped_head_path()
    card_path = head.with_suffix(".json")
    assert head.stat().st_size < 1_000_000
    card = json.loads(card_path.read_text("utf-8"))
    assert "CC BY-NC 4.0" in card["licence"]
    assert card["command"].startswith("attune train planner")
    assert card["sha256"] == hashlib.sha256(head.read_bytes()).hexdigest()
    weights, bias, meta = load_head(head)
    assert weights.shape == (FEATURE_DIM, 8) and bias.shape == (8,)
    assert meta["labels"] == [s.value for s in STRATEGIES]
    after = card["metrics"]["valid_corrected"]
    assert after["Q"] >= 22 and after["B"] <= 0.30  # the target for the default


def test_wiring_over_a_fake_embedder():
    planner = TrainedPlanner(embedder=Fake384())
    probs = planner.predict_proba(CONTEXT)
    assert set(probs) == set(STRATEGIES) and sum(probs.values()) == pytest.approx(1.0)
    batch = planner.predict_proba_batch([CONTEXT, PlanningContext(dialogue=[("seeker", "hi")])])
    assert batch[0] == pytest.approx(probs)


def test_default_planner_is_the_corrected_trained_one():
    settings = AttuneSettings()
    planner = registry.create(
        "strategy_planner", settings.backends.strategy_planner, settings, embedder=Fake384()
    )
    assert isinstance(planner, BiasCorrectedPlanner) and planner.name == "trained+corrected"
    assert isinstance(planner.base, TrainedPlanner)


def test_missing_or_wrong_artifacts(tmp_path: Path, monkeypatch, caplog):
    missing = tmp_path / "none.npz"
    settings = AttuneSettings(planner={"model_path": str(missing)})
    with pytest.raises(ModelNotFoundError, match="attune train planner"):
        TrainedPlanner.from_settings(settings, embedder=Fake384())
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, weights=np.zeros((3, 8)), bias=np.zeros(8), meta=np.array('{"labels": []}'))
    with pytest.raises(ModelNotFoundError, match="retrain"):
        TrainedPlanner(wrong, Fake384()).predict_proba(CONTEXT)
    # a broken install (no shipped head): the agent still runs, on the prior planner
    monkeypatch.setattr(trained, "shipped_head_path", lambda: missing)
    with caplog.at_level(logging.WARNING):
        planner = TrainedPlanner.from_settings(AttuneSettings(), embedder=Fake384())
    assert planner.name == "prior+corrected" and "attune train planner" in caplog.text


@pytest.fixture(scope="module")
def minilm():
    from modalities.text.minilm import MiniLMEmbedder

    return MiniLMEmbedder.from_settings(AttuneSettings(device="cpu"))


@pytest.mark.slow
def test_real_model_beats_the_prior_on_a_slice(data_dir: Path, minilm):
    samples = load_samples(data_dir / "esconv" / "valid.jsonl", limit=300)
    settings = AttuneSettings(device="cpu")
    planner = registry.create("strategy_planner", "trained", settings, embedder=minilm)
    trained_report = run_planner(planner, samples, batch_size=300).report()
    prior_report = run_planner(PriorPlanner(), samples).report()
    assert trained_report.q > prior_report.q + 2
    assert trained_report.bias < prior_report.bias
    assert trained_report.unparsed is None


def test_resources_hold_the_files():
    files = {p.name for p in resources.files("strategies").joinpath("data").iterdir()}
    assert {"planner_head.npz", "planner_head.json", "planner_corrections.json"} <= files


def test_the_graph_records_the_default_planners_probabilities():
    from agent import Attune
    from agent.safety import CrisisDetector
    from agent.sessions import open_sqlite_store
    from tests.agent.helpers import APPRAISAL_JSON
    from tests.fakes import FakeLLM, FakeTextEmotion

    settings = AttuneSettings(llm={"candidates": 1})
    # the crisis check runs on its patterns only (a classifier fitted over the fake embedder
    # would be arbitrary); the planner gets a 384-d embedder, as the agent's MiniLM would be
    planner = registry.create(
        "strategy_planner", settings.backends.strategy_planner, settings, embedder=Fake384()
    )
    bot = Attune(
        settings,
        embedder=FakeEmbedder(),
        planner=planner,
        text_emotion=FakeTextEmotion(),
        llm=FakeLLM([APPRAISAL_JSON, "I'm sorry. What happened?"]),
        checkpointer=open_sqlite_store(":memory:"),
        safety=CrisisDetector(None),
    )
    decision = bot.turn("My dog died and I am sad", "s1").strategy  # as in tests/agent
    assert decision is not None and decision.planner == "trained+corrected"
    assert set(decision.probabilities) == set(STRATEGIES)
    assert sum(decision.probabilities.values()) == pytest.approx(1.0)
    assert decision.strategy == max(decision.probabilities, key=decision.probabilities.__getitem__)
