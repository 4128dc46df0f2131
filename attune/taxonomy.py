"""The 8 ESConv support strategies (Liu et al., 2021), with definitions written by the project."""

from __future__ import annotations

import re
from enum import StrEnum


class Strategy(StrEnum):
    """One of the 8 ESConv strategies; the value is the canonical ESConv spelling."""

    QUESTION = "Question"
    RESTATEMENT = "Restatement or Paraphrasing"
    REFLECTION = "Reflection of feelings"
    SELF_DISCLOSURE = "Self-disclosure"
    AFFIRMATION = "Affirmation and Reassurance"
    SUGGESTIONS = "Providing Suggestions"
    INFORMATION = "Information"
    OTHERS = "Others"

    @property
    def definition(self) -> str:
        """What a supporter does when using this strategy (the project's own wording)."""
        return DEFINITIONS[self]


#: The strategies in ESConv's conventional order (the order used by every metric table).
STRATEGIES: tuple[Strategy, ...] = tuple(Strategy)

DEFINITIONS: dict[Strategy, str] = {
    Strategy.QUESTION: (
        "Ask one open, gentle question that helps the person say more about what happened "
        "or how they feel, without interrogating them."
    ),
    Strategy.RESTATEMENT: (
        "Say back, in your own simpler words, the main facts the person shared, so they can "
        "hear that you understood and correct you if not."
    ),
    Strategy.REFLECTION: (
        "Name the feeling you sense behind their words and show that it makes sense, "
        "without judging or fixing it."
    ),
    Strategy.SELF_DISCLOSURE: (
        "Share briefly that you have known a similar feeling or situation, to show they are "
        "not alone, then turn the attention back to them."
    ),
    Strategy.AFFIRMATION: (
        "Recognise their strengths or efforts and offer honest encouragement that things can "
        "get easier, without dismissing the pain."
    ),
    Strategy.SUGGESTIONS: (
        "Offer one small, concrete, optional idea they could try, phrased as a possibility "
        "rather than an order."
    ),
    Strategy.INFORMATION: (
        "Give a useful fact or piece of general knowledge relevant to their situation, "
        "stated plainly and without lecturing."
    ),
    Strategy.OTHERS: (
        "Respond warmly in another way: a greeting, thanks, a short acknowledgement, or "
        "closing the conversation kindly."
    ),
}

_ALIASES: dict[str, Strategy] = {
    "question": Strategy.QUESTION,
    "questions": Strategy.QUESTION,
    "restatement or paraphrasing": Strategy.RESTATEMENT,
    "restatement": Strategy.RESTATEMENT,
    "paraphrasing": Strategy.RESTATEMENT,
    "reflection of feelings": Strategy.REFLECTION,
    "reflection of feeling": Strategy.REFLECTION,
    "self-disclosure": Strategy.SELF_DISCLOSURE,
    "self disclosure": Strategy.SELF_DISCLOSURE,
    "affirmation and reassurance": Strategy.AFFIRMATION,
    "approval and reassurance": Strategy.AFFIRMATION,
    "providing suggestions": Strategy.SUGGESTIONS,
    "providing suggestion": Strategy.SUGGESTIONS,
    "suggestions": Strategy.SUGGESTIONS,
    "information": Strategy.INFORMATION,
    "providing information": Strategy.INFORMATION,
    "others": Strategy.OTHERS,
    "other": Strategy.OTHERS,
}


def normalize_strategy(label: str | Strategy) -> Strategy:
    """Map any known spelling of a strategy to :class:`Strategy`.

    Raises ``ValueError`` naming the offending value for an unknown label: never a silent remap.
    """
    if isinstance(label, Strategy):
        return label
    key = re.sub(r"\s+", " ", str(label).strip().strip("[]").replace("_", " ")).lower()
    try:
        return _ALIASES[key]
    except KeyError:
        raise ValueError(f"unknown ESConv strategy label: {label!r}") from None
