"""The protections of a public endpoint: tokens, Origins, rates and the binding rule.

* :class:`Auth` checks a client's token at the handshake (``Authorization: Bearer`` header, or
  ``?token=`` for browsers, which cannot set headers on a websocket) in constant time, and
  gives each token an *owner* id (a SHA-256 digest, never the token itself) that sessions are
  bound to. Without configured tokens every client is the owner ``anonymous``.
* :func:`check_binding` refuses to listen beyond loopback without a token.
* :func:`origin_allowed`: browsers send ``Origin``; it must be in the allowlist, or (empty
  allowlist) the server's own host. Clients that send none (programs) are let through: the
  token is what protects them.
* :class:`TokenBucket` limits message rates (per connection) and camera frame rates.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from modalities.errors import ConfigError

ANONYMOUS = "anonymous"


class Auth:
    """Which tokens may connect, and the owner id of each."""

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self._tokens = [t.encode() for t in tokens if t]

    @property
    def required(self) -> bool:
        """Whether clients must present a token."""
        return bool(self._tokens)

    def owner(self, presented: str | None) -> str | None:
        """The owner id for a presented token, or ``None`` when it is missing or wrong."""
        if not self._tokens:
            return ANONYMOUS
        if not presented:
            return None
        candidate = presented.encode()
        matched = False
        for token in self._tokens:  # compare with every token: timing says nothing
            matched |= hmac.compare_digest(candidate, token)
        return owner_id(presented) if matched else None


def owner_id(token: str) -> str:
    """The stored stand-in for a token: its SHA-256, hex (tokens are long random strings)."""
    return hashlib.sha256(b"attune-session-owner:" + token.encode()).hexdigest()


def presented_token(path: str, authorization: str | None) -> str | None:
    """The token a handshake carries: ``Authorization: Bearer X`` or the ``token`` parameter."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    values = parse_qs(urlsplit(path).query).get("token")
    return values[0] if values else None


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, auth: Auth) -> None:
    """Refuse to serve beyond loopback without a token (a :class:`ConfigError` saying how)."""
    if not is_loopback(host) and not auth.required:
        raise ConfigError(
            f"refusing to listen on {host!r} without a token: anyone who can reach it could "
            "talk to Attune. Set --token (or ATTUNE_SERVER__TOKEN), or bind 127.0.0.1."
        )


def origin_allowed(origin: str | None, host_header: str | None, allowed: Iterable[str]) -> bool:
    """Whether a handshake's ``Origin`` may connect (see the module docstring)."""
    if origin is None:
        return True
    allowlist = [a.rstrip("/") for a in allowed]
    if allowlist:
        return "*" in allowlist or origin.rstrip("/") in allowlist
    return bool(host_header) and urlsplit(origin).netloc.lower() == (host_header or "").lower()


class TokenBucket:
    """``rate`` events per second on average, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last = time.monotonic()

    def take(self, now: float | None = None) -> bool:
        """Spend one token if there is one; whether the event is allowed."""
        now = time.monotonic() if now is None else now
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
