"""``attune serve`` and ``attune client``: the websocket server and a terminal client.

Importing this module stays cheap (argparse only); handlers import what they need.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from attune.errors import InputError

if TYPE_CHECKING:
    from server.client import TurnOutcome


def register(groups: Any) -> None:
    """Add the commands to the ``attune`` parser (see ``attune.commands.CommandGroups``)."""
    serve = groups.top.add_parser(
        "serve", help="serve Attune over websockets (and the web pages) on one port"
    )
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8765; 0 picks a free one)")
    serve.add_argument(
        "--token",
        action="append",
        help="a token clients must send; repeat for several clients, each owning its own "
        "sessions (required beyond loopback; or ATTUNE_SERVER__TOKEN / __TOKENS)",
    )
    serve.add_argument(
        "--db",
        metavar="PATH|DSN",
        help="sessions in this SQLite file (a path or sqlite:///PATH) or PostgreSQL database "
        "(postgresql://... DSN); default: SQLite in the state dir",
    )
    serve.set_defaults(handler=cmd_serve)

    client = groups.top.add_parser("client", help="talk to a running Attune server")
    client.add_argument("--url", default="ws://127.0.0.1:8765/ws", help="the server's websocket")
    client.add_argument("--token", help="the server's token (or ATTUNE_SERVER__TOKEN)")
    client.add_argument("--session", help="resume a session id this token owns")
    client.add_argument(
        "--text", action="append", default=[], help="a message (repeat for several turns)"
    )
    client.add_argument("--audio", type=Path, metavar="FILE", help="one spoken turn (audio file)")
    client.add_argument("--image", type=Path, metavar="FILE", help="a camera frame for the turn")
    client.add_argument("--speak", action="store_true", help="ask for the reply as audio")
    client.add_argument(
        "--audio-out", type=Path, metavar="DIR", help="with --speak: write each reply chunk here"
    )
    client.add_argument("--json", action="store_true", help="print every message as JSON")
    client.set_defaults(handler=cmd_client)


def cmd_serve(args: argparse.Namespace, settings: Any) -> int:
    """Load the models and serve until interrupted."""
    from server.app import run_server

    update: dict[str, Any] = {}
    if args.host is not None:
        update["host"] = args.host
    if args.port is not None:
        update["port"] = args.port
    if args.db is not None:
        from server.store import parse_database

        dsn, path = parse_database(args.db)
        if dsn is not None:
            update["database_url"] = SecretStr(dsn)
        else:
            assert path is not None
            path.parent.mkdir(parents=True, exist_ok=True)
            paths = settings.paths.model_copy(update={"session_db": path})
            settings = settings.model_copy(update={"paths": paths})
    if args.token:
        update["token"] = SecretStr(args.token[0])
        update["tokens"] = [SecretStr(t) for t in args.token[1:]]
    if update:
        settings = settings.model_copy(update={"server": settings.server.model_copy(update=update)})
    run_server(settings)
    return 0


def cmd_client(args: argparse.Namespace, settings: Any) -> int:
    """Scripted turns from the flags, else one turn per line of stdin."""
    import asyncio

    for path in (args.audio, args.image):
        if path is not None and not path.is_file():
            raise InputError("not_found", f"file not found: {path}")
    token = args.token
    if token is None and settings.server.token is not None:
        token = settings.server.token.get_secret_value()
    return asyncio.run(_client(args, token))


async def _client(args: argparse.Namespace, token: str | None) -> int:
    from server.client import AttuneClient
    from server.protocol import Capabilities

    client = AttuneClient(
        args.url,
        token=token,
        session_id=args.session,
        capabilities=Capabilities(audio=args.speak),
    )
    try:
        started = await client.connect()
    except (OSError, ConnectionError) as exc:
        print(f"error: cannot open a session at {args.url}: {exc}", file=sys.stderr)
        return 2
    assert started is not None
    if args.json:
        print(json.dumps(started, ensure_ascii=False), flush=True)
    else:
        print(f"session {client.session_id}", file=sys.stderr)
    image = args.image.read_bytes() if args.image is not None else None
    failed = False
    turns: list[dict[str, Any]] = [{"text": t} for t in args.text]
    if args.audio is not None:
        turns.append({"audio": args.audio})
    try:
        if turns:
            for turn in turns:
                outcome = await client.turn(turn.get("text"), audio=turn.get("audio"), image=image)
                image = None
                failed |= _show(outcome, args)
        else:
            for line in sys.stdin:
                if line.strip():
                    failed |= _show(await client.turn(line), args)
    finally:
        await client.close()
    return 1 if failed else 0


def _show(outcome: TurnOutcome, args: argparse.Namespace) -> bool:
    """Print a turn; whether it failed."""
    if args.json:
        for event in outcome.events:
            print(json.dumps(event.message, ensure_ascii=False), flush=True)
    elif outcome.result is not None:
        print(f"attune> {outcome.reply}", flush=True)
    if args.audio_out is not None:
        args.audio_out.mkdir(parents=True, exist_ok=True)
        for i, event in enumerate(outcome.audio):
            suffix = {"wav": ".wav", "opus": ".ogg"}.get(event.message["format"], ".pcm")
            (args.audio_out / f"{outcome.ref}-{i:02d}{suffix}").write_bytes(event.audio or b"")
    if outcome.error is not None:
        error = outcome.error
        print(f"error: {error['code']}: {error['message']}", file=sys.stderr, flush=True)
        return True
    return False
