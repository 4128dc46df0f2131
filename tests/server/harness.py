"""Real servers on loopback for the server tests: in a thread (fakes) or a subprocess.

:class:`ServerThread` runs an :class:`~server.app.AttuneServer` on its own event loop in a
background thread, on a free port; clients in the tests speak to it over real websockets.
:func:`fake_server` builds one over fake backends (instant, deterministic) and a SQLite file.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agent import Attune, AttuneSettings
from agent.safety import CrisisDetector
from attune.types import ChatMessage, GenerationParams
from modalities.llm.base import LLM
from server.app import AttuneServer, serve
from server.store import open_store
from tests.agent.helpers import APPRAISAL_JSON
from tests.fakes import FakeEmbedder, FakeLLM, FakePlanner, FakeTextEmotion
from tests.fakes.media import FakeASR, FakeFace, FakeSpeechEmotion, FakeTTS

LONG_REPLY = " ".join(
    [
        "I'm so sorry you're going through this.",
        "Losing a job can shake everything at once.",
        "It makes sense to feel sad and unsettled right now.",
        "Would you like to tell me what happened today?",
        "I'm here to listen for as long as you need.",
    ]
)


class SlowLLM(FakeLLM):
    """A fake LLM that takes ``delay`` seconds per token, so a turn can be interrupted."""

    def __init__(
        self, replies: Sequence[str] = (APPRAISAL_JSON, LONG_REPLY), delay: float = 0.03
    ) -> None:
        super().__init__(replies)
        self.delay = delay

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        for token in super().stream(messages, params):
            time.sleep(self.delay)
            yield token


def fake_media() -> dict[str, Any]:
    return {
        "asr": FakeASR(),
        "speech_emotion": FakeSpeechEmotion(),
        "tts": FakeTTS(),
        "face": FakeFace(),
    }


def fake_server(
    db: Path,
    *,
    dsn: str | None = None,
    llm: LLM | None = None,
    tokens: tuple[str, ...] = (),
    **settings: Any,
) -> AttuneServer:
    """A server over fake backends; sessions in PostgreSQL at ``dsn``, else the SQLite ``db``."""
    checkpointer, owners = open_store(dsn, db)
    s = AttuneSettings(llm={"candidates": 1, "llm_appraisal": True}, **settings)
    bot = Attune(
        s,
        embedder=FakeEmbedder(),
        text_emotion=FakeTextEmotion(),
        llm=llm or FakeLLM([APPRAISAL_JSON, LONG_REPLY]),
        planner=FakePlanner(),
        checkpointer=checkpointer,
        safety=CrisisDetector(None),
        **fake_media(),
    )
    return AttuneServer(bot, owners, tokens=tokens)


class ServerThread:
    """Serves ``server`` on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, server: AttuneServer, host: str = "127.0.0.1") -> None:
        self.server = server
        self.host = host
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="attune-test-server", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()  # type: ignore[assignment]

            def ready(port: int) -> None:
                self.port = port
                self._ready.set()

            await serve(self.server, self.host, 0, ready)

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())
