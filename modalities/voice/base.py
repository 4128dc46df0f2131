"""The ``tts`` role: turn the reply's text into speech, one sentence at a time.

A backend implements one method, :meth:`SpeechSynthesizer.synthesize` (text -> one
:class:`SpeechChunk`), and declares what it can do in :class:`TTSCapabilities`. The shared
:meth:`SpeechSynthesizer.stream` splits a reply into sentences with :func:`split_sentences` and
yields one chunk per sentence as soon as it is synthesised, so the first sentence can play while
the rest is still being made.

Input rules, the same for every backend: text that is not a ``str``, or is empty or only
whitespace, is ``InputError("empty_text")``; text longer than :data:`MAX_TEXT_CHARS` is
``InputError("text_too_long")``; text with nothing pronounceable in it (only emoji or symbols)
is ``InputError("nothing_to_speak")``. In :meth:`~SpeechSynthesizer.stream`, an unpronounceable
sentence inside a longer reply ("Well done! 🎉") is skipped without any silence; only a reply
with nothing pronounceable at all raises, when the stream is consumed.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from attune.errors import InputError
from attune.lifecycle import Loadable
from attune.types import Audio, VoiceStyle, WordTiming

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

#: The longest text one call accepts (a spoken reply is far shorter).
MAX_TEXT_CHARS = 5000
#: Sentences longer than this are cut at a clause boundary (or a space) before synthesis.
MAX_SENTENCE_CHARS = 250

#: Words whose trailing period does not end a sentence (compared lowercased, without the period).
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "cf",
    "approx", "dept", "est", "fig", "no", "vol", "inc", "ltd", "co", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "u.s", "u.k",
})  # fmt: skip

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+\S)")
_CLAUSE_BREAK = re.compile(r"[,;:—–]\s+")


@dataclass(frozen=True)
class TTSCapabilities:
    """What a speech synthesiser can do.

    ``streaming``: chunks come out sentence by sentence before the whole reply is done;
    ``word_timings`` / ``phoneme_timings``: chunks carry when each word / phoneme is spoken;
    ``sample_rate``: the rate of every chunk's audio, in Hz.
    """

    streaming: bool
    word_timings: bool
    phoneme_timings: bool
    sample_rate: int


@dataclass(frozen=True)
class PhonemeTiming:
    """One phoneme (in the backend's alphabet) and when it is spoken, in seconds."""

    phoneme: str
    start: float
    end: float


@dataclass(frozen=True, eq=False)
class SpeechChunk:
    """Synthesised speech for one piece of a reply (one sentence when streamed).

    ``offset`` is where the chunk starts, in seconds from the start of the whole reply; the times
    in ``words`` and ``phonemes`` count from that same origin (not from the chunk's start).
    ``words`` is empty and ``phonemes`` is ``None`` when the backend cannot time them (see its
    :class:`TTSCapabilities`).
    """

    audio: Audio
    text: str
    offset: float = 0.0
    words: list[WordTiming] = field(default_factory=list)
    phonemes: list[PhonemeTiming] | None = None

    @property
    def end(self) -> float:
        """Where the chunk ends, in seconds from the start of the whole reply."""
        return self.offset + self.audio.duration

    def shifted(self, seconds: float) -> SpeechChunk:
        """The same chunk placed ``seconds`` later in the reply (its timings move with it)."""
        words = [
            w.model_copy(update={"start": w.start + seconds, "end": w.end + seconds})
            for w in self.words
        ]
        phonemes = (
            None
            if self.phonemes is None
            else [
                PhonemeTiming(p.phoneme, p.start + seconds, p.end + seconds) for p in self.phonemes
            ]
        )
        return dataclasses.replace(
            self, offset=self.offset + seconds, words=words, phonemes=phonemes
        )


def validate_text(text: object, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Check text to speak: a non-empty ``str`` of at most ``max_chars``, else :class:`InputError`.

    Returns the text stripped of surrounding whitespace.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("empty_text", "the text to speak is empty")
    if len(text) > max_chars:
        raise InputError(
            "text_too_long",
            f"the text to speak has {len(text)} characters; the limit is {max_chars}",
        )
    return text.strip()


def join_chunks(chunks: Sequence[SpeechChunk]) -> Audio:
    """The audio of a streamed reply as one clip: the chunks' samples back to back, in order.

    Chunks from :meth:`SpeechSynthesizer.stream` are contiguous, so this matches their offsets.
    All chunks must share a sample rate; an empty sequence is ``InputError("no_audio")``.
    """
    if not chunks:
        raise InputError("no_audio", "there are no speech chunks to join")
    rates = {c.audio.sample_rate for c in chunks}
    if len(rates) != 1:
        raise InputError("mixed_sample_rates", f"speech chunks have different rates: {rates}")
    samples = np.concatenate([c.audio.samples for c in chunks]).astype(np.float32, copy=False)
    return Audio(samples, rates.pop())


def nothing_to_speak() -> InputError:
    """The error for text with nothing pronounceable in it (emoji or symbols only)."""
    return InputError("nothing_to_speak", "the text has no words to speak (only symbols or emoji)")


def _ends_sentence(text: str, end: int) -> bool:
    """Whether the punctuation run ending at ``end`` closes a sentence.

    Not after an abbreviation ("Dr.", "e.g.") or a single capital initial ("J. Smith"), and not
    before a lowercase word ("wait... then"): those periods sit inside a sentence.
    """
    following = text[end:].lstrip()
    if following[:1].islower():
        return False
    run = text[:end].rstrip("\"'”’)]")
    if not run.endswith(".") or run.endswith(".."):
        return True
    word = run[:-1].rsplit(None, 1)[-1].lstrip("(\"'“‘") if run[:-1].strip() else ""
    if len(word) == 1 and word.isupper():
        return False
    return word.lower() not in ABBREVIATIONS


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    """Cut a sentence longer than ``max_chars``: at the last clause break (comma, semicolon,
    colon, dash) that fits, else at the last space, else hard at ``max_chars``."""
    pieces = []
    rest = sentence
    while len(rest) > max_chars:
        window = rest[: max_chars + 1]
        breaks = [m.end() for m in _CLAUSE_BREAK.finditer(window) if m.end() > max_chars // 4]
        cut = breaks[-1] if breaks else window.rfind(" ") + 1
        if cut <= 0:
            cut = max_chars
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    pieces.append(rest)
    return [p for p in pieces if p]


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Split text into the sentences it is spoken in, each at most ``max_chars`` long.

    Line breaks always end a sentence; so does ``.``, ``!``, ``?`` or ``…`` (runs of them, and
    closing quotes or brackets after them) followed by whitespace, except after an abbreviation
    ("Dr.", "e.g."), a capital initial, or before a lowercase word. A period inside a number
    ("3.5") has no space after it and never splits. Text without terminal punctuation is one
    sentence. Sentences over ``max_chars`` are cut at clause boundaries (see :func:`_cut_long`).
    """
    sentences: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        start = 0
        for match in _SENTENCE_END.finditer(line):
            if _ends_sentence(line, match.end()):
                sentences.append(line[start : match.end()])
                start = match.end()
        sentences.append(line[start:])
    return [piece for s in sentences if s.strip() for piece in _cut_long(s.strip(), max_chars)]


class SpeechSynthesizer(Loadable, ABC):
    """Speaks text in a :class:`VoiceStyle` (speed, pitch, gain) and says what it can time."""

    name: str

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AttuneSettings, **kwargs: Any) -> SpeechSynthesizer:
        """Construct cheaply from settings; the model loads in :meth:`load` or on first use."""

    @property
    @abstractmethod
    def capabilities(self) -> TTSCapabilities:
        """What this backend can do (streaming, timings, sample rate)."""

    @abstractmethod
    def synthesize(self, text: str, style: VoiceStyle | None = None) -> SpeechChunk:
        """Speak ``text`` (one or more sentences) as one chunk starting at offset 0.

        Raises :class:`InputError` as described in the module docstring.
        """

    def stream(self, text: str, style: VoiceStyle | None = None) -> Iterator[SpeechChunk]:
        """Speak ``text`` sentence by sentence: one chunk per sentence, each yielded as soon as
        it is synthesised, with offsets and timings counted from the start of the whole reply.

        The input is checked when this is called; a reply with nothing pronounceable raises
        ``InputError("nothing_to_speak")`` when the iterator is consumed.
        """
        sentences = split_sentences(validate_text(text))
        return self._stream_sentences(sentences, style)

    def _stream_sentences(
        self, sentences: list[str], style: VoiceStyle | None
    ) -> Iterator[SpeechChunk]:
        offset, spoke = 0.0, False
        for sentence in sentences:
            try:
                chunk = self.synthesize(sentence, style)
            except InputError as exc:
                if exc.code == "nothing_to_speak":
                    continue
                raise
            yield chunk.shifted(offset)
            offset += chunk.audio.duration
            spoke = True
        if not spoke:
            raise nothing_to_speak()
