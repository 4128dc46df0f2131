"""The strategy-bias study: planners x methods x models over one ESConv file, with intervals.

A *cell* is one planner (``prior``, ``trained``, ``llm``...) run one way (the LLM planner's
``method``; ``-`` for the others) on one model (a settings profile). :func:`run_cell` predicts
every sample (several at once with ``concurrency``, each LLM call through the answer cache of
:mod:`strategies.cache`); :func:`score_cell` computes the metrics of :mod:`strategies.metrics`
with bootstrap intervals over dialogues (:mod:`strategies.stats`); :func:`released_rows` gives
the cell's predictions in the format released with the preference-bias paper, which its own
metric script scores; :func:`markdown_table` lays the cells side by side.

The command ``attune study bias`` builds the cells from settings profiles and writes everything
(``attune/commands/study.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from attune.taxonomy import STRATEGIES, Strategy
from strategies.base import StrategyPlanner
from strategies.data import STAGES, Sample
from strategies.evaluation import run_planner
from strategies.metrics import evaluate
from strategies.planners.llm import FALLBACK, LLMPlanner
from strategies.stats import BOOTSTRAP, Clustered, bootstrap, cluster


@dataclass(frozen=True)
class Cell:
    """One column of the study: a model profile, a planner and (for ``llm``) a method."""

    profile: str
    planner: str
    method: str = "-"

    @property
    def label(self) -> str:
        """``planner`` (a planner without a model), ``profile/planner`` or
        ``profile/llm:method``."""
        head = self.planner if self.profile == "-" else f"{self.profile}/{self.planner}"
        return head if self.method == "-" else f"{head}:{self.method}"

    @property
    def slug(self) -> str:
        """A file-name form of the label."""
        return "".join(
            c if c.isalnum() or c in "-_" else "_" for c in self.label.replace("/", "__")
        )


@dataclass
class CellRun:
    """A cell's predictions over the samples, in order."""

    cell: Cell
    samples: Sequence[Sample]
    predictions: list[Strategy]
    #: Whether each answer named a strategy (always true for planners that do not parse).
    parsed: list[bool]
    #: The raw LLM answers of each sample (empty for planners that do not ask an LLM).
    answers: list[tuple[str, ...]] = field(default_factory=list)
    #: LLM answers asked now and answers taken from the cache.
    asked: int = 0
    cached: int = 0
    seconds: float = 0.0

    @property
    def unparsed(self) -> int | None:
        """Answers that named no strategy (``None`` for planners that do not parse)."""
        return sum(1 for ok in self.parsed if not ok) if self.answers else None


def sample_key(source: str, sample: Sample) -> str:
    """The cache key of a sample: ``file:dialogue:turn``."""
    return f"{source}:{sample.dialogue_index}:{sample.turn_index}"


def run_cell(
    cell: Cell,
    planner: StrategyPlanner,
    samples: Sequence[Sample],
    *,
    source: str,
    concurrency: int = 1,
    progress: Callable[[int], None] | None = None,
) -> CellRun:
    """Predict every sample. An :class:`LLMPlanner` is asked per sample (``concurrency`` at a
    time, through its cache); any other planner runs in batches."""
    started = time.perf_counter()
    if not isinstance(planner, LLMPlanner):
        run = run_planner(planner, samples)
        if progress is not None:
            progress(len(samples))
        return CellRun(
            cell,
            samples,
            list(run.predictions),
            [True] * len(samples),
            seconds=time.perf_counter() - started,
        )
    asker = planner.asker
    asked0, cached0 = (asker.asked, asker.cached) if asker is not None else (0, 0)

    def one(sample: Sample) -> tuple[Strategy | None, tuple[str, ...]]:
        decision = planner.decide(sample.context, sample_key(source, sample))
        if progress is not None:
            progress(1)
        return decision.strategy, decision.answers

    if concurrency <= 1:
        results = [one(s) for s in samples]
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(one, samples))
    return CellRun(
        cell,
        samples,
        [s if s is not None else FALLBACK for s, _ in results],
        [s is not None for s, _ in results],
        [a for _, a in results],
        asked=(asker.asked - asked0) if asker is not None else len(samples),
        cached=(asker.cached - cached0) if asker is not None else 0,
        seconds=time.perf_counter() - started,
    )


def clustered(run: CellRun) -> Clustered:
    """The run's confusion tables per dialogue and stage."""
    return cluster(
        [s.gold for s in run.samples],
        run.predictions,
        [s.dialogue_index for s in run.samples],
        [s.stage for s in run.samples],
    )


def score_cell(run: CellRun, *, replicates: int = BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Every metric of the cell with its 95 % bootstrap interval over dialogues."""
    report = evaluate(
        [s.gold for s in run.samples],
        run.predictions,
        [s.stage for s in run.samples],
        unparsed=run.unparsed,
    )
    out = {
        "cell": run.cell.label,
        "profile": run.cell.profile,
        "planner": run.cell.planner,
        "method": run.cell.method,
        **report.to_dict(),
        "ci": bootstrap(clustered(run), replicates=replicates, seed=seed),
        "asked": run.asked,
        "cached": run.cached,
        "seconds": round(run.seconds, 2),
    }
    return out


def _context_text(sample: Sample) -> str:
    """The dialogue before the turn, in the released file's layout."""
    tags = iter(sample.context.previous_strategies)
    lines: list[str] = []
    for speaker, text in sample.context.dialogue:
        lines.append(speaker)
        if speaker == "supporter":
            strategy = next(tags, None)
            if strategy is not None:
                lines.append(f"- Strategy: {strategy.value}")
        lines.append(f"- Utterance: {text}")
    return "\n".join(lines)


def released_rows(run: CellRun) -> list[dict[str, Any]]:
    """The predictions in the released format (``sample_id``, ``context``, ``strg_gold``,
    ``strg_pred``, ``situation``, ``problem_type``, ``emotion_type``), plus this study's
    ``dialogue_index``, ``turn_index``, ``stage``, ``unparsed`` and raw ``answers``. An
    unparsed answer is written as ``Others``, so the published script can score the file."""
    rows = []
    for i, sample in enumerate(run.samples):
        row: dict[str, Any] = {
            "sample_id": str(i),
            "context": _context_text(sample),
            "strg_gold": sample.gold.value,
            "strg_pred": run.predictions[i].value,
            "situation": sample.context.situation or "",
            "problem_type": sample.context.problem_type or "",
            "emotion_type": sample.context.emotion_type or "",
            "dialogue_index": sample.dialogue_index,
            "turn_index": sample.turn_index,
            "stage": STAGES[sample.stage],
        }
        if run.answers:
            row["unparsed"] = not run.parsed[i]
            row["answers"] = list(run.answers[i])
        rows.append(row)
    return rows


def _ci(values: list[float] | None, digits: int) -> str:
    if not values:
        return ""
    return f" [{values[0]:.{digits}f}, {values[1]:.{digits}f}]"


def markdown_table(scores: Sequence[dict[str, Any]]) -> str:
    """The study's main table: one row per cell, intervals in brackets."""
    head = "| cell | n | Q | weighted-F1 | B | unparsed | " + " | ".join(
        f"wF1 {name}" for name in STAGES
    )
    lines = [head + " |", "|" + "---|" * (6 + len(STAGES))]
    for s in scores:
        ci = s.get("ci", {})
        stages = s.get("stages") or {}
        stage_cells = [
            f"{stages[name]['weighted_f1']:.2f}{_ci(ci.get('stages', {}).get(name), 1)}"
            if name in stages
            else ""
            for name in STAGES
        ]
        unparsed = "" if s.get("unparsed") is None else str(s["unparsed"])
        lines.append(
            f"| {s['cell']} | {s['n']} | {s['Q']:.2f}{_ci(ci.get('Q'), 2)} | "
            f"{s['weighted_f1']:.2f}{_ci(ci.get('weighted_f1'), 2)} | "
            f"{s['B']:.3f}{_ci(ci.get('B'), 3)} | {unparsed} | " + " | ".join(stage_cells) + " |"
        )
    return "\n".join(lines)


def preference_table(scores: Sequence[dict[str, Any]]) -> str:
    """Each cell's preference per strategy (p > 1: preferred), intervals in brackets."""
    lines = ["| cell | " + " | ".join(s.value for s in STRATEGIES) + " |"]
    lines.append("|" + "---|" * (1 + len(STRATEGIES)))
    for score in scores:
        ci = score.get("ci", {}).get("preference", {})
        cells = [f"{score['preference'][s.value]:.2f}{_ci(ci.get(s.value), 2)}" for s in STRATEGIES]
        lines.append(f"| {score['cell']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_table(tests: Sequence[dict[str, Any]]) -> str:
    """Each method against its reference: differences, intervals and p-values."""
    lines = ["| cell | against | ΔQ | p | Δweighted-F1 | p | ΔB | p |", "|" + "---|" * 8]
    for t in tests:
        row = [t["cell"], t["against"]]
        for key, digits in (("Q", 2), ("weighted_f1", 2), ("B", 3)):
            d = t[key]
            row += [f"{d['difference']:+.{digits}f}{_ci(d['interval'], digits)}", f"{d['p']}"]
        lines.append("| " + " | ".join(str(x) for x in row) + " |")
    return "\n".join(lines)


def replies_table(replies: Sequence[dict[str, Any]]) -> str:
    """Per cell: how often the reply written for the chosen strategy enacts it."""
    lines = ["| cell | replies | adherence | crisis replies left out |", "|---|---|---|---|"]
    for r in replies:
        value = "" if r["adherence"] is None else f"{r['adherence']:.3f}{_ci(r.get('ci'), 3)}"
        lines.append(f"| {r['cell']} | {r['n']} | {value} | {r['crisis_left_out']} |")
    return "\n".join(lines)
