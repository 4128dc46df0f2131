"""The websocket server: one port for the protocol (``/ws``), the web pages and the videos.

:class:`AttuneServer` owns one :class:`agent.Attune` (its turns are serialised by the engine;
``turn_workers`` bounds how many run at once, default 1), the session store with its owners
table, an executor for blocking inference, and the registry of rendered videos. Each websocket
connection is served by a :class:`server.session.Connection`.

HTTP requests that are not websocket upgrades are answered in ``process_request``: files under
``server/static/`` (``/`` is ``index.html``, ``/kiosk`` is ``kiosk.html``), rendered videos under
``/video/<random id>.mp4`` while they are fresh, ``/healthz``, and ``/avatar/rig.json``
(``?style=portrait|cartoon``, default the configured avatar): the avatar rig the kiosk page
draws with (:mod:`modalities.avatar.rig_export`), built once per style off the event loop.
Paths are resolved inside the static folder and anything else (``..``, hidden files, symlinks
out) is a 404.

Handshakes are checked before upgrading: the token (401), the Origin (403). Use
:func:`serve` (async) or :func:`run_server` (blocking, what ``attune serve`` calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import mimetypes
import secrets
import socket
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from attune.types import ChatMessage
from server import protocol as p
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

STATIC_DIR = Path(__file__).resolve().parent / "static"
WS_PATHS = frozenset({"/ws", "/"})
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
#: Headers a request may carry once: a second Host or Origin is refused (400), not guessed at.
_SINGLE_HEADERS = ("Host", "Origin", "Authorization", "Upgrade", "Sec-WebSocket-Key")
#: How often owner rows of sessions with no conversation are dropped (and at start).
OWNER_SWEEP_S = 3600.0
#: No static file's path is longer (the pages and their scripts have short names).
_MAX_STATIC_NAME = 200
#: The pages may only talk to this server; nothing is loaded from elsewhere.
_CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
    "media-src 'self' blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)


@functools.cache
def _schema_bytes() -> bytes:
    from server.protocol import schema_text

    return schema_text().encode()


class VideoRegistry:
    """Rendered videos served under unguessable URLs for ``ttl_s`` seconds, then deleted."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._videos: dict[str, tuple[Path, float]] = {}

    def publish(self, path: str) -> str:
        """Serve the file at ``path``; its URL (relative to the server)."""
        key = secrets.token_urlsafe(18)
        self._videos[key] = (Path(path), time.monotonic() + self.ttl_s)
        return f"/video/{key}{Path(path).suffix or '.mp4'}"

    def lookup(self, name: str) -> Path | None:
        """The file behind ``/video/<name>`` if it is still fresh."""
        entry = self._videos.get(Path(name).stem)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def expire(self) -> None:
        """Delete the files whose time is up."""
        now = time.monotonic()
        for key, (path, until) in list(self._videos.items()):
            if until < now:
                del self._videos[key]
                path.unlink(missing_ok=True)


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
        self.static_dir = static_dir.resolve()
        self.max_queued_turns = max_queued_turns
        self.executor = ThreadPoolExecutor(max_workers=turn_workers, thread_name_prefix="turn")
        self.videos = VideoRegistry(conf.video_ttl_s)
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
        #: ``/avatar/rig.json`` answers per style: (status, body), built once each.
        self._rigs: dict[str, asyncio.Future[tuple[int, bytes]]] = {}
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
            connection.stop_turns()
        async with self.session_lock(session_id):
            forgotten = await asyncio.to_thread(self.forget, session_id)
        for connection in others:
            await connection.error(
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
            return _response(400, b"bad request\n", "text/plain; charset=utf-8")

    def _process_request(
        self, ws: ServerConnection, request: Request
    ) -> Response | Awaitable[Response] | None:
        headers = request.headers
        if any(len(headers.get_all(name)) > 1 for name in _SINGLE_HEADERS):
            return _response(400, b"duplicate header\n", "text/plain; charset=utf-8")
        conf = self.settings.server
        host = headers.get("Host")
        if not host_allowed(host, self.bound_host, conf.allowed_hosts):
            log.info("request refused: host not allowed")
            return _response(403, b"host not allowed\n", "text/plain; charset=utf-8")
        url = urlsplit(request.path)
        path = url.path
        upgrade = "websocket" in headers.get("Upgrade", "").lower()
        if not upgrade:
            if path == "/avatar/rig.json":
                return self._avatar_rig(parse_qs(url.query).get("style", [""])[0])
            return self._http(path)
        if path not in WS_PATHS:
            return _response(404, b"not found\n", "text/plain; charset=utf-8")
        host_checked = bool(conf.allowed_hosts) or is_loopback(self.bound_host)
        if not origin_allowed(
            headers.get("Origin"), host, conf.allowed_origins, host_checked=host_checked
        ):
            log.info("handshake refused: origin not allowed")
            return _response(403, b"origin not allowed\n", "text/plain; charset=utf-8")
        token = presented_token(request.path, request.headers.get("Authorization"))
        owner = self.auth.owner(token)
        if owner is None:
            log.info("handshake refused: %s token", "wrong" if token else "no")
            return _response(401, b"a valid token is required\n", "text/plain; charset=utf-8")
        self._owners[ws] = owner
        return None

    def _http(self, path: str) -> Response:
        if path == "/protocol.schema.json":  # the pages read the error codes' words from it
            return _response(200, _schema_bytes(), "application/json")
        if path == "/healthz":
            body = json.dumps({"status": "ok", "connections": self.connections}).encode()
            return _response(200, body, "application/json")
        if path.startswith("/video/"):
            video = self.videos.lookup(path.removeprefix("/video/"))
            if video is not None and video.is_file():
                return _response(200, video.read_bytes(), _TYPES[".mp4"])
            return _response(404, b"not found\n", "text/plain; charset=utf-8")
        file = self._static_file(path)
        if file is None:
            return _response(404, b"not found\n", "text/plain; charset=utf-8")
        content_type = _TYPES.get(file.suffix.lower()) or (
            mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        )
        return _response(200, file.read_bytes(), content_type)

    async def _avatar_rig(self, style: str) -> Response:
        """The avatar rig of ``style`` (``""``: the configured one) as JSON, or a JSON error."""
        from modalities.avatar.rig_export import STYLES

        style = style or self.settings.backends.avatar
        if style not in STYLES:
            body = json.dumps(
                {"code": "bad_style", "message": f"style must be one of {', '.join(STYLES)}"}
            ).encode()
            return _response(400, body, "application/json")
        task = self._rigs.get(style)
        if task is None:
            task = asyncio.ensure_future(asyncio.to_thread(self._build_rig, style))
            self._rigs[style] = task
        status, body = await asyncio.shield(task)
        if status == 500 and self._rigs.get(style) is task:  # unexpected: retry next time
            del self._rigs[style]
        cache = "max-age=600" if status == 200 else "no-cache"
        return _response(status, body, "application/json", cache_control=cache)

    def _build_rig(self, style: str) -> tuple[int, bytes]:
        """Blocking: the rig JSON of ``style``, 422 with the code when the portrait is unusable."""
        from attune import registry
        from attune.errors import InputError
        from modalities.avatar.rig_export import rig_json

        try:
            renderer = registry.create("avatar", style, self.settings)
            rig = rig_json(renderer, style, self.settings.avatar.expressiveness)
            return 200, json.dumps(rig, separators=(",", ":")).encode()
        except InputError as exc:
            log.warning("avatar rig %s unavailable: %s", style, exc.code)
            return 422, json.dumps({"code": exc.code, "message": str(exc)}).encode()
        except Exception:
            log.exception("avatar rig %s failed", style)
            body = {"code": "internal_error", "message": "the avatar rig could not be built"}
            return 500, json.dumps(body).encode()

    def _static_file(self, path: str) -> Path | None:
        """The static file a URL path names, only if it lies inside the static folder (a name
        longer than any static file's is none)."""
        name = unquote(path).lstrip("/") or "index.html"
        if len(name) > _MAX_STATIC_NAME:
            return None
        parts = name.split("/")
        if any(not part or part.startswith(".") or "\\" in part or "\0" in part for part in parts):
            return None
        try:
            candidate = (self.static_dir / name).resolve()
            if not candidate.is_relative_to(self.static_dir):
                return None
            if not candidate.suffix and candidate.with_suffix(".html").is_file():
                candidate = candidate.with_suffix(".html")
            return candidate if candidate.is_file() else None
        except (OSError, ValueError):  # a name the file system refuses
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


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Content",
    500: "Internal Server Error",
}


def _response(
    status: int, body: bytes, content_type: str, *, cache_control: str = "no-cache"
) -> Response:
    reason = _REASONS[status]
    headers = Headers(
        [
            ("Date", formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", cache_control),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Content-Security-Policy", _CSP),
        ]
    )
    return Response(status, reason, headers, body)


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
