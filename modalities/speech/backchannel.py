"""Backchannels: what a listener says to show they are following ("mm-hmm", "yeah", "okay"), or
a cough or laugh, which must not stop Attune while it speaks.

:func:`is_backchannel` reads a transcript of speech heard while Attune was speaking: true when
every word of it is a listener's token (a short list below, written for English) and there are
at most :data:`MAX_WORDS` of them, or when the recogniser heard no words at all (a cough, a
laugh, breath; Whisper writes those as ``[laughs]``, ``(coughs)`` or nothing). Anything else is a
real interruption ("wait", "no, that's not it", "can I say something").
"""

from __future__ import annotations

import re

#: The longest backchannel, in words ("oh okay yeah").
MAX_WORDS = 3

#: Listener tokens, lower case, without punctuation (hyphens removed: "mm-hmm" is "mmhmm").
TOKENS = frozenset({
    "mm", "mmm", "mmmm", "mhm", "mmhmm", "mmhm", "hmm", "hm", "uhhuh", "uhuh", "aha", "ah", "oh",
    "ooh", "uh", "um", "yeah", "yea", "yep", "yup", "yes", "ya", "ok", "okay", "kay", "right",
    "alright", "sure", "true", "exactly", "totally", "wow", "i", "see", "gotcha", "got", "it",
    "cool", "nice", "huh",
})  # fmt: skip

#: Two-word phrases whose words alone are not all tokens are listed whole; "i", "see", "got" and
#: "it" are tokens only inside these.
PHRASES = ("i see", "got it")
_ONLY_IN_PHRASES = frozenset({"i", "see", "got", "it"})

_NOISE = re.compile(r"[\[(*][^\])*]*[\])*]")  # [laughs], (coughs), *cough*


def words_of(transcript: str) -> list[str]:
    """The transcript's words, lower case, without noise tags, punctuation or hyphens."""
    text = _NOISE.sub(" ", transcript.lower())
    text = re.sub(r"(?<=\w)[-‐'’](?=\w)", "", text)
    return re.findall(r"[a-z]+", text)


def is_backchannel(transcript: str) -> bool:
    """Whether speech with this transcript is a backchannel (see the module docstring)."""
    words = words_of(transcript)
    if not words:
        return True
    if len(words) > MAX_WORDS or any(w not in TOKENS for w in words):
        return False
    joined = " ".join(words)
    for phrase in PHRASES:
        joined = joined.replace(phrase, "")
    return not any(w in _ONLY_IN_PHRASES for w in joined.split())
