"""Run a planner over ESConv evaluation samples, score predictions files, plot preferences."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import StrategyPlanner
from strategies.data import Prediction, Sample
from strategies.metrics import StrategyReport, evaluate


@dataclass(frozen=True)
class PlannerRun:
    """A planner's output on some samples."""

    samples: Sequence[Sample]
    #: ``(n, 8)`` probabilities in :data:`STRATEGIES` order.
    probs: np.ndarray
    predictions: list[Strategy]
    #: Answers the planner could not parse during the run (``None``: it does not parse).
    unparsed: int | None

    def report(self) -> StrategyReport:
        """Every metric of this run (with the stage-wise weighted-F1)."""
        return evaluate(
            [s.gold for s in self.samples],
            self.predictions,
            [s.stage for s in self.samples],
            unparsed=self.unparsed,
        )


def run_planner(
    planner: StrategyPlanner,
    samples: Sequence[Sample],
    *,
    batch_size: int = 32,
    progress: bool = False,
) -> PlannerRun:
    """Predict every sample (in batches, with a tqdm bar on stderr when ``progress``)."""
    unparsed_before = getattr(planner, "unparsed", None)
    rows: list[list[float]] = []
    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(samples), desc=f"planner {planner.name}", unit="turn")
    try:
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            for probs in planner.predict_proba_batch([s.context for s in chunk]):
                rows.append([float(probs[s]) for s in STRATEGIES])
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    array = np.array(rows, dtype=np.float64).reshape(len(rows), len(STRATEGIES))
    # argmax ties go to the earlier strategy, like StrategyPlanner.choose
    predictions = [STRATEGIES[i] for i in array.argmax(axis=1)] if len(rows) else []
    unparsed_after = getattr(planner, "unparsed", None)
    unparsed = None
    if unparsed_before is not None and unparsed_after is not None:
        unparsed = int(unparsed_after) - int(unparsed_before)
    return PlannerRun(samples, array, predictions, unparsed)


def evaluate_predictions(rows: Sequence[Prediction]) -> StrategyReport:
    """Every metric of a predictions file (no stages: the file does not say where turns are)."""
    return evaluate([r.gold for r in rows], [r.pred for r in rows])


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from attune.errors import BackendUnavailableError

        raise BackendUnavailableError(
            "plots need matplotlib, which is not installed: pip install 'attune[eval]'"
        ) from exc
    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_preferences(report: StrategyReport, path: Path, title: str = "") -> Path:
    """A bar chart of the preferences ``p_i`` against the line ``p = 1``, saved to ``path``.

    Bars above the line (strategies the planner prefers) are orange, below blue; the title
    carries Q and B. Needs matplotlib (``pip install 'attune[eval]'``).
    """
    plt = _pyplot()
    values = [report.preference[s] for s in STRATEGIES]
    colours = ["#d95f02" if v > 1 else "#1f78b4" for v in values]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=120)
    ax.bar(range(len(values)), values, color=colours)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="p = 1 (no preference)")
    for x, v in enumerate(values):
        ax.text(x, v + 0.03, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    labels = [textwrap.fill(s.value, 13) for s in STRATEGIES]
    ax.set_xticks(range(len(values)), labels, fontsize=7.5)
    ax.set_ylabel("preference p")
    ax.set_ylim(0, max(2.0, max(values) * 1.15))
    heading = f"Q = {report.q:.2f}   B = {report.bias:.3f}   n = {report.n}"
    ax.set_title(f"{title}\n{heading}" if title else heading, fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    return _save(plt, fig, path)


def plot_study_preferences(cells: Sequence[dict[str, Any]], path: Path) -> Path:
    """Grouped bars: each cell's preference per strategy (with its 95 % interval when the cell
    has one) against the line ``p = 1``. ``cells`` are the study's score dicts."""
    plt = _pyplot()
    n = max(1, len(cells))
    width = 0.8 / n
    fig, ax = plt.subplots(
        figsize=(max(8.0, 1.3 * len(STRATEGIES) * (0.5 + 0.12 * n)), 4.6), dpi=120
    )
    colours = plt.get_cmap("tab10")
    top = 2.0
    for k, cell in enumerate(cells):
        values = np.array([cell["preference"][s.value] for s in STRATEGIES])
        xs = np.arange(len(STRATEGIES)) - 0.4 + width * (k + 0.5)
        ci = cell.get("ci", {}).get("preference")
        err = None
        if ci:
            lo = np.array([ci[s.value][0] for s in STRATEGIES])
            hi = np.array([ci[s.value][1] for s in STRATEGIES])
            err = np.vstack([np.maximum(values - lo, 0), np.maximum(hi - values, 0)])
            top = max(top, float(hi.max()))
        top = max(top, float(values.max()))
        ax.bar(
            xs,
            values,
            width,
            yerr=err,
            capsize=1.5,
            label=cell["cell"],
            color=colours(k % 10),
            error_kw={"linewidth": 0.7},
        )
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
    labels = [textwrap.fill(s.value, 13) for s in STRATEGIES]
    ax.set_xticks(range(len(STRATEGIES)), labels, fontsize=7.5)
    ax.set_ylabel("preference p (p = 1: no preference)")
    ax.set_ylim(0, top * 1.08)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Preference per strategy, 95 % bootstrap intervals over dialogues", fontsize=10)
    return _save(plt, fig, path)


def plot_q_vs_b(cells: Sequence[dict[str, Any]], path: Path) -> Path:
    """Proficiency Q against preference bias B, one point per cell with both intervals
    (better: up and to the left)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    colours = plt.get_cmap("tab10")
    for k, cell in enumerate(cells):
        ci = cell.get("ci", {})
        q, b = cell["Q"], cell["B"]
        xerr = yerr = None
        if ci.get("B"):
            xerr = [[max(b - ci["B"][0], 0)], [max(ci["B"][1] - b, 0)]]
        if ci.get("Q"):
            yerr = [[max(q - ci["Q"][0], 0)], [max(ci["Q"][1] - q, 0)]]
        ax.errorbar(
            [b],
            [q],
            xerr=xerr,
            yerr=yerr,
            fmt="o",
            capsize=3,
            color=colours(k % 10),
            label=cell["cell"],
        )
    ax.set_xlabel("preference bias B (lower is better)")
    ax.set_ylabel("proficiency Q (macro-F1 x 100)")
    ax.set_title("Q against B, 95 % bootstrap intervals", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(plt, fig, path)
