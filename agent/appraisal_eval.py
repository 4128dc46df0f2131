"""``attune eval appraisal``: the grounded chain of empathy against ESConv's own annotations.

ESConv gives each dialogue a ``problem_type`` (the event scenario), an ``emotion_type`` and a
``situation`` (a sentence the seeker wrote saying what is wrong). Reported:

- the background classifier's problem-type and emotion-type accuracy and macro-F1 after the
  first one, two and three seeker messages, beside the majority class of train;
- ROUGE-L (F1, 0-100) of the chain's event and cause steps against the situation (put in the
  third person like the steps), after the first three seeker messages, beside the chain that
  read only the latest message (the one before grounding);
- the share of steps grounded in the dialogue: an event or cause whose quoted words are a
  third-person rendering of what the person said (or that says they have not said it yet,
  also counted apart as ``not_said_yet``), an emotion and goal from perception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agent.appraisal import NOT_SAID_CAUSE, NOT_SAID_EVENT, fallback_appraisal, third_person
from agent.tuning.metrics import rouge_l
from strategies.background import (
    PROBLEM_WORDS,
    BackgroundClassifier,
    evaluate_background,
    majority_classes,
    seeker_messages,
)
from strategies.data import Dialogue

#: What the chain says when the person has not said what is wrong yet.
NOT_SAID = (NOT_SAID_EVENT, NOT_SAID_CAUSE)

#: Seeker messages read before the chain is scored.
CHAIN_AFTER = 3


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("\u2019", "'")))


def grounded(step: str, said: Sequence[str]) -> bool:
    """Whether a step's quoted words are what the person said, in the third person (the
    problem-type prefix of an event, ``"a break-up: ..."``, is the classifier's and is set
    aside; a cut-off ``...`` ending counts up to the cut)."""
    words = step
    for phrase in PROBLEM_WORDS.values():
        if words.startswith(f"{phrase}: "):
            words = words[len(phrase) + 2 :]
    if words in NOT_SAID:
        return True  # says they have not told it yet: invents nothing (counted apart too)
    words = _norm(words.removesuffix("..."))
    if not words:
        return False
    return any(words in _norm(third_person(s)) for s in said)


def evaluate_appraisal(
    classifier: BackgroundClassifier,
    train: Sequence[Dialogue],
    dialogues: Sequence[Dialogue],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The figures of the module docstring (one JSON-able dict)."""
    report: dict[str, Any] = {
        "background": evaluate_background(classifier, dialogues, majority_classes(train))
    }
    scores: dict[str, list[float]] = {
        "event": [],
        "cause": [],
        "event_latest": [],
        "cause_latest": [],
    }
    steps_grounded: dict[str, list[bool]] = {"event": [], "cause": []}
    not_said = {"event": 0, "cause": 0}
    usable = [d for d in dialogues if d.situation and seeker_messages(d)]
    for i, d in enumerate(usable):
        said = seeker_messages(d)[:CHAIN_AFTER]
        guess = classifier.guess(said)
        chain = fallback_appraisal(said[-1], None, said[:-1], guess)
        latest = fallback_appraisal(said[-1], None)
        reference = third_person(d.situation or "")
        for step in ("event", "cause"):
            scores[step].append(rouge_l(chain[step], reference))
            scores[f"{step}_latest"].append(rouge_l(latest[step], reference))
            steps_grounded[step].append(grounded(chain[step], said))
            not_said[step] += chain[step] in NOT_SAID
        if progress is not None:
            progress(i + 1, len(usable))
    report["rouge_l_vs_situation"] = {
        "after_seeker_messages": CHAIN_AFTER,
        "event": round(float(np.mean(scores["event"])), 2),
        "cause": round(float(np.mean(scores["cause"])), 2),
        "latest_message_only": {
            "event": round(float(np.mean(scores["event_latest"])), 2),
            "cause": round(float(np.mean(scores["cause_latest"])), 2),
        },
        "n": len(usable),
    }
    event_share = float(np.mean(steps_grounded["event"])) if usable else 0.0
    cause_share = float(np.mean(steps_grounded["cause"])) if usable else 0.0
    report["grounded_share"] = {
        "event": round(event_share, 4),
        "cause": round(cause_share, 4),
        "emotion": 1.0,  # from perception by construction (no LLM step in the default chain)
        "goal": 1.0,
        "all_steps": round((event_share + cause_share + 2.0) / 4, 4),
        "not_said_yet": {k: round(v / max(1, len(usable)), 4) for k, v in not_said.items()},
    }
    return report
