"""Evaluate the safety detector (``attune eval safety``): on a labelled JSONL set, or on real
conversations (ESConv dialogues) with the dialogue before each message as context.

Labelled set, one line each: ``{"text": ..., "crisis": true|false, "category": ...}`` with an
optional ``tier`` (``none`` / ``concern`` / ``crisis``; by default ``crisis`` when ``crisis`` is
true, else ``none``) and ``kind`` (``direct``, ``indirect``, ``concern``, ``idiom``,
``sadness``...). The report names misses and false alarms by line index, never by text.

Conversations: the ESConv split JSONL (one dialogue per line, ``dialog`` of ``{text, speaker:
usr|sys}``) or the original single-file release (``{content, speaker: seeker|supporter}``).
Every seeker message is assessed in order with the two messages before it as context and the
previous seeker message's assessment, as the chat would; the report gives the rate per tier
and per category and lists every flagged message by dialogue and turn index. A review file
(``--review``: JSONL ``{"dialogue", "turn", "verdict": "crisis"|"concern"|"none", "why"}``,
written by hand after reading the flagged messages; it never holds the data set's text) says
which flags are genuine.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.safety.detector import CrisisDetector
from attune.errors import InputError
from attune.types import CRISIS_CATEGORIES, SAFETY_TIERS, ChatMessage, SafetyAssessment

#: The hand review of what the detector flags on ESConv valid (by dialogue and turn index; the
#: data set's text is never in it: ESConv is CC BY-NC).
REVIEW_PATH = Path(__file__).resolve().parent / "data" / "conversation_review_valid.jsonl"
#: Messages before each seeker message given to the detector as context.
CONTEXT_MESSAGES = 2


def load_labelled(path: Path | str) -> list[dict[str, Any]]:
    """The set's rows, checked: each has a text, a boolean ``crisis``, a valid category and
    tier. ``tier`` is filled in from ``crisis`` where the row has none."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise InputError("bad_data", f"line {number} of {path} is not JSON") from None
        if not isinstance(row, dict):
            raise InputError("bad_data", f"line {number} of {path} is not an object")
        if not isinstance(row.get("text"), str) or not isinstance(row.get("crisis"), bool):
            raise InputError("bad_data", f"line {number} needs a text and a boolean crisis")
        row.setdefault("tier", "crisis" if row["crisis"] else "none")
        if row["tier"] not in SAFETY_TIERS or (row["tier"] == "crisis") != row["crisis"]:
            raise InputError(
                "bad_data", f"line {number}: tier must be one of {SAFETY_TIERS} and match crisis"
            )
        if row["tier"] != "none" and row.get("category") not in CRISIS_CATEGORIES:
            raise InputError(
                "bad_data",
                f"line {number}: a crisis or concern line needs a category in "
                f"{', '.join(CRISIS_CATEGORIES)}",
            )
        rows.append(row)
    if not rows:
        raise InputError("bad_data", f"no rows in {path}")
    return rows


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def _assess_all(
    detector: CrisisDetector,
    texts: list[str],
    contexts: list[tuple[ChatMessage, ...]] | None,
    batch_size: int,
) -> list[SafetyAssessment]:
    """``detector.assess_batch`` over ``texts`` in batches of ``batch_size``."""
    out: list[SafetyAssessment] = []
    for start in range(0, len(texts), batch_size):
        end = start + batch_size
        out.extend(
            detector.assess_batch(texts[start:end], None, contexts[start:end] if contexts else None)
        )
    return out


def evaluate_safety(
    detector: CrisisDetector, path: Path | str, *, batch_size: int = 64
) -> dict[str, Any]:
    """Figures of the graded detector on a labelled set.

    - ``direct_crisis_recall``: direct crisis lines given the crisis tier;
    - ``indirect_caught``: indirect crisis lines given concern or crisis;
    - ``concern_caught``: concern lines given concern or crisis;
    - ``crisis_precision``: of the lines given the crisis tier, those labelled crisis;
    - ``recall`` (crisis lines given concern or crisis), ``precision`` (= crisis precision),
      ``false_positive_rate`` (non-risk lines given the crisis tier), ``concern_rate_none``
      (non-risk lines given concern), per category and per kind.

    ``misses`` and ``false_alarms`` list 0-based line indices (blank lines not counted).
    """
    rows = load_labelled(path)
    predictions = _assess_all(detector, [r["text"] for r in rows], None, batch_size)
    counts: Counter[str] = Counter()
    misses, false_alarms = [], []
    hit_by_cat: Counter[str] = Counter()
    n_by_cat: Counter[str] = Counter()
    right_cat = 0
    kinds: dict[str, Counter[str]] = {}
    matched: Counter[str] = Counter()
    for i, (row, pred) in enumerate(zip(rows, predictions, strict=True)):
        truth, tier = row["tier"], pred.tier
        kind = kinds.setdefault(str(row.get("kind", truth)), Counter())
        kind["n"] += 1
        kind[tier] += 1
        counts[f"{truth}->{tier}"] += 1
        flagged = tier != "none"
        if truth == "crisis":
            n_by_cat[row["category"]] += 1
            if flagged:
                hit_by_cat[row["category"]] += 1
                right_cat += pred.category == row["category"]
                for part in pred.matched_by:
                    matched[part] += 1
            else:
                misses.append(i)
        elif truth == "concern":
            if not flagged:
                misses.append(i)
        elif tier == "crisis":
            false_alarms.append(i)
    tp = counts["crisis->crisis"]
    predicted_crisis = tp + counts["concern->crisis"] + counts["none->crisis"]
    n_crisis = sum(counts[f"crisis->{t}"] for t in SAFETY_TIERS)
    n_concern = sum(counts[f"concern->{t}"] for t in SAFETY_TIERS)
    n_none = sum(counts[f"none->{t}"] for t in SAFETY_TIERS)
    caught = n_crisis - counts["crisis->none"]
    precision, recall = _ratio(tp, predicted_crisis), _ratio(caught, n_crisis)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0

    def kind_rate(name: str, tiers: tuple[str, ...]) -> float:
        k = kinds.get(name, Counter())
        return _ratio(sum(k[t] for t in tiers), k["n"])

    return {
        "n": len(rows),
        "n_crisis": n_crisis,
        "n_concern": n_concern,
        "n_none": n_none,
        "direct_crisis_recall": kind_rate("direct", ("crisis",)),
        "indirect_caught": kind_rate("indirect", ("concern", "crisis")),
        "concern_caught": _ratio(n_concern - counts["concern->none"], n_concern),
        "crisis_precision": precision,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positive_rate": _ratio(counts["none->crisis"], n_none),
        "concern_rate_none": _ratio(counts["none->concern"], n_none),
        "per_category_recall": {c: _ratio(hit_by_cat[c], n_by_cat[c]) for c in CRISIS_CATEGORIES},
        "per_category_n": {c: n_by_cat[c] for c in CRISIS_CATEGORIES},
        "category_accuracy": _ratio(right_cat, caught),
        "per_kind": {
            k: {t: _ratio(v[t], v["n"]) for t in SAFETY_TIERS} | {"n": v["n"]}
            for k, v in kinds.items()
        },
        "per_kind_detection_rate": {
            k: _ratio(v["concern"] + v["crisis"], v["n"]) for k, v in kinds.items()
        },
        "detected_by": dict(matched),
        "confusion": {k: counts[k] for k in sorted(counts)},
        "misses": misses,
        "false_alarms": false_alarms,
        "detector": detector.info(),
    }


# --- real conversations -----------------------------------------------------------------------


@dataclass(frozen=True)
class SeekerMessage:
    """One seeker message of a dialogue, with the messages before it."""

    dialogue: int
    turn: int
    text: str
    context: tuple[ChatMessage, ...]


def _dialog_turns(dialogue: dict[str, Any]) -> Iterator[tuple[str, str]]:
    turns = dialogue.get("dialog")
    if not isinstance(turns, list):
        raise InputError("bad_data", "a dialogue needs a 'dialog' list")
    for turn in turns:
        if not isinstance(turn, dict):
            raise InputError("bad_data", "each turn of 'dialog' must be an object")
        speaker = turn.get("speaker")
        text = turn.get("text", turn.get("content"))
        if not isinstance(text, str) or speaker not in ("usr", "sys", "seeker", "supporter"):
            raise InputError("bad_data", "each turn needs a text and a speaker (usr/sys)")
        yield ("user" if speaker in ("usr", "seeker") else "assistant"), text.strip()


def load_conversations(path: Path | str) -> list[list[tuple[str, str]]]:
    """Dialogues as lists of ``(role, text)``, role ``user`` for the seeker; reads the split
    JSONL and the original single-file JSON release."""
    raw = Path(path).read_text(encoding="utf-8")
    try:
        if raw.lstrip().startswith("["):
            dialogues = json.loads(raw)
        else:
            dialogues = [json.loads(line) for line in raw.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise InputError("bad_data", f"{path} is not JSON or JSONL: {exc.msg}") from None
    if not isinstance(dialogues, list) or not dialogues:
        raise InputError("bad_data", f"no dialogues in {path}")
    out = []
    for d in dialogues:
        if not isinstance(d, dict):
            raise InputError("bad_data", "each dialogue must be an object")
        out.append(list(_dialog_turns(d)))
    return out


def seeker_messages(
    dialogues: list[list[tuple[str, str]]], context_messages: int = CONTEXT_MESSAGES
) -> list[SeekerMessage]:
    """Every non-empty seeker message with the ``context_messages`` messages before it."""
    out = []
    for d, turns in enumerate(dialogues):
        for t, (role, text) in enumerate(turns):
            if role != "user" or not text:
                continue
            before = turns[max(0, t - context_messages) : t]
            context = tuple(ChatMessage(role=r, content=x) for r, x in before if x)  # type: ignore[arg-type]
            out.append(SeekerMessage(d, t, text, context))
    return out


def load_review(path: Path | str) -> dict[tuple[int, int], dict[str, Any]]:
    """Hand review decisions keyed by ``(dialogue, turn)``."""
    decisions = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("verdict") not in SAFETY_TIERS:
            raise InputError("bad_data", f"line {number} of {path}: verdict must be a tier")
        decisions[(int(row["dialogue"]), int(row["turn"]))] = row
    return decisions


def evaluate_conversations(
    detector: CrisisDetector,
    path: Path | str,
    *,
    review: Path | str | None = None,
    batch_size: int = 64,
    with_text: bool = False,
) -> dict[str, Any]:
    """Run every seeker message of the dialogues in ``path`` through the detector, in order,
    with its context; rates per tier and per category, and the flagged messages.

    Messages are assessed in dialogue order, the previous seeker message's assessment passed
    on as it is in a session. ``flagged`` lists ``{dialogue, turn, tier, category, reason,
    matched_by}`` (plus ``text`` with ``with_text``, for reading locally; never commit it) and,
    with ``review``, the hand verdict; ``review`` sums up how many flags were judged genuine.
    """
    messages = seeker_messages(load_conversations(path))
    texts, contexts = [m.text for m in messages], [m.context for m in messages]
    results = _assess_all(detector, texts, contexts, batch_size)
    # ``previous`` only matters after a crisis: re-read, in order, each message that follows one
    for i in range(1, len(messages)):
        before = results[i - 1]
        if messages[i].dialogue == messages[i - 1].dialogue and before.crisis:
            m = messages[i]
            results[i] = detector.assess(m.text, before, m.context)
    dialogues = {m.dialogue for m in messages}
    decisions = load_review(review) if review is not None else {}
    tiers: Counter[str] = Counter(a.tier for a in results)
    categories: dict[str, Counter[str]] = {t: Counter() for t in ("concern", "crisis")}
    flagged = []
    verdicts: dict[str, Counter[str]] = {t: Counter() for t in ("concern", "crisis")}
    for m, a in zip(messages, results, strict=True):
        if a.tier == "none":
            continue
        categories[a.tier][str(a.category)] += 1
        row: dict[str, Any] = {
            "dialogue": m.dialogue,
            "turn": m.turn,
            "tier": a.tier,
            "category": a.category,
            "reason": a.reason,
            "matched_by": list(a.matched_by),
        }
        decision = decisions.get((m.dialogue, m.turn))
        if decision is not None:
            row["verdict"] = decision["verdict"]
        verdicts[a.tier][decision["verdict"] if decision else "unreviewed"] += 1
        if with_text:
            row["text"] = m.text
        flagged.append(row)
    n = len(messages)
    report: dict[str, Any] = {
        "n_dialogues": len(dialogues),
        "n_messages": n,
        "per_tier": {t: tiers[t] for t in SAFETY_TIERS},
        "rate_per_tier": {t: _ratio(tiers[t], n) for t in SAFETY_TIERS},
        "per_category": {t: dict(c) for t, c in categories.items()},
        "flagged": flagged,
        "detector": detector.info(),
    }
    if review is not None:
        report["review"] = {
            t: {
                "flagged": sum(v.values()),
                "genuine_crisis": v["crisis"],
                "genuine_concern": v["concern"],
                "not_genuine": v["none"],
                "unreviewed": v["unreviewed"],
            }
            for t, v in verdicts.items()
        }
        # the reviewed risks the detector did not flag at all (a miss among the reviewed)
        flagged_keys = {(r["dialogue"], r["turn"]) for r in flagged}
        report["review"]["reviewed_not_flagged"] = [
            {"dialogue": d, "turn": t, "verdict": v["verdict"]}
            for (d, t), v in sorted(decisions.items())
            if (d, t) not in flagged_keys and v["verdict"] != "none"
        ]
    return report
