"""HTTP for everything that is not the websocket: the web pages and their files, rendered videos,
the health check, the protocol's JSON Schema and the avatar rig.

:class:`HttpRoutes` answers the requests :class:`server.app.AttuneServer` hands it (the
handshake checks, Host and token, happen there first): files under ``server/static/`` (``/`` is
``index.html``, ``/kiosk`` is ``kiosk.html``), ``/video/<random id>.mp4`` while fresh
(:class:`VideoRegistry`), ``/healthz``, ``/protocol.schema.json`` and ``/avatar/rig.json``
(``?style=portrait|cartoon``), the rig the kiosk draws with, built once per style off the event
loop. Paths are resolved inside the static folder; anything else (``..``, hidden files,
symlinks out) is a 404.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import mimetypes
import secrets
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.http11 import Response

if TYPE_CHECKING:
    from attune.settings import AttuneSettings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
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


class HttpRoutes:
    """The HTTP side of the server: ``connections`` says how many websockets are open (for
    ``/healthz``)."""

    def __init__(
        self,
        settings: AttuneSettings,
        videos: VideoRegistry,
        connections: Callable[[], int],
        static_dir: Path = STATIC_DIR,
    ) -> None:
        self.settings = settings
        self.videos = videos
        self.connections = connections
        self.static_dir = static_dir.resolve()
        #: ``/avatar/rig.json`` answers per style: (status, body), built once each.
        self.rigs: dict[str, asyncio.Future[tuple[int, bytes]]] = {}

    def file(self, path: str) -> Response:
        """A plain GET: the schema, the health check, a video or a static file (else 404)."""
        if path == "/protocol.schema.json":  # the pages read the error codes' words from it
            return response(200, _schema_bytes(), "application/json")
        if path == "/healthz":
            body = json.dumps({"status": "ok", "connections": self.connections()}).encode()
            return response(200, body, "application/json")
        if path.startswith("/video/"):
            video = self.videos.lookup(path.removeprefix("/video/"))
            if video is not None and video.is_file():
                return response(200, video.read_bytes(), _TYPES[".mp4"])
            return response(404, b"not found\n", "text/plain; charset=utf-8")
        file = self._static_file(path)
        if file is None:
            return response(404, b"not found\n", "text/plain; charset=utf-8")
        content_type = _TYPES.get(file.suffix.lower()) or (
            mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        )
        return response(200, file.read_bytes(), content_type)

    async def avatar_rig(self, style: str) -> Response:
        """The avatar rig of ``style`` (``""``: the configured one) as JSON, or a JSON error."""
        from modalities.avatar.rig_export import STYLES

        style = style or self.settings.backends.avatar
        if style not in STYLES:
            body = json.dumps(
                {"code": "bad_style", "message": f"style must be one of {', '.join(STYLES)}"}
            ).encode()
            return response(400, body, "application/json")
        task = self.rigs.get(style)
        if task is None:
            task = asyncio.ensure_future(asyncio.to_thread(self._build_rig, style))
            self.rigs[style] = task
        status, body = await asyncio.shield(task)
        if status == 500 and self.rigs.get(style) is task:  # unexpected: retry next time
            del self.rigs[style]
        cache = "max-age=600" if status == 200 else "no-cache"
        return response(status, body, "application/json", cache_control=cache)

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


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Content",
    500: "Internal Server Error",
}


def response(
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
