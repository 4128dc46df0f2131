"""The probes of issue 18 against a real server on loopback, each a regression test: image
memory, a forget that stays forgotten, DNS rebinding, JSON that used to kill the connection,
requests that used to get a 500, ownership of session ids, storage per turn and owner rows,
and start-up errors."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from server.client import AttuneClient
from tests.server.harness import ServerThread, fake_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    db = tmp_path_factory.mktemp("hardening") / "sessions.sqlite"
    with ServerThread(fake_server(db)) as thread:
        yield thread


def raw_status(port: int, target: str, headers: list[tuple[str, str]]) -> int:
    """The status of one HTTP/1.1 request written by hand (duplicate headers included)."""
    lines = [f"GET {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers), "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode())
        head = sock.recv(4096).decode("latin-1")
    return int(head.split(" ", 2)[1])


def upgrade(port: int, *extra: tuple[str, str], host: str | None = None) -> list[tuple[str, str]]:
    return [
        ("Host", host or f"127.0.0.1:{port}"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", base64.b64encode(b"0123456789abcdef").decode()),
        ("Sec-WebSocket-Version", "13"),
        *extra,
    ]


# --- 1. a tiny image that decodes to a huge one -----------------------------------------------


def _png16(size: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("I;16", (size, size)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_small_16_bit_png_of_many_pixels_is_refused_before_decoding(live: ServerThread):
    data = _png16(7700)
    assert len(data) < 200_000  # 115 KB on the wire, 59 megapixels inside

    async def main() -> list[dict[str, Any]]:
        async def one() -> dict[str, Any]:
            async with AttuneClient(live.url) as client:
                await client.ws.send(
                    json.dumps({"type": "user.image", "data": base64.b64encode(data).decode()})
                )
                while True:
                    event = await client.receive(timeout=30)
                    if event.type == "error":
                        return event.message

        return await asyncio.gather(one(), one(), one())

    errors = asyncio.run(main())
    assert [e["code"] for e in errors] == ["image_too_large"] * 3
    assert all(e["recoverable"] for e in errors)


def test_16_bit_frames_are_converted_without_float64():
    import numpy as np

    from modalities.face.image import load_image

    frame = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    out = load_image(frame, max_bytes=1 << 20, max_decoded_pixels=1 << 20, max_pixels=1 << 20)
    assert out.dtype == np.uint8 and out.shape == (64, 64, 3)
    expected = np.round(frame.astype(np.float64) * 255 / 65535).astype(np.uint8)
    assert np.abs(out[:, :, 0].astype(int) - expected.astype(int)).max() <= 1


# --- 2. a forget that stays forgotten ------------------------------------------------------


def test_a_forget_ends_every_connection_on_the_session_and_nothing_is_written_back(
    tmp_path: Path,
):
    server = fake_server(tmp_path / "s.sqlite")
    with ServerThread(server) as live:

        async def main() -> dict[str, Any]:
            a = AttuneClient(live.url)
            await a.connect()
            await a.turn("My sister is moving far away.")
            assert a.session_id is not None
            async with AttuneClient(live.url, session_id=a.session_id) as b:
                await b.end(forget=True)
            # A was attached: it is told and closed, and a turn it sends now writes nothing
            codes = []
            with contextlib.suppress(ConnectionClosed):
                await a.ws.send(json.dumps({"type": "user.text", "text": "Are you there?"}))
            with contextlib.suppress(ConnectionClosed, ConnectionError, TimeoutError):
                while True:
                    event = await a.receive(timeout=10)
                    if event.type == "error":
                        codes.append(event.message["code"])
            with contextlib.suppress(ConnectionClosed):
                await a.close()
            return {"codes": codes, "session": a.session_id}

        out = asyncio.run(main())
        assert "session_forgotten" in out["codes"]
        assert server.bot.history(out["session"]) == []
        assert server.owners.owner_of(out["session"]) is None


# --- 3. DNS rebinding ------------------------------------------------------------------------


def test_a_loopback_server_answers_only_to_loopback_host_names(live: ServerThread):
    port = live.port
    rebinding = ("Origin", "http://evil.example:8765")
    assert raw_status(port, "/ws", upgrade(port, rebinding, host="evil.example:8765")) == 403
    assert raw_status(port, "/", [("Host", "evil.example:8765")]) == 403
    own = ("Origin", f"http://127.0.0.1:{port}")
    assert raw_status(port, "/ws", upgrade(port, own)) == 101
    assert raw_status(port, "/ws", upgrade(port, ("Origin", f"http://localhost:{port}"),
                                            host=f"localhost:{port}")) == 101  # fmt: skip
    assert raw_status(port, "/ws", upgrade(port, ("Origin", "http://evil.example"))) == 403
    assert raw_status(port, "/", [("Host", f"localhost:{port}")]) == 200


# --- 4. JSON that used to close the connection with a traceback -----------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"type": "user.text", "text": "hi", "v": ' + "9" * 5000 + "}",
        '{"type": "user.text", "text": ' + "[" * 50_000 + "]" * 50_000 + "}",
    ],
    ids=["nested", "huge-int", "nested-field"],
)
def test_json_that_cannot_be_read_is_a_recoverable_bad_json(
    live: ServerThread, frame: str, caplog: pytest.LogCaptureFixture
):
    async def main() -> tuple[dict[str, Any], Any]:
        async with AttuneClient(live.url) as client:
            await client.ws.send(frame)
            while (event := await client.receive(timeout=10)).type != "error":
                pass
            return event.message, await client.turn("Still here?")

    with caplog.at_level(logging.INFO):
        error, outcome = asyncio.run(main())
    assert error["code"] == "bad_json" and error["recoverable"] is True
    assert outcome.result is not None  # the same connection goes on
    assert not any(r.exc_info for r in caplog.records)


# --- 5. no request gets a 500 ---------------------------------------------------------------


@pytest.mark.parametrize("length", [255, 1000, 4000])
def test_a_long_path_is_a_404(live: ServerThread, length: int):
    port = live.port
    assert raw_status(port, "/" + "a" * length, [("Host", f"127.0.0.1:{port}")]) == 404
    assert raw_status(port, "/js/" + "b" * length + ".js", [("Host", f"127.0.0.1:{port}")]) == 404


def test_duplicate_host_or_origin_headers_are_a_400(
    live: ServerThread, caplog: pytest.LogCaptureFixture
):
    port = live.port
    host = ("Host", f"127.0.0.1:{port}")
    origin = ("Origin", f"http://127.0.0.1:{port}")
    with caplog.at_level(logging.INFO):
        assert raw_status(port, "/ws", [*upgrade(port), host]) == 400
        assert raw_status(port, "/ws", upgrade(port, origin, origin)) == 400
        assert raw_status(port, "/", [host, host]) == 400
    assert not any(r.exc_info for r in caplog.records)


# --- 6. ownership of session ids -------------------------------------------------------------


def test_without_a_token_a_client_cannot_choose_a_session_id(live: ServerThread):
    async def main() -> str:
        try:
            await AttuneClient(live.url, session_id="alice-session").connect()
        except ConnectionError as exc:
            return str(exc)
        return "accepted"

    assert "does not exist for your token" in asyncio.run(main())


def test_chosen_ids_live_in_their_owners_namespace_and_never_reach_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    server = fake_server(tmp_path / "s.sqlite", tokens=("token-alice", "token-bob"))
    with ServerThread(server) as live:

        async def main() -> tuple[list[Any], list[Any], str | None]:
            async with AttuneClient(
                live.url, token="token-alice", session_id="alice-session"
            ) as alice:
                await alice.turn("Only Alice said this.")
            async with AttuneClient(live.url, token="token-bob", session_id="alice-session") as bob:
                assert bob.started is not None
                squatted = bob.started["history"]  # a fresh session of Bob's, not Alice's
                await bob.turn("Bob said this.")
            async with AttuneClient(
                live.url, token="token-alice", session_id="alice-session"
            ) as again:
                assert again.started is not None
                generated = None
                async with AttuneClient(live.url, token="token-bob") as fresh:
                    generated = fresh.session_id
                return squatted, again.started["history"], generated

        with caplog.at_level(logging.DEBUG):
            squatted, alice_history, generated = asyncio.run(main())
    assert squatted == []
    assert [m["content"] for m in alice_history if m["role"] == "user"] == ["Only Alice said this."]
    assert generated is not None
    # Attune's own records (websockets' DEBUG frame log, which the CLI never enables, aside)
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name.split(".")[0] != "websockets"
    )
    for fragment in ("alice-session", "alice-s", generated[:8]):
        assert fragment not in logged


def test_several_tokens_from_settings(tmp_path: Path):
    from pydantic import SecretStr

    from server.app import configured_tokens

    settings = fake_server(
        tmp_path / "s.sqlite",
        server={"token": SecretStr("one"), "tokens": [SecretStr("two"), SecretStr("three")]},
    ).settings
    assert configured_tokens(settings) == ["one", "two", "three"]


# --- 7. storage per turn, owner rows ---------------------------------------------------------


def test_one_checkpoint_per_turn_and_owner_rows_pruned_with_their_sessions(tmp_path: Path):
    db = tmp_path / "s.sqlite"
    server = fake_server(db)
    with ServerThread(server) as live:

        async def main() -> tuple[str, str]:
            async with AttuneClient(live.url) as talker:
                for i in range(3):
                    await talker.turn(f"My sister is moving far away ({i}).")
            async with AttuneClient(live.url) as silent:  # session.start, no turn
                pass
            assert talker.session_id is not None and silent.session_id is not None
            return talker.session_id, silent.session_id

        talker, silent = asyncio.run(main())
        assert talker in server.owners.sessions()
        assert live._loop is not None

        # a session claimed since the last sweep is kept by the next one (its connection may
        # not have attached yet), so two sweeps drop the silent one; the sweep at start-up may
        # have run in between too
        def sweep() -> int:
            assert live._loop is not None
            return asyncio.run_coroutine_threadsafe(server.prune_owners(), live._loop).result(30)

        sweep()
        sweep()
        assert server.owners.sessions() == [talker] and silent not in server.owners.sessions()
        assert sweep() == 0
    with sqlite3.connect(db) as conn:
        (checkpoints,) = conn.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = ?", (talker,)
        ).fetchone()
    assert checkpoints == 3  # one per turn (it was 8 per turn: one per node)


# --- 8. start-up ----------------------------------------------------------------------------


def test_db_takes_a_sqlite_path_or_url_or_a_postgres_dsn():
    from attune.errors import ConfigError
    from server.store import parse_database

    assert parse_database("x.sqlite") == (None, Path("x.sqlite"))
    assert parse_database("sqlite:////tmp/a.db") == (None, Path("/tmp/a.db"))
    assert parse_database("postgresql://u@h/db") == ("postgresql://u@h/db", None)
    assert parse_database("host=h dbname=d") == ("host=h dbname=d", None)
    with pytest.raises(ConfigError, match="not a 'mysql' URL"):
        parse_database("mysql://h/d")


def test_serve_says_a_wrong_db_or_a_taken_port_in_one_line_before_loading(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import server.app
    from attune.cli import main

    def no_loading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("models were loaded before the port was bound")

    monkeypatch.setattr(server.app, "build_server", no_loading)
    assert main(["serve", "--db", "mysql://h/d"]) == 2
    assert "--db takes a SQLite file" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err


def test_a_session_claimed_before_a_sweep_keeps_its_owner_row_through_it(tmp_path: Path):
    # the window between session.start's claim and its connection attaching: the next sweep
    # keeps the row, the one after drops it if the session is still empty and unattached
    server = fake_server(tmp_path / "s.sqlite")
    session = "0" * 32
    allowed, _ = server.claim(session, "anonymous")
    assert allowed and server.owners.sessions() == [session]
    assert asyncio.run(server.prune_owners()) == 0 and server.owners.sessions() == [session]
    assert asyncio.run(server.prune_owners()) == 1 and server.owners.sessions() == []
