"""The session store of a server: the checkpointer, and who owns each session.

Conversations live in the LangGraph checkpointer (:mod:`agent.sessions`): SQLite by default,
PostgreSQL when ``server.database_url`` is set. Beside them a small table
``attune_session_owners(session_id, owner)`` binds every session the server creates to the
owner id of the token that created it (a digest, never the token: :func:`server.limits.owner_id`),
in the same database, so that a token can only resume its own sessions on any server process.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.sessions import open_postgres_store, open_sqlite_store

_TABLE = "attune_session_owners"


class SessionOwners(ABC):
    """Which owner each session belongs to. Methods block: call them off the event loop."""

    @abstractmethod
    def claim(self, session_id: str, owner: str) -> bool:
        """Bind ``session_id`` to ``owner`` unless it is bound already; whether ``owner`` owns
        it now."""

    @abstractmethod
    def owner_of(self, session_id: str) -> str | None:
        """Who owns ``session_id`` (``None``: nobody yet)."""

    @abstractmethod
    def release(self, session_id: str) -> None:
        """Forget who owned ``session_id`` (after its conversation was deleted)."""

    @abstractmethod
    def sessions(self) -> list[str]:
        """Every session id that has an owner."""

    @abstractmethod
    def release_many(self, session_ids: list[str]) -> None:
        """Forget the owners of ``session_ids``."""

    def prune(self, stored: set[str], attached: set[str]) -> int:
        """Drop the owner rows of sessions that are neither ``stored`` (they have a
        conversation) nor ``attached`` (a connection uses them now): sessions pruned by
        retention, and ``session.start`` without a turn. How many were dropped."""
        orphans = [s for s in self.sessions() if s not in stored and s not in attached]
        if orphans:
            self.release_many(orphans)
        return len(orphans)

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""


class SqliteOwners(SessionOwners):
    """The owners table inside the SQLite session file."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_TABLE} "
                "(session_id TEXT PRIMARY KEY, owner TEXT NOT NULL)"
            )
            self._conn.commit()

    def claim(self, session_id: str, owner: str) -> bool:
        with self._lock:
            self._conn.execute(
                f"INSERT OR IGNORE INTO {_TABLE} (session_id, owner) VALUES (?, ?)",
                (session_id, owner),
            )
            self._conn.commit()
            row = self._conn.execute(
                f"SELECT owner FROM {_TABLE} WHERE session_id = ?", (session_id,)
            ).fetchone()
        return bool(row) and row[0] == owner

    def owner_of(self, session_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT owner FROM {_TABLE} WHERE session_id = ?", (session_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def release(self, session_id: str) -> None:
        with self._lock:
            self._conn.execute(f"DELETE FROM {_TABLE} WHERE session_id = ?", (session_id,))
            self._conn.commit()

    def sessions(self) -> list[str]:
        with self._lock:
            return [str(r[0]) for r in self._conn.execute(f"SELECT session_id FROM {_TABLE}")]

    def release_many(self, session_ids: list[str]) -> None:
        with self._lock:
            self._conn.executemany(
                f"DELETE FROM {_TABLE} WHERE session_id = ?", [(s,) for s in session_ids]
            )
            self._conn.commit()

    def close(self) -> None:
        self._conn.close()


class PostgresOwners(SessionOwners):
    """The owners table in the PostgreSQL database, over the checkpointer's connection pool."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        with self._pool.connection() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_TABLE} "
                "(session_id TEXT PRIMARY KEY, owner TEXT NOT NULL)"
            )

    def claim(self, session_id: str, owner: str) -> bool:
        with self._pool.connection() as conn:
            conn.execute(
                f"INSERT INTO {_TABLE} (session_id, owner) VALUES (%s, %s) "
                "ON CONFLICT (session_id) DO NOTHING",
                (session_id, owner),
            )
            row = conn.execute(
                f"SELECT owner FROM {_TABLE} WHERE session_id = %s", (session_id,)
            ).fetchone()
        return row is not None and row["owner"] == owner

    def owner_of(self, session_id: str) -> str | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT owner FROM {_TABLE} WHERE session_id = %s", (session_id,)
            ).fetchone()
        return None if row is None else str(row["owner"])

    def release(self, session_id: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(f"DELETE FROM {_TABLE} WHERE session_id = %s", (session_id,))

    def sessions(self) -> list[str]:
        with self._pool.connection() as conn:
            rows = conn.execute(f"SELECT session_id FROM {_TABLE}").fetchall()
        return [str(r["session_id"]) for r in rows]

    def release_many(self, session_ids: list[str]) -> None:
        with self._pool.connection() as conn:
            conn.execute(f"DELETE FROM {_TABLE} WHERE session_id = ANY(%s)", (session_ids,))

    def close(self) -> None:
        """The pool belongs to the checkpointer, which closes it."""


def open_store(
    database_url: str | None, sqlite_path: Path
) -> tuple[BaseCheckpointSaver[str], SessionOwners]:
    """The checkpointer and the owners table: PostgreSQL at ``database_url`` when given, else
    the SQLite file at ``sqlite_path``."""
    if database_url:
        saver = open_postgres_store(database_url)
        return saver, PostgresOwners(saver.conn)
    return open_sqlite_store(sqlite_path), SqliteOwners(sqlite_path)


def parse_database(value: str) -> tuple[str | None, Path | None]:
    """What ``attune serve --db`` names: ``(dsn, None)`` for a PostgreSQL DSN (a
    ``postgresql://`` / ``postgres://`` URL or ``key=value`` pairs), ``(None, path)`` for a
    SQLite file (a path, or ``sqlite:///PATH`` as SQLAlchemy writes it); anything else is a
    one-line :class:`~attune.errors.ConfigError`."""
    from attune.errors import ConfigError

    text = value.strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        return text, None
    if scheme == "sqlite":
        path = text[len("sqlite://") :].removeprefix("/")
        if not path:
            raise ConfigError("--db sqlite:///PATH needs a file path")
        return None, Path(path)
    if scheme:
        raise ConfigError(
            f"--db takes a SQLite file (a path or sqlite:///PATH) or a PostgreSQL DSN "
            f"(postgresql://...), not a {scheme!r} URL"
        )
    if not text:
        raise ConfigError("--db needs a SQLite path or a PostgreSQL DSN")
    if re.match(r"\w+\s*=", text):  # key=value pairs: host=... dbname=...
        return text, None
    return None, Path(text).expanduser()
