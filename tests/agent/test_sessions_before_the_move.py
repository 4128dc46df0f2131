"""Sessions stored before the layers (0.1, when the stored types lived in ``modalities.types``
and ``strategies.taxonomy``) still load and go on: ``data/sessions-before-the-move.sqlite`` was
written by that code (commit 9755855), one fake turn, no real person's words."""

from __future__ import annotations

import shutil
from pathlib import Path

from attune.taxonomy import Strategy
from attune.types import ChatMessage
from tests.agent.helpers import fake_attune

STORED = Path(__file__).with_name("data") / "sessions-before-the-move.sqlite"


def test_a_session_stored_before_the_layers_loads_and_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "sessions.sqlite"
    shutil.copy(STORED, db)
    bot = fake_attune(db=db)
    history = bot.history("before-the-move")
    assert [type(m) for m in history] == [ChatMessage, ChatMessage]
    assert history[0].content.startswith("My dog died yesterday")
    result = bot.turn("I miss him.", session_id="before-the-move")
    assert result.reply and isinstance(result.strategy.strategy, Strategy)
    assert len(bot.history("before-the-move")) == 4


SPOKEN = Path(__file__).with_name("data") / "sessions-before-the-speech-stage.sqlite"


def test_a_session_stored_while_speech_was_two_nodes_loads_and_goes_on(tmp_path: Path) -> None:
    """``data/sessions-before-the-speech-stage.sqlite`` was written by commit c287663, when the
    graph ended in ``synthesize_speech`` and ``render_avatar`` and the state held
    ``spoken_text``, ``video_path``...: one spoken fake turn whose reply was then cut to what was
    heard (``truncate_reply`` wrote as ``synthesize_speech``)."""
    from tests.fakes.media import FakeTTS

    db = tmp_path / "sessions.sqlite"
    shutil.copy(SPOKEN, db)
    bot = fake_attune(db=db, media={"tts": FakeTTS()})
    history = bot.history("old")
    assert [(m.role, m.content, m.interrupted) for m in history] == [
        ("user", "My dog died and I am sad", False),
        ("assistant", "I'm so sorry.", True),
    ]
    result = bot.turn("He was fourteen.", "old", speak=True)
    assert result.reply and "synthesize_speech" in result.timings_ms
    assert bot.truncate_reply("old", result.turn_id, "")
    assert [m.content for m in bot.history("old")][2:] == ["He was fourteen.", ""]
