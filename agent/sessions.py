"""The session store: a LangGraph checkpointer keyed by session (thread) id.

SQLite (a file under the state dir) by default; PostgreSQL (``server.database_url``) so that
several server processes share sessions. Both revive only Attune's own types (the allowlist).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from attune.types import CHECKPOINT_TYPES

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver


#: Where the stored types lived before the layers (0.1): sessions stored then name these
#: modules, which remain as re-exports so that those sessions still load.
LEGACY_MODULES = {"attune.types": "modalities.types", "attune.taxonomy": "strategies.taxonomy"}


def checkpoint_serializer() -> JsonPlusSerializer:
    """A serializer that revives exactly Attune's state types (an explicit allowlist), under
    their module and, for sessions stored before the layers, their old one."""
    allowed = [(cls.__module__, cls.__name__) for cls in CHECKPOINT_TYPES]
    allowed += [
        (LEGACY_MODULES[cls.__module__], cls.__name__)
        for cls in CHECKPOINT_TYPES
        if cls.__module__ in LEGACY_MODULES
    ]
    return JsonPlusSerializer(allowed_msgpack_modules=allowed)


def open_sqlite_store(path: Path | str) -> SqliteSaver:
    """A checkpointer over the SQLite file at ``path`` (``":memory:"`` for a throwaway one)."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn, serde=checkpoint_serializer())
    saver.setup()
    return saver


def open_postgres_store(
    dsn: str, *, max_connections: int = 4, connect_timeout_s: float = 10.0
) -> PostgresSaver:
    """A checkpointer over the PostgreSQL database at ``dsn`` (creates its tables if needed).

    Connections come from a small pool (``conn.close()`` closes it), so a restarted database
    is reconnected to. Needs ``langgraph-checkpoint-postgres`` (``pip install attune[server]``).
    """
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool, PoolTimeout
    except ImportError as exc:
        from attune.errors import BackendUnavailableError

        raise BackendUnavailableError(
            f"the PostgreSQL session store needs {exc.name}: pip install 'attune[server]'"
        ) from None
    import psycopg

    from attune.errors import ConfigError

    try:  # one attempt first: a wrong DSN is one line, not the pool's retries and warnings
        with psycopg.connect(dsn, connect_timeout=max(1, round(connect_timeout_s))):
            pass
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise ConfigError(f"cannot connect to the PostgreSQL session store: {reason}") from None
    pool: ConnectionPool = ConnectionPool(
        dsn,
        min_size=1,
        max_size=max_connections,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=True,
    )
    try:
        pool.wait(timeout=connect_timeout_s)
    except PoolTimeout:
        pool.close()
        raise ConfigError(
            f"cannot connect to the PostgreSQL session store within {connect_timeout_s:g} s"
        ) from None
    saver = PostgresSaver(pool, serde=checkpoint_serializer())  # type: ignore[arg-type]
    saver.setup()
    return saver
