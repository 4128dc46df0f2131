"""A connection's turns as data: :class:`TurnRequest` (waiting), :class:`TurnRecord` (in
flight or just done: what was sent, whether it was interrupted, what the person heard)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attune.types import Audio, WordTiming


@dataclass
class TurnRequest:
    """A turn waiting in a connection's queue."""

    ref: str | None
    text: str | None = None
    audio: Audio | None = None
    image: np.ndarray | None = None
    #: The audio's transcript when it was recognised while the person spoke.
    transcript: Any = None


@dataclass
class SentChunk:
    """What the client got of one spoken sentence."""

    offset: float
    duration: float
    text: str
    words: list[WordTiming]


@dataclass
class TurnRecord:
    """A turn in flight (or the last one): what was sent, and whether it was interrupted."""

    ref: str | None
    cancel: threading.Event = field(default_factory=threading.Event)
    turn_id: str | None = None
    interrupted: bool = False
    played_seconds: float | None = None
    deltas: list[str] = field(default_factory=list)
    chunks: list[SentChunk] = field(default_factory=list)

    def said(self) -> str:
        """What reached the user: the audio played up to ``played_seconds`` (all audio sent
        when unknown), or the text sent when the reply was not spoken."""
        if not self.chunks:
            return "".join(self.deltas).strip()
        limit = float("inf") if self.played_seconds is None else self.played_seconds
        parts: list[str] = []
        for chunk in self.chunks:
            if chunk.offset + chunk.duration <= limit:
                parts.append(chunk.text)
                continue
            if chunk.offset < limit:
                parts.append(_spoken_prefix(chunk, limit))
            break
        return " ".join(part for part in parts if part).strip()


def _spoken_prefix(chunk: SentChunk, limit: float) -> str:
    """The words of a partly played sentence heard before ``limit`` (timed words when the voice
    gives them, else a share of the words proportional to the time played)."""
    tokens = chunk.text.split()
    if chunk.words:
        heard = sum(1 for w in chunk.words if w.end <= limit)
        count = round(heard * len(tokens) / len(chunk.words))
    else:
        count = int(len(tokens) * (limit - chunk.offset) / max(chunk.duration, 1e-6))
    return " ".join(tokens[:count])
