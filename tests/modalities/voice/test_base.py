"""The shared TTS interface: sentence splitting, input checks and streaming (with a fake)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from attune.errors import InputError
from attune.types import Audio, VoiceStyle, WordTiming
from modalities.voice.base import (
    MAX_TEXT_CHARS,
    PhonemeTiming,
    SpeechChunk,
    SpeechSynthesizer,
    TTSCapabilities,
    join_chunks,
    nothing_to_speak,
    split_sentences,
    validate_text,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith is here. He said hi!", ["Dr. Smith is here.", "He said hi!"]),
        ("It is 3.5 km, e.g. far. Fine?", ["It is 3.5 km, e.g. far.", "Fine?"]),
        ("Well... I see. Wait... then go", ["Well...", "I see.", "Wait... then go"]),
        ("no punctuation at all", ["no punctuation at all"]),
        ('He said "Go." Then he left.', ['He said "Go."', "Then he left."]),
        ("J. K. Rowling wrote it. Yes.", ["J. K. Rowling wrote it.", "Yes."]),
        ("First line\nSecond line.", ["First line", "Second line."]),
        ("Really?! Yes.   Sure", ["Really?!", "Yes.", "Sure"]),
        ("It costs $1,250.50 today.", ["It costs $1,250.50 today."]),
        ("  \n  ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_long_sentences_are_cut_at_clauses_then_spaces() -> None:
    clauses = ", ".join(["this part goes on for a while"] * 20) + "."
    pieces = split_sentences(clauses, max_chars=100)
    assert len(pieces) > 1 and all(len(p) <= 100 for p in pieces)
    assert all(p.endswith(",") for p in pieces[:-1])
    assert " ".join(pieces) == clauses

    words = " ".join(["word"] * 100)
    pieces = split_sentences(words, max_chars=60)
    assert all(len(p) <= 60 for p in pieces) and " ".join(pieces) == words

    assert split_sentences("x" * 130, max_chars=50) == ["x" * 50, "x" * 50, "x" * 30]


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "empty_text"), ("  \n\t", "empty_text"), (None, "empty_text"), (b"hi", "empty_text")],
)
def test_validate_text_rejects_empty(text: Any, code: str) -> None:
    with pytest.raises(InputError) as info:
        validate_text(text)
    assert info.value.code == code


def test_validate_text_rejects_huge_text_without_echoing_it() -> None:
    with pytest.raises(InputError) as info:
        validate_text("secret " * (MAX_TEXT_CHARS // 7 + 1))
    assert info.value.code == "text_too_long" and "secret" not in str(info.value)
    assert validate_text("  hi  ") == "hi"


class FakeTTS(SpeechSynthesizer):
    """0.1 s of audio per word; words timed back to back; emoji-only text is unspeakable."""

    name = "fake"

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FakeTTS:
        return cls()

    @property
    def capabilities(self) -> TTSCapabilities:
        return TTSCapabilities(
            streaming=True, word_timings=True, phoneme_timings=False, sample_rate=1000
        )

    def synthesize(self, text: str, style: VoiceStyle | None = None) -> SpeechChunk:
        words = [w for w in validate_text(text).split() if any(c.isalnum() for c in w)]
        if not words:
            raise nothing_to_speak()
        timings = [
            WordTiming(word=w, start=0.1 * i, end=0.1 * i + 0.08) for i, w in enumerate(words)
        ]
        audio = Audio(np.zeros(100 * len(words), np.float32), 1000)
        return SpeechChunk(audio=audio, text=text, words=timings)


def test_stream_yields_one_chunk_per_sentence_on_one_timeline() -> None:
    chunks = list(FakeTTS().stream("One two. Three four five! Six"))
    assert [c.text for c in chunks] == ["One two.", "Three four five!", "Six"]
    assert [c.offset for c in chunks] == pytest.approx([0.0, 0.2, 0.5])
    assert chunks[1].words[0].start == pytest.approx(0.2)
    assert chunks[-1].end == pytest.approx(0.6)


def test_stream_skips_unspeakable_sentences_and_checks_input_eagerly() -> None:
    chunks = list(FakeTTS().stream("Well done! 🎉 🎉. See you."))
    assert [c.text for c in chunks] == ["Well done!", "See you."]
    with pytest.raises(InputError) as info:
        list(FakeTTS().stream("🎉 🙏"))
    assert info.value.code == "nothing_to_speak"
    with pytest.raises(InputError):
        FakeTTS().stream("   ")  # raised on the call, before iterating


def test_shifted_moves_every_timing() -> None:
    chunk = SpeechChunk(
        audio=Audio(np.zeros(10, np.float32), 10),
        text="a",
        words=[WordTiming(word="a", start=0.1, end=0.2)],
        phonemes=[PhonemeTiming("a", 0.1, 0.2)],
    )
    moved = chunk.shifted(2.0)
    assert moved.offset == 2.0 and moved.end == pytest.approx(3.0)
    assert moved.words[0].start == pytest.approx(2.1) and moved.phonemes is not None
    assert moved.phonemes[0].end == pytest.approx(2.2)
    assert chunk.offset == 0.0  # the original is unchanged


def test_join_chunks_lays_a_stream_end_to_end() -> None:
    chunks = list(FakeTTS().stream("One two. Three."))
    audio = join_chunks(chunks)
    assert audio.sample_rate == 1000 and audio.duration == pytest.approx(chunks[-1].end)
    with pytest.raises(InputError):
        join_chunks([])
    other = SpeechChunk(audio=Audio(np.zeros(8, np.float32), 8000), text="x")
    with pytest.raises(InputError):
        join_chunks([chunks[0], other])
