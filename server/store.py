"""The session store of a server: the checkpointer, and who owns each session.

Conversations live in the LangGraph checkpointer (:mod:`agent.sessions`): SQLite by default,
PostgreSQL when ``server.database_url`` is set. Beside them a small table
``attune_session_owners(session_id, owner)`` binds every session the server creates to the
owner id of the token that created it (a digest, never the token: :func:`server.limits.owner_id`),
in the same database, so that a token can only resume its own sessions on any server process.
"""

from __future__ import annotations

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
