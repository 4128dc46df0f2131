"""Uncertainty for the strategy metrics: bootstrap confidence intervals over dialogues and a
paired test between two planners (or methods) on the same turns.

Turns of one dialogue are not independent (the same seeker, the same supporter), so the unit of
resampling is the **dialogue** (a cluster bootstrap): each replicate draws as many dialogues as
there are, with replacement, and recomputes every metric of :mod:`strategies.metrics` (Q,
weighted-F1, B, each strategy's preference, the stage-wise weighted-F1) from the summed
confusion tables of the drawn dialogues. The interval is the 2.5th-97.5th percentile of the
replicates (percentile bootstrap). A predictions file without dialogue ids can be grouped by
another key (its ``situation`` text identifies an ESConv dialogue) or by row.

The paired comparison of ``a`` and ``b`` on the same turns reports, for Q, weighted-F1 and B, the
difference ``a - b`` with a paired bootstrap interval (the same dialogues drawn for both) and the
p-value of a paired **randomisation test** (approximate randomisation, as in Riezler and
Maxwell 2005, at the dialogue level): each of ``rounds`` rounds swaps the two planners'
predictions within a random half of the dialogues; ``p = (1 + #{|d_perm| >= |d|}) / (1 +
rounds)``.

Numbers only: numpy is the one dependency; ``seed`` makes every figure reproducible.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from attune.taxonomy import STRATEGIES, Strategy
from strategies.data import STAGES
from strategies.metrics import macro_f1, preference, preference_bias, weighted_f1

_K = len(STRATEGIES)
_INDEX = {s: i for i, s in enumerate(STRATEGIES)}
#: Replicates and randomisation rounds by default.
BOOTSTRAP = 1000
ROUNDS = 2000


@dataclass(frozen=True)
class Clustered:
    """Confusion tables per cluster (dialogue): ``tables[d, stage, truth, prediction]``.

    Turns without a known stage are counted in stage 0 and ``has_stages`` is false.
    """

    keys: list[Hashable]
    tables: np.ndarray
    has_stages: bool

    @property
    def total(self) -> np.ndarray:
        """The confusion table of all turns (truth by row)."""
        summed: np.ndarray = self.tables.sum(axis=(0, 1))
        return summed


def cluster(
    gold: Sequence[Strategy],
    pred: Sequence[Strategy],
    groups: Sequence[Hashable],
    stages: Sequence[int] | None = None,
) -> Clustered:
    """Per-cluster confusion tables of aligned gold and predicted strategies."""
    if not (len(gold) == len(pred) == len(groups)):
        raise ValueError("gold, predictions and groups differ in length")
    if stages is not None and len(stages) != len(gold):
        raise ValueError("stages and gold differ in length")
    keys: list[Hashable] = []
    where: dict[Hashable, int] = {}
    for g in groups:
        if g not in where:
            where[g] = len(keys)
            keys.append(g)
    tables = np.zeros((len(keys), len(STAGES), _K, _K), dtype=np.int64)
    for i, (g, p, key) in enumerate(zip(gold, pred, groups, strict=True)):
        stage = stages[i] if stages is not None else 0
        tables[where[key], stage, _INDEX[g], _INDEX[p]] += 1
    return Clustered(keys, tables, stages is not None)


def metrics_of(tables: np.ndarray, has_stages: bool) -> dict[str, Any]:
    """Q, weighted-F1 (percent), B and the preferences of a ``[stage, truth, pred]`` table,
    and each stage's weighted-F1 when ``has_stages``."""
    total = tables.sum(axis=0)
    p = preference(total)
    out: dict[str, Any] = {
        "Q": macro_f1(total) * 100,
        "weighted_f1": weighted_f1(total) * 100,
        "B": preference_bias(p),
        "preference": p,
    }
    if has_stages:
        out["stages"] = np.array([weighted_f1(tables[k]) * 100 for k in range(len(STAGES))])
    return out


def _interval(values: np.ndarray) -> list[float]:
    lo, hi = np.percentile(values, [2.5, 97.5], axis=0)
    return [round(float(lo), 4), round(float(hi), 4)]


def bootstrap(data: Clustered, *, replicates: int = BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """95 % percentile-bootstrap intervals over clusters for every metric (see the module
    docstring): ``{"Q": [lo, hi], "weighted_f1": ..., "B": ..., "preference": {name: [lo,
    hi]}, "stages": {stage: [lo, hi]}, "replicates": n, "clusters": n}``."""
    n = len(data.keys)
    rng = np.random.default_rng(seed)
    qs, wf, bs, prefs, stages = [], [], [], [], []
    for _ in range(replicates if n else 0):
        weights = np.bincount(rng.integers(0, n, n), minlength=n)
        tables = np.tensordot(weights, data.tables, axes=1)
        m = metrics_of(tables, data.has_stages)
        qs.append(m["Q"])
        wf.append(m["weighted_f1"])
        bs.append(m["B"])
        prefs.append(m["preference"])
        if data.has_stages:
            stages.append(m["stages"])
    if not qs:
        return {"replicates": 0, "clusters": n}
    pref = np.array(prefs)
    out: dict[str, Any] = {
        "Q": _interval(np.array(qs)),
        "weighted_f1": _interval(np.array(wf)),
        "B": _interval(np.array(bs)),
        "preference": {s.value: _interval(pref[:, i]) for i, s in enumerate(STRATEGIES)},
        "replicates": replicates,
        "clusters": n,
    }
    if data.has_stages:
        st = np.array(stages)
        out["stages"] = {name: _interval(st[:, k]) for k, name in enumerate(STAGES)}
    return out


_PAIRED = ("Q", "weighted_f1", "B")


def paired_test(
    a: Clustered,
    b: Clustered,
    *,
    replicates: int = BOOTSTRAP,
    rounds: int = ROUNDS,
    seed: int = 0,
) -> dict[str, Any]:
    """``a - b`` for Q, weighted-F1 and B on the same turns: the observed difference, a paired
    bootstrap 95 % interval and the randomisation-test p-value (see the module docstring)."""
    if a.keys != b.keys or a.tables.sum(axis=(1, 3)).tolist() != b.tables.sum(axis=(1, 3)).tolist():
        raise ValueError("the two runs are not over the same turns (clusters or gold differ)")
    n = len(a.keys)
    rng = np.random.default_rng(seed)

    def diff(ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
        ma, mb = metrics_of(ta, False), metrics_of(tb, False)
        return np.array([ma[k] - mb[k] for k in _PAIRED])

    observed = diff(a.tables.sum(axis=0), b.tables.sum(axis=0))
    boots = []
    for _ in range(replicates if n else 0):
        weights = np.bincount(rng.integers(0, n, n), minlength=n)
        boots.append(
            diff(np.tensordot(weights, a.tables, axes=1), np.tensordot(weights, b.tables, axes=1))
        )
    extreme = np.zeros(len(_PAIRED))
    for _ in range(rounds if n else 0):
        swap = rng.integers(0, 2, n).astype(bool)
        ta = a.tables[~swap].sum(axis=0) + b.tables[swap].sum(axis=0)
        tb = b.tables[~swap].sum(axis=0) + a.tables[swap].sum(axis=0)
        extreme += np.abs(diff(ta, tb)) >= np.abs(observed) - 1e-12
    boot = np.array(boots) if boots else np.zeros((0, len(_PAIRED)))
    out: dict[str, Any] = {"clusters": n, "replicates": replicates, "rounds": rounds}
    for i, key in enumerate(_PAIRED):
        out[key] = {
            "difference": round(float(observed[i]), 4),
            "interval": _interval(boot[:, i]) if len(boot) else None,
            "p": round(float((1 + extreme[i]) / (1 + rounds)), 4) if n else None,
        }
    return out


def bootstrap_share(
    hits: Sequence[bool],
    groups: Sequence[Hashable],
    *,
    replicates: int = BOOTSTRAP,
    seed: int = 0,
) -> list[float] | None:
    """95 % percentile-bootstrap interval over clusters of the share of ``hits`` that are
    true (``None`` with no data)."""
    if len(hits) != len(groups):
        raise ValueError("hits and groups differ in length")
    if not hits:
        return None
    keys = list(dict.fromkeys(groups))
    where = {k: i for i, k in enumerate(keys)}
    n = len(keys)
    num = np.zeros(n)
    den = np.zeros(n)
    for hit, g in zip(hits, groups, strict=True):
        num[where[g]] += bool(hit)
        den[where[g]] += 1
    rng = np.random.default_rng(seed)
    shares = []
    for _ in range(replicates):
        weights = np.bincount(rng.integers(0, n, n), minlength=n)
        shares.append(float(weights @ num) / float(weights @ den))
    return _interval(np.array(shares))
