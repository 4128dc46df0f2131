"""From strategies to replies, for ``attune study bias --replies N``: for each method, Attune
writes the reply to each of the first ``N`` turns with the strategy that method chose, and the
reply-strategy classifier (:mod:`strategies.adherence`) reads which strategy the reply enacts.

The share of replies read as the chosen strategy (**adherence**) separates the two sources of
bias: a method can choose well and the generator drift in wording, or the other way round.
The reply of a turn depends only on the strategy imposed, so it is generated once per (turn,
strategy) and shared by every method that chose that strategy there; replies are cached like
the planner's answers (method ``reply``), so a rerun asks nothing again.

Turns are replayed as ``attune eval replies`` does (:mod:`agent.tuning.evaluation`): the gold
dialogue before the seeker's last message is the session's history, that message the input,
through the real graph of the profile's settings. Turns that get the crisis reply are left out
(it is the same whatever the strategy). Only supporter turns that answer the seeker directly are
used (a second supporter message in a row has no seeker input of its own).
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attune.settings import AttuneSettings
    from attune.taxonomy import Strategy
    from strategies.cache import AnswerCache
    from strategies.study import CellRun


def _reply(bot: Any, example: Any, strategy: Strategy) -> tuple[str, str]:
    """``(reply, safety tier)`` of one replayed turn with ``strategy`` imposed."""
    session = f"study-{uuid.uuid4().hex[:12]}"
    bot.import_history(session, example.history)
    result: dict[str, Any] = {}
    try:
        for event in bot.stream_turn(example.user_text, session, strategy=strategy):
            if event.type == "reply.done":
                result = event.data["result"]
    finally:
        bot.forget(session)
    tier = (result.get("safety") or {}).get("tier") or "none"
    return str(result.get("reply", "")), str(tier)


def reply_adherence(
    settings: AttuneSettings,
    cells: Sequence[CellRun],
    *,
    data: Path,
    limit: int,
    model_id: str,
    cache: AnswerCache | None,
    progress: bool = True,
    replicates: int = 1000,
) -> list[dict[str, Any]]:
    """One entry per cell: ``n`` replies scored, ``adherence`` with its interval over
    dialogues, ``crisis`` turns left out, and how many replies were generated now."""
    from agent.core import Attune
    from agent.tuning.format import reply_examples
    from strategies.adherence import StrategyClassifier
    from strategies.data import load_dialogues
    from strategies.stats import bootstrap_share
    from strategies.study import sample_key

    if not cells:
        return []
    source = data.name
    dialogues = load_dialogues(data)
    examples = {(e.dialogue_index, e.turn_index): e for e in reply_examples(dialogues)}
    samples = list(cells[0].samples[:limit])
    wanted: dict[tuple[int, int], set[Strategy]] = {}
    for cell in cells:
        for sample, chosen in zip(cell.samples[:limit], cell.predictions[:limit], strict=True):
            key = (sample.dialogue_index, sample.turn_index)
            if key in examples:
                wanted.setdefault(key, set()).add(chosen)
    replies: dict[tuple[int, int, Strategy], tuple[str, str]] = {}
    generated = 0
    total = sum(len(v) for v in wanted.values())
    with Attune(settings) as bot:
        bot.load()
        classifier = StrategyClassifier.load(bot.context.embedder)
        done = 0
        for sample in samples:
            key = (sample.dialogue_index, sample.turn_index)
            for strategy in sorted(wanted.get(key, ()), key=lambda s: s.value):
                sample_id = sample_key(source, sample)
                prompt = hashlib.sha256(f"reply|{strategy.value}".encode()).hexdigest()
                hit = cache.get(model_id, "reply", sample_id, prompt) if cache else None
                if hit is not None:
                    tier, _, text = hit.partition("\n")
                else:
                    text, tier = _reply(bot, examples[key], strategy)
                    generated += 1
                    if cache is not None:
                        cache.put(model_id, "reply", sample_id, prompt, f"{tier}\n{text}", 0.0)
                replies[(*key, strategy)] = (text, tier)
                done += 1
                if progress:
                    print(f"\rreplies {done}/{total}", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
        texts = sorted({t for t, tier in replies.values() if tier != "crisis" and t})
        read = dict(zip(texts, classifier.predict(texts), strict=True)) if texts else {}
    out = []
    for cell in cells:
        hits: list[bool] = []
        groups: list[int] = []
        crisis = 0
        for sample, chosen in zip(cell.samples[:limit], cell.predictions[:limit], strict=True):
            entry = replies.get((sample.dialogue_index, sample.turn_index, chosen))
            if entry is None:
                continue
            text, tier = entry
            if tier == "crisis" or not text:
                crisis += 1
                continue
            hits.append(read[text] is chosen)
            groups.append(sample.dialogue_index)
        out.append(
            {
                "cell": cell.cell.label,
                "n": len(hits),
                "adherence": round(sum(hits) / len(hits), 4) if hits else None,
                "ci": bootstrap_share(hits, groups, replicates=replicates, seed=0),
                "crisis_left_out": crisis,
            }
        )
    if out:
        out[0]["generated_now"] = generated
    return out
