"""Strategy-planning metrics: proficiency Q, weighted-F1, preference p_i and preference bias B.

The definitions follow the preference-bias paper (Kang et al., "Can Large Language Models be
Good Emotional Supporter? Mitigating Preference Bias on Emotional Support Conversation",
ACL 2024) and its published metric script, so figures are comparable:

* **F1** per strategy is ``2 tp / (2 tp + fp + fn)`` (0 when the strategy is neither true nor
  predicted). **Q** is the macro-F1 x 100, averaged, as scikit-learn's ``f1_score`` does, over
  the strategies that occur in the truth or the predictions (all 8 on any real evaluation).
  **Weighted-F1** weights each strategy's F1 by its true count. All F1 figures here are
  percentages (x 100).
* **Preference** ``p_i`` (Bradley-Terry): ``w_ij`` = samples where the planner predicted ``i``
  and the truth was ``j``, diagonal excluded. Start with every ``p = 1``; 20 iterations, each
  updating ``p_i`` in place, in strategy order::

      p_i <- sum_{j!=i} w_ij p_j / (p_i + p_j)  /  sum_{j!=i} w_ji / (p_i + p_j)

  then dividing every ``p`` by the geometric mean of the non-zero ``p``. At the end the ``p`` are
  rescaled to sum to 8 (mean 1). ``p_i > 1``: the planner prefers strategy ``i``.
* **Preference bias** ``B`` = population standard deviation (ddof 0) of the 8 ``p_i``.

Degenerate cases, where the published script divides by zero (NaN, infinity or a crash),
have these defined results instead (:func:`preference`):

* **Zero denominator** (strategy ``i`` is never missed in favour of another one: it is never
  the truth, or always predicted when it is): ``i`` also plays half a win and half a loss
  against a virtual neutral strategy of strength 1, i.e. ``0.5 / (p_i + 1)`` is added to both
  sums. Its strength stays finite instead of infinite. Consequences: a strategy that takes
  part in no error at all gets ``p = 1`` in each update (no evidence either way), so a planner
  that is **always right** gets every ``p_i = 1`` and ``B = 0``; a planner that **always
  predicts one strategy** gets ``p = 8`` for it, ``0`` for the others and ``B = sqrt(7)``
  (the largest possible value).
* A strategy **never predicted wrongly** (numerator 0) gets ``p = 0``, as in the published script.
* A pair term whose two strengths are both 0 carries no information and is skipped.
* **No samples**: every F1 is 0, Q = 0, every ``p = 1``, ``B = 0``.

Numbers only, no model code: numpy is the one dependency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from attune.taxonomy import STRATEGIES, Strategy
from strategies.data import STAGES

#: Bradley-Terry iterations of the published metric.
BT_ITERATIONS = 20
_K = len(STRATEGIES)
_INDEX = {s: i for i, s in enumerate(STRATEGIES)}


def confusion_matrix(gold: Sequence[Strategy], pred: Sequence[Strategy]) -> np.ndarray:
    """Counts ``c[t, p]``: samples whose truth is strategy ``t`` and prediction ``p``.

    Rows and columns follow :data:`STRATEGIES` (scikit-learn's orientation: truth by row).
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} true labels but {len(pred)} predictions")
    counts = np.zeros((_K, _K), dtype=np.int64)
    for g, p in zip(gold, pred, strict=True):
        counts[_INDEX[g], _INDEX[p]] += 1
    return counts


def f1_per_strategy(confusion: np.ndarray) -> np.ndarray:
    """F1 of each strategy (of each class, for any square confusion), as fractions:
    ``2 tp / (2 tp + fp + fn)``, 0 where that is 0/0."""
    c = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(c)
    fp = c.sum(axis=0) - tp
    fn = c.sum(axis=1) - tp
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros(len(tp)), where=denom > 0)


def macro_f1(confusion: np.ndarray) -> float:
    """Macro-F1 (fraction) over the strategies that are true or predicted at least once."""
    c = np.asarray(confusion)
    present = (c.sum(axis=0) + c.sum(axis=1)) > 0
    if not present.any():
        return 0.0
    return float(f1_per_strategy(c)[present].mean())


def weighted_f1(confusion: np.ndarray) -> float:
    """F1 (fraction) averaged with each strategy weighted by its number of true samples."""
    c = np.asarray(confusion)
    support = c.sum(axis=1).astype(np.float64)
    total = support.sum()
    if total == 0:
        return 0.0
    return float((f1_per_strategy(c) * support).sum() / total)


def preference(confusion: np.ndarray, iterations: int = BT_ITERATIONS) -> np.ndarray:
    """Bradley-Terry preference of each strategy (sums to 8), from a truth-by-row confusion table.

    Exactly the published estimate when no denominator is zero; see the module docstring for
    the degenerate cases. Never NaN or infinite.
    """
    w = np.asarray(confusion, dtype=np.float64).T.copy()  # w[i, j]: predicted i, truth j
    np.fill_diagonal(w, 0.0)
    p = np.ones(_K)
    for _ in range(iterations):
        for i in range(_K):
            num = den = 0.0
            for j in range(_K):
                if j == i:
                    continue
                both = p[i] + p[j]
                if both <= 0:
                    continue  # two zero strengths: no information between them
                if w[i, j] > 0:
                    num += w[i, j] * p[j] / both
                if w[j, i] > 0:
                    den += w[j, i] / both
            if den <= 0:
                virtual = 0.5 / (p[i] + 1.0)
                num, den = num + virtual, den + virtual
            p[i] = num / den
        nonzero = p[p > 0]
        if nonzero.size:
            p /= math.exp(float(np.log(nonzero).mean()))
    total = p.sum()
    if not np.isfinite(total) or total <= 0:  # pragma: no cover - unreachable, kept as a guard
        return np.ones(_K)
    return p * (_K / total)


def preference_bias(p: np.ndarray | Sequence[float]) -> float:
    """B: the population standard deviation (ddof 0) of the preferences."""
    return float(np.std(np.asarray(p, dtype=np.float64)))


@dataclass(frozen=True)
class StrategyReport:
    """All the metrics of one evaluation. F1 figures are percentages; shares are fractions."""

    n: int
    q: float
    weighted_f1: float
    bias: float
    f1: dict[Strategy, float]
    preference: dict[Strategy, float]
    predicted_share: dict[Strategy, float]
    true_share: dict[Strategy, float]
    confusion: np.ndarray
    #: Weighted-F1 (percent) and sample count per stage (thirds of a dialogue), when known.
    stages: dict[str, dict[str, float]] | None = None
    #: Answers the planner could not parse (scored as "Others"), where that applies.
    unparsed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``Q``, ``weighted_f1``, ``B``, ``preference``, ``f1``, ``n``, ..."""
        out: dict[str, Any] = {
            "n": self.n,
            "Q": round(self.q, 4),
            "weighted_f1": round(self.weighted_f1, 4),
            "B": round(self.bias, 4),
            "preference": {s.value: round(v, 4) for s, v in self.preference.items()},
            "f1": {s.value: round(v, 4) for s, v in self.f1.items()},
            "predicted_share": {s.value: round(v, 4) for s, v in self.predicted_share.items()},
            "true_share": {s.value: round(v, 4) for s, v in self.true_share.items()},
            "confusion": {
                "rows": "truth",
                "columns": "prediction",
                "labels": [s.value for s in STRATEGIES],
                "counts": self.confusion.astype(int).tolist(),
            },
        }
        if self.stages is not None:
            out["stages"] = self.stages
        if self.unparsed is not None:
            out["unparsed"] = self.unparsed
        return out


def evaluate(
    gold: Sequence[Strategy],
    pred: Sequence[Strategy],
    stages: Sequence[int] | None = None,
    *,
    unparsed: int | None = None,
) -> StrategyReport:
    """Compute every metric from aligned true and predicted strategies.

    ``stages`` (0, 1, 2 per sample: which third of its dialogue) adds the stage-wise
    weighted-F1; a stage with no sample gets 0 with ``n = 0``.
    """
    c = confusion_matrix(gold, pred)
    n = int(c.sum())
    p = preference(c)
    f1 = f1_per_strategy(c) * 100
    shares_pred = c.sum(axis=0) / n if n else np.zeros(_K)
    shares_true = c.sum(axis=1) / n if n else np.zeros(_K)
    stage_metrics: dict[str, dict[str, float]] | None = None
    if stages is not None:
        if len(stages) != n:
            raise ValueError(f"{len(stages)} stages for {n} samples")
        stage_metrics = {}
        for k, name in enumerate(STAGES):
            idx = [i for i, s in enumerate(stages) if s == k]
            sub = confusion_matrix([gold[i] for i in idx], [pred[i] for i in idx])
            stage_metrics[name] = {
                "weighted_f1": round(weighted_f1(sub) * 100, 4),
                "n": len(idx),
            }
    return StrategyReport(
        n=n,
        q=macro_f1(c) * 100,
        weighted_f1=weighted_f1(c) * 100,
        bias=preference_bias(p),
        f1={s: float(v) for s, v in zip(STRATEGIES, f1, strict=True)},
        preference={s: float(v) for s, v in zip(STRATEGIES, p, strict=True)},
        predicted_share={s: float(v) for s, v in zip(STRATEGIES, shares_pred, strict=True)},
        true_share={s: float(v) for s, v in zip(STRATEGIES, shares_true, strict=True)},
        confusion=c,
        stages=stage_metrics,
        unparsed=unparsed,
    )


def format_table(report: StrategyReport) -> str:
    """A plain-text table: per strategy F1, preference, predicted vs true share; then totals."""
    width = max(len(s.value) for s in STRATEGIES)
    lines = [f"{'strategy':<{width}}  {'F1':>6}  {'pref':>6}  {'pred%':>6}  {'true%':>6}"]
    for s in STRATEGIES:
        lines.append(
            f"{s.value:<{width}}  {report.f1[s]:6.2f}  {report.preference[s]:6.3f}  "
            f"{report.predicted_share[s] * 100:6.1f}  {report.true_share[s] * 100:6.1f}"
        )
    totals = (
        f"n={report.n}  Q={report.q:.2f}  weighted-F1={report.weighted_f1:.2f}  B={report.bias:.3f}"
    )
    if report.unparsed is not None:
        totals += f"  unparsed={report.unparsed}"
    lines.append(totals)
    if report.stages:
        lines.append(
            "stage weighted-F1: "
            + "  ".join(
                f"{k}={v['weighted_f1']:.2f} (n={v['n']:g})" for k, v in report.stages.items()
            )
        )
    return "\n".join(lines)
