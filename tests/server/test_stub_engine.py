"""Event types the engine adds are forwarded generically; avatar output follows the session's
capabilities, and a rendered video is served over HTTP at the announced URL."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from attune.types import (
    AvatarCuesEvent,
    AvatarVideoEvent,
    ReplyDeltaEvent,
    ReplyDoneEvent,
    TurnEvent,
    TurnResult,
)
from server.app import AttuneServer
from server.client import AttuneClient
from server.protocol import Capabilities
from server.store import SqliteOwners
from tests.server.harness import ServerThread


class AvatarBot:
    """Stands in for :class:`agent.Attune`: a turn that yields avatar cues and a video."""

    def __init__(self, settings: Any, video: Path) -> None:
        self.settings = settings
        self.video = video

    def history(self, session_id: str) -> list[Any]:
        return []

    def stream_turn(self, text: Any, session_id: Any, **kwargs: Any) -> Iterator[TurnEvent]:
        yield ReplyDeltaEvent(turn_id="t1", text="Hello.")
        yield AvatarCuesEvent(turn_id="t1", cues={"visemes": [1, 2]})
        yield AvatarVideoEvent(turn_id="t1", path=str(self.video))
        result = TurnResult(session_id=str(session_id), turn_id="t1", reply="Hello.")
        yield ReplyDoneEvent(turn_id="t1", text="Hello.", result=result)


def test_avatar_events_follow_capabilities_and_videos_are_served(tmp_path: Path):
    from agent import AttuneSettings

    video = tmp_path / "reply.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42 fake")
    bot: Any = AvatarBot(AttuneSettings(), video)
    server = AttuneServer(bot, SqliteOwners(tmp_path / "s.sqlite"))
    with ServerThread(server) as live:

        async def turn(caps: Capabilities) -> list[Any]:
            async with AttuneClient(live.url, capabilities=caps) as client:
                return [e.message for e in (await client.turn("Hi")).events]

        plain = asyncio.run(turn(Capabilities()))
        avatar = asyncio.run(turn(Capabilities(avatar=True, video=True)))
        assert [m["type"] for m in plain] == ["turn.queued", "reply.delta", "reply.done"]
        assert [m["type"] for m in avatar] == [
            "turn.queued", "reply.delta", "avatar.cues", "avatar.video", "reply.done",
        ]  # fmt: skip
        assert avatar[2]["data"] == {"cues": {"visemes": [1, 2]}}
        url = avatar[3]["url"]
        assert url.startswith("/video/") and str(tmp_path) not in url
        with urllib.request.urlopen(live.http + url, timeout=10) as response:
            assert response.headers["Content-Type"] == "video/mp4"
            assert response.read() == video.read_bytes()
        server.videos.ttl_s = 0
        server.videos.expire()  # past its time the file is deleted
        server.videos.publish(str(video))
        server.videos.expire()
        assert not video.exists()
