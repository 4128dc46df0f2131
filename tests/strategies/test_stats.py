"""Bootstrap intervals over dialogues and the paired randomisation test, on cases worked out
by hand."""

from __future__ import annotations

import numpy as np
import pytest

from attune.taxonomy import STRATEGIES, Strategy
from strategies.metrics import evaluate
from strategies.stats import bootstrap, bootstrap_share, cluster, metrics_of, paired_test

Q, R, AFF = Strategy.QUESTION, Strategy.REFLECTION, Strategy.AFFIRMATION


def test_clusters_sum_to_the_whole_and_metrics_agree_with_evaluate():
    gold = [Q, R, AFF, Q, R, Q]
    pred = [Q, Q, AFF, R, R, AFF]
    groups = [0, 0, 1, 1, 2, 2]
    stages = [0, 1, 2, 0, 1, 2]
    data = cluster(gold, pred, groups, stages)
    assert data.tables.shape == (3, 3, 8, 8)
    assert data.total.sum() == 6
    whole = metrics_of(data.tables.sum(axis=0), True)
    report = evaluate(gold, pred, stages)
    assert whole["Q"] == pytest.approx(report.q)
    assert whole["B"] == pytest.approx(report.bias)
    assert whole["stages"][1] == pytest.approx(report.stages["comforting"]["weighted_f1"])


def test_a_perfect_planner_has_degenerate_intervals():
    gold = [s for s in STRATEGIES for _ in range(3)]
    data = cluster(gold, gold, list(range(len(gold))))
    ci = bootstrap(data, replicates=200, seed=1)
    # every replicate is perfect; strategies a replicate leaves out still score 100 on the rest
    assert ci["Q"] == [100.0, 100.0]
    assert ci["B"] == [0.0, 0.0]
    assert ci["preference"]["Question"] == [1.0, 1.0]
    assert ci["clusters"] == 24 and "stages" not in ci


def test_share_interval_of_two_clusters_by_hand():
    # one dialogue all right, one all wrong: a replicate draws {both right, mixed, both wrong}
    # with probabilities 1/4, 1/2, 1/4, so the 2.5th and 97.5th percentiles are 0 and 1
    ci = bootstrap_share([True, True, False, False], ["a", "a", "b", "b"], replicates=2000)
    assert ci == [0.0, 1.0]
    assert bootstrap_share([True] * 5, list(range(5))) == [1.0, 1.0]
    assert bootstrap_share([], []) is None


def test_interval_is_reproducible_and_contains_the_estimate():
    rng = np.random.default_rng(3)
    gold = [STRATEGIES[i] for i in rng.integers(0, 8, 400)]
    pred = [g if rng.random() < 0.4 else STRATEGIES[rng.integers(0, 8)] for g in gold]
    groups = [i // 10 for i in range(400)]
    data = cluster(gold, pred, groups)
    a = bootstrap(data, replicates=300, seed=7)
    assert a == bootstrap(data, replicates=300, seed=7)
    whole = metrics_of(data.tables.sum(axis=0), False)
    assert a["Q"][0] < whole["Q"] < a["Q"][1]
    assert a["B"][0] < whole["B"] < a["B"][1]


def test_paired_test_sees_no_difference_between_identical_runs():
    gold = [STRATEGIES[i % 8] for i in range(80)]
    pred = [STRATEGIES[(i * 3) % 8] for i in range(80)]
    groups = [i // 8 for i in range(80)]
    a = cluster(gold, pred, groups)
    test = paired_test(a, a, replicates=100, rounds=200)
    for key in ("Q", "weighted_f1", "B"):
        assert test[key]["difference"] == 0.0
        assert test[key]["interval"] == [0.0, 0.0]
        assert test[key]["p"] == 1.0


def test_paired_test_finds_a_real_difference_and_refuses_other_turns():
    gold = [STRATEGIES[i % 8] for i in range(160)]
    groups = [i // 8 for i in range(160)]
    good = cluster(gold, gold, groups)
    always_q = cluster(gold, [Q] * 160, groups)
    test = paired_test(good, always_q, replicates=200, rounds=500, seed=2)
    assert test["Q"]["difference"] > 80
    assert test["Q"]["interval"][0] > 0
    # no swap of 20 dialogues is as extreme as none at all... except the all-or-nothing ones
    assert test["Q"]["p"] < 0.01
    assert test["B"]["difference"] == pytest.approx(-np.sqrt(7), abs=1e-3)
    with pytest.raises(ValueError, match="same turns"):
        paired_test(good, cluster(gold[:80], gold[:80], groups[:80]))
