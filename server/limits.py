"""The protections of a public endpoint: tokens, Origins, rates and the binding rule.

* :class:`Auth` checks a client's token at the handshake (``Authorization: Bearer`` header, or
  ``?token=`` for browsers, which cannot set headers on a websocket) in constant time, and
  gives each token an *owner* id (a SHA-256 digest, never the token itself) that sessions are
  bound to. Without configured tokens every client is the owner ``anonymous``.
* :func:`check_binding` refuses to listen beyond loopback without a token.
* :func:`host_allowed`: the ``Host`` header must name this server. On loopback with no
  configured ``allowed_hosts`` only ``localhost`` and loopback addresses do: a web page on
  ``evil.example`` whose name was re-pointed at 127.0.0.1 (DNS rebinding) sends
  ``Host: evil.example`` and is refused.
* :func:`origin_allowed`: browsers send ``Origin``; it must be in the allowlist, or (empty
  allowlist) the server's own host when that host was itself checked (loopback, or listed in
  ``allowed_hosts``). Clients that send none (programs) are let through: the token is what
  protects them.
* :class:`TokenBucket` limits message rates (per connection) and camera frame rates.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from attune.errors import ConfigError

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


def host_name(host_header: str) -> str:
    """The name of a ``Host`` header, port and IPv6 brackets aside, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def host_allowed(host_header: str | None, bound: str, allowed: Iterable[str]) -> bool:
    """Whether a request's ``Host`` names this server (see the module docstring); ``bound``
    is the address the server listens on."""
    hosts = [h.lower() for h in allowed]
    if not hosts and not is_loopback(bound):
        return True
    if not host_header:
        return False
    name = host_name(host_header)
    if hosts:
        return "*" in hosts or name in hosts
    return is_loopback(name)


def origin_allowed(
    origin: str | None, host_header: str | None, allowed: Iterable[str], *, host_checked: bool
) -> bool:
    """Whether a handshake's ``Origin`` may connect (see the module docstring);
    ``host_checked``: the ``Host`` header was vetted by :func:`host_allowed` against a list."""
    if origin is None:
        return True
    allowlist = [a.rstrip("/") for a in allowed]
    if allowlist:
        return "*" in allowlist or origin.rstrip("/") in allowlist
    if not host_checked or not host_header:
        return False
    return urlsplit(origin).netloc.lower() == host_header.lower()


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
