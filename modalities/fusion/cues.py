"""What the words say happened, and how they say it: the verbal cues fusion reads beside the
text classifier.

**Adverse events.** A text emotion classifier scores how a sentence *sounds*; "My father passed
away last week." is said flatly, so its top score is modest, yet it is strong evidence of a
painful feeling. :func:`verbal_cues` finds statements of a loss, a failure, a break-up, an
illness, danger, sleeplessness, loneliness or being left out (patterns written by the project,
first person or about someone close) and gives the evidence a strength and the feeling it
usually carries.

**Hedges and minimisers.** "I'm fine, really", "it's just that", "honestly I'm okay", "I guess",
"no big deal": with negative content they are a cue of masking in their own right (ambivalence
and hesitancy show as discord between channels, often with verbal hedges). They are reported
only; :mod:`modalities.fusion.fuse` decides what they change.

Negations ("he didn't die", "I never failed") cancel an event. The patterns are English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CLOSE = (
    r"(?:my|our)\s+(?:\w+\s+)?(?:mum|mom|mother|dad|father|parents?|brother|sister|son|"
    r"daughter|child|kids?|baby|wife|husband|partner|boyfriend|girlfriend|fianc[eé]e?|friend|"
    r"best friend|grand(?:ma|pa|mother|father|mum|dad)|aunt|uncle|cousin|dog|cat|pet)"
)

#: (kind, feeling it usually carries, strength, pattern)
_EVENTS: tuple[tuple[str, str, float, str], ...] = (
    ("bereavement", "sadness", 0.9,
     rf"\b(?:passed away|passed on|died|dying|death of|funeral|lost {_CLOSE}|"
     rf"{_CLOSE}\s+(?:is|was)\s+(?:gone|dead))\b"),
    ("bereavement", "sadness", 0.85,
     r"\b(?:grieving|bereaved|miscarriage|since (?:the|his|her) death)\b"),
    ("failure", "sadness", 0.8,
     r"\b(?:i|we)\s+(?:have\s+|just\s+)?(?:failed|flunked|got fired|was fired|got laid off|"
     r"was laid off|lost (?:my|our) (?:job|house|home|business)|got rejected|was rejected|"
     r"didn't get (?:in|the job))\b"),
    ("breakup", "sadness", 0.8,
     rf"\b(?:broke up|dumped me|left me(?!\s+out)|divorc\w*|cheated on me|"
     rf"{_CLOSE}\s+(?:left|cheated))\b"),
    ("illness", "fear", 0.8,
     r"\b(?:cancer|diagnosed|terminal|tumou?r|in (?:the )?hospital|chemo\w*|heart attack|"
     r"stroke)\b"),
    ("danger", "fear", 0.8, r"\b(?:hits? me|hurts? me|threaten\w* me|scared (?:of|for) my life)\b"),
    ("sleepless", "sadness", 0.7,
     r"\b(?:haven't|have not|can't|cannot|couldn't)\s+(?:slept|sleep)\b"),
    ("loneliness", "sadness", 0.7,
     r"\b(?:so|really|very|completely|all)\s+(?:alone|lonely)\b|\bno one cares\b"),
    ("exclusion", "sadness", 0.7,
     r"\b(?:nobody|no one|no-one)\s+(?:came|showed up|turned up|called|texted|remembered|"
     r"invited me|talks to me|wants to (?:see|talk to|be with) me)\b|"
     r"\b(?:left me out|ignored me|excluded me|forgot my birthday|ghosted me)\b"),
    ("worry", "fear", 0.7,
     r"\b(?:(?:my|our) parents|they|he|she)\s+will be\s+(?:furious|so angry|disappointed)\b"),
)  # fmt: skip

_EVENT_RES = tuple(
    (kind, feeling, strength, re.compile(pattern, re.IGNORECASE))
    for kind, feeling, strength, pattern in _EVENTS
)

_NEGATION = re.compile(
    r"\b(?:not|never|didn't|did not|hasn't|has not|wasn't|was not|isn't|no one|nobody)\b"
    r"(?:\W+\w+){0,3}\W*$",
    re.IGNORECASE,
)

_HEDGES = re.compile(
    r"\b(?:i'?m|i am)\s+(?:fine|ok|okay|alright|all right|good)\b|"
    r"\b(?:it'?s|it is|that'?s)\s+(?:just|only)\b|\bjust that\b|"
    r"\bhonestly\b|\breally,|\bi guess\b|\bi suppose\b|\bno big deal\b|\bit'?s nothing\b|"
    r"\bdon'?t worry\b|\bnot a big deal\b|\bwhatever\b|\bkind of\b|\bsort of\b|\banyway\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class VerbalCues:
    """What :func:`verbal_cues` found in one text."""

    #: Adverse events named (``"bereavement"``, ``"failure"``...), strongest first.
    events: tuple[str, ...] = ()
    #: The strongest event's strength in [0, 1] (0 without one).
    strength: float = 0.0
    #: The feeling the strongest event usually carries (an affect label), if any.
    feeling: str | None = None
    #: The hedges and minimisers used, as written.
    hedges: tuple[str, ...] = field(default_factory=tuple)

    @property
    def adverse(self) -> bool:
        """Whether the words tell of something painful."""
        return self.strength > 0


def verbal_cues(text: str) -> VerbalCues:
    """Adverse events and hedges in ``text`` (module docstring)."""
    text = text.replace("\u2019", "'")
    found: list[tuple[float, str, str]] = []
    for kind, feeling, strength, pattern in _EVENT_RES:
        for match in pattern.finditer(text):
            if _NEGATION.search(text[max(0, match.start() - 40) : match.start()]):
                continue
            found.append((strength, kind, feeling))
            break
    found.sort(key=lambda f: -f[0])
    hedges = tuple(m.group(0).strip(", ").lower() for m in _HEDGES.finditer(text))
    events = tuple(dict.fromkeys(kind for _, kind, _ in found))
    return VerbalCues(
        events=events,
        strength=found[0][0] if found else 0.0,
        feeling=found[0][2] if found else None,
        hedges=hedges,
    )
