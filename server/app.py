"""The websocket server: one port for the protocol (``/ws``), the web pages and the videos.

:class:`AttuneServer` owns one :class:`agent.Attune` (its turns are serialised by the engine;
``turn_workers`` bounds how many run at once, default 1), the session store with its owners
table, an executor for blocking inference, and the registry of rendered videos. Each websocket
connection is served by a :class:`server.session.Connection`.

HTTP requests that are not websocket upgrades pass the same Host check in ``process_request``
and are then answered by :class:`server.http.HttpRoutes` (the pages, videos, ``/healthz``, the
schema, the avatar rig).

Handshakes are checked before upgrading: the token (401), the Origin (403). Use
:func:`serve` (async) or :func:`run_server` (blocking, what ``attune serve`` calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.http11 import Request, Response

from attune.types import ChatMessage
from server import protocol as p
from server.http import STATIC_DIR, HttpRoutes, VideoRegistry, response
from server.limits import (
    Auth,
    check_binding,
    host_allowed,
    is_loopback,
    origin_allowed,
    presented_token,
)
from server.session import Connection

if TYPE_CHECKING:
    from attune.settings import AttuneSettings
    from server.engine import Engine
    from server.store import SessionOwners

log = logging.getLogger(__name__)

#: Headers a request may carry once: a second Host or Origin is refused (400), not guessed at.
_SINGLE_HEADERS = ("Host", "Origin", "Authorization", "Upgrade", "Sec-WebSocket-Key")
WS_PATHS = frozenset({"/ws", "/"})
#: How often owner rows of sessions with no conversation are dropped (and at start).
OWNER_SWEEP_S = 3600.0


class AttuneServer:
    """Serves one engine (an :class:`~agent.Attune`, or anything with the methods of
    :class:`~server.engine.Engine`) over websockets (see the module docstring).

    ``tokens`` are accepted in addition to ``settings.server.token`` (several clients, each
    owning its own sessions). ``owners`` binds sessions to tokens; it must live in the same
    database as the bot's checkpointer (:func:`server.store.open_store` makes both).
    """

    def __init__(
        self,
        bot: Engine,
        owners: SessionOwners,
        *,
        settings: AttuneSettings | None = None,
        tokens: tuple[str, ...] = (),
        static_dir: Path = STATIC_DIR,
        turn_workers: int = 1,
        max_queued_turns: int = 8,
    ) -> None:
        self.bot = bot
        self.owners = owners
        self.settings = settings or bot.settings
        conf = self.settings.server
        self.auth = Auth(configured_tokens(self.settings) + list(tokens))
        self.max_queued_turns = max_queued_turns
        self.executor = ThreadPoolExecutor(max_workers=turn_workers, thread_name_prefix="turn")
        self.videos = VideoRegistry(conf.video_ttl_s)
        self.http = HttpRoutes(self.settings, self.videos, lambda: self.connections, static_dir)
        self.limits = p.Limits(
            max_message_bytes=conf.max_message_bytes,
            max_image_bytes=conf.max_image_bytes,
            max_image_fps=conf.max_image_fps,
            max_messages_per_s=conf.max_messages_per_s,
            max_audio_seconds=self.settings.speech.max_turn_seconds,
            max_queued_turns=max_queued_turns,
            idle_timeout_s=conf.idle_timeout_s,
        )
        self._turn_workers = turn_workers
        self._session_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self.turn_slots = asyncio.Semaphore(turn_workers)
        self.connections = 0
        #: The owner id of each connection's token, from the handshake to the handler.
        self._owners: weakref.WeakKeyDictionary[ServerConnection, str] = weakref.WeakKeyDictionary()
        #: Connections attached to each session, and each session's generation (a forget
        #: bumps it, so that a connection attached before cannot write the session again).
        self._attached: dict[str, set[Connection]] = {}
        self._generation: dict[str, int] = {}
        #: Sessions claimed since the last owner sweep (kept by it: a connection may not have
        #: attached yet); the lock also keeps a claim from landing in the middle of a sweep.
        self._claimed: set[str] = set()
        self._claims_lock = threading.Lock()
        #: The address listened on (set by :meth:`serving`; the Host check depends on it).
        self.bound_host = conf.host

    # --- used by connections ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session_lock(self, session_id: str) -> AsyncIterator[None]:
        """Hold the session: one turn (or truncation, or deletion) at a time per session."""
        lock, users = self._session_locks.get(session_id, (asyncio.Lock(), 0))
        self._session_locks[session_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._session_locks[session_id]
            if users <= 1:
                del self._session_locks[session_id]
            else:
                self._session_locks[session_id] = (lock, users - 1)

    def claim(self, session_id: str, owner: str) -> tuple[bool, list[ChatMessage]]:
        """Whether ``owner`` may use ``session_id`` (claiming it if new), and its history.

        A session that exists without an owner (made outside the server, e.g. by
        ``attune chat``) is not handed to any token."""
        history = self.bot.history(session_id)
        if history and self.owners.owner_of(session_id) is None:
            return False, []
        with self._claims_lock:  # before the row exists: a sweep then never sees it unprotected
            self._claimed.add(session_id)
        return self.owners.claim(session_id, owner), history

    def forget(self, session_id: str) -> bool:
        """Delete a session's conversation and its owner (blocking; see :meth:`forget_session`)."""
        existed = self.bot.forget(session_id)
        self.owners.release(session_id)
        return existed

    def attach(self, session_id: str, connection: Connection) -> int:
        """Register a connection on a session; the session's generation, which a forget bumps."""
        self._attached.setdefault(session_id, set()).add(connection)
        return self._generation.get(session_id, 0)

    def detach(self, session_id: str, connection: Connection) -> None:
        """The connection is done with the session."""
        attached = self._attached.get(session_id)
        if attached is None:
            return
        attached.discard(connection)
        if not attached:  # nobody holds an old generation any more
            del self._attached[session_id]
            self._generation.pop(session_id, None)

    def is_current(self, session_id: str, generation: int) -> bool:
        """Whether a connection attached at ``generation`` may still write the session."""
        return self._generation.get(session_id, 0) == generation

    async def forget_session(self, session_id: str, by: Connection) -> bool:
        """Forget a session for good: every other connection attached to it has its turns
        stopped and is closed (``session_forgotten``), and none of them can write it again (a
        turn checks the generation under the session lock). Whether it existed."""
        self._generation[session_id] = self._generation.get(session_id, 0) + 1
        others = [c for c in self._attached.get(session_id, ()) if c is not by]
        for connection in others:
            connection.turns.stop()
        async with self.session_lock(session_id):
            forgotten = await asyncio.to_thread(self.forget, session_id)
        for connection in others:
            await connection.outbox.error(
                "session_forgotten",
                "this session was forgotten from another connection; start a new one",
                recoverable=False,
            )
        return forgotten

    def new_segmenter(self) -> Any:
        """A VAD endpointer for one open microphone (loaded now)."""
        from modalities.speech.segmenter import SpeechSegmenter

        segmenter = SpeechSegmenter.from_settings(self.settings)
        segmenter.load()
        return segmenter

    def read_face(self, data: bytes) -> tuple[Any, Any]:
        """Decode a camera frame (the face limits apply, and the server's pixel budget:
        ``server.max_image_pixels``, read from the header before decoding) and read its face."""
        from modalities.face.image import load_image

        face, conf = self.settings.face, self.settings.server
        image = load_image(
            data,
            max_bytes=min(face.max_bytes, conf.max_image_bytes),
            max_decoded_pixels=min(face.max_decoded_pixels, conf.max_image_pixels),
            max_pixels=face.max_pixels,
        )
        return image, self.bot.read_face(image)

    # --- websocket ----------------------------------------------------------------------------

    async def handler(self, ws: ServerConnection) -> None:
        """Serve one websocket connection."""
        owner = self._owners.pop(ws, None)
        if owner is None:  # not through process_request: cannot happen with serving()
            return
        self.connections += 1
        log.info("connection opened (%d open)", self.connections)
        try:
            await Connection(self, ws, owner).run()
        finally:
            self.connections -= 1
            log.info("connection closed (%d open)", self.connections)

    def process_request(
        self, ws: ServerConnection, request: Request
    ) -> Response | Awaitable[Response] | None:
        """Check a websocket handshake, or answer a plain HTTP request. No request gets a 500:
        anything unexpected is a 400, logged by its exception type only (a URL can carry user
        text)."""
        try:
            return self._process_request(ws, request)
        except Exception as exc:
            log.warning("request refused: %s", type(exc).__name__)
            return response(400, b"bad request\n", "text/plain; charset=utf-8")

    def _process_request(
        self, ws: ServerConnection, request: Request
    ) -> Response | Awaitable[Response] | None:
        headers = request.headers
        if any(len(headers.get_all(name)) > 1 for name in _SINGLE_HEADERS):
            return response(400, b"duplicate header\n", "text/plain; charset=utf-8")
        conf = self.settings.server
        host = headers.get("Host")
        if not host_allowed(host, self.bound_host, conf.allowed_hosts):
            log.info("request refused: host not allowed")
            return response(403, b"host not allowed\n", "text/plain; charset=utf-8")
        url = urlsplit(request.path)
        path = url.path
        upgrade = "websocket" in headers.get("Upgrade", "").lower()
        if not upgrade:
            if path == "/avatar/rig.json":
                return self.http.avatar_rig(parse_qs(url.query).get("style", [""])[0])
            return self.http.file(path)
        if path not in WS_PATHS:
            return response(404, b"not found\n", "text/plain; charset=utf-8")
        host_checked = bool(conf.allowed_hosts) or is_loopback(self.bound_host)
        if not origin_allowed(
            headers.get("Origin"), host, conf.allowed_origins, host_checked=host_checked
        ):
            log.info("handshake refused: origin not allowed")
            return response(403, b"origin not allowed\n", "text/plain; charset=utf-8")
        token = presented_token(request.path, request.headers.get("Authorization"))
        owner = self.auth.owner(token)
        if owner is None:
            log.info("handshake refused: %s token", "wrong" if token else "no")
            return response(401, b"a valid token is required\n", "text/plain; charset=utf-8")
        self._owners[ws] = owner
        return None

    # --- running ------------------------------------------------------------------------------

    async def _expire_videos(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, min(60.0, self.videos.ttl_s / 4)))
            self.videos.expire()

    async def prune_owners(self) -> int:
        """Drop owner rows of sessions with no conversation and no connection (see
        :meth:`server.store.SessionOwners.prune`); how many. Run when serving starts and
        every :data:`OWNER_SWEEP_S` seconds."""
        attached = set(self._attached)  # read on the loop, where connections attach

        def sweep() -> int:
            stored = {s.session_id for s in self.bot.sessions()}
            with self._claims_lock:
                dropped = self.owners.prune(stored, attached | self._claimed)
                self._claimed.clear()  # each is attached, stored or abandoned by the next sweep
            return dropped

        dropped = await asyncio.to_thread(sweep)
        if dropped:
            log.info("dropped %d owner rows of sessions with no conversation", dropped)
        return dropped

    async def _sweep_owners(self) -> None:
        while True:
            try:
                await self.prune_owners()
            except Exception as exc:  # a store hiccup: try again at the next sweep
                log.warning("owner sweep failed: %s", type(exc).__name__)
            await asyncio.sleep(OWNER_SWEEP_S)

    @contextlib.asynccontextmanager
    async def serving(
        self, host: str, port: int, sock: socket.socket | None = None
    ) -> AsyncIterator[Server]:
        """Listen on ``host:port`` (0: any free port), or on ``sock`` already bound to it
        (:func:`bind`), while the context is open."""
        check_binding(host, self.auth)
        self.bound_host = host
        conf = self.settings.server
        expiry = asyncio.create_task(self._expire_videos())
        sweeper = asyncio.create_task(self._sweep_owners())
        where: dict[str, Any] = {"sock": sock} if sock is not None else {"host": host, "port": port}
        try:
            async with ws_serve(
                self.handler,
                **where,
                process_request=self.process_request,
                max_size=conf.max_message_bytes,
                max_queue=32,
                ping_interval=20,
                ping_timeout=20,
                server_header="attune",
            ) as server:
                yield server
        finally:
            expiry.cancel()
            sweeper.cancel()
            self.executor.shutdown(wait=False, cancel_futures=True)


def configured_tokens(settings: AttuneSettings) -> list[str]:
    """The tokens of ``server.token`` and ``server.tokens``."""
    conf = settings.server
    secrets_ = [conf.token, *conf.tokens] if conf.token is not None else list(conf.tokens)
    return [t.get_secret_value() for t in secrets_ if t.get_secret_value()]


def bound_port(server: Server) -> int:
    """The port a server listens on (useful with port 0)."""
    return int(next(iter(server.sockets)).getsockname()[1])


def build_server(
    settings: AttuneSettings,
    *,
    tokens: tuple[str, ...] = (),
    modalities: tuple[str, ...] = ("asr", "speech_emotion", "tts", "face"),
) -> AttuneServer:
    """An :class:`AttuneServer` over the configured store (PostgreSQL when
    ``server.database_url`` is set, else SQLite) with every model loaded."""
    from agent.core import Attune
    from server.store import open_store

    url = settings.server.database_url
    checkpointer, owners = open_store(
        url.get_secret_value() if url is not None else None, settings.paths.session_db_path()
    )
    bot = Attune(settings, checkpointer=checkpointer)
    bot.load(modalities=bot.available(modalities))
    return AttuneServer(bot, owners, tokens=tokens)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a one-line :class:`ConfigError` (the port is
    taken, the address is not this machine's...). ``attune serve`` binds before it loads any
    model, so that a taken port is said at once."""
    from attune.errors import ConfigError

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if host == "localhost":
            host = "127.0.0.1"
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None


async def serve(
    server: AttuneServer,
    host: str,
    port: int,
    ready: Callable[[int], None] | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve until cancelled (on ``sock`` when given); ``ready(port)`` is called once
    listening."""
    async with server.serving(host, port, sock) as ws_server:
        port = bound_port(ws_server)
        log.info("listening on %s:%d", host, port)
        if ready is not None:
            ready(port)
        await asyncio.Future()


def run_server(settings: AttuneSettings, *, tokens: tuple[str, ...] = ()) -> None:
    """Load everything and serve ``settings.server.host:port`` until interrupted (blocking)."""
    conf = settings.server
    auth = Auth(configured_tokens(settings) + list(tokens))
    check_binding(conf.host, auth)  # before loading
    sock = bind(conf.host, conf.port)  # a taken port is said before the models load
    try:
        server = build_server(settings, tokens=tokens)
    except BaseException:
        sock.close()
        raise

    def announce(port: int) -> None:
        who = (
            "Clients need a token; each token owns its own sessions."
            if auth.required
            else "No token: every client on this machine is the same owner and may resume any "
            "session whose id it knows (set --token to separate them)."
        )
        print(
            f"Attune is serving on http://{conf.host}:{port}/ (websocket: /ws). {who} "
            "Nothing users say or show is logged.",
            flush=True,
        )

    try:
        asyncio.run(serve(server, conf.host, conf.port, announce, sock=sock))
    finally:
        sock.close()
        server.bot.close()
        server.owners.close()
