"""Building an Attune over fakes, for wiring tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent import Attune, AttuneSettings
from agent.safety import CrisisDetector
from agent.sessions import open_sqlite_store
from tests.fakes import FakeEmbedder, FakeLLM, FakePlanner, FakeTextEmotion

APPRAISAL_JSON = (
    '{"event": "their dog died", "emotion": "sad", "cause": "losing a companion",'
    ' "goal": "comfort them"}'
)


def fake_attune(
    replies: list[str] | None = None,
    *,
    db: Path | str = ":memory:",
    candidates: int = 1,
    llm_appraisal: bool = True,
    detector: CrisisDetector | None = None,
    media: dict[str, Any] | None = None,
    **settings: Any,
) -> Attune:
    """An Attune whose every backend is a fake; the LLM answers the appraisal then the reply.

    The crisis detector is the real one with its patterns only (no embedder: instant and
    deterministic); pass ``detector`` to use another. ``media`` gives backends of the other
    roles (``asr``, ``speech_emotion``, ``tts``, ``face``), e.g. from ``tests.fakes.media``.
    """
    s = AttuneSettings(llm={"candidates": candidates, "llm_appraisal": llm_appraisal}, **settings)
    llm = FakeLLM(replies or [APPRAISAL_JSON, "I'm so sorry. That must hurt a lot."])
    return Attune(
        s,
        embedder=FakeEmbedder(),
        text_emotion=FakeTextEmotion(),
        llm=llm,
        planner=FakePlanner(),
        checkpointer=open_sqlite_store(db),
        safety=detector or CrisisDetector(None),
        **(media or {}),
    )
