"""The server needs of the engine only what :class:`server.engine.Engine` says, and
:class:`agent.Attune` is one."""

from __future__ import annotations

import ast
from pathlib import Path

from server.engine import Engine
from tests.agent.helpers import fake_attune

SERVER = Path(__file__).resolve().parents[2] / "server"


def engine_uses() -> dict[str, str]:
    """Every attribute the server's modules read off the engine (``bot.X``), with where."""
    uses: dict[str, str] = {}
    for path in SERVER.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            named_bot = (isinstance(owner, ast.Name) and owner.id == "bot") or (
                isinstance(owner, ast.Attribute) and owner.attr == "bot"
            )
            if named_bot:
                uses.setdefault(node.attr, f"{path.name}:{node.lineno}")
    return uses


def test_the_server_uses_only_the_engine_protocol() -> None:
    uses = engine_uses()
    assert {"stream_turn", "transcribe", "read_face"} <= set(uses)  # the scan finds them
    members = {name for name in dir(Engine) if not name.startswith("_")} | set(
        Engine.__annotations__
    )
    outside = {name: where for name, where in uses.items() if name not in members}
    assert not outside, f"the server reaches past server.engine.Engine: {outside}"


def test_attune_is_an_engine() -> None:
    import numpy as np

    from tests.fakes.media import FakeFace

    bot = fake_attune(media={"face": FakeFace("sad")})
    assert isinstance(bot, Engine)
    assert bot.available(("face",)) == ("face",)
    frame = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    assert bot.read_face(frame).label == "sad"
