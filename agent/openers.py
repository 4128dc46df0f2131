"""Strategy openers: the first words of a reply, written by the project, that commit the small
reply model to the strategy the planner chose.

The tuned 135M model reads the strategy as a control line but mostly answers in its default mode
("I'm sorry to hear that."): on ESConv valid it follows Restatement, Information and Providing
Suggestions in well under a third of turns. Starting the reply with words that only that strategy
begins with ("So you ...", "Have you thought about ...") and letting the model continue (the LLM
backend must continue an assistant message: ``capabilities.continues``) is a decoding-time
control that costs nothing and keeps the reply streaming.

The openers are plain phrasing patterns of each strategy (informed by how ESConv supporters
begin, not copied from it). Question and Others need none (the model follows them), nor
Self-disclosure: Attune does not invent experiences of its own.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from attune.taxonomy import Strategy

OPENERS: dict[Strategy, tuple[str, ...]] = {
    Strategy.RESTATEMENT: ("So you", "It sounds like you", "If I understand you right,"),
    Strategy.REFLECTION: ("It sounds like you feel", "I can hear how", "You must be feeling"),
    Strategy.SUGGESTIONS: ("Have you thought about", "Maybe you could", "It might help to"),
    Strategy.INFORMATION: ("Many people", "It is very common to", "It can help to know that"),
    Strategy.AFFIRMATION: ("It's okay to", "You are doing", "It takes courage to"),
}


def opener_for(strategy: Strategy, user_text: str, recent: Sequence[str] = ()) -> str:
    """The opener of a reply with ``strategy`` to ``user_text`` (``""`` when the strategy has
    none). Chosen by the message (the same turn gets the same opener), avoiding one that began
    any of Attune's ``recent`` replies."""
    options = OPENERS.get(strategy, ())
    if not options:
        return ""
    start = zlib.crc32(" ".join(user_text.lower().split()).encode()) % len(options)
    ordered = [options[(start + i) % len(options)] for i in range(len(options))]
    used = tuple(r.lstrip().lower() for r in recent)
    fresh = [o for o in ordered if not any(r.startswith(o.lower()) for r in used)]
    return (fresh or ordered)[0]
