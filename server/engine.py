"""What the server needs of the engine: :class:`Engine`, implemented by :class:`agent.Attune`
and by the test fakes. The server calls nothing else of it (no reaching into its backends)."""

from __future__ import annotations

from collections.abc import Iterator
from threading import Event
from typing import Any, Protocol, runtime_checkable

import numpy as np

from attune.settings import AttuneSettings
from attune.types import Audio, ChatMessage, FaceReading, SessionInfo, Transcript, TurnEvent


@runtime_checkable
class Engine(Protocol):
    """The engine behind :class:`server.app.AttuneServer` (blocking calls: the server runs them
    in threads)."""

    settings: AttuneSettings

    def load(self, modalities: tuple[str, ...] = ()) -> None:
        """Load the text stack and the named modalities' models."""

    def available(self, modalities: tuple[str, ...]) -> tuple[str, ...]:
        """Those of ``modalities`` whose backends can be created here."""
        ...

    def close(self) -> None:
        """Release the models and the store."""

    def stream_turn(
        self,
        text: str | None = None,
        session_id: str | None = None,
        *,
        audio: Any = None,
        image: Any = None,
        speak: bool = False,
        avatar: bool = False,
        video: bool = False,
        cancel: Event | None = None,
        transcript: Transcript | None = None,
    ) -> Iterator[TurnEvent]:
        """One turn, as events."""
        ...

    def transcribe(self, audio: Audio) -> Transcript:
        """Speech to text outside a turn (live transcripts, backchannels)."""
        ...

    def read_face(self, image: np.ndarray) -> FaceReading:
        """The face of one camera frame, outside a turn."""
        ...

    def truncate_reply(self, session_id: str, turn_id: str, said: str) -> bool:
        """Keep only what the person heard of a reply."""
        ...

    def history(self, session_id: str) -> list[ChatMessage]:
        """The stored conversation."""
        ...

    def sessions(self) -> list[SessionInfo]:
        """The stored sessions."""
        ...

    def forget(self, session_id: str) -> bool:
        """Delete a session; whether it existed."""
        ...
