"""The metrics on hand-built confusion tables (answers worked out by hand), and properties."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attune.taxonomy import STRATEGIES, Strategy
from strategies.metrics import (
    confusion_matrix,
    evaluate,
    f1_per_strategy,
    format_table,
    macro_f1,
    preference,
    preference_bias,
    weighted_f1,
)

Q, R, OT = 0, 1, 7  # Question, Restatement, Others in STRATEGIES order


def table_from_w(w: np.ndarray, diagonal: int = 0) -> np.ndarray:
    """Confusion (truth by row) from w[i, j] = predicted i, truth j."""
    c = np.asarray(w).T.copy()
    np.fill_diagonal(c, diagonal)
    return c


def labels_from_table(c: np.ndarray) -> tuple[list[Strategy], list[Strategy]]:
    gold, pred = [], []
    for t in range(8):
        for p in range(8):
            gold += [STRATEGIES[t]] * int(c[t, p])
            pred += [STRATEGIES[p]] * int(c[t, p])
    return gold, pred


# --- hand-worked example 1: Question over-predicted against everyone ---------------------------
#
# w[Q, j] = 2 (Question predicted when the truth was j), w[j, Q] = 1 (j predicted when the truth
# was Question), w[j, k] = 1 between any two other strategies; 5 correct answers per strategy.
#
# Iteration 1, all p = 1:
#   p_Q = (7 * 2 * 1/2) / (7 * 1 * 1/2) = 7 / 3.5 = 2
#   any other j (p_Q = 2 now, the rest 1):
#     num = 1 * 2/(1+2) + 6 * 1/2 = 2/3 + 3 = 11/3,  den = 2/(1+2) + 6/2 = 11/3  ->  p_j = 1
# Normalised by the geometric mean 2^(1/8): p_Q = 2^(7/8), p_j = 2^(-1/8). Iteration 2 keeps
# p_Q = 2 p_j (p_Q = 7*2*p_j/(p_Q+p_j) / (7/(p_Q+p_j))), and p_j is a fixed point as above, and
# the geometric mean is now 1: converged. Rescaled to sum 8: sum = 2^(-1/8) * (2 + 7), so
#   p_Q = 16/9, p_j = 8/9, B = sqrt((7/9)^2 + 7 * (1/9)^2) / 8) = sqrt(7/81) = sqrt(7)/9.
# F1 (tp = 5 everywhere):
#   Question: fp = 7*2 = 14, fn = 7*1 = 7   -> 10/(10+14+7) = 10/31
#   other j:  fp = 1 + 6 = 7, fn = 2 + 6 = 8 -> 10/(10+7+8) = 2/5
#   macro = (10/31 + 7 * 2/5) / 8;  weighted: supports Q = 5+7 = 12, j = 5+2+6 = 13
#   weighted = (12 * 10/31 + 7 * 13 * 2/5) / (12 + 7*13)


def example_one() -> np.ndarray:
    w = np.ones((8, 8), dtype=int)  # w[j, Q] = 1 and w[j, k] = 1
    w[Q, :] = 2
    np.fill_diagonal(w, 0)
    return table_from_w(w, diagonal=5)


def test_hand_example_preferences_and_bias():
    p = preference(example_one())
    assert p[Q] == pytest.approx(16 / 9, abs=1e-9)
    assert p[1:] == pytest.approx([8 / 9] * 7, abs=1e-9)
    assert preference_bias(p) == pytest.approx(math.sqrt(7) / 9, abs=1e-9)


def test_hand_example_f1():
    c = example_one()
    f1 = f1_per_strategy(c)
    assert f1[Q] == pytest.approx(10 / 31)
    assert f1[1:] == pytest.approx([2 / 5] * 7)
    assert macro_f1(c) == pytest.approx((10 / 31 + 7 * 2 / 5) / 8)
    assert weighted_f1(c) == pytest.approx((12 * 10 / 31 + 7 * 13 * 2 / 5) / (12 + 7 * 13))
    report = evaluate(*labels_from_table(c))
    assert report.q == pytest.approx(100 * (10 / 31 + 7 * 2 / 5) / 8)
    assert report.n == int(c.sum()) == 8 * 5 + 7 * 2 + 7 * 1 + 42


# --- hand-worked example 2: one iteration, to pin the in-place update order -------------------
#
# w[Q, O] = 3, w[O, Q] = 1, w[O, R] = 2, w[R, Q] = 1; nothing else.
#   Q: num = 3 * 1/2 = 1.5, den = 1/2 + 1/2 = 1                      -> p_Q = 1.5
#   R: num = 1 * 1.5/(1+1.5) = 0.6, den = 2/(1+1) = 1                -> p_R = 0.6 (in place:
#      it already sees p_Q = 1.5; a simultaneous update would give 0.5)
#   strategies 2..6 take part in no error: half a win and half a loss against the virtual
#      neutral strategy -> 1
#   O: num = 1 * 1.5/2.5 + 2 * 0.6/1.6 = 0.6 + 0.75 = 1.35, den = 3/2.5 = 1.2 -> p_O = 1.125
# The geometric-mean division cancels in the final rescale: sum = 1.5 + 0.6 + 5 + 1.125 = 8.225.


def test_one_iteration_is_in_place_in_strategy_order():
    w = np.zeros((8, 8), dtype=int)
    w[Q, OT], w[OT, Q], w[OT, R], w[R, Q] = 3, 1, 2, 1
    p = preference(table_from_w(w), iterations=1)
    scale = 8 / 8.225
    assert p[Q] == pytest.approx(1.5 * scale)
    assert p[R] == pytest.approx(0.6 * scale)
    assert p[2:7] == pytest.approx([1.0 * scale] * 5)
    assert p[OT] == pytest.approx(1.125 * scale)


def reference_preference(c: np.ndarray, iterations: int = 20) -> np.ndarray:
    """The issue's formula transcribed literally, no guards (valid for dense tables only)."""
    w = c.T
    p = [1.0] * 8
    for _ in range(iterations):
        for i in range(8):
            num = sum(w[i][j] * p[j] / (p[i] + p[j]) for j in range(8) if j != i)
            den = sum(w[j][i] / (p[i] + p[j]) for j in range(8) if j != i)
            p[i] = num / den
        g = math.prod(x for x in p if x > 0) ** (1 / sum(1 for x in p if x > 0))
        p = [x / g for x in p]
    return np.array(p) * 8 / sum(p)


def test_matches_the_literal_formula_on_dense_tables():
    rng = np.random.default_rng(1)
    for _ in range(20):
        c = rng.integers(1, 30, size=(8, 8))
        assert preference(c) == pytest.approx(reference_preference(c), rel=1e-12)


def test_f1_matches_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(3)
    for n in (5, 40, 300):
        gold = [rng.choice(STRATEGIES[:6]) for _ in range(n)]  # some strategies absent
        pred = [rng.choice(STRATEGIES[:7]) for _ in range(n)]
        report = evaluate(gold, pred)
        g, p = [s.value for s in gold], [s.value for s in pred]
        macro = sklearn_metrics.f1_score(g, p, average="macro", zero_division=0)
        weighted = sklearn_metrics.f1_score(g, p, average="weighted", zero_division=0)
        assert report.q == pytest.approx(100 * macro)
        assert report.weighted_f1 == pytest.approx(100 * weighted)


# --- degenerate cases (documented in strategies/metrics.py) -----------------------------------


def test_always_right_planner_has_no_preference():
    gold = [STRATEGIES[i % 8] for i in range(50)]
    report = evaluate(gold, gold)
    assert report.q == 100 and report.weighted_f1 == 100
    assert list(report.preference.values()) == [1.0] * 8
    assert report.bias == 0.0


def test_constant_planner_gets_all_the_preference():
    gold = [STRATEGIES[i % 8] for i in range(80)]  # 10 of each
    report = evaluate(gold, [Strategy.QUESTION] * 80)
    assert report.preference[Strategy.QUESTION] == pytest.approx(8.0)
    assert sum(report.preference.values()) == pytest.approx(8.0)
    assert report.bias == pytest.approx(math.sqrt(7))
    # F1_Q = 2*10 / (2*10 + 70) = 2/9, the 7 others 0, all 8 true at least once
    assert report.q == pytest.approx(100 * (2 / 9) / 8)


def test_strategy_never_true_but_predicted_stays_finite():
    # Information is predicted wrongly twice and never the truth: zero denominator
    gold = [Strategy.QUESTION] * 5 + [Strategy.OTHERS] * 5
    pred = [Strategy.QUESTION] * 3 + [Strategy.INFORMATION] * 2 + [Strategy.OTHERS] * 5
    report = evaluate(gold, pred)
    p = report.preference
    assert all(math.isfinite(v) for v in p.values())
    assert p[Strategy.INFORMATION] > 1 > p[Strategy.QUESTION]
    assert sum(p.values()) == pytest.approx(8)


def test_no_samples():
    report = evaluate([], [], [])
    assert (report.n, report.q, report.weighted_f1, report.bias) == (0, 0.0, 0.0, 0.0)
    assert report.stages == {
        "exploration": {"weighted_f1": 0.0, "n": 0},
        "comforting": {"weighted_f1": 0.0, "n": 0},
        "action": {"weighted_f1": 0.0, "n": 0},
    }


def test_stage_wise_weighted_f1():
    gold = [Strategy.QUESTION, Strategy.QUESTION, Strategy.OTHERS, Strategy.OTHERS]
    pred = [Strategy.QUESTION, Strategy.OTHERS, Strategy.OTHERS, Strategy.OTHERS]
    report = evaluate(gold, pred, [0, 0, 2, 2])
    assert report.stages is not None
    # exploration: Q (support 2) tp 1 fn 1 -> F1 2/3; O (support 0) fp 1 -> 0: weighted 2/3
    assert report.stages["exploration"] == {"weighted_f1": pytest.approx(100 * 2 / 3), "n": 2}
    assert report.stages["comforting"]["n"] == 0
    assert report.stages["action"]["weighted_f1"] == 100.0


def test_report_json_and_table():
    gold = [STRATEGIES[i % 8] for i in range(40)]
    pred = [STRATEGIES[(i * 5) % 8] for i in range(40)]
    report = evaluate(gold, pred, [i % 3 for i in range(40)], unparsed=2)
    data = report.to_dict()
    assert {"Q", "weighted_f1", "B", "preference", "f1", "n", "unparsed", "stages"} <= set(data)
    assert set(data["preference"]) == {s.value for s in STRATEGIES}
    text = format_table(report)
    assert "Q=" in text and "B=" in text and "unparsed=2" in text
    with pytest.raises(ValueError):
        confusion_matrix(gold, pred[:-1])


# --- properties --------------------------------------------------------------------------------

labels = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=0, max_size=120)


@settings(max_examples=60, deadline=None)
@given(labels, st.randoms(use_true_random=False))
def test_permuting_samples_changes_nothing(pairs, rnd):
    gold = [STRATEGIES[g] for g, _ in pairs]
    pred = [STRATEGIES[p] for _, p in pairs]
    order = list(range(len(pairs)))
    rnd.shuffle(order)
    a = evaluate(gold, pred).to_dict()
    b = evaluate([gold[i] for i in order], [pred[i] for i in order]).to_dict()
    assert a == b


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=1, max_size=60))
def test_always_right_is_the_degenerate_result(truth):
    gold = [STRATEGIES[t] for t in truth]
    report = evaluate(gold, gold)
    assert report.bias == 0.0 and report.q == 100.0
    assert set(report.preference.values()) == {1.0}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=64, max_size=64))
def test_preferences_are_finite_and_sum_to_8(counts):
    c = np.array(counts).reshape(8, 8)
    p = preference(c)
    assert np.isfinite(p).all() and (p >= 0).all()
    assert p.sum() == pytest.approx(8.0)
    assert 0.0 <= preference_bias(p) <= math.sqrt(7) + 1e-9


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 25), min_size=64, max_size=64),
    st.permutations(list(range(8))),
)
def test_relabelling_strategies_permutes_the_preferences(counts, perm):
    c = np.array(counts).reshape(8, 8)
    relabelled = np.zeros_like(c)
    for t in range(8):
        for p in range(8):
            relabelled[perm[t], perm[p]] = c[t, p]
    before, after = preference(c), preference(relabelled)
    # the in-place order differs after relabelling; 20 iterations converge well past 1e-6
    assert after[list(perm)] == pytest.approx(before, rel=1e-6)
    assert preference_bias(after) == pytest.approx(preference_bias(before), rel=1e-6)
    f1 = f1_per_strategy(c)
    assert f1_per_strategy(relabelled)[list(perm)] == pytest.approx(f1)
