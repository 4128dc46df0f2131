"""Sessions survive the server: SIGKILL the process, start a new one, resume with history.

Both stores: SQLite (the default) and PostgreSQL (a throwaway cluster; two servers over one
database share sessions, as behind a load balancer).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from server.client import AttuneClient


async def _two_turns(url: str, token: str | None = None) -> str:
    async with AttuneClient(url, token=token) as client:
        for text in ("My dog died yesterday.", "I keep crying about it."):
            outcome = await client.turn(text)
            assert outcome.result is not None, outcome.error
        assert client.session_id is not None
        return client.session_id


async def _resume(url: str, session_id: str, token: str | None = None) -> dict[str, Any]:
    async with AttuneClient(url, token=token, session_id=session_id) as client:
        assert client.started is not None
        started = client.started
        outcome = await client.turn("Thank you for listening.")
        assert outcome.result is not None
        history_after = len(started["history"]) + 2
        await client.end()
    return {"started": started, "messages_after": history_after}


def _check_resumed(resumed: dict[str, Any]) -> None:
    started = resumed["started"]
    assert started["resumed"] is True
    history = started["history"]
    assert [m["role"] for m in history] == ["user", "assistant"] * 2
    assert history[0]["content"] == "My dog died yesterday."
    assert history[2]["content"] == "I keep crying about it."
    assert all(m["content"] for m in history)


def test_sqlite_sessions_survive_sigkill_and_restart(tmp_path: Path, server_process: Any):
    db = tmp_path / "sessions.sqlite"
    first = server_process("--db", str(db), "--token", "t0ken-a")
    session_id = asyncio.run(_two_turns(first.url, "t0ken-a"))
    first.kill()  # SIGKILL: no shutdown code runs
    second = server_process("--db", str(db), "--token", "t0ken-a")
    _check_resumed(asyncio.run(_resume(second.url, session_id, "t0ken-a")))


def test_postgres_sessions_survive_sigkill_and_are_shared(
    tmp_path: Path, server_process: Any, postgres_dsn: str
):
    args = ("--db", str(tmp_path / "unused.sqlite"), "--dsn", postgres_dsn, "--token", "t0ken-b")
    first, other = server_process(*args), server_process(*args)
    session_id = asyncio.run(_two_turns(first.url, "t0ken-b"))
    first.kill()
    # another process over the same database serves the session at once (load balancing) ...
    _check_resumed(asyncio.run(_resume(other.url, session_id, "t0ken-b")))
    other.kill()
    # ... and a restarted server still has it, with the third turn too
    third = server_process(*args)

    async def history() -> list[Any]:
        async with AttuneClient(third.url, token="t0ken-b", session_id=session_id) as client:
            assert client.started is not None
            return list(client.started["history"])

    assert len(asyncio.run(history())) == 6


def test_a_token_cannot_resume_another_tokens_session(
    tmp_path: Path, server_process: Any, postgres_dsn: str
):
    args = ("--db", str(tmp_path / "unused.sqlite"), "--dsn", postgres_dsn, "--token", "t0ken-c")
    server = server_process(*args)
    session_id = asyncio.run(_two_turns(server.url, "t0ken-c"))
    server.kill()
    other = server_process(*args[:-1], "another-token")
    with pytest.raises(ConnectionError, match="does not exist for your token"):
        asyncio.run(_resume(other.url, session_id, "another-token"))
