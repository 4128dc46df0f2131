"""``attune eval replies``: Attune's replies to ESConv seekers, scored against the supporters'.

For each supporter utterance that answers a seeker (:func:`agent.tuning.format.reply_examples`),
the gold dialogue before the seeker's message is imported as the session's history and the
seeker's message is the turn's input; the reply comes from the real graph (perception, safety,
planner, generation). With ``gold_strategy`` the annotated strategy is imposed on the turn (the
papers' oracle setting), which separates planning errors from wording errors.

Reported over the run: BLEU-1/2/4, ROUGE-L, Distinct-1/2, the share of generic replies
(:mod:`agent.tuning.metrics`; over the turns that did not get the crisis reply, which is the
same on purpose), the most repeated replies, **strategy adherence** (the share of replies
whose wording the reply-strategy classifier, :mod:`strategies.adherence`, reads as the
strategy the turn used, over turns that were not crisis replies), the classifier's agreement
with the gold replies on the same turns (its accuracy there, for scale), how often the planner
chose the gold strategy, and the latency of the first reply text and of the whole turn. The
constant reply's scores on the same turns are reported beside every run.

No text is logged; transcripts are written only to the ``samples`` file asked for.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.tuning.format import ReplyExample, reply_examples
from agent.tuning.metrics import generic_share, reply_scores
from attune.taxonomy import Strategy
from strategies.data import load_dialogues

#: The constant baseline of the issue: one reply for every turn.
CONSTANT_REPLY = "I understand how you feel. Can you tell me more about it?"


@dataclass(frozen=True)
class ReplyOutcome:
    """One evaluated turn."""

    example: ReplyExample
    reply: str
    strategy: Strategy | None
    tier: str
    first_text_ms: float | None
    total_ms: float


def load_examples(path: Path, limit: int | None = None) -> list[ReplyExample]:
    """The evaluated turns of an ESConv file, in order, the first ``limit`` if given."""
    examples = list(reply_examples(load_dialogues(path)))
    return examples[:limit] if limit is not None else examples


def run_turns(
    attune: Any,
    examples: Sequence[ReplyExample],
    *,
    gold_strategy: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[ReplyOutcome]:
    """Each example as one turn of a fresh session seeded with its dialogue (then forgotten)."""
    outcomes = []
    for i, example in enumerate(examples):
        session = f"eval-{uuid.uuid4().hex[:12]}"
        attune.import_history(session, example.history)
        started = time.perf_counter()
        first: float | None = None
        result: dict[str, Any] = {}
        try:
            for event in attune.stream_turn(
                example.user_text,
                session,
                strategy=example.strategy if gold_strategy else None,
            ):
                if event.type == "reply.delta" and first is None and event.data.get("text"):
                    first = (time.perf_counter() - started) * 1000
                elif event.type == "reply.done":
                    result = event.data["result"]
        finally:
            attune.forget(session)
        total = (time.perf_counter() - started) * 1000
        decision = result.get("strategy") or {}
        safety = result.get("safety") or {}
        tier = safety.get("tier") or "none"
        used = decision.get("strategy")
        outcomes.append(
            ReplyOutcome(
                example,
                result.get("reply", ""),
                Strategy(used) if used and tier != "crisis" else None,
                tier,
                first,
                total,
            )
        )
        if progress is not None:
            progress(i + 1, len(examples))
    return outcomes


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1), "n": len(ordered)}


def score_outcomes(outcomes: Sequence[ReplyOutcome], classifier: Any | None) -> dict[str, Any]:
    """The report of one run (see the module docstring)."""
    replies = [o.reply for o in outcomes]
    golds = [o.example.reply for o in outcomes]
    report: dict[str, Any] = {"n": len(outcomes), **reply_scores(replies, golds)}
    # the crisis reply is the same on purpose: the generic share counts the other turns
    report["generic_share"] = round(
        generic_share([o.reply for o in outcomes if o.tier != "crisis"]), 4
    )
    report["constant_reply"] = {
        "text": CONSTANT_REPLY,
        **reply_scores([CONSTANT_REPLY] * len(golds), golds),
    }
    counts = Counter(" ".join(o.reply.split()) for o in outcomes)
    report["most_repeated"] = [
        {"reply": text, "times": times} for text, times in counts.most_common(5) if times > 1
    ]
    planned = [o for o in outcomes if o.strategy is not None]
    report["strategy_matches_gold"] = round(
        sum(o.strategy == o.example.strategy for o in planned) / max(1, len(planned)), 4
    )
    report["tiers"] = {
        tier: sum(o.tier == tier for o in outcomes) for tier in ("none", "concern", "crisis")
    }
    if classifier is not None and planned:
        read = classifier.predict([o.reply or "." for o in planned])
        gold_read = classifier.predict([o.example.reply for o in planned])
        report["adherence"] = round(
            sum(r == o.strategy for r, o in zip(read, planned, strict=True)) / len(planned), 4
        )
        report["classifier_on_gold_replies"] = round(
            sum(r == o.example.strategy for r, o in zip(gold_read, planned, strict=True))
            / len(planned),
            4,
        )
        per: dict[str, list[bool]] = {}
        for r, o in zip(read, planned, strict=True):
            assert o.strategy is not None
            per.setdefault(o.strategy.value, []).append(r == o.strategy)
        report["adherence_per_strategy"] = {
            k: {"adherence": round(sum(v) / len(v), 3), "n": len(v)} for k, v in sorted(per.items())
        }
    report["latency_ms"] = {
        "first_text": _percentiles([o.first_text_ms for o in outcomes if o.first_text_ms]),
        "turn": _percentiles([o.total_ms for o in outcomes]),
    }
    return report


def write_samples(path: Path, outcomes: Sequence[ReplyOutcome], context: int = 4) -> None:
    """Readable transcripts: context, the seeker's message, the supporter's and Attune's reply.

    ESConv text is CC BY-NC 4.0: a samples file quotes it and is marked so."""
    lines = [
        "# Attune's replies on ESConv turns",
        "",
        "Dialogue text from ESConv (Liu et al., 2021), CC BY-NC 4.0; the replies marked Attune "
        "were generated by the command named below.",
        "",
    ]
    for number, o in enumerate(outcomes, 1):
        ex = o.example
        lines.append(f"## {number}. dialogue {ex.dialogue_index}, turn {ex.turn_index}")
        lines.append("")
        for message in ex.history[-context:]:
            who = "seeker" if message.role == "user" else "supporter"
            lines.append(f"> **{who}:** {message.content}")
            lines.append(">")
        lines.append(f"> **seeker:** {ex.user_text}")
        lines.append("")
        lines.append(f"- **supporter (gold, {ex.strategy.value}):** {ex.reply}")
        used = o.strategy.value if o.strategy else f"{o.tier} reply"
        lines.append(f"- **Attune ({used}):** {o.reply}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
